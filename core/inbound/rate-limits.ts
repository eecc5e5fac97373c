// Rate limits (docs/design.md §2.13), pure: counters in fixed-size sliding windows with
// the clock passed in. Per Internet client (IPv4 address / IPv6 /64) and per network
// (IPv4 /24 / IPv6 /48) on the mx listeners: connections and messages per minute. Per
// family account: messages and recipients per hour — a leaked password sending spam
// under the family's domain is stopped at a number no family reaches.

/** Events counted in a window of `windowMs`, in `buckets` slices (an approximate sliding window). */
export class SlidingCounter {
  readonly windowMs: number;
  private readonly sliceMs: number;
  private readonly slices: number[];
  private readonly starts: number[];

  constructor(windowMs: number, buckets = 12) {
    this.windowMs = windowMs;
    this.sliceMs = Math.max(1, Math.ceil(windowMs / buckets));
    this.slices = new Array(buckets).fill(0);
    this.starts = new Array(buckets).fill(-Infinity);
  }

  private slot(now: number): number {
    const start = Math.floor(now / this.sliceMs) * this.sliceMs;
    const i = Math.floor(now / this.sliceMs) % this.slices.length;
    if (this.starts[i] !== start) {
      this.starts[i] = start;
      this.slices[i] = 0;
    }
    return i;
  }

  add(now: number, n = 1): void {
    this.slices[this.slot(now)] += n;
  }

  /** Events within the last window. */
  count(now: number): number {
    let sum = 0;
    for (let i = 0; i < this.slices.length; i++) if (now - this.starts[i] < this.windowMs) sum += this.slices[i];
    return sum;
  }

  reset(): void {
    this.slices.fill(0);
    this.starts.fill(-Infinity);
  }

  /** When the newest counted event was (for pruning idle keys). */
  lastStart(): number {
    return Math.max(...this.starts);
  }
}

export type LimitKind = 'connections' | 'messages' | 'recipients';

export interface LimitHit {
  kind: LimitKind;
  /** `client 198.51.100.7`, `network 198.51.100.0/24`, `account jane`. */
  scope: string;
  count: number;
  limit: number;
  /** 'minute' | 'hour'. */
  per: 'minute' | 'hour';
}

/** Counters by key, pruned when idle. */
export class RateTable {
  private readonly map = new Map<string, SlidingCounter>();
  readonly windowMs: number;
  private readonly maxKeys: number;
  constructor(windowMs: number, maxKeys = 50_000) {
    this.windowMs = windowMs;
    this.maxKeys = maxKeys;
  }

  get(key: string): SlidingCounter {
    let c = this.map.get(key);
    if (!c) {
      if (this.map.size >= this.maxKeys) this.prune(Date.now());
      c = new SlidingCounter(this.windowMs);
      this.map.set(key, c);
    }
    return c;
  }

  peek(key: string): SlidingCounter | undefined {
    return this.map.get(key);
  }

  delete(key: string): boolean {
    return this.map.delete(key);
  }

  keys(): string[] {
    return [...this.map.keys()];
  }

  prune(now: number): void {
    for (const [k, c] of this.map) if (now - c.lastStart() >= this.windowMs) this.map.delete(k);
    // Still full (a flood of distinct keys): drop the oldest inserted.
    while (this.map.size >= this.maxKeys) this.map.delete(this.map.keys().next().value!);
  }
}

/**
 * Checks `n` more events against `limit` (0: off) and counts them when allowed.
 * Returns the hit (not counted) when the window already holds `limit` or more.
 */
export function take(c: SlidingCounter, now: number, limit: number, n = 1): { ok: true; count: number } | { ok: false; count: number } {
  if (!limit) return { ok: true, count: 0 };
  const count = c.count(now);
  if (count + n > limit) return { ok: false, count };
  c.add(now, n);
  return { ok: true, count: count + n };
}

/** "jane's account sent 300 messages in an hour — is the password leaked?" */
export function accountAlarm(account: string, hit: Pick<LimitHit, 'kind' | 'count'>): string {
  const what = hit.kind === 'recipients' ? `mail to ${hit.count} recipients` : `${hit.count} messages`;
  return `${account}'s account sent ${what} in an hour \u2014 is the password leaked?`;
}
