// `postern` — the command line of docs/design.md §8.1. Bad input: one line naming the
// problem on stderr, exit code 2, nothing changed.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from './config/load.ts';
import { defaultConfigFile, defaultDataDir } from './paths.ts';

export class UsageError extends Error {}

const USAGE = `usage:
  postern serve [--config FILE] [--data-dir DIR]
  postern user add NAME [--address ADDR]... [--config FILE]   (password: first line of stdin)
  postern user list [--config FILE]
  postern user remove NAME [--config FILE]
  postern spf DOMAIN [--mx] [--a] [--ip4 IP]... [--ip6 IP]... [--include D]... [--soft]
  postern spf --check DOMAIN [--ip IP] [--config FILE]
  postern dkim DOMAIN [--config FILE] [--data-dir DIR]
  postern doctor [--config FILE] [--data-dir DIR] [--json]`;

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
}

const common = { config: { type: 'string' }, 'data-dir': { type: 'string' } } as const;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve': {
      const { values, positionals } = parse(rest, common);
      if (positionals.length) throw new UsageError(`serve takes no arguments (got "${positionals[0]}")`);
      const { serve } = await import('./serve.ts');
      await serve({ configFile: path.resolve(values.config ?? defaultConfigFile()), dataDir: path.resolve(values['data-dir'] ?? defaultDataDir()) });
      return 0;
    }
    case 'user': {
      const [sub, ...more] = rest;
      const { values, positionals } = parse(more, { ...common, address: { type: 'string', multiple: true } });
      const configFile = path.resolve(values.config ?? defaultConfigFile());
      const { addUser, listUsers, readPassword, removeUser } = await import('./users.ts');
      if (sub === 'add') {
        if (positionals.length !== 1) throw new UsageError('user add needs exactly one NAME');
        const password = await readPassword(`Password for ${positionals[0]}: `);
        const r = await addUser(configFile, positionals[0], (values.address as string[] | undefined) ?? [], password);
        console.log(`${r.created ? 'Added' : 'Updated'} account ${r.name} (${r.addresses.join(', ') || 'no addresses'}) in ${configFile}`);
        return 0;
      }
      if (sub === 'list') {
        for (const u of listUsers(configFile)) console.log(`${u.name}\t${u.addresses.join(', ')}\t${u.hasPassword ? 'password set' : 'no password'}`);
        return 0;
      }
      if (sub === 'remove') {
        if (positionals.length !== 1) throw new UsageError('user remove needs exactly one NAME');
        removeUser(configFile, positionals[0]);
        console.log(`Removed account ${positionals[0]} from ${configFile} (its Maildir is kept)`);
        return 0;
      }
      throw new UsageError(`unknown "user ${sub ?? ''}": use add, list or remove`);
    }
    case 'spf': {
      const { spfCommand } = await import('./spf/cli.ts');
      return spfCommand(rest);
    }
    case 'dkim': {
      const { dkimCommand } = await import('./dkim/cli.ts');
      return dkimCommand(rest);
    }
    case 'doctor': {
      const { doctorCommand } = await import('./doctor/cli.ts');
      return doctorCommand(rest);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

export async function run(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError || (e as NodeJS.ErrnoException).code === 'EUSER') {
      console.error(`postern: ${(e as Error).message}`);
      process.exitCode = 2;
      return;
    }
    console.error(`postern: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  }
}

if (import.meta.main || process.argv[1] === fs.realpathSync(new URL(import.meta.url).pathname)) {
  await run(process.argv.slice(2));
}
