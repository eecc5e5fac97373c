// The family's accounts: one set of rules for `postern user` (core/accounts/cli.ts), the
// dashboard and the desktop app (both through core/api-impl.ts). Checks come first and
// in one order (name, password, addresses), so every interface refuses the same input
// with the same words; then the password is hashed; then one store update writes it.
//
// No address is invented: a new account needs at least one address of its own (an
// account with none can log in but may neither send nor receive — core/policy/relay.ts
// checks the sender against the login's addresses).
import { hashPassword } from '../auth/builtin.ts';
import { accountAddressProblem, addressTakenMessage, ConfigError } from '../config/load.ts';
import { ACCOUNT_NAME_PATTERN, type Account, type Config } from '../config/schema.ts';
import { mailboxKey, parseMailbox } from '../policy/address.ts';
import { AccountError, type AccountView, type AddAccount, type AddResult } from './types.ts';
import { passwordProblem } from './passwords.ts';

export { AccountError } from './types.ts';
export type { AccountErrorCode, AccountView, AddAccount, AddResult } from './types.ts';

/**
 * Where accounts live. A ConfigStore (core/config/store.ts) is one; so is the running
 * gateway, whose update also applies the change live and announces `what`.
 */
export interface AccountsStore {
  load(): Config;
  update(mutate: (raw: Record<string, unknown>) => void, what: string): Config;
}

export { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.ts';

const NAME = new RegExp(ACCOUNT_NAME_PATTERN);

function view(a: Account): AccountView {
  return { name: a.name, addresses: [...a.addresses], hasPassword: !!a.passwordHash };
}

function rawAccounts(raw: Record<string, unknown>): Account[] {
  return Array.isArray(raw.accounts) ? (raw.accounts as Account[]) : [];
}

function checkName(name: string): void {
  if (!NAME.test(name)) {
    const example =
      name
        .toLowerCase()
        .replace(/[^a-z0-9._-]/g, '')
        .replace(/^[._-]+/, '')
        .slice(0, 64) || 'john';
    throw new AccountError(
      'invalid-name',
      `"${name}" cannot be an account name: use only lower-case letters, digits, dots, hyphens and underscores, starting with a letter or digit, at most 64 — for example "${example}"`,
    );
  }
}

function checkPassword(password: string, name = ''): void {
  const problem = passwordProblem(password, name);
  if (problem) throw new AccountError('invalid-password', problem);
}

/** The address as delivery looks it up (core/policy/directory.ts): local part in any case. */
function keyOf(addr: string): string {
  return mailboxKey(parseMailbox(addr)!);
}

/** Each address added to `to` unless already there in some case. */
function union(to: string[], more: string[]): string[] {
  const out = [...to];
  const keys = new Set(out.map(keyOf));
  for (const a of more) {
    const k = keyOf(a);
    if (keys.has(k)) continue;
    keys.add(k);
    out.push(a);
  }
  return out;
}

/** The addresses normalized and without repeats; each one local and not another account's. */
function checkAddresses(cfg: Config, name: string, addresses: string[]): string[] {
  const domains = new Set(cfg.domains);
  const normal: string[] = [];
  for (const addr of addresses) {
    const problem = accountAddressProblem(addr, domains);
    if (problem) throw new AccountError('invalid-address', problem);
    const key = keyOf(addr);
    const owner = cfg.accounts.find((a) => a.name !== name && a.addresses.some((x) => keyOf(x) === key));
    if (owner) throw new AccountError('address-taken', addressTakenMessage(addr, owner.name));
    if ((cfg.sharedAddresses ?? []).some((x) => keyOf(x.address) === key)) {
      throw new AccountError(
        'address-taken',
        `"${addr}" is a shared address (delivered to several accounts): remove it from the shared addresses first, or choose another`,
      );
    }
    normal.push(parseMailbox(addr)!.address);
  }
  return union([], normal);
}

export class AccountsService {
  private readonly store: AccountsStore;
  private readonly hash: (password: string) => Promise<string>;

  constructor(store: AccountsStore, hash: (password: string) => Promise<string> = hashPassword) {
    this.store = store;
    this.hash = hash;
  }

  list(): AccountView[] {
    return this.store.load().accounts.map(view);
  }

  /** Creates the account, or for an existing name replaces its password and adds the addresses. */
  async add(req: AddAccount): Promise<AddResult> {
    checkName(req.name);
    checkPassword(req.password, req.name);
    const cfg = this.store.load();
    const existing = cfg.accounts.find((a) => a.name === req.name);
    const addresses = checkAddresses(cfg, req.name, req.addresses);
    if (!existing && !addresses.length) throw new AccountError('no-address', 'a new account needs at least one address');
    const passwordHash = await this.hash(req.password);
    const merged = existing ? union(existing.addresses, addresses) : addresses;
    const saved = this.write(req.name, `account ${req.name} saved`, (list) => {
      const at = list.findIndex((a) => a.name === req.name);
      if (at < 0) return [...list, { name: req.name, addresses: merged, passwordHash }];
      return list.map((a, i) => (i === at ? { ...a, addresses: merged, passwordHash } : a));
    });
    return { account: saved!, created: !existing };
  }

  async setPassword(name: string, password: string): Promise<AccountView> {
    checkPassword(password, name);
    this.need(name);
    const passwordHash = await this.hash(password);
    return this.write(name, `password of account ${name} changed`, (list) => list.map((a) => (a.name === name ? { ...a, passwordHash } : a)))!;
  }

  /** Replaces the account's addresses (at least one). */
  setAddresses(name: string, addresses: string[]): AccountView {
    const cfg = this.store.load();
    this.need(name, cfg);
    const normal = checkAddresses(cfg, name, addresses);
    if (!normal.length) throw new AccountError('no-address', 'an account needs at least one address');
    return this.write(name, `addresses of account ${name} changed`, (list) => list.map((a) => (a.name === name ? { ...a, addresses: normal } : a)))!;
  }

  /** Removes the account from the config; its Maildir stays on disk. */
  remove(name: string): void {
    this.need(name);
    this.write(
      name,
      `account ${name} removed`,
      (list) => list.filter((a) => a.name !== name),
      // Out of every shared address too; one left with nobody goes (docs/design.md §8.2).
      (raw) => {
        if (!Array.isArray(raw.sharedAddresses)) return;
        raw.sharedAddresses = (raw.sharedAddresses as { address: string; accounts: string[] }[])
          .map((x) => ({ ...x, accounts: Array.isArray(x.accounts) ? x.accounts.filter((n) => n !== name) : x.accounts }))
          .filter((x) => !Array.isArray(x.accounts) || x.accounts.length > 0);
      },
    );
  }

  private need(name: string, cfg: Config = this.store.load()): Account {
    const a = cfg.accounts.find((x) => x.name === name);
    if (!a) throw new AccountError('not-found', `no account named "${name}"`);
    return a;
  }

  /** One store update of the accounts list; the account as saved (undefined once removed). */
  private write(name: string, what: string, change: (list: Account[]) => Account[], more?: (raw: Record<string, unknown>) => void): AccountView | undefined {
    let cfg: Config;
    try {
      cfg = this.store.update((raw) => {
        raw.accounts = change(rawAccounts(raw));
        more?.(raw);
      }, what);
    } catch (e) {
      // The checks above cover the account itself; this is the rest of the file.
      if (e instanceof ConfigError)
        throw new AccountError('invalid-config', `the account was not saved, because the configuration has a mistake elsewhere: ${e.plain}`);
      throw e;
    }
    const a = cfg.accounts.find((x) => x.name === name);
    return a && view(a);
  }
}
