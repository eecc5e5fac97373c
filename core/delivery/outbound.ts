// The outbound queue: mail from family members to the outside world, on the
// durable spool of store.ts (queue/outbound/<id>.eml + <id>.json).
//
// Per recipient: queued → delivered, or deferred (4xx, connection trouble: retried
// with backoff for up to 5 days) → failed (5xx or expiry: an RFC 3464 bounce goes to
// the local sender's Maildir). The envelope file is rewritten durably after every
// attempt, before the next one, so a crash neither loses a recipient nor sends it
// twice (short of the unavoidable window between the remote 250 and our fsync).
// How a message travels is the courier's business (courier.ts); time comes from a
// Clock (clock.ts), so both can be replaced in tests.
import { isAscii } from 'node:buffer';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.ts';
import type { EventBus } from '../events/bus.ts';
import type { Directory } from '../policy/directory.ts';
import { normalizeDomain, parseMailbox } from '../policy/address.ts';
import type { QueueEntry } from './queue-entry.ts';
import { DirSyncer, fsyncDirSync, replaceFileDurable } from '../spool/durable.ts';
import type { MessageStore, OutboundEnvelope, OutboundRecipient } from '../spool/store.ts';
import type { Courier, OutboundMessage, RcptOutcome } from './courier.ts';
import { systemClock, type Cancel, type Clock } from './clock.ts';
import { buildBounce, enhancedFromReply } from './bounce.ts';
import { type DkimKeys, fromHeaderDomain } from '../dkim/keys.ts';
import { sevenBitInWorker, signInWorker } from '../work/pool.ts';

/** Delay before attempt n+1 after n failed attempts (ms): 1 m, 5 m, 15 m, 30 m, 1 h, 2 h, then every 4 h. */
export const DEFAULT_RETRY_MS = [60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000];
export const MAX_QUEUE_AGE_MS = 5 * 24 * 3600 * 1000;

export interface OutboundOptions {
  store: MessageStore;
  bus: EventBus;
  config: () => Config;
  directory: () => Directory;
  dkim: DkimKeys;
  /** Delivers the messages (the gateway passes SmtpCourier). */
  courier: Courier;
  /** Default: the system clock. */
  clock?: Clock;
  retryMs?: number[];
  maxAgeMs?: number;
  concurrency?: number;
  onPermanentFailure?(id: string, recipients: string[]): void;
}

interface Entry {
  env: OutboundEnvelope;
  running: boolean;
}

interface Failure {
  r: OutboundRecipient;
  /** `replyText`: the server's reply as it came; `text` and `note` may say more ("gave up after 5 days"). */
  o: RcptOutcome & { replyText?: string; note?: string };
}

const PENDING = new Set<OutboundRecipient['status']>(['queued', 'deferred']);

export class OutboundQueue {
  private readonly o: OutboundOptions;
  private readonly clock: Clock;
  private readonly entries = new Map<string, Entry>();
  private readonly dirs = new DirSyncer();
  private timer: Cancel | null = null;
  private active = 0;
  private stopped = true;
  private readonly idle = new Set<() => void>();

  constructor(o: OutboundOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
  }

  private now(): number {
    return this.clock.now();
  }

  private get dir(): string {
    return this.o.store.outbound;
  }

  load(envelopes: OutboundEnvelope[]): void {
    for (const env of envelopes) if (env.recipients.some((r) => PENDING.has(r.status))) this.entries.set(env.id, { env, running: false });
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.();
    this.timer = null;
    await this.settled();
  }

  /** Resolves when no delivery attempt is under way. */
  settled(): Promise<void> {
    return this.active ? new Promise<void>((r) => this.idle.add(r)) : Promise.resolve();
  }

  /** A message with remote recipients was just committed: try it now. */
  enqueued(id: string): void {
    try {
      const env = JSON.parse(fs.readFileSync(path.join(this.dir, `${id}.json`), 'utf8')) as OutboundEnvelope;
      this.entries.set(id, { env, running: false });
    } catch (e) {
      this.o.bus.emit({
        stage: 'queue',
        verdict: 'info',
        rule: 'outbound queue',
        queueId: id,
        text: `cannot read the queued envelope: ${(e as Error).message}`,
      });
      return;
    }
    this.schedule(0);
  }

  get size(): number {
    return this.entries.size;
  }

  list(): QueueEntry[] {
    return [...this.entries.values()]
      .map(({ env }) => ({ id: env.id, from: env.from, received: env.received, client: env.client, recipients: env.recipients.map((r) => ({ ...r })) }))
      .sort((a, b) => a.received.localeCompare(b.received));
  }

  /** Retry the deferred recipients of a message now. */
  retry(id: string): boolean {
    const e = this.entries.get(id);
    if (!e) return false;
    for (const r of e.env.recipients) if (r.status === 'deferred') r.nextAttempt = new Date(this.now()).toISOString();
    this.o.bus.emit({ stage: 'queue', verdict: 'info', rule: 'outbound queue', queueId: id, from: e.env.from, text: 'retry requested' });
    this.schedule(0);
    return true;
  }

  /** Drops a message from the queue (no bounce); an attempt under way finishes without writing back. */
  remove(id: string): boolean {
    const e = this.entries.get(id);
    if (!e) return false;
    this.entries.delete(id);
    // Synchronously, so that what the caller sees next is already true on disk.
    fs.rmSync(path.join(this.dir, `${id}.json`), { force: true });
    fs.rmSync(path.join(this.dir, `${id}.eml`), { force: true });
    fsyncDirSync(this.dir);
    this.o.bus.emit({ stage: 'queue', verdict: 'info', rule: 'outbound queue', queueId: id, from: e.env.from, text: 'deleted from the queue by the user' });
    return true;
  }

  /** Resolves when nothing is being delivered and nothing is due (tests). */
  async drain(timeoutMs = 30_000): Promise<void> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      const due = [...this.entries.values()].some((e) => this.dueAt(e.env) <= this.now());
      if (!this.active && !due) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  // ---- scheduling -----------------------------------------------------------

  private dueAt(env: OutboundEnvelope): number {
    let due = Infinity;
    for (const r of env.recipients) {
      if (!PENDING.has(r.status)) continue;
      const t = r.nextAttempt ? Date.parse(r.nextAttempt) : 0;
      if (t < due) due = t;
    }
    return due;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer?.();
    this.timer = this.clock.after(delay, () => this.tick());
  }

  private tick(): void {
    this.timer = null;
    if (this.stopped) return;
    const limit = this.o.concurrency ?? 4;
    const now = this.now();
    let next = Infinity;
    for (const e of this.entries.values()) {
      if (e.running) continue;
      const due = this.dueAt(e.env);
      if (due <= now && this.active < limit) {
        e.running = true;
        this.active++;
        this.attempt(e)
          .catch((err: Error) =>
            this.o.bus.emit({
              stage: 'delivery',
              verdict: 'info',
              rule: 'outbound queue',
              queueId: e.env.id,
              text: `delivery attempt crashed: ${err.message}`,
            }),
          )
          .finally(() => {
            e.running = false;
            this.active--;
            if (!this.active) {
              for (const r of this.idle) r();
              this.idle.clear();
            }
            this.schedule(0);
          });
      } else if (due < next) next = due;
    }
    if (next !== Infinity && this.active < limit) this.schedule(next - now);
  }

  // ---- one attempt ------------------------------------------------------------

  private async attempt(e: Entry): Promise<void> {
    const env = e.env;
    const cfg = this.o.config();
    const now = this.now();
    const due = env.recipients.filter((r) => PENDING.has(r.status) && (!r.nextAttempt || Date.parse(r.nextAttempt) <= now));
    if (!due.length) return;
    const failures: Failure[] = [];
    await this.deliver(env, due, cfg, failures);
    await this.settle(env, failures, cfg);
  }

  private async deliver(env: OutboundEnvelope, due: OutboundRecipient[], cfg: Config, failures: Failure[]): Promise<void> {
    let message: Buffer;
    try {
      message = await fsp.readFile(path.join(this.dir, `${env.id}.eml`));
    } catch (err) {
      // Gone (or unreadable) for good: fail the recipients rather than retry in a loop.
      const text = `5.3.0 the queued message file cannot be read: ${(err as Error).message}`;
      return this.record(
        env,
        due.map((r) => ({ address: r.address, ok: false, permanent: true, text })),
        failures,
      );
    }
    const source = message;
    // 8-bit (recorded at commit, §3.1; an older envelope: looked at now). Each form the
    // next hops ask for is made once per attempt: converted to 7-bit (in a worker, §2.8)
    // when a server lacks 8BITMIME, and DKIM-signed after any conversion (§3.3, §3.5).
    const eightBit = env.eightBit ?? !isAscii(source);
    const forms = new Map<string, Promise<Buffer>>();
    const out: OutboundMessage = {
      eightBit,
      bytes: (form) => {
        const f = eightBit ? form : '8bit';
        let p = forms.get(f);
        if (!p) {
          p = (f === '7bit' ? sevenBitInWorker(source) : Promise.resolve(source)).then((m) => this.sign(m, env, cfg));
          forms.set(f, p);
        }
        return p;
      },
    };
    // Recorded batch by batch (for MX: domain by domain): a crash while a later batch
    // is tried does not send again to the ones already done.
    for (const batch of this.o.courier.batches(due.map((r) => r.address))) {
      await this.record(env, await this.o.courier.deliver(batch, env.from, out), failures);
    }
  }

  /** DKIM-sign mail whose From: (or envelope sender) is in one of our domains. */
  private async sign(message: Buffer, env: OutboundEnvelope, cfg: Config): Promise<Buffer> {
    const dir = this.o.directory();
    const fromDomain = fromHeaderDomain(message);
    const envDomain = parseMailbox(env.from)?.domain ?? '';
    // The configured spelling of the domain, never the message's own (it names a key file).
    const ours = (d: string | null) => (d ? ([...dir.domains].find((x) => x === normalizeDomain(d)) ?? null) : null);
    const domain =
      (fromDomain && dir.isLocalDomain(fromDomain) ? ours(fromDomain) : null) ?? (envDomain && dir.isLocalDomain(envDomain) ? ours(envDomain) : null);
    if (!domain) return message;
    try {
      // In a worker thread with a deadline (§2.8): past it, 'timeout', and the message goes unsigned.
      const { header, error } = await signInWorker(message, this.o.dkim.get(domain, cfg.dkim.selector));
      if (error) throw new Error(error);
      return Buffer.concat([Buffer.from(header), message]);
    } catch (err) {
      this.o.bus.emit({ stage: 'delivery', verdict: 'info', rule: 'dkim', queueId: env.id, text: `not DKIM-signed: ${(err as Error).message}` });
      return message;
    }
  }

  /**
   * Applies one server's answers: deliveries and deferrals are written down at once
   * (so a crash later in the attempt does not send them again); permanent failures
   * are only collected — settle() bounces them, then marks them failed.
   */
  private async record(env: OutboundEnvelope, outcomes: RcptOutcome[], failures: Failure[]): Promise<void> {
    if (this.entries.get(env.id)?.env !== env) return; // deleted by the user meanwhile
    const now = this.now();
    const retry = this.o.retryMs ?? DEFAULT_RETRY_MS;
    const expired = now - Date.parse(env.received) >= (this.o.maxAgeMs ?? MAX_QUEUE_AGE_MS);
    let changed = false;
    for (const o of outcomes) {
      const r = env.recipients.find((x) => x.address === o.address && PENDING.has(x.status));
      if (!r) continue;
      r.attempts++;
      r.lastError = o.ok ? undefined : o.text;
      const base = { session: '', client: '', queueId: env.id, from: env.from, to: r.address, code: o.code ?? 0 };
      if (o.ok) {
        r.status = 'delivered';
        delete r.nextAttempt;
        changed = true;
        this.o.bus.emit({ ...base, stage: 'delivery', verdict: 'accept', rule: 'delivery', text: `delivered to ${o.remoteMta}: ${o.text}` });
      } else if (o.permanent || expired) {
        const gaveUp = expired && !o.permanent;
        const text = gaveUp ? `gave up after 5 days: ${o.text}` : o.text;
        failures.push({ r, o: { ...o, text, replyText: o.text, ...(gaveUp ? { note: 'gave up after 5 days' } : {}) } });
        this.o.bus.emit({ ...base, stage: 'delivery', verdict: 'reject', rule: 'delivery', text });
      } else {
        r.status = 'deferred';
        r.nextAttempt = new Date(now + retry[Math.min(r.attempts - 1, retry.length - 1)]).toISOString();
        changed = true;
        this.o.bus.emit({ ...base, stage: 'delivery', verdict: 'defer', rule: 'delivery', text: `${o.text} (attempt ${r.attempts}; next ${r.nextAttempt})` });
      }
    }
    if (changed) await this.persist(env);
  }

  /**
   * After an attempt: one bounce for every permanent failure (written before they are
   * marked failed — a crash in between repeats the bounce rather than lose it), then
   * the envelope is rewritten, or the message leaves the queue when nothing is pending.
   */
  private async settle(env: OutboundEnvelope, failures: Failure[], cfg: Config): Promise<void> {
    if (this.entries.get(env.id)?.env !== env) return;
    if (failures.length) {
      await this.bounce(env, failures, cfg);
      for (const { r } of failures) {
        r.status = 'failed';
        delete r.nextAttempt;
      }
    }
    if (env.recipients.every((r) => !PENDING.has(r.status))) {
      this.entries.delete(env.id);
      await this.removeFiles(env.id);
    } else if (failures.length) await this.persist(env);
  }

  private async persist(env: OutboundEnvelope): Promise<void> {
    await replaceFileDurable(path.join(this.dir, `${env.id}.json`), JSON.stringify(env));
    await this.dirs.sync(this.dir);
  }

  private async bounce(env: OutboundEnvelope, failed: Failure[], cfg: Config): Promise<void> {
    const recipients = failed.map(({ r }) => r.address);
    this.o.onPermanentFailure?.(env.id, recipients);
    const sender = env.from ? parseMailbox(env.from) : null;
    const account = sender ? this.o.directory().accountFor(sender) : null;
    if (!account) {
      // Bouncing to an address that is not ours would be backscatter.
      this.o.bus.emit({
        stage: 'queue',
        verdict: 'info',
        rule: 'bounce',
        queueId: env.id,
        from: env.from,
        text: `no bounce sent: the sender ${env.from ? `<${env.from}>` : '<>'} is not a family address`,
      });
      return;
    }
    const original = await fsp.readFile(path.join(this.dir, `${env.id}.eml`)).catch(() => Buffer.alloc(0));
    const report = buildBounce({
      reportingMta: cfg.hostname,
      originalSender: env.from,
      originalId: env.id,
      arrival: new Date(env.received),
      original,
      recipients: failed.map(({ r, o }) => ({
        address: r.address,
        status: enhancedFromReply(o.code, o.text, true).replace(/^4/, '5'),
        // The server's reply as it was (`smtp;`), else Postern's own words (§3.4).
        ...(o.reply ? { diagnosticType: 'smtp' as const, diagnostic: o.replyText ?? o.text } : { diagnosticType: 'X-Postern' as const, diagnostic: o.text }),
        note: o.note,
        remoteMta: o.remoteMta,
        lastAttempt: new Date(this.now()),
      })),
    });
    await this.o.store.deliverLocal(account, env.from, report);
    this.o.bus.emit({
      stage: 'queue',
      verdict: 'info',
      rule: 'bounce',
      queueId: env.id,
      from: '',
      to: env.from,
      text: `delivery failure report for ${recipients.join(', ')} put in ${account}'s mailbox`,
    });
  }

  private async removeFiles(id: string): Promise<void> {
    // The envelope first: without it, the .eml is an orphan that recovery removes.
    await fsp.rm(path.join(this.dir, `${id}.json`), { force: true });
    await fsp.rm(path.join(this.dir, `${id}.eml`), { force: true });
    await this.dirs.sync(this.dir);
  }
}
