// Notification decisions (electron/notify.ts): only what a person must act on — a
// port that could not be bound, a ban, a delivery that failed for good — once per
// problem, and not more than a few a minute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GatewayEvent } from '../../core/events/types.ts';
import type { GatewayStatus, ListenerStatus } from '../../core/gateway.ts';
import { eventNotification, Notifier, ProblemList } from '../../electron/notify.ts';

let nextId = 1;
function ev(p: Partial<GatewayEvent>): GatewayEvent {
  return {
    id: nextId++,
    time: new Date(0).toISOString(),
    session: 's1',
    client: '203.0.113.9',
    listener: 'submission:587',
    stage: 'rcpt',
    verdict: 'accept',
    rule: 'relay rcpt',
    code: 250,
    text: '',
    ...p,
  };
}

function status(state: GatewayStatus['state'], listeners: ListenerStatus[]): GatewayStatus {
  return {
    state,
    hostname: 'mx.doe-family.com',
    startedAt: null,
    listeners,
    counters: { connections: 0, accepted: 0, rejected: 0, deferred: 0, relayDenied: 0, authFailures: 0, logins: 0, refusedConnections: 0 },
    tls: null,
    queue: { outbound: 0 },
    setup: null,
  };
}

const failed25: ListenerStatus = {
  mode: 'mx',
  host: '::',
  port: 25,
  boundPort: null,
  ok: false,
  error: 'port 25 needs administrator privileges (ports below 1024 do on Linux)',
  fix: 'Run `sudo setcap …`, or listen on 2525 and have the router forward 25 to it.',
};
const ok587: ListenerStatus = { mode: 'submission', host: '::', port: 587, boundPort: 587, ok: true };
// As core/smtp/hooks.ts reports it (the reply tap: the 421 that closes the session).
const BAN = ev({
  stage: 'auth',
  verdict: 'reject',
  rule: 'auth ban',
  code: 421,
  text: '4.7.0 Too many failed logins from 203.0.113.9: blocked for 900 seconds',
  reason: '5 failed logins within 15 minutes',
  user: 'john',
});

test('a port that could not be bound: once per start, with the fix', () => {
  const n = new Notifier();
  const first = n.fromStatus(status('running', [failed25, ok587]), 0);
  assert.equal(first.length, 1);
  assert.equal(first[0].title, 'Postern cannot receive mail on port 25');
  assert.equal(
    first[0].body,
    'Port 25 needs administrator privileges (ports below 1024 do on Linux). Run `sudo setcap …`, or listen on 2525 and have the router forward 25 to it.',
  );
  assert.equal(first[0].summary, 'Port 25 not listening');
  // The same status again (a counter changed, a network toggled): nothing new.
  assert.deepEqual(n.fromStatus(status('running', [failed25, ok587]), 1000), []);
  // Stopped (no listeners), then started again and still failing: news again.
  assert.deepEqual(n.fromStatus(status('stopped', []), 2000), []);
  assert.equal(n.fromStatus(status('error', [failed25]), 3000).length, 1);
  // All good: nothing.
  assert.deepEqual(new Notifier().fromStatus(status('running', [ok587]), 0), []);
});

test('several ports failing at once (a first run without privileges): one notification', () => {
  const n = new Notifier();
  const l = (port: number): ListenerStatus => ({ ...failed25, port, error: `port ${port} needs administrator privileges (ports below 1024 do on Linux)` });
  const shown = n.fromStatus(status('error', [l(25), l(587), l(465)]), 0);
  assert.equal(shown.length, 1);
  assert.equal(shown[0].title, 'Postern cannot receive mail on ports 25, 587 and 465');
  assert.match(shown[0].body, /^Port 25 needs administrator privileges/);
  assert.equal(shown[0].summary, 'Ports 25, 587 and 465 not listening');
});

test('a ban: the ban event itself, not the refusals that follow it; once per address per hour', () => {
  const n = new Notifier();
  const shown = n.fromEvent(BAN, 0);
  assert.ok(shown);
  assert.equal(shown.title, 'Blocked 203.0.113.9 after failed logins');
  assert.equal(
    shown.body,
    'Logins as "john" failed too often (5 failed logins within 15 minutes). 203.0.113.9 cannot connect until the block ends; if this was you, check the password and wait.',
  );
  // The end of a ban (same rule, verdict info) is not news.
  assert.equal(n.fromEvent(ev({ stage: 'auth', verdict: 'info', rule: 'auth ban', text: '203.0.113.9 unbanned (ban over)' }), 5), null);
  // What the ban causes later is not news.
  assert.equal(n.fromEvent(ev({ stage: 'connect', verdict: 'reject', rule: 'auth ban', code: 421 }), 10), null);
  assert.equal(n.fromEvent(ev({ stage: 'mail', verdict: 'reject', rule: 'auth ban', code: 421 }), 10), null);
  // The same address banned again within the hour: quiet; after it: again.
  assert.equal(n.fromEvent({ ...BAN, id: nextId++ }, 30 * 60_000), null);
  assert.ok(n.fromEvent({ ...BAN, id: nextId++ }, 61 * 60_000));
  // Another address: news.
  assert.ok(n.fromEvent({ ...BAN, id: nextId++, client: '198.51.100.7' }, 61 * 60_000 + 1));
});

test('a delivery that failed for good: one per queued message, not per recipient; defers are not news', () => {
  const n = new Notifier();
  const fail = (to: string) =>
    ev({
      stage: 'delivery',
      verdict: 'reject',
      rule: 'delivery',
      code: 550,
      text: '550 5.1.1 mailbox unavailable',
      from: 'john.doe@doe-family.com',
      to,
      queueId: 'q-1',
    });
  const a = n.fromEvent(fail('aunt@example.net'), 0);
  assert.ok(a);
  assert.equal(a.title, 'A message could not be delivered');
  assert.equal(a.body, 'To aunt@example.net from john.doe@doe-family.com failed for good: 550 5.1.1 mailbox unavailable');
  assert.equal(n.fromEvent(fail('uncle@example.net'), 1), null, 'same message, second recipient');
  assert.equal(n.fromEvent(ev({ stage: 'delivery', verdict: 'defer', rule: 'delivery', code: 451, queueId: 'q-2' }), 2), null);
  assert.equal(n.fromEvent(ev({ stage: 'delivery', verdict: 'accept', rule: 'delivery', queueId: 'q-3' }), 3), null);
  assert.ok(n.fromEvent({ ...fail('x@example.org'), queueId: 'q-4' }, 4));
});

test('everything else is not a notification', () => {
  const quiet: Partial<GatewayEvent>[] = [
    { stage: 'rcpt', verdict: 'reject', rule: 'relay rcpt', code: 554 },
    { stage: 'auth', verdict: 'reject', rule: 'auth', code: 535 },
    { stage: 'mail', verdict: 'reject', rule: 'check spf', code: 550 },
    { stage: 'system', verdict: 'reject', rule: 'listeners', code: 0 },
    { stage: 'network', verdict: 'info', rule: 'internal networks' },
    { stage: 'data', verdict: 'accept', rule: 'data', code: 250 },
  ];
  for (const q of quiet) assert.equal(eventNotification(ev(q)), null, JSON.stringify(q));
});

test('throttle: at most 3 a minute; the next one says how many were held back', () => {
  const n = new Notifier();
  const bans = Array.from({ length: 6 }, (_, i) => ({ ...BAN, id: nextId++, client: `198.51.100.${i}` }));
  const shown = bans.map((b, i) => n.fromEvent(b, i * 1000));
  assert.deepEqual(
    shown.map((s) => !!s),
    [true, true, true, false, false, false],
  );
  const later = n.fromEvent({ ...BAN, id: nextId++, client: '192.0.2.1' }, 61_000);
  assert.ok(later);
  assert.match(later.body, /\(and 3 more: open the dashboard\)$/);
  // The held-back ones are not shown later either (they were decided, and counted).
  assert.equal(n.fromEvent(bans[4], 62_000), null);
});

test('the tray problem list: newest first, no duplicates, cleared when the dashboard opens', () => {
  const p = new ProblemList();
  p.add('a');
  p.add('b');
  assert.deepEqual(p.add('a'), ['a', 'b']);
  for (let i = 0; i < 30; i++) p.add(`x${i}`);
  assert.equal(p.list().length, 20);
  assert.deepEqual(p.clear(), []);
});

test('one set of rules: the desktop app re-exports the dashboard’s (renderer/src/notify-rules.ts)', async () => {
  const shared = await import('../../renderer/src/notify-rules.ts');
  assert.equal(Notifier, shared.Notifier);
  assert.equal(eventNotification, shared.eventNotification);
});

test('a rate limit hit: per account (with the password advice) or per client, once an hour', () => {
  const n = new Notifier();
  const account = ev({
    stage: 'mail',
    verdict: 'defer',
    rule: 'rate limits',
    code: 451,
    user: 'jane',
    reason: 'jane has sent 101 messages in the last hour (limit 100 messages an hour; lift it on the dashboard)',
  });
  const a = n.fromEvent(account, 0);
  assert.ok(a);
  assert.equal(a.title, 'jane hit a sending limit');
  assert.match(a.body, /^Jane has sent 101 messages .* If that was not them, change the password on the Accounts page\.$/);
  assert.equal(n.fromEvent({ ...account, id: nextId++ }, 1000), null, 'the same account within the hour');
  const client = n.fromEvent(
    ev({
      stage: 'connect',
      verdict: 'defer',
      rule: 'rate limits',
      code: 421,
      client: '198.51.100.4',
      reason: '31 connections from client 198.51.100.4 in the last minute, limit 30',
    }),
    2000,
  );
  assert.ok(client);
  assert.equal(client.title, '198.51.100.4 hit a rate limit');
  // An accepted message under the limit is not news.
  assert.equal(eventNotification(ev({ stage: 'mail', verdict: 'accept', rule: 'rate limits', code: 250 })), null);
});

test('a certificate that could not be renewed or issued (rule acme); an issued one is not news', () => {
  const renew = eventNotification(
    ev({
      stage: 'system',
      verdict: 'reject',
      rule: 'acme',
      reason: 'renewal failed',
      text: 'certificate renewal for mx.doe-family.com failed: connection refused; the current certificate (valid until 2026-12-01T00:00:00.000Z) keeps serving',
    }),
  );
  assert.ok(renew);
  assert.equal(renew.title, 'The certificate could not be renewed');
  assert.match(renew.body, /^Certificate renewal for mx\.doe-family\.com failed/);
  assert.equal(
    eventNotification(ev({ stage: 'system', verdict: 'reject', rule: 'acme', reason: 'issuing failed', text: 'x' }))?.title,
    'No certificate could be issued',
  );
  assert.equal(eventNotification(ev({ stage: 'system', verdict: 'accept', rule: 'acme', text: 'certificate issued' })), null);
  assert.equal(eventNotification(ev({ stage: 'system', verdict: 'info', rule: 'acme', text: 'publish this DNS record' })), null);
});

test('a setup check with failures: once per set of failing items; all good again and a new failure is news', () => {
  const n = new Notifier();
  const withSetup = (fails: string[], ranAt: string) => ({ ...status('running', [ok587]), setup: { ranAt, fails: fails.length, warns: 0, failing: fails } });
  const first = n.fromStatus(withSetup(['MX record for doe-family.com', 'Port 25 reachable from the Internet'], 't1'), 0);
  assert.equal(first.length, 1);
  assert.equal(first[0].title, 'The setup check found 2 problems');
  assert.equal(first[0].body, 'MX record for doe-family.com. Port 25 reachable from the Internet. The Setup page says how to fix them.');
  assert.deepEqual(n.fromStatus(withSetup(['MX record for doe-family.com', 'Port 25 reachable from the Internet'], 't2'), 1000), [], 'the same problems again');
  assert.deepEqual(n.fromStatus(withSetup([], 't3'), 2000), []);
  assert.equal(n.fromStatus(withSetup(['MX record for doe-family.com'], 't4'), 3000)[0]?.title, 'The setup check found a problem');
});
