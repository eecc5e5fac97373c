// `postern bans list|lift ADDR` (docs/design.md §8.1): the blocks after failed logins, on
// <data-dir>/auth-bans.json. A running `postern serve` (or the desktop app) watches that
// file and takes a lift in within a second or two (Gateway.reloadBans).
import path from 'node:path';
import { BanList, banReason } from './auth/bans.ts';
import { parseCommand, UsageError } from './cli/usage.ts';
import { defaultDataDir } from './config/paths.ts';

export interface Output {
  out(line: string): void;
}

const STDOUT: Output = { out: (l) => process.stdout.write(`${l}\n`) };
const OPTIONS = { 'data-dir': { type: 'string' }, config: { type: 'string' } } as const;

export function bansCommand(args: string[], io: Output = STDOUT): number {
  const [sub, ...rest] = args;
  const { values, positionals } = parseCommand(rest, OPTIONS);
  const dataDir = path.resolve(values['data-dir'] ?? defaultDataDir());
  // Only listing and lifting: the failure limits do not matter here.
  const bans = new BanList(dataDir, 5, 900);
  switch (sub) {
    case 'list': {
      if (positionals.length) throw new UsageError(`bans list takes no address (got "${positionals[0]}")`);
      const list = bans.list().sort((a, b) => a.until - b.until);
      if (!list.length) io.out('No address is blocked.');
      for (const b of list) io.out(`${b.ip}\tuntil ${new Date(b.until).toISOString()}\t${banReason(b)}`);
      return 0;
    }
    case 'lift': {
      if (positionals.length !== 1) throw new UsageError('bans lift needs exactly one ADDR (as `postern bans list` shows it)');
      const addr = positionals[0].trim();
      if (!bans.unban(addr)) throw new UsageError(`${addr} is not blocked (see \`postern bans list\`)`);
      if (bans.saveError) throw new Error(`the ban file could not be written: ${bans.saveError}`);
      io.out(`Lifted the block on ${addr}.`);
      return 0;
    }
    default:
      throw new UsageError(`unknown "bans ${sub ?? ''}": use list or lift ADDR`);
  }
}
