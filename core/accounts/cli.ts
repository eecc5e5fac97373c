// `postern user add|list|remove` (docs/design.md §8.1): the accounts service
// (service.ts) over the config file. Refusals are usage errors: one line, exit 2,
// the file unchanged. A running `postern serve` reads the file again on restart;
// the dashboard's Accounts page changes a running gateway live.
import path from 'node:path';
import { parseCommand, UsageError } from '../cli/usage.ts';
import { FileConfigStore } from '../config/store.ts';
import { defaultConfigFile } from '../config/paths.ts';
import { AccountError, AccountsService } from './service.ts';

export interface Output {
  out(line: string): void;
}

const STDOUT: Output = { out: (l) => process.stdout.write(`${l}\n`) };

// --data-dir is accepted (and unused) as it always was: the accounts live in the config file.
const OPTIONS = { config: { type: 'string' }, 'data-dir': { type: 'string' }, address: { type: 'string', multiple: true } } as const;

/** What the service said, with the command line's way to fix it where there is one. */
function usage(e: AccountError): UsageError {
  const hint = e.code === 'invalid-password' ? ' (give it as the first line of stdin)' : e.code === 'no-address' ? ' (give it with --address ADDR)' : '';
  return new UsageError(`${e.message}${hint}`);
}

export async function userCommand(args: string[], io: Output = STDOUT, password: (prompt: string) => Promise<string> = readPassword): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseCommand(rest, OPTIONS);
  const configFile = path.resolve(values.config ?? defaultConfigFile());
  const accounts = new AccountsService(new FileConfigStore(configFile));
  const one = (what: string): string => {
    if (positionals.length !== 1) throw new UsageError(`user ${what} needs exactly one NAME`);
    return positionals[0];
  };
  try {
    switch (sub) {
      case 'add': {
        const name = one('add');
        const r = await accounts.add({ name, addresses: values.address ?? [], password: await password(`Password for ${name}: `) });
        io.out(`${r.created ? 'Added' : 'Updated'} account ${r.account.name} (${r.account.addresses.join(', ') || 'no addresses'}) in ${configFile}`);
        return 0;
      }
      case 'list':
        if (positionals.length) throw new UsageError(`user list takes no NAME (got "${positionals[0]}")`);
        for (const u of accounts.list()) io.out(`${u.name}\t${u.addresses.join(', ')}\t${u.hasPassword ? 'password set' : 'no password'}`);
        return 0;
      case 'remove': {
        const name = one('remove');
        accounts.remove(name);
        io.out(`Removed account ${name} from ${configFile} (its Maildir is kept)`);
        return 0;
      }
      default:
        throw new UsageError(`unknown "user ${sub ?? ''}": use add, list or remove`);
    }
  } catch (e) {
    throw e instanceof AccountError ? usage(e) : e;
  }
}

/** The first line of stdin; on a terminal, a prompt without echo. */
export async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let pw = '';
    return new Promise((resolve) => {
      const onData = (d: Buffer) => {
        for (const ch of d.toString('utf8')) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            stdin.setRawMode(false);
            stdin.pause();
            stdin.off('data', onData);
            process.stderr.write('\n');
            return resolve(pw);
          }
          if (ch === '\u0003') process.exit(130);
          if (ch === '\u007f') pw = pw.slice(0, -1);
          else pw += ch;
        }
      };
      stdin.on('data', onData);
    });
  }
  const chunks: Buffer[] = [];
  for await (const c of stdin) {
    chunks.push(c as Buffer);
    if (Buffer.concat(chunks).includes(10)) break;
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
}
