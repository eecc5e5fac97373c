// Free space where the spool and the Maildirs live (docs/design.md §3.6): a cached
// reading of the data dir's file system, refreshed every few seconds with statfs (one
// cheap system call), consulted at MAIL FROM. Below `limits.minFreeBytes` the gateway
// answers 452 4.3.1 instead of accepting mail it might not be able to store
// (Postfix's queue_minfree).
import fs from 'node:fs';
import type { Decision } from '../smtp/decision.ts';

export interface DiskReading {
  /** Bytes an unprivileged writer may still use (statfs f_bavail × f_bsize). */
  freeBytes: number;
  totalBytes: number;
  /** At or above the failure bound (`limits.minFreeBytes`): mail is accepted. */
  ok: boolean;
  /** The bound the reading was judged by. */
  minFreeBytes: number;
  /** When the reading was taken (ms since the epoch). */
  at: number;
}

/** The reply below the bound (RFC 3463 4.3.1 "mail system full"), Postfix's wording. */
export const INSUFFICIENT_STORAGE = { code: 452, text: '4.3.1 Insufficient system storage' } as const;

export function readDisk(dir: string, minFreeBytes: number, now = Date.now()): DiskReading {
  const s = fs.statfsSync(dir);
  const freeBytes = s.bavail * s.bsize;
  return { freeBytes, totalBytes: s.blocks * s.bsize, ok: freeBytes >= minFreeBytes, minFreeBytes, at: now };
}

/** "1.2 GB", "340 MB", "812 kB" — for people. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** What a change of the reading means for mail, in words (none for the first reading when all is well). */
export function diskChange(r: DiskReading, before: DiskReading | null): { text: string; verdict: 'reject' | 'info' } | null {
  if (!r.ok)
    return {
      text: `only ${formatBytes(r.freeBytes)} free where mail is stored (minimum ${formatBytes(r.minFreeBytes)}): new mail is refused with 452 4.3.1 until space is freed`,
      verdict: 'reject',
    };
  return before ? { text: `${formatBytes(r.freeBytes)} free where mail is stored: mail is accepted again`, verdict: 'info' } : null;
}

export class DiskGauge {
  private last: DiskReading | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly dir: string;
  private readonly minFree: () => number;
  private readonly intervalMs: number;
  private readonly onChange: (r: DiskReading, before: DiskReading | null) => void;

  /**
   * `onChange` is called when a refresh crosses the bound (ok ↔ full), and after the
   * first reading; a reading that cannot be taken (the dir vanished) keeps the last one.
   */
  constructor(opts: { dir: string; minFreeBytes: () => number; intervalMs?: number; onChange?: (r: DiskReading, before: DiskReading | null) => void }) {
    this.dir = opts.dir;
    this.minFree = opts.minFreeBytes;
    this.intervalMs = opts.intervalMs ?? 5000;
    this.onChange = opts.onChange ?? (() => {});
  }

  /** Takes a reading now; returns it (or the last one if statfs failed). */
  refresh(): DiskReading | null {
    let r: DiskReading;
    try {
      r = readDisk(this.dir, this.minFree());
    } catch {
      return this.last;
    }
    const before = this.last;
    this.last = r;
    if (!before || before.ok !== r.ok) this.onChange(r, before);
    return r;
  }

  /** The cached reading, refreshed first when it is older than the interval. */
  reading(now = Date.now()): DiskReading | null {
    if (!this.last || now - this.last.at >= this.intervalMs) return this.refresh();
    return this.last;
  }

  /** Refreshes every interval (unref'd: never keeps the process alive). */
  start(): void {
    this.refresh();
    if (this.timer) return;
    this.timer = setInterval(() => this.refresh(), Math.max(this.intervalMs, 100));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** The status field (docs/design.md §7.1): free bytes and whether mail is accepted. */
export interface DiskStatus {
  freeBytes: number;
  ok: boolean;
}

/**
 * The MAIL FROM decision when the data dir's file system is below the bound; null when
 * there is room (or no reading). Called first in SmtpHooks.decideMailFrom.
 */
export function insufficientStorage(r: DiskReading | null, from: string, user?: string): Decision | null {
  if (!r || r.ok) return null;
  return {
    stage: 'mail',
    rule: 'disk',
    reason: `${formatBytes(r.freeBytes)} free where mail is stored, below the minimum of ${formatBytes(r.minFreeBytes)}`,
    from,
    user,
    ...INSUFFICIENT_STORAGE,
  };
}
