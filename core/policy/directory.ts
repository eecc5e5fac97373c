// Who lives here: local domains, family accounts and the addresses that deliver to
// each. Built once per config; lookups are map reads on the SMTP hot path.
import type { Account, Config } from '../config/schema.ts';
import { mailboxKey, normalizeDomain, parseMailbox, type Mailbox } from './address.ts';

export class Directory {
  readonly domains: ReadonlySet<string>;
  readonly accounts: readonly Account[];
  private readonly owner = new Map<string, string>();
  private readonly byName = new Map<string, Account>();
  private readonly addressesByAccount = new Map<string, string[]>();
  /** Per account: keys of the addresses it may send as besides its own (`sendAs`, docs/design.md §2.1). */
  private readonly sendAs = new Map<string, Set<string>>();
  /** Shared addresses (docs/design.md §2.1, §8.2): key → the accounts that each get a copy. */
  private readonly shared = new Map<string, string[]>();

  constructor(cfg: Pick<Config, 'domains' | 'accounts'> & Partial<Pick<Config, 'sharedAddresses'>>) {
    this.domains = new Set(cfg.domains.map(normalizeDomain));
    this.accounts = cfg.accounts;
    for (const a of cfg.accounts) {
      this.byName.set(a.name, a);
      this.addressesByAccount.set(a.name, []);
      for (const addr of a.addresses) {
        const mb = parseMailbox(addr);
        if (mb) this.add(mailboxKey(mb), a.name, mb.address);
      }
      const shared = new Set<string>();
      for (const addr of a.sendAs ?? []) {
        const mb = parseMailbox(addr);
        if (mb) shared.add(mailboxKey(mb));
      }
      this.sendAs.set(a.name, shared);
    }
    for (const s of cfg.sharedAddresses ?? []) {
      const mb = parseMailbox(s.address);
      const members = s.accounts.filter((n) => this.byName.has(n));
      if (!mb || !members.length) continue;
      const key = mailboxKey(mb);
      this.shared.set(key, members);
      // Each member may send as the shared address too (its replies come from family@).
      for (const n of members) this.sendAs.get(n)!.add(key);
    }
    // RFC 5321 §4.5.1: postmaster@ every local domain exists; it goes to the first
    // account unless an account lists it.
    const first = cfg.accounts[0];
    if (first) {
      for (const d of this.domains) {
        const key = `postmaster@${d}`;
        if (!this.owner.has(key)) this.add(key, first.name, key);
      }
    }
  }

  private add(key: string, account: string, address: string): void {
    this.owner.set(key, account);
    this.addressesByAccount.get(account)!.push(address);
  }

  isLocalDomain(domain: string): boolean {
    return this.domains.has(normalizeDomain(domain));
  }

  /** The account a mailbox delivers to, or null. A bare `postmaster` is local. */
  accountFor(m: Mailbox): string | null {
    if (!m.domain) {
      if (m.local.toLowerCase() !== 'postmaster') return null;
      const d = [...this.domains][0];
      return d ? (this.owner.get(`postmaster@${d}`) ?? null) : null;
    }
    return this.owner.get(mailboxKey(m)) ?? null;
  }

  /**
   * Every account a mailbox delivers to: its one owner, or each account of a shared
   * address (each gets its own copy); empty when none.
   */
  recipientsFor(m: Mailbox): string[] {
    const one = this.accountFor(m);
    if (one) return [one];
    return m.domain ? (this.shared.get(mailboxKey(m)) ?? []) : [];
  }

  /**
   * May the account `name` send as `m` — in MAIL FROM and in the From header? Its own
   * addresses (those that deliver to it) and those listed in its `sendAs`.
   */
  maySendAs(name: string, m: Mailbox): boolean {
    if (m.routing || m.literal) return false;
    if (this.accountFor(m) === name) return true;
    return this.sendAs.get(name)?.has(mailboxKey(m)) ?? false;
  }

  account(name: string): Account | undefined {
    return this.byName.get(name);
  }

  /** The addresses that deliver to an account (including an implied postmaster). */
  addressesOf(name: string): readonly string[] {
    return this.addressesByAccount.get(name) ?? [];
  }

  /** Login for the builtin backend: the account name or any of its addresses. */
  accountForLogin(login: string): Account | undefined {
    const direct = this.byName.get(login);
    if (direct) return direct;
    const mb = parseMailbox(login);
    const name = mb?.domain ? this.owner.get(mailboxKey(mb)) : undefined;
    return name ? this.byName.get(name) : undefined;
  }
}
