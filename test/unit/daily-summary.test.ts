// The daily summary (core/history/summary.ts, docs/design.md §4.5): with a fake clock the
// timer fires at summary.hour, and the message lands in the postmaster account's Maildir
// through the spool (MessageStore.deliverLocal, the bounce's path) with the last day's
// counts, the top refusal reasons, the queue, the setup check's problems and the
// certificate's end; summary.daily false stores nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { HistoryIndex } from '../../core/history/index.ts';
import { DailySummary, nextRun } from '../../core/history/summary.ts';
import type { GatewayEvent } from '../../core/events/types.ts';
import { FAMILY, startGateway } from '../support/gateway.ts';

test('nextRun: the next hour:00 in local time, strictly later', () => {
  const d = new Date(2026, 10, 24, 6, 59, 0);
  assert.equal(nextRun(d.getTime(), 7), new Date(2026, 10, 24, 7, 0, 0).getTime());
  assert.equal(nextRun(new Date(2026, 10, 24, 7, 0, 0).getTime(), 7), new Date(2026, 10, 25, 7, 0, 0).getTime());
  assert.equal(nextRun(new Date(2026, 10, 24, 23, 30).getTime(), 0), new Date(2026, 10, 25, 0, 0, 0).getTime());
});

test('at summary.hour the summary of the last day is stored in the postmaster account’s Maildir', async () => {
  const t = await startGateway({ ...FAMILY, summary: { daily: true, hour: 7 } });
  const history = new HistoryIndex({ logDir: path.join(t.dataDir, 'log'), retentionDays: () => 30 });
  try {
    // The clock: 2026-11-24 06:30 local; the history holds yesterday's and today's mail.
    let now = new Date(2026, 10, 24, 6, 30).getTime();
    let id = 1;
    const at = (ms: number, p: Partial<GatewayEvent> & Pick<GatewayEvent, 'stage' | 'verdict' | 'rule'>): GatewayEvent => ({
      id: id++,
      time: new Date(ms).toISOString(),
      session: '',
      client: '198.51.100.7',
      listener: 'mx:25',
      code: 250,
      text: '',
      ...p,
    });
    const session = (s: string, ms: number, outcome: 'accept' | 'relay' | 'spf-defer' | 'unknown'): GatewayEvent[] => {
      const base = { session: s };
      const out = [
        at(ms, {
          ...base,
          stage: 'mail',
          verdict: outcome === 'spf-defer' ? 'defer' : 'accept',
          rule: 'check spf',
          code: outcome === 'spf-defer' ? 451 : 250,
          from: 'grandma@example.org',
          reason: outcome === 'spf-defer' ? 'spf=temperror' : undefined,
        }),
      ];
      if (outcome === 'relay')
        out.push(at(ms, { ...base, stage: 'rcpt', verdict: 'reject', rule: 'relay rcpt', code: 554, to: 'x@example.com', reason: 'not relaying' }));
      if (outcome === 'unknown')
        out.push(
          at(ms, { ...base, stage: 'rcpt', verdict: 'reject', rule: 'relay rcpt', code: 550, to: 'nobody@doe-family.com', reason: 'unknown local user' }),
        );
      if (outcome === 'accept') {
        out.push(at(ms, { ...base, stage: 'rcpt', verdict: 'accept', rule: 'relay rcpt', to: 'john.doe@doe-family.com' }));
        out.push(
          at(ms, { ...base, stage: 'data', verdict: 'accept', rule: 'data', queueId: `Q${s}`, subject: 'Hello', reason: '1 local, 0 remote, 100 bytes' }),
        );
      }
      return out;
    };
    const H = 3_600_000;
    const events = [
      ...session('old', now - 30 * H, 'accept'), // before the 24 hours: not counted
      ...session('a1', now - 20 * H, 'accept'),
      ...session('a2', now - 2 * H, 'accept'),
      ...session('a3', now - H, 'accept'),
      ...session('r1', now - 3 * H, 'relay'),
      ...session('r2', now - 2 * H, 'relay'),
      ...session('r3', now - H, 'unknown'),
      ...session('d1', now - H, 'spf-defer'),
    ];
    for (const e of events) history.add(e);
    t.gw.setSetupReport({
      ranAt: new Date(now - 5 * H).toISOString(),
      checks: [
        { id: 'mx', status: 'fail', title: 'MX record for doe-family.com' },
        { id: 'spf', status: 'ok', title: 'SPF' },
      ],
    });

    const timers: { fn: () => void; ms: number }[] = [];
    const summary = new DailySummary({
      history,
      status: () => t.gw.status(),
      config: () => t.gw.config(),
      directory: () => t.gw.directory(),
      store: t.gw.store,
      bus: t.gw.bus,
      now: () => now,
      setTimer: (fn, ms) => {
        timers.push({ fn, ms });
        return { cancel() {} };
      },
    });
    summary.start();
    assert.equal(timers.length, 1);
    assert.equal(timers[0].ms, 30 * 60_000, '07:00 is 30 minutes away');
    const before = t.maildirFiles('john').length;
    // The clock reaches 07:00 and the timer fires: the summary is stored, the next one scheduled for tomorrow 07:00 (in hour steps).
    now += 30 * 60_000;
    timers[0].fn();
    await waitFor(() => t.maildirFiles('john').length > before);
    assert.equal(timers.length, 2);
    assert.equal(timers[1].ms, H);
    const file = t.maildirFiles('john').at(-1)!;
    const text = fs.readFileSync(file, 'utf8');
    const cut = text.indexOf('\r\n\r\n');
    const head = text.slice(0, cut);
    const body = text.slice(cut + 4);
    assert.match(head, /^Return-Path: <>\r\nDelivered-To: postmaster@doe-family\.com\r\n/);
    assert.match(head, /\r\nTo: <postmaster@doe-family\.com>\r\n/);
    assert.match(head, /\r\nSubject: Postern on mx\.doe-family\.com: 3 accepted, 3 refused, 1 deferred — 1 setup problem\r\n/);
    assert.match(head, /\r\nAuto-Submitted: auto-generated\r\n/);
    assert.match(body, /Messages\r\n {2}accepted {2}3\r\n {2}refused {3}3\r\n {2}deferred {2}1\r\n/);
    assert.match(body, /Top refusal reasons\r\n {2}2 {2}relay rcpt: not relaying\r\n {2}1 {2}relay rcpt: unknown local user\r\n/);
    assert.match(body, /Outbound queue: empty\./);
    assert.match(body, /Setup check \(.*\): 1 problem — the Setup page says how to fix it:\r\n {2}- MX record for doe-family\.com\r\n/);
    assert.match(body, /Certificate: CN=mx\.doe-family\.com, valid until \d{4}-\d\d-\d\d \(\d+ days left\), self-signed\./);
    assert.ok(t.events().some((e) => e.rule === 'system' && e.text === "daily summary put in john's mailbox"));

    // summary.daily off: the timer fires, nothing is stored.
    t.gw.updateConfig((raw) => {
      raw.summary = { daily: false, hour: 7 };
    });
    const count = t.maildirFiles('john').length;
    now += 24 * H;
    timers.at(-1)!.fn();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(t.maildirFiles('john').length, count);
  } finally {
    history.close();
    await t.stop();
  }
});

async function waitFor(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(ok(), 'timed out');
}
