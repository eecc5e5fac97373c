// The message store: where a received message goes before Postern says 250
// (docs/design.md §3.1).
//
//   queue/incoming/<id>.<n>      a local copy: Return-Path + Delivered-To + the message
//                                as received (+ trace headers), fsynced; one per
//                                distinct Delivered-To address
//   maildir/<account>/new/<name> hard link of its local copy per account (qmail-style
//                                delivery: the file is complete before it gets a name
//                                in new/)
//   queue/incoming/<id>          the outbound copy (no Return-Path, no Delivered-To)
//   queue/outbound/<id>.eml      hard link of it, for remote recipients
//   queue/outbound/<id>.json     the envelope and per-recipient state, fsynced
//
// commit() resolves only when all of that, and every directory entry, is on stable
// storage; then the incoming names are dropped. After a crash, queue/incoming holds only
// messages that never got a 250 (or got one and were already linked everywhere), so
// recovery deletes it; queue/outbound/*.json is the outbound queue.
import { isAscii } from 'node:buffer';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { closing, DirSyncer, fsyncDirSync, Unawaited, writeFileDurable, writeFileDurableFrom } from './durable.ts';

export interface LocalRecipient {
  account: string;
  address: string;
  /** A Maildir++ folder instead of the inbox: `.Junk/new` (docs/design.md §2.10, §2.12), created on demand. */
  folder?: 'Junk';
}

export interface OutboundRecipient {
  address: string;
  status: 'queued' | 'deferred' | 'delivered' | 'failed';
  attempts: number;
  lastError?: string;
  nextAttempt?: string;
}

export interface OutboundEnvelope {
  id: string;
  from: string;
  received: string;
  client: string;
  recipients: OutboundRecipient[];
  /**
   * The message has bytes above 127 (RFC 6152): sent with BODY=8BITMIME where the next
   * hop offers it, else converted to 7-bit first (docs/design.md §3.3). Absent in
   * envelopes written before it was recorded: the delivery looks at the message.
   */
  eightBit?: boolean;
}

export interface CommitInput {
  id: string;
  from: string;
  client: string;
  local: LocalRecipient[];
  remote: string[];
  data: Buffer;
  /** The rest of the message, after `data`: a body spooled while DATA streamed. */
  body?: IncomingPart;
}

export interface CommitResult {
  id: string;
  maildirFiles: string[];
}

let seq = 0;
let idCounter = 0;
const HOST = os.hostname().replace(/[/:]/g, '_');

/**
 * Time-ordered, unique within this process, filename-safe: 12 upper-case base-32
 * characters (9 for the millisecond, 3 for a counter). The incoming file is created
 * with O_EXCL, so a clock that jumps back cannot make two messages share an id.
 */
export function newQueueId(): string {
  idCounter = (idCounter + 1) % 32768;
  const t = Date.now().toString(32).toUpperCase().padStart(9, '0').slice(-9);
  return t + idCounter.toString(32).toUpperCase().padStart(3, '0');
}

function unlinkAll(files: string[]): Promise<void> {
  return Promise.all(files.map((f) => fsp.unlink(f).catch(() => {}))).then(() => {});
}

export class MessageStore {
  readonly root: string;
  readonly incoming: string;
  readonly outbound: string;
  readonly maildirRoot: string;
  private readonly dirs = new DirSyncer();
  private readonly ready = new Set<string>();
  /** Removals of incoming names still running (commit does not wait for them). */
  private readonly cleanups = new Unawaited();

  constructor(dataDir: string) {
    this.root = dataDir;
    this.incoming = path.join(dataDir, 'queue', 'incoming');
    this.outbound = path.join(dataDir, 'queue', 'outbound');
    this.maildirRoot = path.join(dataDir, 'maildir');
    for (const d of [this.incoming, this.outbound, this.maildirRoot]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    for (const d of [path.join(dataDir, 'queue'), dataDir]) fsyncDirSync(d);
  }

  maildir(account: string): string {
    return path.join(this.maildirRoot, account);
  }

  /** Creates `maildir/<account>/{tmp,new,cur}` (idempotent). */
  ensureMaildir(account: string): void {
    if (this.ready.has(account)) return;
    const base = this.maildir(account);
    for (const sub of ['tmp', 'new', 'cur']) fs.mkdirSync(path.join(base, sub), { recursive: true, mode: 0o700 });
    fsyncDirSync(base);
    fsyncDirSync(this.maildirRoot);
    this.ready.add(account);
  }

  /** Creates the Maildir++ folder `maildir/<account>/.<folder>/{tmp,new,cur}` with its `maildirfolder` marker (idempotent). */
  ensureFolder(account: string, folder: string): void {
    const key = `${account}/.${folder}`;
    if (this.ready.has(key)) return;
    const base = path.join(this.maildir(account), `.${folder}`);
    for (const sub of ['tmp', 'new', 'cur']) fs.mkdirSync(path.join(base, sub), { recursive: true, mode: 0o700 });
    fs.closeSync(fs.openSync(path.join(base, 'maildirfolder'), 'a', 0o600));
    fsyncDirSync(base);
    fsyncDirSync(this.maildir(account));
    this.ready.add(key);
  }

  /**
   * Puts a message on stable storage for every recipient. Resolve = safe to say 250.
   *
   * Two kinds of copy (docs/design.md §3.1). The outbound copy is the message as
   * received (trace headers included): `queue/incoming/<id>`, hard-linked as
   * `queue/outbound/<id>.eml`. A local copy is a final delivery, so it starts with
   * `Return-Path: <sender>` (RFC 5321 §4.4) and `Delivered-To: <address>` (RFC 9228):
   * one file per distinct Delivered-To address (`queue/incoming/<id>.<n>`), hard-linked
   * into the `new/` of every account that address reaches (a shared address: several
   * accounts, one file). An account gets one copy however many of its addresses the
   * message names; its Delivered-To is the first of them, in RCPT order.
   */
  async commit(msg: CommitInput): Promise<CommitResult> {
    // A small body is still in memory: the message is written whole, no spool file to copy.
    const small = msg.body?.inMemory();
    const data = small ? Buffer.concat([msg.data, small]) : msg.data;
    const bodyFile = msg.body && !small ? await msg.body.finish() : null;
    const size = msg.data.length + (msg.body?.bytes ?? 0);
    const now = Date.now();
    // Delivered-To address → the accounts it is delivered to.
    const copies = new Map<string, string[]>();
    const seen = new Set<string>();
    for (const r of msg.local) {
      if (seen.has(r.account)) continue; // one copy per account, however many of its addresses
      seen.add(r.account);
      this.ensureMaildir(r.account);
      if (r.folder) this.ensureFolder(r.account, r.folder);
      const key = r.address.toLowerCase();
      copies.set(key, [...(copies.get(key) ?? []), r.account]);
    }
    const addressOf = new Map(msg.local.map((r) => [r.address.toLowerCase(), r.address]));
    const written: string[] = [];
    const syncs: Promise<void>[] = [];
    const maildirFiles: string[] = [];
    try {
      // The local copies, written and fsynced side by side, then named in each Maildir.
      const local = [...copies].map(async ([key, accounts], n) => {
        const file = path.join(this.incoming, `${msg.id}.${n}`);
        const prefix = Buffer.from(`Return-Path: <${msg.from}>\r\nDelivered-To: ${addressOf.get(key) ?? key}\r\n`, 'latin1');
        const head = Buffer.concat([prefix, data]);
        written.push(file);
        if (bodyFile) await writeFileDurableFrom(file, head, bodyFile);
        else await writeFileDurable(file, head);
        for (const account of accounts) {
          const name = `${Math.floor(now / 1000)}.M${(now % 1000) * 1000}P${process.pid}Q${++seq}_${msg.id}.${HOST},S=${size + prefix.length}`;
          const folder = msg.local.find((r) => r.account === account)?.folder; // Junk (§2.10, §2.12)
          const target = path.join(this.maildir(account), folder ? `.${folder}` : '', 'new', name);
          await linkOrCopy(file, target);
          maildirFiles.push(target);
          syncs.push(this.dirs.sync(path.dirname(target)));
        }
      });
      if (msg.remote.length) {
        const file = path.join(this.incoming, msg.id);
        written.push(file);
        // Whether the message has 8-bit bytes (RFC 6152): found while it is written,
        // kept in the envelope for the delivery (docs/design.md §3.3).
        let eightBit = !isAscii(data);
        const see = (chunk: Buffer) => {
          if (!eightBit && !isAscii(chunk)) eightBit = true;
        };
        if (bodyFile) await writeFileDurableFrom(file, data, bodyFile, see);
        else await writeFileDurable(file, data);
        await linkOrCopy(file, path.join(this.outbound, `${msg.id}.eml`));
        const env: OutboundEnvelope = {
          id: msg.id,
          from: msg.from,
          received: new Date(now).toISOString(),
          client: msg.client,
          recipients: msg.remote.map((address) => ({ address, status: 'queued', attempts: 0 })),
          eightBit,
        };
        await writeFileDurable(path.join(this.outbound, `${msg.id}.json`), JSON.stringify(env));
        syncs.push(this.dirs.sync(this.outbound));
      }
      await Promise.all(local);
      await Promise.all(syncs);
    } catch (e) {
      // Failed (never answered 250): what it wrote goes before the 451, so the space a
      // half-written copy took is free again when the client tries the next message.
      await unlinkAll(written);
      throw e;
    }
    // Named and durable everywhere: the incoming names are only second links now. The
    // 250 does not wait for their removal (one disk operation less on every message's
    // way, docs/benchmarks.md); if we crash first, recovery removes them at the next start.
    this.cleanups.add(unlinkAll(written));
    return { id: msg.id, maildirFiles };
  }

  /** Resolves once the incoming names of the commits so far are removed (the gateway's stop waits for it). */
  async settled(): Promise<void> {
    await Promise.all([this.cleanups.settled(), closing.settled()]);
  }

  /**
   * A file for one message's body while DATA streams (`queue/incoming/<id>.part`), so
   * that a connection's memory does not grow with its message (§2.8). Not durable
   * itself: commit() copies it, after the trace headers and the header section, into
   * the incoming file that is fsynced. Recovery at start removes a leftover.
   */
  incomingPart(id: string): IncomingPart {
    return new IncomingPart(path.join(this.incoming, `${id}.part`));
  }

  /**
   * Puts one message from the mail system itself (a bounce) durably into an account's
   * Maildir: `Return-Path: <>` (RFC 3464 §2: reports go out with a null sender) and
   * `Delivered-To: <address>`, the address it is for.
   */
  async deliverLocal(account: string, address: string, data: Buffer): Promise<string> {
    const r = await this.commit({ id: newQueueId(), from: '', client: '', local: [{ account, address }], remote: [], data });
    return r.maildirFiles[0];
  }

  /** Start-up recovery: drop unfinished receptions, return the outbound queue. */
  recover(): { removedIncoming: number; outbound: OutboundEnvelope[] } {
    let removedIncoming = 0;
    for (const f of fs.readdirSync(this.incoming)) {
      fs.rmSync(path.join(this.incoming, f), { force: true });
      removedIncoming++;
    }
    const outbound: OutboundEnvelope[] = [];
    const files = new Set(fs.readdirSync(this.outbound));
    for (const f of files) {
      if (f.endsWith('.tmp')) {
        fs.rmSync(path.join(this.outbound, f), { force: true });
        continue;
      }
      if (!f.endsWith('.json')) continue;
      const id = f.slice(0, -5);
      try {
        const env = JSON.parse(fs.readFileSync(path.join(this.outbound, f), 'utf8')) as OutboundEnvelope;
        if (files.has(`${id}.eml`)) outbound.push(env);
      } catch {
        // A torn envelope cannot exist (written durably before being named), but a
        // hand-edited one can: leave it for a person to look at.
      }
    }
    for (const f of files) {
      // An .eml without its envelope never got a 250.
      if (f.endsWith('.eml') && !files.has(`${f.slice(0, -4)}.json`)) fs.rmSync(path.join(this.outbound, f), { force: true });
    }
    return { removedIncoming, outbound };
  }
}

/**
 * Bodies up to this size stay in memory until the commit; a larger one goes to its
 * `.part` file from the first byte past it (docs/design.md §2.8). Most mail is smaller,
 * and a spool file per message costs an open, a copy and an unlink; this bound keeps
 * what a connection holds small whatever it sends (like Haraka's `spool_after`).
 */
export const BODY_IN_MEMORY_BYTES = 128 * 1024;

/**
 * One message body on its way to the spool: kept in memory while it is small, then
 * written to its file as it arrives, with back-pressure (`write` false → wait for
 * `onDrain`), opened when the body outgrows memory or a reader needs a file.
 */
export class IncomingPart {
  readonly file: string;
  /** Bytes written so far. */
  bytes = 0;
  private chunks: Buffer[] | null = [];
  private ws: fs.WriteStream | null = null;
  private error: Error | null = null;
  private closed: Promise<void> | null = null;
  private discarded = false;
  private readonly inMemoryBytes: number;

  constructor(file: string, inMemoryBytes = BODY_IN_MEMORY_BYTES) {
    this.file = file;
    this.inMemoryBytes = inMemoryBytes;
  }

  /** Moves the body from memory to its file (once). */
  private stream(): fs.WriteStream {
    if (!this.ws) {
      this.ws = fs.createWriteStream(this.file, { flags: 'wx', mode: 0o600, highWaterMark: 64 * 1024 });
      this.ws.on('error', (e) => (this.error ??= e));
      for (const c of this.chunks ?? []) this.ws.write(c);
      this.chunks = null;
    }
    return this.ws;
  }

  /** False: wait for `onDrain` before writing more. */
  write(chunk: Buffer): boolean {
    if (!chunk.length || this.discarded) return true; // discarded: nothing more is kept, no file is made
    this.bytes += chunk.length;
    if (this.chunks && this.bytes <= this.inMemoryBytes) {
      this.chunks.push(chunk);
      return true;
    }
    if (this.error) return true; // finish() reports it
    return this.stream().write(chunk);
  }

  onDrain(f: () => void): void {
    if (!this.ws || this.error) return f();
    this.ws.once('drain', f);
  }

  /** The whole body while it is still in memory (and nothing has asked for a file), else null. */
  inMemory(): Buffer | null {
    return this.chunks ? Buffer.concat(this.chunks) : null;
  }

  /** The body for a reader: the bytes while they are in memory, else the finished file. */
  async source(): Promise<{ bodyFile: string | null; body?: Buffer }> {
    const body = this.inMemory();
    return body ? { bodyFile: null, body } : { bodyFile: await this.finish() };
  }

  /** Ends the file, writing it first if the body was in memory (not fsynced: it is copied); resolves to its path. */
  async finish(): Promise<string> {
    const ws = this.stream();
    this.closed ??= new Promise<void>((resolve) => {
      if (ws.closed) return resolve();
      ws.once('close', () => resolve());
      ws.end();
    });
    await this.closed;
    if (this.error) throw this.error;
    return this.file;
  }

  /** Forgets the body and removes its file; safe to call more than once, and after finish(). */
  async discard(): Promise<void> {
    this.discarded = true;
    this.chunks = null;
    if (this.ws && !this.ws.closed) {
      const ws = this.ws;
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.destroy();
      });
    }
    if (this.ws) await fsp.unlink(this.file).catch(() => {});
  }
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await fsp.link(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV' && (e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    await fsp.copyFile(from, to, fs.constants.COPYFILE_EXCL);
    const fh = await fsp.open(to, 'r+');
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }
}
