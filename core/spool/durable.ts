// Stable-storage primitives. "On disk" means: file data fsynced, and the directory
// entry that names it fsynced too (a rename or link is not durable until its
// directory is). Directory fsyncs are group-committed: callers that arrive while one
// is running share the next one, so 20 concurrent deliveries to one Maildir cost
// two directory fsyncs, not twenty.
import fs from 'node:fs';
import fsp from 'node:fs/promises';

// Windows cannot open a directory for fsync; NTFS journals its metadata.
const CAN_SYNC_DIRS = process.platform !== 'win32';

/** Work that nobody waits for as it runs, but that a stop waits to see finished. */
export class Unawaited {
  private readonly running = new Set<Promise<void>>();
  add(work: Promise<void>): void {
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }
  /** Resolves once everything added so far has finished. */
  async settled(): Promise<void> {
    await Promise.all(this.running);
  }
}

/** Closes still running: a file synced is durable, and its next step (a link) need not wait for the close. */
export const closing = new Unawaited();

/** Creates `file` (must not exist) with `data`, fsynced; resolves before its descriptor is closed. */
export async function writeFileDurable(file: string, data: Buffer | string): Promise<void> {
  const fh = await fsp.open(file, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } catch (e) {
    await fh.close();
    throw e;
  }
  closing.add(fh.close().catch(() => {}));
}

/**
 * Creates `file` (must not exist) with `head` followed by the contents of `rest` (a
 * spooled body, copied in pieces: memory does not grow with its size), fsynced. `see`
 * is shown each piece of `rest` as it passes.
 */
export async function writeFileDurableFrom(file: string, head: Buffer, rest: string, see?: (chunk: Buffer) => void): Promise<void> {
  const fh = await fsp.open(file, 'wx', 0o600);
  try {
    await fh.writeFile(head);
    const src = await fsp.open(rest, 'r');
    try {
      const buf = Buffer.allocUnsafe(256 * 1024);
      let pos = head.length;
      for (;;) {
        const { bytesRead } = await src.read(buf, 0, buf.length, null);
        if (!bytesRead) break;
        see?.(buf.subarray(0, bytesRead));
        let off = 0;
        while (off < bytesRead) {
          const { bytesWritten } = await fh.write(buf, off, bytesRead - off, pos);
          off += bytesWritten;
          pos += bytesWritten;
        }
      }
    } finally {
      await src.close();
    }
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** Replaces `file` atomically with `data` (temp file, fsync, rename); the caller syncs the directory. */
export async function replaceFileDurable(file: string, data: Buffer | string): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await fsp.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
}

interface Batch {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class DirSyncer {
  private readonly running = new Map<string, Promise<void>>();
  private readonly next = new Map<string, Batch>();

  /** Resolves once an fsync of `dir` that started after this call has finished. */
  sync(dir: string): Promise<void> {
    if (!CAN_SYNC_DIRS) return Promise.resolve();
    const queued = this.next.get(dir);
    if (queued) return queued.promise;
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const batch: Batch = { promise, resolve, reject };
    this.next.set(dir, batch);
    const start = () => {
      this.next.delete(dir);
      const run = fsyncDir(dir)
        .then(batch.resolve, batch.reject)
        .finally(() => {
          if (this.running.get(dir) === run) this.running.delete(dir);
        });
      this.running.set(dir, run);
    };
    const current = this.running.get(dir);
    if (current) current.then(start, start);
    else start();
    return promise;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, fs.constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function fsyncDirSync(dir: string): void {
  if (!CAN_SYNC_DIRS) return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
