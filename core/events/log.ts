// log/events.jsonl (docs/design.md §4.3, §8.3): one JSON object per line, appended in
// batches off the hot path, rotated by size (events.1.jsonl … events.N.jsonl).
// The event log is a record for people, not the durability mechanism: it is not
// fsynced per event (the message spool is).
import fs from 'node:fs';
import path from 'node:path';
import type { GatewayEvent } from './types.ts';

export interface EventLogOptions {
  maxBytes?: number;
  keep?: number;
}

export class EventLog {
  readonly file: string;
  private readonly maxBytes: number;
  private readonly keep: number;
  private fd: number;
  private size: number;
  private pending: string[] = [];
  private writing = false;
  private scheduled = false;
  private closed = false;

  constructor(dir: string, opts: EventLogOptions = {}) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, 'events.jsonl');
    this.maxBytes = opts.maxBytes ?? 10 * 1024 * 1024;
    this.keep = opts.keep ?? 5;
    this.fd = fs.openSync(this.file, 'a', 0o600);
    this.size = fs.fstatSync(this.fd).size;
  }

  /**
   * The id of the last event written (so ids keep increasing across restarts). Right
   * after a rotation the current file is empty: the last id is then in events.1.jsonl.
   */
  lastId(): number {
    for (const f of [this.file, path.join(path.dirname(this.file), 'events.1.jsonl')]) {
      const id = lastIdIn(f);
      if (id) return id;
    }
    return 0;
  }

  append(e: GatewayEvent): void {
    if (this.closed) return;
    this.pending.push(`${JSON.stringify(e)}\n`);
    if (!this.scheduled && !this.writing) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.writing || this.pending.length === 0 || this.closed) return;
    const chunk = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.writing = true;
    fs.write(this.fd, chunk, (err) => {
      this.writing = false;
      if (!err) {
        this.size += chunk.length;
        if (this.size >= this.maxBytes) this.rotate();
      }
      if (this.pending.length) this.flush();
    });
  }

  /**
   * Runs in a write's callback: a failure here (the log folder removed, the disk gone)
   * must not become an uncaught exception that stops the gateway. The log is a record,
   * not the spool: it is reported once and the log goes on where it can.
   */
  private rotate(): void {
    try {
      fs.closeSync(this.fd);
      for (let i = this.keep - 1; i >= 1; i--) {
        const from = path.join(path.dirname(this.file), `events.${i}.jsonl`);
        if (fs.existsSync(from)) fs.renameSync(from, path.join(path.dirname(this.file), `events.${i + 1}.jsonl`));
      }
      fs.renameSync(this.file, path.join(path.dirname(this.file), 'events.1.jsonl'));
    } catch (e) {
      console.error(`postern: the event log could not be rotated: ${(e as Error).message}`);
    }
    try {
      this.fd = fs.openSync(this.file, 'a', 0o600);
    } catch (e) {
      console.error(`postern: the event log could not be reopened, events are no longer written to ${this.file}: ${(e as Error).message}`);
      this.fd = -1;
      this.closed = true;
    }
    this.size = 0;
  }

  /** Writes what is pending and closes the file (after a write in flight, if any); resolves once it is closed. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      const finish = (): void => {
        if (this.writing) {
          setTimeout(finish, 2);
          return;
        }
        try {
          if (this.fd >= 0) {
            if (this.pending.length) fs.writeSync(this.fd, this.pending.join(''));
            fs.closeSync(this.fd);
          }
        } catch (e) {
          console.error(`postern: the event log could not be closed: ${(e as Error).message}`);
        }
        this.pending = [];
        resolve();
      };
      finish();
    });
  }
}

/** The id on the last complete line of a log file (0 when there is none). */
function lastIdIn(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return 0; // no such file yet
  }
  try {
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n').filter(Boolean);
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        const id = JSON.parse(lines[i]).id;
        if (Number.isInteger(id)) return id;
      } catch {
        // a torn last line after a crash: look further back
      }
    }
    return 0;
  } finally {
    fs.closeSync(fd);
  }
}
