// Brute-force protection (docs/design.md §2.4): per client IP, `maxFailures` failed AUTHs
// within 15 minutes ban the IP for `banSeconds`. Bans are saved to
// <data>/auth-bans.json so that a restart does not forgive an attacker.
import fs from 'node:fs';
import path from 'node:path';
import { clientKey } from '../net/cidr.ts';

export const FAILURE_WINDOW_MS = 15 * 60 * 1000;

export interface Ban {
  /** An IPv4 address or an IPv6 /64. */
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
  private readonly now: () => number;

  constructor(dataDir: string | null, maxFailures: number, banSeconds: number, now: () => number = Date.now) {
    this.maxFailures = maxFailures;
    this.banSeconds = banSeconds;
    this.now = now;
    this.file = dataDir ? path.join(dataDir, 'auth-bans.json') : null;
    this.load();
  }

  configure(maxFailures: number, banSeconds: number): void {
    this.maxFailures = maxFailures;
    this.banSeconds = banSeconds;
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
    const key = clientKey(ip);
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

  /** Records a failure; returns the new ban if this failure triggered one. */
  fail(ip: string): { count: number; ban: Ban | null } {
    const key = clientKey(ip);
    const t = this.now();
    const list = (this.failures.get(key) ?? []).filter((x) => t - x < FAILURE_WINDOW_MS);
    list.push(t);
    this.failures.set(key, list);
    if (list.length >= this.maxFailures) {
      const ban = { ip: key, until: t + this.banSeconds * 1000, failures: list.length };
      this.bans.set(key, ban);
      this.failures.delete(key);
      this.save();
      return { count: list.length, ban };
    }
    return { count: list.length, ban: null };
  }

  unban(ip: string): boolean {
    const ok = this.bans.delete(clientKey(ip));
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
