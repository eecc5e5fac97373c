// Answers kept for their TTL. Positive answers live for the records' TTL, negative
// ones (NXDOMAIN/NODATA) for the SOA minimum (RFC 2308), both capped so a hostile or
// broken zone can't pin an answer for days. Bounded in entries: oldest out first.

export interface CacheLimits {
  /** Longest life of a positive answer, seconds. */
  maxTtl: number;
  /** Longest life of a negative answer, seconds. */
  maxNegativeTtl: number;
  maxEntries: number;
}

export const DEFAULT_CACHE_LIMITS: CacheLimits = { maxTtl: 3600, maxNegativeTtl: 300, maxEntries: 10_000 };

type Entry = { expires: number; value: unknown; error: null } | { expires: number; value: null; error: { code: string; message: string } };

export class DnsCache {
  private readonly map = new Map<string, Entry>();
  private readonly limits: CacheLimits;
  private readonly now: () => number;

  constructor(limits: CacheLimits = DEFAULT_CACHE_LIMITS, now: () => number = Date.now) {
    this.limits = limits;
    this.now = now;
  }

  get(key: string): Entry | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }

  setValue(key: string, value: unknown, ttlSeconds: number): void {
    this.put(key, { expires: this.now() + Math.min(ttlSeconds, this.limits.maxTtl) * 1000, value, error: null }, ttlSeconds);
  }

  setNegative(key: string, error: { code: string; message: string }, ttlSeconds: number): void {
    this.put(key, { expires: this.now() + Math.min(ttlSeconds, this.limits.maxNegativeTtl) * 1000, value: null, error }, ttlSeconds);
  }

  private put(key: string, e: Entry, ttlSeconds: number): void {
    if (!(ttlSeconds > 0)) return; // TTL 0: use once, never keep (RFC 1035 §3.2.1)
    this.map.delete(key);
    this.map.set(key, e);
    while (this.map.size > this.limits.maxEntries) this.map.delete(this.map.keys().next().value!);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
