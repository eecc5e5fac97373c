// Work on a message's content that could take long — DKIM/DMARC verification of a
// received message, DKIM signing of an outbound one — runs in worker threads with a
// real deadline (docs/design.md §2.8): past it the worker is terminated, whatever it
// was doing, and the caller gets Error('timeout'). The event loop that serves every
// SMTP session and the dashboard never runs it. Two workers, started on first use; an
// idle worker does not keep the process alive; a task waiting for a free worker counts
// that wait against its deadline.
import { Worker } from 'node:worker_threads';
import type { DkimKey } from '../dkim/keys.ts';
import type { MessageAuth, MessageAuthContext, SpooledMessage } from '../spf/authres.ts';
import { workerSource, type WorkerSource } from './worker-file.ts';

export type WorkRequest =
  | { id: number; kind: 'verify'; head: Uint8Array; bodyFile: string | null; body?: Uint8Array; ctx: MessageAuthContext }
  | { id: number; kind: 'auth'; head: Uint8Array; bodyFile: string | null; body?: Uint8Array; ctx: MessageAuthContext; evaluate: boolean }
  | { id: number; kind: 'sign'; message: Uint8Array; key: DkimKey }
  | { id: number; kind: 'seven-bit'; message: Uint8Array };

/** What a request carries; the pool numbers it. */
type WorkInput = WorkRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export type WorkReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

interface Task {
  req: WorkRequest;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  slot?: Slot;
}

interface Slot {
  worker: Worker;
  task: Task | null;
}

export class WorkerPool {
  private readonly source: () => WorkerSource;
  private readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  /** Workers terminated at a deadline (for tests and status). */
  terminated = 0;

  /** Worker threads alive now. */
  get threads(): number {
    return this.slots.length;
  }

  constructor(opts: { size?: number; source?: () => WorkerSource } = {}) {
    this.size = opts.size ?? 2;
    this.source = opts.source ?? workerSource;
  }

  run<T>(input: WorkInput, deadlineMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const task: Task = {
        req: { ...input, id: ++this.nextId } as WorkRequest,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: setTimeout(() => this.expire(task), deadlineMs),
      };
      task.timer.unref();
      this.queue.push(task);
      this.dispatch();
    });
  }

  /** Terminates every worker (tasks in flight fail); the pool starts new ones if used again. */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    for (const t of this.queue.splice(0)) this.fail(t, new Error('worker pool closed'));
    await Promise.all(
      slots.map((s) => {
        if (s.task) this.fail(s.task, new Error('worker pool closed'));
        return s.worker.terminate();
      }),
    );
  }

  private dispatch(): void {
    while (this.queue.length) {
      let slot = this.slots.find((s) => !s.task);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = this.spawn();
      }
      const task = this.queue.shift()!;
      slot.task = task;
      task.slot = slot;
      slot.worker.ref(); // a task in flight keeps the process alive, an idle worker does not
      slot.worker.postMessage(task.req);
    }
  }

  private spawn(): Slot {
    const src = this.source();
    const worker = 'code' in src ? new Worker(src.code, { eval: true }) : new Worker(src.file);
    worker.unref();
    const slot: Slot = { worker, task: null };
    worker.on('message', (r: WorkReply) => {
      const t = slot.task;
      if (!t || t.req.id !== r.id) return;
      slot.task = null;
      worker.unref();
      clearTimeout(t.timer);
      if (r.ok) t.resolve(r.value);
      else t.reject(new Error(r.error));
      this.dispatch();
    });
    const gone = (e: Error) => {
      this.drop(slot);
      if (slot.task) this.fail(slot.task, e);
      slot.task = null;
      this.dispatch();
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`worker exited (${code})`)));
    this.slots.push(slot);
    return slot;
  }

  private drop(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  private fail(t: Task, e: Error): void {
    clearTimeout(t.timer);
    t.reject(e);
  }

  private expire(t: Task): void {
    const i = this.queue.indexOf(t);
    if (i >= 0) this.queue.splice(i, 1);
    const slot = t.slot;
    if (slot && slot.task === t) {
      // The one way to stop synchronous work: end the thread.
      slot.task = null;
      this.drop(slot);
      this.terminated++;
      void slot.worker.terminate();
    }
    t.reject(new Error('timeout'));
    this.dispatch();
  }
}

/** The gateway's pool (module-wide: the desktop app and `postern serve` run one gateway). */
let shared: WorkerPool | null = null;
export function workPool(): WorkerPool {
  shared ??= new WorkerPool();
  return shared;
}

/** Gateways running now that use the shared pool (tests run several in one process). */
let users = 0;

/**
 * A running gateway's hold on the shared pool (docs/design.md §2.8): the returned
 * function lets go, once; when the last holder lets go the workers are terminated, so
 * a stopped gateway leaves no thread behind (the pool starts new ones if used again).
 */
export function holdWorkPool(): () => Promise<void> {
  users++;
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    users--;
    if (users === 0 && shared) await shared.close();
  };
}

/** Extra time the worker gets past the verification's own DNS bound (3 × dns.timeoutMs, §2.7). */
export const VERIFY_GRACE_MS = 2000;

/** DKIM/DMARC + Authentication-Results (core/spf/authres.ts) in a worker; rejects with Error('timeout') past the deadline. */
export function verifyInWorker(message: SpooledMessage, ctx: MessageAuthContext, pool = workPool()): Promise<string> {
  return pool.run<string>(
    { kind: 'verify', head: message.head, bodyFile: message.bodyFile, body: message.body, ctx },
    3 * ctx.cfg.dns.timeoutMs + VERIFY_GRACE_MS,
  );
}

/**
 * Like verifyInWorker, with the DMARC verdict as data for enforcement (docs/design.md §2.10);
 * `evaluate`: DKIM/DMARC even when `spf.header` writes no Authentication-Results.
 */
export function authInWorker(message: SpooledMessage, ctx: MessageAuthContext, evaluate: boolean, pool = workPool()): Promise<MessageAuth> {
  return pool.run<MessageAuth>(
    { kind: 'auth', head: message.head, bodyFile: message.bodyFile, body: message.body, ctx, evaluate },
    3 * ctx.cfg.dns.timeoutMs + VERIFY_GRACE_MS,
  );
}

/** Deadline of one DKIM signature (§3.5): a 25 MiB message is hashed in well under a second. */
export const SIGN_DEADLINE_MS = 15_000;

/** signMessage (core/dkim/keys.ts) in a worker; rejects with Error('timeout') past the deadline. */
export function signInWorker(message: Buffer, key: DkimKey, pool = workPool()): Promise<{ header: string; error: string | null }> {
  return pool.run({ kind: 'sign', message, key }, SIGN_DEADLINE_MS);
}

/**
 * An 8-bit message converted to 7-bit (core/delivery/seven-bit.ts, §3.3) in a worker: it
 * walks the whole message. Same deadline as a signature; rejects with Error('timeout').
 */
export async function sevenBitInWorker(message: Buffer, pool = workPool()): Promise<Buffer> {
  const u = await pool.run<Uint8Array>({ kind: 'seven-bit', message }, SIGN_DEADLINE_MS);
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}
