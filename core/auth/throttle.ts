// Bounds on password guessing beyond the per-address ban (docs/design.md §2.4):
//  - per account: a failed login for an account is answered after a delay that grows
//    with the account's recent failures (capped) — never a lockout: a right password is
//    answered at once, and a place the account logged in from before gets no delay;
//  - globally: at most `maxChecks` password checks (scrypt, CPU- and memory-heavy) at once,
//    plus `reservedChecks` kept for internal networks and known-good places; beyond
//    that the answer is a quick 454 4.7.0 without hashing.
// The per-network (IPv4 /24, IPv6 /48) ban is BanList's (bans.ts).
import os from 'node:os';
import { clientKey } from '../net/cidr.ts';

export const ACCOUNT_WINDOW_MS = 15 * 60 * 1000;
/** How long a successful login makes its address a known-good place for that account. */
export const KNOWN_GOOD_MS = 30 * 24 * 3600 * 1000;
/** Failures an account may have in ACCOUNT_WINDOW_MS before its failures are answered late. */
export const FREE_FAILURES = 3;
export const BASE_DELAY_MS = 1000;
export const MAX_DELAY_MS = 20_000;
/** Bounds on the tables, so that a stream of made-up logins cannot grow memory. */
const MAX_KEYS = 10_000;

export interface ThrottleOptions {
  now?: () => number;
  /** Password checks at once for anyone (default: cores − 1, at least 1). */
  maxChecks?: number;
  /** Further checks at once only for internal networks and known-good places (default 1). */
  reservedChecks?: number;
  freeFailures?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

function trim<K, V>(m: Map<K, V>): void {
  // Maps iterate in insertion order: drop the oldest.
  while (m.size > MAX_KEYS) m.delete(m.keys().next().value as K);
}

export class AuthThrottle {
  private readonly now: () => number;
  private readonly failures = new Map<string, number[]>();
  /** account → (address key → time of the last success there) */
  private readonly knownGood = new Map<string, Map<string, number>>();
  /** address key → time of the last success there, for any account */
  private readonly goodAddresses = new Map<string, number>();
  readonly maxChecks: number;
  readonly reservedChecks: number;
  readonly freeFailures: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  private running = 0;

  constructor(o: ThrottleOptions = {}) {
    this.now = o.now ?? Date.now;
    this.maxChecks = o.maxChecks ?? Math.max(1, os.availableParallelism() - 1);
    this.reservedChecks = o.reservedChecks ?? 1;
    this.freeFailures = o.freeFailures ?? FREE_FAILURES;
    this.baseDelayMs = o.baseDelayMs ?? BASE_DELAY_MS;
    this.maxDelayMs = o.maxDelayMs ?? MAX_DELAY_MS;
  }

  /** Checks in progress. */
  get checking(): number {
    return this.running;
  }

  /**
   * A slot for one password check, or null when none is free (answer 454 without
   * hashing). `privileged`: an internal network or a known-good place, which may also
   * use the reserved slots. Call the returned function when the check is over.
   */
  enter(privileged: boolean): (() => void) | null {
    const cap = this.maxChecks + (privileged ? this.reservedChecks : 0);
    if (this.running >= cap) return null;
    this.running++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.running--;
    };
  }

  /** Did `account` log in successfully from this address (IPv4, or IPv6 /64) within KNOWN_GOOD_MS? */
  isKnownGood(account: string, ip: string): boolean {
    const t = this.knownGood.get(account)?.get(clientKey(ip));
    return t !== undefined && this.now() - t < KNOWN_GOOD_MS;
  }

  /** Did any account log in successfully from this address within KNOWN_GOOD_MS? */
  isGoodAddress(ip: string): boolean {
    const t = this.goodAddresses.get(clientKey(ip));
    return t !== undefined && this.now() - t < KNOWN_GOOD_MS;
  }

  success(account: string, ip: string): void {
    const key = clientKey(ip);
    const t = this.now();
    let places = this.knownGood.get(account);
    if (!places) {
      places = new Map();
      this.knownGood.set(account, places);
    }
    places.delete(key);
    places.set(key, t);
    trim(places);
    this.goodAddresses.delete(key);
    this.goodAddresses.set(key, t);
    trim(this.goodAddresses);
  }

  /**
   * Records a failed login for `accountKey` (the account name, or the login as typed
   * when no account has it: an unknown login is delayed the same way) and returns how
   * long to wait before answering it, with the account's failure count.
   */
  fail(accountKey: string, knownGood: boolean): { delayMs: number; failures: number } {
    const t = this.now();
    const list = (this.failures.get(accountKey) ?? []).filter((x) => t - x < ACCOUNT_WINDOW_MS);
    list.push(t);
    this.failures.delete(accountKey);
    this.failures.set(accountKey, list);
    trim(this.failures);
    if (knownGood) return { delayMs: 0, failures: list.length };
    return { delayMs: this.delayFor(list.length), failures: list.length };
  }

  /** Failed logins for `accountKey` within ACCOUNT_WINDOW_MS (for status and tests). */
  failuresOf(accountKey: string): number {
    const t = this.now();
    return (this.failures.get(accountKey) ?? []).filter((x) => t - x < ACCOUNT_WINDOW_MS).length;
  }

  /** The delay for the `n`th failure within the window: none for the first few, then doubling, capped. */
  delayFor(n: number): number {
    if (n <= this.freeFailures) return 0;
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(30, n - this.freeFailures - 1));
  }
}
