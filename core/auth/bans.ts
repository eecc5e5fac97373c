// Brute-force protection (docs/design.md §2.4): per client IP, `maxFailures` failed AUTHs
// within 15 minutes ban the IP for `banSeconds`; per network (IPv4 /24, IPv6 /48),
// `maxNetworkFailures` failed AUTHs from any of its addresses ban the network — so that
// guessing from many addresses of one network is bounded too. Internal networks and
// addresses a family member logged in from (the `exempt` predicate) are neither counted
// nor refused per network. Bans are saved to <data>/auth-bans.json so that a restart
// does not forgive an attacker.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { clientKey, parseCidr, unmapIPv4 } from '../net/cidr.ts';

/** The network a per-network ban counts: the IPv4 /24 or the IPv6 /48 (one site), e.g. `192.0.2.0/24`. */
export function guessNetwork(ip: string): string {
  const addr = unmapIPv4(ip);
  try {
    return parseCidr(net.isIPv6(addr) ? `${addr}/48` : `${addr}/24`).cidr;
  } catch {
    return addr;
  }
}

export const FAILURE_WINDOW_MS = 15 * 60 * 1000;

export interface Ban {
  /** An IPv4 address or an IPv6 /64; for a network ban the IPv4 /24 or IPv6 /48 (`192.0.2.0/24`). */
  ip: string;
  until: number;
  failures: number;
}

export class BanList {
  private readonly failures = new Map<string, number[]>();
  private readonly bans = new Map<string, Ban>();
  private readonly file: string | null;
  private maxFailures: number;
  private banSeconds: number;
  private maxNetworkFailures = 20;
  private readonly now: () => number;
  /** Clients that per-network counting and bans leave alone (internal networks, known-good addresses). */
  exempt: (ip: string) => boolean = () => false;

  constructor(dataDir: string | null, maxFailures: number, banSeconds: number, now: () => number = Date.now) {
    this.maxFailures = maxFailures;
    this.banSeconds = banSeconds;
    this.now = now;
    this.file = dataDir ? path.join(dataDir, 'auth-bans.json') : null;
    this.load();
  }

  configure(maxFailures: number, banSeconds: number, maxNetworkFailures: number = this.maxNetworkFailures): void {
    this.maxFailures = maxFailures;
    this.banSeconds = banSeconds;
    this.maxNetworkFailures = maxNetworkFailures;
  }

  private load(): void {
    if (!this.file || !fs.existsSync(this.file)) return;
    try {
      const list = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Ban[];
      for (const b of list) if (b.until > this.now()) this.bans.set(b.ip, b);
    } catch {
      // an unreadable ban file forgives; it is a cache, not a contract
    }
  }

  /** Saving is best effort: a disk that refuses the file must not crash a login (the ban holds in memory). */
  private save(): void {
    if (!this.file) return;
    try {
      const tmp = `${this.file}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify([...this.bans.values()]), { mode: 0o600 });
      fs.renameSync(tmp, this.file);
      this.saveError = null;
    } catch (e) {
      this.saveError = (e as Error).message;
    }
  }

  /** Why the last save failed, or null. */
  saveError: string | null = null;

  /** The active ban for an IP, or null (an expired ban is lifted and reported once via `expired`). */
  banned(ip: string): Ban | null {
    return this.active(clientKey(ip)) ?? (this.bans.size && !this.exempt(ip) ? this.active(guessNetwork(ip)) : null);
  }

  private active(key: string): Ban | null {
    const b = this.bans.get(key);
    if (!b) return null;
    if (b.until > this.now()) return b;
    this.bans.delete(key);
    this.save();
    return null;
  }

  /** Lifts bans whose time is up; returns them (for "unban" events). */
  expire(): Ban[] {
    const out: Ban[] = [];
    for (const [ip, b] of this.bans) {
      if (b.until <= this.now()) {
        this.bans.delete(ip);
        out.push(b);
      }
    }
    if (out.length) this.save();
    return out;
  }

  /**
   * Records a failure; returns the new ban if this failure triggered one — of the
   * address, or (`network` true) of its /24 or /48 — and the failure counts.
   */
  fail(ip: string): { count: number; networkCount: number; ban: Ban | null; network: boolean } {
    const t = this.now();
    const key = clientKey(ip);
    const count = this.count(key, t);
    if (count >= this.maxFailures) return { count, networkCount: 0, ban: this.impose(key, count, t), network: false };
    if (this.exempt(ip)) return { count, networkCount: 0, ban: null, network: false };
    const netKey = guessNetwork(ip);
    const networkCount = this.count(`net ${netKey}`, t);
    if (networkCount >= this.maxNetworkFailures) {
      this.failures.delete(`net ${netKey}`);
      return { count, networkCount, ban: this.impose(netKey, networkCount, t), network: true };
    }
    return { count, networkCount, ban: null, network: false };
  }

  /**
   * A login attempt refused unchecked because too many password checks were running
   * (docs/design.md §2.4, rule `auth throttle`): it counts toward its network's failures
   * (not the address's: a family member at a new place may meet the bound too). Returns
   * the network ban this attempt triggered, or null.
   */
  throttled(ip: string): Ban | null {
    if (this.exempt(ip)) return null;
    const t = this.now();
    const netKey = guessNetwork(ip);
    const n = this.count(`net ${netKey}`, t);
    if (n < this.maxNetworkFailures) return null;
    this.failures.delete(`net ${netKey}`);
    return this.impose(netKey, n, t);
  }

  private count(key: string, t: number): number {
    const list = (this.failures.get(key) ?? []).filter((x) => t - x < FAILURE_WINDOW_MS);
    list.push(t);
    this.failures.set(key, list);
    // Forget keys whose failures are all old, so that rotating addresses cannot grow memory.
    if (this.failures.size > 10_000) for (const [k, l] of this.failures) if (!l.some((x) => t - x < FAILURE_WINDOW_MS)) this.failures.delete(k);
    return list.length;
  }

  private impose(key: string, failures: number, t: number): Ban {
    const ban = { ip: key, until: t + this.banSeconds * 1000, failures };
    this.bans.set(key, ban);
    this.failures.delete(key);
    this.save();
    return ban;
  }

  /** Lifts the ban of an address (its IPv4 address or IPv6 /64) or of a network written as a ban shows it (`192.0.2.0/24`). */
  unban(ip: string): boolean {
    const ok = this.bans.delete(ip.includes('/') ? ip : clientKey(ip));
    if (ok) this.save();
    return ok;
  }

  list(): Ban[] {
    return [...this.bans.values()].filter((b) => b.until > this.now());
  }

  /**
   * Takes in an edit of the ban file made by another process — `postern bans lift` while
   * `postern serve` runs (docs/design.md §2.4). The file replaces the list in memory; a
   * file equal to what this list would write is no news. Skipped while this list's own
   * saves fail (then the file is older than memory). Returns the bans lifted that way.
   */
  reloadFromFile(): Ban[] {
    if (!this.file || this.saveError !== null) return [];
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return [];
      text = '[]';
    }
    if (text === JSON.stringify([...this.bans.values()])) return [];
    let list: Ban[];
    try {
      list = JSON.parse(text) as Ban[];
      if (!Array.isArray(list)) return [];
    } catch {
      return []; // half-written by an editor: the next change brings the whole file
    }
    const now = this.now();
    const keep = new Map(list.filter((b) => b && typeof b.ip === 'string' && typeof b.until === 'number' && b.until > now).map((b) => [b.ip, b] as const));
    const lifted = [...this.bans.values()].filter((b) => !keep.has(b.ip));
    this.bans.clear();
    for (const [k, b] of keep) this.bans.set(k, b);
    return lifted;
  }
}

/** A ban as the dashboard and `postern bans list` show it (docs/design.md §2.4). */
export interface BanView {
  /** An IPv4 address, an IPv6 /64, or a network (`192.0.2.0/24`) for a per-network ban. */
  address: string;
  /** When it ends (ISO 8601). */
  until: string;
  failures: number;
  /** Why, in words. */
  reason: string;
}

/** Why, in words: a per-network ban says so. */
export function banReason(b: { ip: string; failures: number }): string {
  return b.ip.includes('/') && !b.ip.endsWith('/64')
    ? `${b.failures} failed logins from addresses in this network within 15 minutes`
    : `${b.failures} failed logins within 15 minutes`;
}

/** Bans in force, soonest to end first, for the dashboard. */
export function banViews(bans: BanList): BanView[] {
  return bans
    .list()
    .sort((a, b) => a.until - b.until)
    .map((b) => ({ address: b.ip, until: new Date(b.until).toISOString(), failures: b.failures, reason: banReason(b) }));
}
