// Postern's own greylisting (docs/design.md §2.14): the first attempt of an unknown
// triplet — the client's network (IPv4 /24, IPv6 /64: a sender's pool of outgoing
// servers retries from a neighbour), the envelope sender, the recipient — is told
// `451 4.7.1` at RCPT; a retry after `delayMinutes` passes and the triplet is remembered,
// as is the pair (network, sender), so a known sender writing to someone new passes at
// once. Entries not seen for `expireDays` are forgotten. Real MTAs retry; most spam
// software does not.
//
// The decisions are pure (an injectable clock, no I/O); `GreylistFile` keeps the table
// in `<data-dir>/greylist.json`, replaced atomically after each change (coalesced).
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { parseCidr, unmapIPv4 } from '../net/cidr.ts';
import { replaceFileDurable } from '../spool/durable.ts';

export interface GreylistSettings {
  enabled: boolean;
  /** How long a new triplet must wait before its retry passes. */
  delayMinutes: number;
  /** Triplets and known senders not seen for this long are forgotten. */
  expireDays: number;
}

/** One remembered triplet (or known sender): times in ms since the epoch. */
export interface GreylistEntry {
  /** The first attempt. */
  first: number;
  /** The last attempt. */
  last: number;
  /** A retry passed: the triplet (or sender) is known. */
  passed: boolean;
}

export type GreylistVerdict = { pass: true; reason: string } | { pass: false; waitMs: number; minutes: number; reason: string };

const MINUTE = 60_000;
const DAY = 86_400_000;

/** The client's network for the triplet: IPv4 /24, IPv6 /64. */
export function greylistNetwork(ip: string): string {
  const addr = unmapIPv4(ip);
  try {
    return parseCidr(`${addr}/${net.isIPv6(addr) ? 64 : 24}`).cidr;
  } catch {
    return addr;
  }
}

const norm = (a: string) => a.trim().toLowerCase();

export function tripletKey(ip: string, from: string, to: string): string {
  return `${greylistNetwork(ip)} ${norm(from) || '<>'} ${norm(to)}`;
}

function senderKey(ip: string, from: string): string {
  return `${greylistNetwork(ip)} ${norm(from) || '<>'} *`;
}

/** `451 4.7.1 Greylisted, try again in N minutes` (N at least 1). */
export function greylistText(minutes: number): string {
  return `4.7.1 Greylisted, try again in ${minutes} minute${minutes === 1 ? '' : 's'}`;
}

export class Greylist {
  private readonly entries = new Map<string, GreylistEntry>();
  private readonly now: () => number;
  /** Called after every change of the table (the file is written). */
  onChange?: () => void;

  constructor(o: { now?: () => number; entries?: Record<string, GreylistEntry> } = {}) {
    this.now = o.now ?? Date.now;
    for (const [k, e] of Object.entries(o.entries ?? {})) {
      if (e && typeof e.first === 'number' && typeof e.last === 'number') this.entries.set(k, { first: e.first, last: e.last, passed: !!e.passed });
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** One recipient of an Internet client's transaction. */
  check(ip: string, from: string, to: string, s: Pick<GreylistSettings, 'delayMinutes' | 'expireDays'>): GreylistVerdict {
    const now = this.now();
    const expire = s.expireDays * DAY;
    const delay = s.delayMinutes * MINUTE;
    const key = tripletKey(ip, from, to);
    const sk = senderKey(ip, from);
    const fresh = (e: GreylistEntry | undefined) => e && now - e.last <= expire;
    const triplet = this.entries.get(key);
    const sender = this.entries.get(sk);
    if (fresh(triplet) && triplet!.passed) {
      triplet!.last = now;
      this.changed();
      return { pass: true, reason: 'known triplet' };
    }
    if (fresh(sender) && sender!.passed) {
      this.entries.set(key, { first: now, last: now, passed: true });
      sender!.last = now;
      this.changed();
      return { pass: true, reason: `known sender ${norm(from) || '<>'} from ${greylistNetwork(ip)}` };
    }
    if (fresh(triplet) && now - triplet!.first >= delay) {
      triplet!.last = now;
      triplet!.passed = true;
      this.entries.set(sk, { first: now, last: now, passed: true });
      this.changed();
      return { pass: true, reason: `retried after ${Math.round((now - triplet!.first) / 1000)} s: remembered` };
    }
    let entry = triplet;
    if (!fresh(entry)) {
      entry = { first: now, last: now, passed: false };
      this.entries.set(key, entry);
    } else entry!.last = now;
    this.changed();
    const waitMs = Math.max(0, entry!.first + delay - now);
    const minutes = Math.max(1, Math.ceil(waitMs / MINUTE));
    const seen = entry!.first === now ? 'first attempt' : `retried after ${Math.round((now - entry!.first) / 1000)} s, too soon`;
    return { pass: false, waitMs, minutes, reason: `${seen} of ${key.replace(/ /g, ', ')}; passes after ${s.delayMinutes} min` };
  }

  /** Forgets entries not seen for `expireDays`; how many went. */
  expire(expireDays: number): number {
    const cut = this.now() - expireDays * DAY;
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.last < cut) {
        this.entries.delete(k);
        n++;
      }
    }
    if (n) this.changed();
    return n;
  }

  toJSON(): { version: 1; entries: Record<string, GreylistEntry> } {
    return { version: 1, entries: Object.fromEntries(this.entries) };
  }

  private changed(): void {
    this.onChange?.();
  }
}

async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // NTFS journals its metadata
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * The table on disk: read once (a missing or unreadable file is an empty table), written
 * with replaceFileDurable after a change — one write at a time, the changes made meanwhile
 * in the next (docs/design.md §2.14).
 */
export class GreylistFile {
  readonly file: string;
  private writing: Promise<void> | null = null;
  private dirty = false;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'greylist.json');
  }

  load(now?: () => number): Greylist {
    let entries: Record<string, GreylistEntry> = {};
    try {
      const raw = JSON.parse(fs.readFileSync(this.file, 'utf8')) as { entries?: Record<string, GreylistEntry> };
      if (raw && typeof raw.entries === 'object' && raw.entries) entries = raw.entries;
    } catch {
      // none yet, or damaged: start empty (greylisting only delays mail)
    }
    const g = new Greylist({ now, entries });
    g.onChange = () => this.save(g);
    return g;
  }

  /** Writes the table soon; resolves when what it holds now is on disk. */
  save(g: Greylist): Promise<void> {
    this.dirty = true;
    if (!this.writing) {
      this.writing = (async () => {
        try {
          while (this.dirty) {
            this.dirty = false;
            await replaceFileDurable(this.file, JSON.stringify(g.toJSON()));
            await syncDir(path.dirname(this.file));
          }
        } catch (e) {
          console.error(`postern: greylist.json not written: ${(e as Error).message}`);
        } finally {
          this.writing = null;
        }
      })();
    }
    return this.writing;
  }

  /** Waits for a write under way (a stopping gateway). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }
}
