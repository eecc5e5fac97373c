// The daily summary (docs/design.md §4.5), like Mail-in-a-Box's status mails: once a day
// at `summary.hour` (the server's local time), when `summary.daily` is on, a plain-text
// message to the postmaster account — messages accepted, refused and deferred over the
// last 24 hours, the top refusal reasons, the outbound queue, what the setup check found
// and when the certificate ends. It is stored like a bounce (core/delivery/outbound.ts):
// MessageStore.deliverLocal, the spool's durable path into the account's Maildir.
import crypto from 'node:crypto';
import type { GatewayStatus } from '../status.ts';
import type { Config } from '../config/schema.ts';
import type { Directory } from '../policy/directory.ts';
import type { MessageStore } from '../spool/store.ts';
import type { EventBus } from '../events/bus.ts';
import { parseMailbox } from '../policy/address.ts';
import { rfc5322Date } from '../smtp/message.ts';
import type { HistoryIndex } from './index.ts';

export interface SummaryFacts {
  /** The end of the 24 hours summed up. */
  now: number;
  hostname: string;
  accepted: number;
  refused: number;
  deferred: number;
  topReasons: { rule: string; reason: string; count: number }[];
  queue: number;
  setup: GatewayStatus['setup'];
  tls: GatewayStatus['tls'];
}

const DAY = 86_400_000;

/** The facts of the last 24 hours: counts and reasons from the history index, the rest from the status. */
export function summaryFacts(history: HistoryIndex, status: GatewayStatus, now: number): SummaryFacts {
  const d = history.lastDay(now);
  return { now, hostname: status.hostname, ...d, queue: status.queue.outbound, setup: status.setup, tls: status.tls };
}

const pad = (n: number, w: number) => String(n).padStart(w);
/** `Tue, 24 Nov 2026, 07:00 UTC`: the server's local time, its zone named. */
const local = (t: number) =>
  new Date(t).toLocaleString('en-GB', {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  });

/** The message, CRLF line ends, ready for MessageStore.deliverLocal. */
export function summaryMessage(f: SummaryFacts, to: string): Buffer {
  const when = new Date(f.now);
  const problems = f.setup?.fails ?? 0;
  const subject = `Postern on ${f.hostname}: ${f.accepted} accepted, ${f.refused} refused, ${f.deferred} deferred${problems ? ` — ${problems} setup problem${problems > 1 ? 's' : ''}` : ''}`;
  const w = String(Math.max(f.accepted, f.refused, f.deferred)).length;
  const body: string[] = [
    `Postern on ${f.hostname}: the 24 hours to ${local(f.now)}.`,
    '',
    'Messages',
    `  accepted  ${pad(f.accepted, w)}`,
    `  refused   ${pad(f.refused, w)}`,
    `  deferred  ${pad(f.deferred, w)}`,
    '',
  ];
  if (f.topReasons.length) {
    body.push('Top refusal reasons');
    const rw = String(f.topReasons[0].count).length;
    for (const r of f.topReasons) body.push(`  ${pad(r.count, rw)}  ${r.rule}: ${r.reason}`);
    body.push('');
  }
  body.push(f.queue ? `Outbound queue: ${f.queue} message${f.queue > 1 ? 's' : ''} waiting to be sent on.` : 'Outbound queue: empty.', '');
  if (!f.setup) body.push('Setup check: not run yet.');
  else if (!problems)
    body.push(
      `Setup check (${local(Date.parse(f.setup.ranAt))}): no problems${f.setup.warns ? `, ${f.setup.warns} warning${f.setup.warns > 1 ? 's' : ''}` : ''}.`,
    );
  else {
    body.push(
      `Setup check (${local(Date.parse(f.setup.ranAt))}): ${problems} problem${problems > 1 ? 's' : ''} — the Setup page says how to fix ${problems > 1 ? 'them' : 'it'}:`,
    );
    for (const t of f.setup.failing) body.push(`  - ${t}`);
  }
  body.push('');
  if (!f.tls) body.push('Certificate: none loaded.');
  else {
    const left = Math.floor((Date.parse(f.tls.notAfter) - f.now) / DAY);
    const ends =
      left < 0 ? `EXPIRED on ${f.tls.notAfter.slice(0, 10)}` : `valid until ${f.tls.notAfter.slice(0, 10)} (${left} day${left === 1 ? '' : 's'} left)`;
    body.push(`Certificate: ${f.tls.subject}, ${ends}${f.tls.selfSigned ? ', self-signed' : ''}.`);
  }
  body.push('', '-- ', 'Postern sends this once a day (config: summary.daily, summary.hour). `postern dashboard` prints the dashboard link.', '');
  const head = [
    `From: Postern <${to}>`,
    `To: <${to}>`,
    `Subject: ${subject}`,
    `Date: ${rfc5322Date(when)}`,
    `Message-ID: <summary.${f.now}.${crypto.randomBytes(6).toString('hex')}@${f.hostname}>`,
    // RFC 3834: made by a program; nobody should auto-reply to it.
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body.join('\r\n')}`, 'utf8');
}

/** The next `hour`:00 (local time) strictly after `now`. */
export function nextRun(now: number, hour: number): number {
  const d = new Date(now);
  d.setHours(hour, 0, 0, 0);
  if (d.getTime() <= now) d.setDate(d.getDate() + 1);
  return d.getTime();
}

export interface DailySummaryOptions {
  history: HistoryIndex;
  status: () => GatewayStatus;
  config: () => Config;
  directory: () => Directory;
  store: MessageStore;
  bus: EventBus;
  now?: () => number;
  /** setTimeout, replaceable by a test's clock. */
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

/** Schedules the summary every day at `summary.hour`; sends only while `summary.daily` is on. */
export class DailySummary {
  private readonly o: DailySummaryOptions;
  private timer: { cancel(): void } | null = null;
  constructor(o: DailySummaryOptions) {
    this.o = o;
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  start(): void {
    this.stop();
    const set =
      this.o.setTimer ??
      ((fn, ms) => {
        const t = setTimeout(fn, ms);
        t.unref();
        return { cancel: () => clearTimeout(t) };
      });
    const now = this.now();
    // Long waits are cut into hours: a laptop's sleep or a clock change is caught up the next hour.
    const at = nextRun(now, this.o.config().summary.hour);
    this.timer = set(
      () => {
        this.timer = null;
        if (this.now() >= at - 1000 && this.o.config().summary.daily) {
          this.send().catch((e: Error) =>
            this.o.bus.emit({ stage: 'system', verdict: 'info', rule: 'system', text: `the daily summary could not be stored: ${e.message}` }),
          );
        }
        this.start();
      },
      Math.min(at - now, 3_600_000),
    );
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** Stores the summary in the postmaster account's Maildir now; returns where it went. */
  async send(): Promise<{ account: string; address: string; file: string }> {
    const cfg = this.o.config();
    const domain = cfg.domains[0];
    const mb = parseMailbox(domain ? `postmaster@${domain}` : 'postmaster');
    const account = mb ? this.o.directory().accountFor(mb) : null;
    if (!mb || !account) throw new Error('no account receives postmaster mail (add a domain and an account)');
    const address = `postmaster@${domain}`;
    const data = summaryMessage(summaryFacts(this.o.history, this.o.status(), this.now()), address);
    const file = await this.o.store.deliverLocal(account, address, data);
    this.o.bus.emit({ stage: 'system', verdict: 'info', rule: 'system', to: address, text: `daily summary put in ${account}'s mailbox` });
    return { account, address, file };
  }
}
