// The history index under load (docs/design.md §4.4; docs/benchmarks.md):
//   1. keeping up: events arrive at 2,000/s for 10 s through HistoryIndex.add (the bus
//      subscriber); reports the cost of add() on the emitting path, the batch writes and
//      the backlog left when the load stops;
//   2. raw indexing rate: how many events/s one batch writer sustains;
//   3. search over 1,000,000 events: median and worst of 5 runs per query.
// Run: node test/bench/history-bench.ts [events=1000000]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { HistoryIndex } from '../../core/history/index.ts';
import type { GatewayEvent } from '../../core/events/types.ts';

const TOTAL = Number(process.argv[2] ?? 1_000_000);
const T0 = Date.now() - 20 * 86_400_000;

/** A realistic mix: per session connect, tls, mail, rcpt(s), data — some refused at RCPT or MAIL. */
function* sessions(startId: number, spanMs: number, count: number): Generator<GatewayEvent> {
  let id = startId;
  const senders = ['grandma@example.org', 'newsletter@shop.example', 'jane.doe@doe-family.com', 'spam@bad.example', 'uncle@flaky.example'];
  const subjects = ['Cookies for Sunday', 'Your order', 'Invoice 2231', 'Sunday lunch', 'WIN A PRIZE'];
  let n = 0;
  let s = 0;
  while (n < count) {
    s++;
    const session = `S${s.toString(36)}`;
    const client = `198.51.${(s >> 8) & 255}.${s & 255}`;
    const t = T0 + Math.floor(((n / count) * spanMs) | 0);
    const ev = (p: Partial<GatewayEvent> & Pick<GatewayEvent, 'stage' | 'verdict' | 'rule'>): GatewayEvent => ({
      id: id++,
      time: new Date(t).toISOString(),
      session,
      client,
      listener: 'mx:25',
      code: 250,
      text: 'OK',
      ...p,
    });
    const from = senders[s % senders.length] + (s % 997 === 0 ? '' : '');
    const kind = s % 10;
    const batch: GatewayEvent[] = [ev({ stage: 'connect', verdict: 'accept', rule: 'connect', code: 220, text: 'mx.doe-family.com ESMTP Postern' })];
    batch.push(ev({ stage: 'tls', verdict: 'info', rule: 'tls', code: 0, text: 'TLSv1.3 TLS_AES_256_GCM_SHA384' }));
    if (kind === 0)
      batch.push(
        ev({
          stage: 'mail',
          verdict: 'reject',
          rule: 'relay mail from',
          code: 554,
          from,
          reason: 'local sender from outside',
          text: '5.7.1 Sender address is in our own domain',
        }),
      );
    else {
      batch.push(ev({ stage: 'mail', verdict: kind === 1 ? 'defer' : 'accept', rule: 'check spf', code: kind === 1 ? 451 : 250, from }));
      if (kind > 1) {
        const ok = kind !== 2;
        batch.push(
          ev({
            stage: 'rcpt',
            verdict: ok ? 'accept' : 'reject',
            rule: 'relay rcpt',
            code: ok ? 250 : 554,
            to: ok ? 'john.doe@doe-family.com' : 'victim@example.com',
            reason: ok ? 'local recipient' : 'not relaying',
          }),
        );
        if (ok)
          batch.push(
            ev({
              stage: 'data',
              verdict: 'accept',
              rule: 'data',
              from,
              to: 'john.doe@doe-family.com',
              subject: `${subjects[s % subjects.length]} #${s}`,
              queueId: `Q${s.toString(32).toUpperCase().padStart(11, '0')}`,
              reason: '1 local, 0 remote, 4321 bytes',
            }),
          );
      }
    }
    // A rare sender, for a search that must look at everything.
    if (s % 50_000 === 7) batch[2] = { ...batch[2], from: 'great-aunt.mildred@rare.example' };
    for (const e of batch) {
      n++;
      yield e;
    }
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function keepUp(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-hbench-'));
  const h = new HistoryIndex({ logDir: dir, retentionDays: () => 30 });
  const RATE = 2000;
  const SECONDS = 10;
  const gen = sessions(1, 1000, RATE * SECONDS);
  let addNs = 0;
  let sent = 0;
  const start = performance.now();
  await new Promise<void>((done) => {
    const tick = setInterval(() => {
      // 20 events every 10 ms = 2,000/s, spread as the SMTP path would emit them.
      for (let i = 0; i < RATE / 100; i++) {
        const n = gen.next();
        if (n.done) {
          clearInterval(tick);
          return done();
        }
        const t = process.hrtime.bigint();
        h.add(n.value);
        addNs += Number(process.hrtime.bigint() - t);
        sent++;
      }
    }, 10);
  });
  const elapsed = (performance.now() - start) / 1000;
  const backlogAt = h.written;
  const t = performance.now();
  h.flush();
  const drainMs = performance.now() - t;
  console.log(`keep-up: ${sent} events in ${elapsed.toFixed(1)} s (${Math.round(sent / elapsed)} events/s offered)`);
  console.log(`  indexed while the load ran: ${backlogAt} (${sent - backlogAt} pending at the end, written in ${drainMs.toFixed(1)} ms)`);
  console.log(`  add() on the emitting path: ${(addNs / sent / 1000).toFixed(2)} µs per event`);
  h.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

function build(dir: string): { h: HistoryIndex; rate: number } {
  const h = new HistoryIndex({ logDir: dir, retentionDays: () => 3650 });
  const start = performance.now();
  let n = 0;
  for (const e of sessions(1, 20 * 86_400_000, TOTAL)) {
    h.add(e);
    if (++n % 5000 === 0) h.flush();
  }
  h.flush();
  const rate = TOTAL / ((performance.now() - start) / 1000);
  return { h, rate };
}

function searches(h: HistoryIndex): void {
  const now = Date.now();
  const queries = [
    'from:mildred',
    'from:grandma',
    'subject:"sunday lunch"',
    'to:victim',
    'ip:198.51.7.',
    'rule:"check spf" verdict:deferred',
    'verdict:refused',
    'after:3d before:1d',
    'relay denied',
    'prize',
  ];
  for (const q of queries) {
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      rows = h.messages({ q, limit: 200 }, now).messages.length;
      times.push(performance.now() - t);
    }
    console.log(
      `  messages ${JSON.stringify(q).padEnd(40)} ${String(rows).padStart(4)} rows  median ${median(times).toFixed(1)} ms  worst ${Math.max(...times).toFixed(1)} ms`,
    );
  }
  for (const q of [{ limit: 500 }, { text: 'mildred', limit: 500 }, { verdict: ['reject' as const], limit: 500 }, { session: 'S1', limit: 5000 }]) {
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      rows = h.events(q).length;
      times.push(performance.now() - t);
    }
    console.log(
      `  events   ${JSON.stringify(q).padEnd(40)} ${String(rows).padStart(4)} rows  median ${median(times).toFixed(1)} ms  worst ${Math.max(...times).toFixed(1)} ms`,
    );
  }
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    h.traffic(now);
    times.push(performance.now() - t);
  }
  console.log(`  traffic (24 h + 30 days + top reasons)                    median ${median(times).toFixed(1)} ms`);
}

console.log(`Node ${process.version}, SQLite via node:sqlite, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`);
await keepUp();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-hbench-'));
const { h, rate } = build(dir);
const size = fs.statSync(h.file).size;
console.log(`index: ${TOTAL} events in batches of 5,000: ${Math.round(rate)} events/s; file ${(size / 1024 / 1024).toFixed(0)} MiB`);
searches(h);
h.close();
fs.rmSync(dir, { recursive: true, force: true });
