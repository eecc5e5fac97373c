// The history index's writer in a worker thread of its own (docs/design.md §4.4): the
// main thread hands over each batch of events and goes on answering SMTP clients; the
// thread writes it with its own SQLite connection (WAL: the main thread's connection
// keeps reading, and sees each batch once it is committed). One thread, one writer, batches
// in order. While a burst goes on it holds the batches and writes them when the events
// pause (or the burst has lasted MAX_LAG_MS); a query asks for them at once ('now').
// If the thread fails, HistoryIndex writes inline again (index.ts).
import fs from 'node:fs';
import os from 'node:os';
import { parentPort, Worker } from 'node:worker_threads';
import { DatabaseSync } from 'node:sqlite';
import type { GatewayEvent } from '../events/types.ts';
import { workerSource, type WorkerSource } from '../work/worker-file.ts';
import { HistoryWriter } from './writer.ts';

/** What the thread is started with (`workerData`); core/work/worker.ts runs runHistoryWriter for it. */
export interface HistoryThreadData {
  role: 'history';
  file: string;
  hold: HoldTimes;
}

/** While batches keep coming they are held; written after quietMs without one, or once the oldest is maxLagMs old. */
export interface HoldTimes {
  quietMs: number;
  maxLagMs: number;
}

type Reply = { ok: true; written: number } | { ok: false; error: string };
/** Main thread → writer: a batch to write, or 'now': write what is held without waiting for a pause. */
type Request = GatewayEvent[] | 'now';

/** How long a write waits for the other connection (a prune, a migration) before it fails. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * The writer's page cache (SQLite's default is 2 MiB): the index pages a burst of
 * batches keeps touching stay in memory instead of being read back (docs/benchmarks.md).
 */
const CACHE_KIB = 16 * 1024;

/** Checkpoints wait for this long without a batch… */
export const IDLE_CHECKPOINT_MS = 1000;
/** …or for this much WAL (pages of 4 KiB: 64 MiB). */
const WAL_PAGES = 16_384;

/** Deferred search words written at once however busy it is (their rows are found by LIKE until then). */
const MAX_DEFERRED_WORDS = 20_000;

/** Pages of search-table merging done in one quiet second. */
const MERGE_PAGES = 2000;

/** The writer thread's nice value (Linux): below the event loop's. */
export const THREAD_NICE = 19;

/**
 * Batches are held while they keep coming and written once none has come for this long
 * (the main thread hands one over every 250 ms while events arrive, index.ts): a burst's
 * rows are written after it, not during it, when the two cores are busy answering it.
 */
export const QUIET_MS = 500;
/** …but a burst's oldest held event waits no longer than this (the History page's lag)… */
export const MAX_LAG_MS = 5000;
/** …and the thread holds no more events than this (tens of MB; 5 s of a saturated 2-core machine is ~35,000). */
const MAX_HELD_EVENTS = 40_000;

/** The main thread's side. */
export class WriterThread {
  private readonly worker: Worker;
  /** Batches handed over and not yet answered, oldest first. */
  private readonly queue: GatewayEvent[][] = [];
  private idleWaiters: (() => void)[] = [];
  private dead = false;

  /**
   * `written`: a batch is committed (its size). `failed`: a batch could not be written
   * (it is lost to the index; events.jsonl keeps it for the next catch-up). `gone`: the
   * thread stopped; batches not yet written are handed back for an inline write.
   */
  constructor(
    file: string,
    hold: HoldTimes = { quietMs: QUIET_MS, maxLagMs: MAX_LAG_MS },
    on: { written(n: number): void; failed(message: string): void; gone(error: Error, unwritten: GatewayEvent[][]): void },
    source: () => WorkerSource = workerSource,
  ) {
    const src = source();
    const workerData: HistoryThreadData = { role: 'history', file, hold };
    this.worker = 'code' in src ? new Worker(src.code, { eval: true, workerData }) : new Worker(src.file, { workerData });
    this.worker.unref();
    this.worker.on('message', (r: Reply) => {
      this.queue.shift();
      if (r.ok) on.written(r.written);
      else on.failed(r.error);
      if (this.queue.length === 0) this.settle();
    });
    const gone = (e: Error) => {
      if (this.dead) return;
      this.dead = true;
      on.gone(e, this.queue.splice(0));
      this.settle();
    };
    this.worker.on('error', gone);
    this.worker.on('exit', (code) => gone(new Error(`the history writer thread exited (${code})`)));
  }

  get alive(): boolean {
    return !this.dead;
  }

  post(batch: GatewayEvent[]): void {
    this.queue.push(batch);
    this.worker.ref(); // a batch in flight keeps the process alive until it is written
    this.worker.postMessage(batch satisfies Request);
  }

  /** Resolves once every batch handed over so far is written (or the thread is gone); held batches are written at once. */
  idle(): Promise<void> {
    if (this.queue.length === 0 || this.dead) return Promise.resolve();
    this.worker.postMessage('now' satisfies Request);
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Waits for the batches in flight, then ends the thread. */
  async close(): Promise<void> {
    await this.idle();
    this.dead = true;
    await this.worker.terminate();
  }

  private settle(): void {
    if (!this.dead) this.worker.unref();
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

/** The thread's side: opens the index and writes each batch it is given, in order. */
export function runHistoryWriter(data: HistoryThreadData): void {
  yieldToEventLoop();
  const db = new DatabaseSync(data.file);
  db.exec(
    `PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -${CACHE_KIB}; PRAGMA wal_autocheckpoint = ${WAL_PAGES};`,
  );
  // The search table merges its segments when writing pauses (below), not at every
  // commit (FTS5's automerge): a fifth of the writer's cost in a burst (docs/benchmarks.md).
  // Its crisis merge still bounds the segments a long burst leaves.
  try {
    db.exec("INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 0)");
  } catch {
    // an index without the search table yet: it merges as FTS5 does by default
  }
  // Search words wait for the quiet second too (about half the writer's work in a burst).
  const writer = new HistoryWriter(db, { deferred: true });
  let held: GatewayEvent[][] = [];
  let heldEvents = 0;
  let firstHeldAt = 0;
  let pause: NodeJS.Timeout | null = null;
  let idle: NodeJS.Timeout | null = null;
  // Everything held in one transaction (fewer commits than one per batch); one answer per batch, in order.
  const writeHeld = () => {
    if (pause) clearTimeout(pause);
    pause = null;
    if (held.length === 0) return;
    if (idle) clearTimeout(idle);
    const batches = held;
    held = [];
    heldEvents = 0;
    let error: string | null = null;
    try {
      writer.write(batches.flat());
      // A long burst: the rows a search must scan by LIKE stay few.
      if (writer.pendingWords >= MAX_DEFERRED_WORDS) writer.writeDeferredWords();
    } catch (e) {
      error = (e as Error).message;
    }
    for (const b of batches) parentPort!.postMessage((error === null ? { ok: true, written: b.length } : { ok: false, error }) satisfies Reply);
    idle = setTimeout(() => quietSecond(db, writer), IDLE_CHECKPOINT_MS);
    idle.unref();
  };
  parentPort!.on('message', (m: Request) => {
    if (m === 'now') return writeHeld();
    if (idle) clearTimeout(idle); // no quiet-second work while batches come
    if (held.length === 0) firstHeldAt = Date.now();
    held.push(m);
    heldEvents += m.length;
    if (heldEvents >= MAX_HELD_EVENTS || Date.now() - firstHeldAt >= data.hold.maxLagMs) return writeHeld();
    if (pause) clearTimeout(pause);
    pause = setTimeout(writeHeld, data.hold.quietMs);
  });
}

/**
 * The quiet second's work: the deferred search words into the trigram table, a merge of
 * its segments (up to MERGE_PAGES pages of output; the next quiet second goes on), then
 * the WAL moved into the index file and emptied. A checkpoint syncs megabytes to the
 * disk that every 250 also syncs to; SQLite's default runs one every 4 MiB of WAL, in
 * the middle of a burst. Here it waits for a quiet second; WAL_PAGES bounds the WAL
 * under a long burst.
 */
function quietSecond(db: DatabaseSync, writer: HistoryWriter): void {
  try {
    if (writer.pendingWords) writer.writeDeferredWords();
    db.exec(`INSERT INTO messages_fts (messages_fts, rank) VALUES ('merge', ${MERGE_PAGES})`);
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  } catch {
    // busy (a prune on the other connection): the next quiet second, or the size bound
  }
}

/**
 * The index may lag a burst by a few seconds; the SMTP answers may not. On Linux a
 * thread has a nice value of its own: this one takes the lowest, 19, so under load the event loop
 * (and the disk syncs behind each 250) get the CPU first and the index catches up after.
 * Elsewhere it stays at the process's priority.
 */
function yieldToEventLoop(): void {
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (tid > 0) os.setPriority(tid, THREAD_NICE);
  } catch {
    // not Linux, or not allowed: the same priority as the rest
  }
}
