// Live-log benchmark: while Postfix's smtp-source sends ~200 messages a second to
// the gateway from 127.0.0.1, how many events per second reach the dashboard page
// (real Chromium), and how long from the event to its row?
//
//   node test/bench/live-bench.ts [--sessions 3] [--messages 4000] [--length 2000]
//
// Measured in the page: "delivery" = event time → its batch arrives on the
// EventSource (every event); "row" = event time → its row is in the DOM, at the
// next animation frame (rows in view: the log follows the newest). Clocks agree:
// one machine. "batch gap" = time between two batches arriving (the stream coalesces
// events to about 10 batches a second).
//
// Then with the gateway's memory full (100,000 events): how long one emit takes while
// a page is subscribed, and the frame gaps while the log is scrolled from the
// newest to the oldest row. (The tests assert the outcome of each; these are the
// timings, which depend on the machine and what else runs on it.)
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs, promisify } from 'node:util';
import { ensureRenderer, launchBrowser, startStack, type PageWindow } from '../e2e/support.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: { sessions: { type: 'string', default: '3' }, messages: { type: 'string', default: '4000' }, length: { type: 'string', default: '2000' } },
});
const SMTP_SOURCE = '/usr/sbin/smtp-source';

interface PageStats {
  received: number;
  maxId: number;
  firstAt: number;
  lastAt: number;
  delivery: number[];
  rows: number[];
  batchAt: number[];
}

function pct(list: number[], p: number): number {
  if (!list.length) return NaN;
  const s = [...list].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))];
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '–');

async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0];
  if (!fs.existsSync(SMTP_SOURCE)) throw new Error(`${SMTP_SOURCE} not found (Debian: apt-get install postfix)`);
  await ensureRenderer();
  const s = await startStack();
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    // Instrumentation of the page, not of the app: EventSource is wrapped before the
    // app opens its stream, and a MutationObserver watches the log's rows.
    await context.addInitScript(() => {
      const w = globalThis as unknown as PageWindow & { bench: PageStats };
      w.bench = { received: 0, maxId: 0, firstAt: 0, lastAt: 0, delivery: [], rows: [], batchAt: [] };
      const Orig = w.EventSource;
      class Tapped extends Orig {
        constructor(url: string, init?: unknown) {
          super(url, init);
          this.addEventListener('message', (ev: { data: string }) => {
            const msg = JSON.parse(ev.data) as { type: string; events?: { id: number; time: string }[] };
            if (msg.type !== 'events') return;
            const now = Date.now();
            if (!w.bench.firstAt) w.bench.firstAt = now;
            w.bench.lastAt = now;
            w.bench.batchAt.push(now);
            for (const e of msg.events!) {
              w.bench.received++;
              w.bench.maxId = Math.max(w.bench.maxId, e.id);
              w.bench.delivery.push(now - Date.parse(e.time));
            }
          });
        }
      }
      w.EventSource = Tapped;
      const seen = new Set<number>();
      const watch = () => {
        const scroller = w.document.querySelector('[data-testid="log-scroll"]');
        if (!scroller) return void setTimeout(watch, 50);
        type Added = { getAttribute(name: string): string | null; dataset: { id?: string }; querySelector(sel: string): Added | null };
        new w.MutationObserver((muts: { addedNodes: Iterable<Added> }[]) => {
          const fresh: number[] = [];
          for (const m of muts)
            for (const n of m.addedNodes) {
              if (!(n instanceof w.HTMLElement) || n.getAttribute('role') !== 'row') continue;
              const id = Number(n.dataset.id);
              const t = Date.parse(n.querySelector('time')?.getAttribute('datetime') ?? '');
              if (!seen.has(id) && Number.isFinite(t)) fresh.push(t);
              seen.add(id);
            }
          if (fresh.length)
            w.requestAnimationFrame(() => {
              const now = Date.now();
              for (const t of fresh) w.bench.rows.push(now - t);
            });
        }).observe(scroller, { childList: true, subtree: true });
      };
      watch();
    });
    const page = await context.newPage();
    await page.goto(s.dash.url);
    await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });
    await page.waitForTimeout(500);
    await page.evaluate(() => {
      const b = (globalThis as unknown as { bench: PageStats }).bench;
      b.delivery.length = 0;
      b.rows.length = 0;
      b.batchAt.length = 0;
      b.received = 0;
      b.firstAt = 0;
    });

    const port = s.t.port();
    const args = [
      '-s',
      values.sessions!,
      '-m',
      values.messages!,
      '-l',
      values.length!,
      '-f',
      'bench@example.net',
      '-t',
      'john.doe@doe-family.com',
      `127.0.0.1:${port}`,
    ];
    const command = `${SMTP_SOURCE} ${args.join(' ')}`;
    const firstId = s.t.gw.bus.lastId + 1;
    const batchesBefore = s.dash.stream().batches;
    const t0 = Date.now();
    await run(SMTP_SOURCE, args, { maxBuffer: 1 << 20 });
    const smtpSeconds = (Date.now() - t0) / 1000;
    const lastId = s.t.gw.bus.lastId;
    await page.waitForFunction((id) => (globalThis as unknown as { bench: PageStats }).bench.maxId >= id, lastId, { timeout: 30_000, polling: 100 });
    await page.waitForTimeout(300);
    const st = await page.evaluate(() => (globalThis as unknown as { bench: PageStats }).bench);
    const emitted = lastId - firstId + 1;
    const messages = Number(values.messages);
    const delivered = st.received;
    const deliverySeconds = (st.lastAt - t0) / 1000;
    const batches = s.dash.stream().batches - batchesBefore;
    const rendered = await page.getByTestId('log-count').innerText();
    const batchGaps = st.batchAt.slice(1).map((t, i) => t - st.batchAt[i]);

    // A full memory: 100,000 events, emitted while the page is subscribed.
    const perEmitUs: number[] = [];
    for (let round = 0; round < 100; round++) {
      const t1 = performance.now();
      for (let i = 0; i < 1000; i++) {
        const n = round * 1000 + i;
        s.t.gw.bus.emit({
          stage: 'rcpt',
          verdict: n % 7 ? 'accept' : 'reject',
          rule: 'relay rcpt',
          client: `198.51.100.${n % 250}`,
          code: n % 7 ? 250 : 554,
          text: n % 7 ? 'Accepted' : `5.7.1 <user${n}@example.com>: Relay access denied`,
          from: `sender${n}@example.net`,
          to: `user${n}@example.com`,
        });
      }
      perEmitUs.push(((performance.now() - t1) * 1000) / 1000);
    }
    const full = await context.newPage();
    const loadStart = Date.now();
    await full.goto(s.dash.url);
    await full.getByTestId('log-count').filter({ hasText: '100,000 events' }).waitFor({ timeout: 120_000 });
    const loadMs = Date.now() - loadStart;
    await full.getByTestId('log-scroll').hover();
    await full.mouse.wheel(0, -300);
    await full.getByRole('button', { name: 'Follow' }).waitFor({ timeout: 10_000 });
    const frameGaps = await full.getByTestId('log-scroll').evaluate(async (el) => {
      const w = globalThis as unknown as PageWindow;
      const gaps: number[] = [];
      let last = w.performance.now();
      for (let i = 0; i <= 60; i++) {
        el.scrollTop = el.scrollHeight * (1 - i / 60);
        await new Promise((r) => w.requestAnimationFrame(() => r(null)));
        const now = w.performance.now();
        gaps.push(now - last);
        last = now;
      }
      return gaps;
    });

    const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ?? os.cpus()[0]?.model ?? 'unknown';

    const lines = [
      'Postern live-log benchmark',
      `machine      ${os.cpus().length} CPUs (nproc), ${cpu}; ${Math.round(os.totalmem() / 2 ** 30)} GiB; Node ${process.version}; Chromium ${browser.version()} (headless, software rendering); load average ${loadBefore.toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after`,
      `command      ${command}`,
      `SMTP         ${messages} messages in ${smtpSeconds.toFixed(2)} s = ${(messages / smtpSeconds).toFixed(0)} messages/s (${values.sessions} parallel sessions, ${values.length}-byte messages, each fsynced to a Maildir)`,
      `events       ${emitted} emitted by the gateway = ${(emitted / smtpSeconds).toFixed(0)} events/s`,
      `page         ${delivered} delivered = ${(delivered / deliverySeconds).toFixed(0)} events/s; lost ${emitted - delivered}; ${batches} batches = ${(batches / deliverySeconds).toFixed(1)} batches/s; page count "${rendered}"`,
      `delivery     event → page: p50 ${fmt(pct(st.delivery, 0.5))} ms, p95 ${fmt(pct(st.delivery, 0.95))} ms, max ${fmt(Math.max(...st.delivery))} ms (${st.delivery.length} events)`,
      `row          event → row on screen: p50 ${fmt(pct(st.rows, 0.5))} ms, p95 ${fmt(pct(st.rows, 0.95))} ms, max ${fmt(Math.max(...st.rows))} ms (${st.rows.length} rows rendered while following)`,
      `batch gap    p50 ${fmt(pct(batchGaps, 0.5))} ms, p5 ${fmt(pct(batchGaps, 0.05))} ms, max ${fmt(Math.max(...batchGaps))} ms (${batchGaps.length} gaps)`,
      `emit         with a page subscribed: p50 ${pct(perEmitUs, 0.5).toFixed(2)} µs, max ${Math.max(...perEmitUs).toFixed(2)} µs per event (100 rounds of 1,000)`,
      `100k page    loaded in ${loadMs} ms; scrolling newest → oldest in 60 steps: frame gap p50 ${fmt(pct(frameGaps, 0.5))} ms, p95 ${fmt(pct(frameGaps, 0.95))} ms, max ${fmt(Math.max(...frameGaps))} ms`,
    ];
    console.log(lines.join('\n'));
    if (emitted !== delivered) process.exitCode = 1;
    await context.close();
  } finally {
    await browser.close();
    await s.stop();
  }
}

await main();
