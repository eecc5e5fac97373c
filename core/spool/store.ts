// The message store: where a received message goes before Postern says 250.
//
//   queue/incoming/<id>          the message as received (+ trace headers), fsynced
//   maildir/<account>/new/<name> hard link per local account (qmail-style delivery:
//                                the file is complete before it gets a name in new/)
//   queue/outbound/<id>.eml      hard link, for remote recipients
//   queue/outbound/<id>.json     the envelope and per-recipient state, fsynced
//
// commit() resolves only when all of that, and every directory entry, is on stable
// storage; then the incoming name is dropped. After a crash, queue/incoming holds only
// messages that never got a 250 (or got one and were already linked everywhere), so
// recovery deletes it; queue/outbound/*.json is the outbound queue.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DirSyncer, fsyncDirSync, writeFileDurable, writeFileDurableFrom } from './durable.ts';

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

export class MessageStore {
  readonly root: string;
  readonly incoming: string;
  readonly outbound: string;
  readonly maildirRoot: string;
  private readonly dirs = new DirSyncer();
  private readonly ready = new Set<string>();

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

  /** Puts a message on stable storage for every recipient. Resolve = safe to say 250. */
  async commit(msg: CommitInput): Promise<CommitResult> {
    const incomingFile = path.join(this.incoming, msg.id);
    if (msg.body) await writeFileDurableFrom(incomingFile, msg.data, await msg.body.finish());
    else await writeFileDurable(incomingFile, msg.data);
    const size = msg.data.length + (msg.body?.bytes ?? 0);
    const syncs: Promise<void>[] = [];
    const maildirFiles: string[] = [];
    const now = Date.now();
    const seen = new Set<string>();
    for (const r of msg.local) {
      if (seen.has(r.account)) continue; // one copy per account, however many of its addresses
      seen.add(r.account);
      this.ensureMaildir(r.account);
      if (r.folder) this.ensureFolder(r.account, r.folder);
      const name = `${Math.floor(now / 1000)}.M${(now % 1000) * 1000}P${process.pid}Q${++seq}_${msg.id}.${HOST},S=${size}`;
      const target = path.join(this.maildir(r.account), r.folder ? `.${r.folder}` : '', 'new', name);
      await linkOrCopy(incomingFile, target);
      maildirFiles.push(target);
      syncs.push(this.dirs.sync(path.dirname(target)));
    }
    if (msg.remote.length) {
      await linkOrCopy(incomingFile, path.join(this.outbound, `${msg.id}.eml`));
      const env: OutboundEnvelope = {
        id: msg.id,
        from: msg.from,
        received: new Date(now).toISOString(),
        client: msg.client,
        recipients: msg.remote.map((address) => ({ address, status: 'queued', attempts: 0 })),
      };
      await writeFileDurable(path.join(this.outbound, `${msg.id}.json`), JSON.stringify(env));
      syncs.push(this.dirs.sync(this.outbound));
    }
    await Promise.all(syncs);
    // Every copy is named and durable; the incoming name is no longer needed. If we
    // crash before this unlink, recovery removes it.
    await fsp.unlink(incomingFile).catch(() => {});
    return { id: msg.id, maildirFiles };
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

  /** Puts one message (a bounce, say) durably into an account's Maildir. */
  async deliverLocal(account: string, data: Buffer): Promise<string> {
    const r = await this.commit({ id: newQueueId(), from: '', client: '', local: [{ account, address: '' }], remote: [], data });
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
 * One message body on its way to the spool: written as it arrives, with back-pressure
 * (`write` false → wait for `onDrain`), opened on the first write.
 */
export class IncomingPart {
  readonly file: string;
  /** Bytes written so far. */
  bytes = 0;
  private ws: fs.WriteStream | null = null;
  private error: Error | null = null;
  private closed: Promise<void> | null = null;

  constructor(file: string) {
    this.file = file;
  }

  private stream(): fs.WriteStream {
    if (!this.ws) {
      this.ws = fs.createWriteStream(this.file, { flags: 'wx', mode: 0o600, highWaterMark: 64 * 1024 });
      this.ws.on('error', (e) => (this.error ??= e));
    }
    return this.ws;
  }

  /** False: wait for `onDrain` before writing more. */
  write(chunk: Buffer): boolean {
    if (!chunk.length) return true;
    this.bytes += chunk.length;
    if (this.error) return true; // finish() reports it
    return this.stream().write(chunk);
  }

  onDrain(f: () => void): void {
    if (!this.ws || this.error) return f();
    this.ws.once('drain', f);
  }

  /** Ends the file (not fsynced: it is copied); resolves to its path. */
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

  /** Closes and removes the file; safe to call more than once, and after finish(). */
  async discard(): Promise<void> {
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
