// `postern user add|list|remove`: builtin accounts in the config file.
import { hashPassword } from './auth/builtin.ts';
import { ConfigError, readRawConfig, validateConfig, writeConfigFile } from './config/load.ts';
import type { Account } from './config/schema.ts';

class UserError extends Error {
  code = 'EUSER';
}

function accountsOf(raw: Record<string, unknown>): Account[] {
  return Array.isArray(raw.accounts) ? (raw.accounts as Account[]) : [];
}

export async function addUser(configFile: string, name: string, addresses: string[], password: string): Promise<{ name: string; addresses: string[]; created: boolean }> {
  if (!password) throw new UserError('the password is empty (give it as the first line of stdin)');
  if (password.length > 1024) throw new UserError('the password is longer than 1024 characters');
  const raw = readRawConfig(configFile);
  const cfg = validateConfig(raw, configFile); // refuse to edit a broken file
  const accounts = accountsOf(raw).map((a) => ({ ...a }));
  let account = accounts.find((a) => a.name === name);
  const created = !account;
  if (!account) {
    const first = cfg.domains[0];
    account = { name, addresses: addresses.length ? [] : first ? [`${name}@${first}`] : [] };
    accounts.push(account);
  }
  account.addresses = [...new Set([...(account.addresses ?? []), ...addresses])];
  account.passwordHash = await hashPassword(password);
  const next = { ...raw, accounts };
  try {
    validateConfig(next, configFile);
  } catch (e) {
    if (e instanceof ConfigError) throw new UserError(e.problems.map((p) => `${p.path}: ${p.message}`).join('; '));
    throw e;
  }
  writeConfigFile(configFile, next);
  return { name, addresses: account.addresses, created };
}

export function listUsers(configFile: string): { name: string; addresses: string[]; hasPassword: boolean }[] {
  const cfg = validateConfig(readRawConfig(configFile), configFile);
  return cfg.accounts.map((a) => ({ name: a.name, addresses: a.addresses, hasPassword: !!a.passwordHash }));
}

export function removeUser(configFile: string, name: string): void {
  const raw = readRawConfig(configFile);
  validateConfig(raw, configFile);
  const accounts = accountsOf(raw);
  if (!accounts.some((a) => a.name === name)) throw new UserError(`no account named "${name}"`);
  writeConfigFile(configFile, { ...raw, accounts: accounts.filter((a) => a.name !== name) });
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
