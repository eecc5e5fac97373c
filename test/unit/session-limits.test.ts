// The deadlines of one connection (core/smtp/session-limits.ts, docs/design.md §2.8) on a
// made-up clock, and the per-network key of the slot limits (core/net/cidr.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionClock, type ClockState } from '../../core/smtp/session-limits.ts';
import { clientKey, networkKey } from '../../core/net/cidr.ts';
import { sessionId, unsupportedParameters } from '../../core/smtp/connection.ts';

const LIMITS = { commandSeconds: 10, sessionSeconds: 100, minDataRate: 1000, dataRateWindowSeconds: 5 };
const idle: ClockState = { busy: false, dataMode: false, backpressure: false, partialLine: false, inAuth: false };

test('a command line must be complete commandSeconds after its first byte, however often bytes come', () => {
  const c = new SessionClock(LIMITS, 0);
  for (let t = 1000; t <= 10_000; t += 1000) {
    c.bytes(1, false, t);
    assert.equal(c.check(t, { ...idle, partialLine: true }), null, `at ${t}`);
  }
  const b = c.check(11_001, { ...idle, partialLine: true });
  assert.equal(b?.stage, 'connect');
  assert.match(b!.text, /^4\.4\.2 Command line not completed within 10 seconds: timeout$/);
  // a completed line starts the count again
  const d = new SessionClock(LIMITS, 0);
  d.bytes(5, false, 0);
  d.lineDone();
  assert.equal(d.check(50_000, idle), null);
});

test('time while we owe the answer does not count against the client', () => {
  const c = new SessionClock(LIMITS, 0);
  c.bytes(3, false, 0);
  assert.equal(c.check(9_000, { ...idle, busy: true }), null);
  // the line pipelined meanwhile is timed from when we are ready for it
  assert.equal(c.check(15_000, { ...idle, partialLine: true }), null);
  assert.ok(c.check(25_001, { ...idle, partialLine: true }));
});

test('an AUTH exchange of complete lines is bounded as a whole; our password check is paused', () => {
  const c = new SessionClock(LIMITS, 0);
  assert.equal(c.check(0, { ...idle, inAuth: true }), null);
  assert.equal(c.check(8_000, { ...idle, inAuth: true }), null);
  // a slow password check (ours) between the lines
  assert.equal(c.check(30_000, { ...idle, inAuth: true, busy: true }), null);
  assert.equal(c.check(31_000, { ...idle, inAuth: true }), null);
  const b = c.check(33_000, { ...idle, inAuth: true });
  assert.equal(b?.stage, 'auth');
  assert.match(b!.text, /AUTH exchange/);
});

test('inside DATA: under minDataRate over a window is cut; a steady sender is not; back-pressure restarts the window', () => {
  const c = new SessionClock(LIMITS, 0);
  const data = { ...idle, dataMode: true };
  assert.equal(c.check(0, data), null); // window opens at DATA
  for (let t = 500; t <= 10_000; t += 500) {
    c.bytes(600, true, t); // 1200 bytes/s
    assert.equal(c.check(t, data), null, `at ${t}`);
  }
  // then a trickle
  for (let t = 10_500; t < 15_000; t += 500) {
    c.bytes(1, true, t);
    assert.equal(c.check(t, data), null);
  }
  const b = c.check(15_100, data);
  assert.equal(b?.stage, 'data');
  assert.match(b!.text, /^4\.4\.2 Message data arriving too slowly/);
  const p = new SessionClock(LIMITS, 0);
  p.check(0, data);
  assert.equal(p.check(4_000, { ...data, backpressure: true }), null);
  assert.equal(p.check(8_000, data), null, 'a new window began at 4 s');
  assert.ok(p.check(9_001, data));
  const off = new SessionClock({ ...LIMITS, minDataRate: 0 }, 0);
  off.check(0, data);
  assert.equal(off.check(60_000, data), null);
});

test('the session bound, except while a message is being decided', () => {
  const c = new SessionClock(LIMITS, 0);
  assert.equal(c.check(100_000, idle), null);
  assert.equal(c.check(100_500, { ...idle, busy: true }), null);
  const b = c.check(100_600, idle);
  assert.match(b!.text, /^4\.4\.2 Session time limit of 100 seconds reached: timeout$/);
});

test('slot keys: address (IPv6 /64) and network (IPv4 /24, IPv6 /48)', () => {
  assert.equal(networkKey('192.0.2.77'), '192.0.2.0/24');
  assert.equal(networkKey('::ffff:192.0.2.77'), '192.0.2.0/24');
  assert.equal(networkKey('2001:db8:aa:bb::1'), '2001:db8:aa::/48');
  assert.equal(clientKey('2001:db8:aa:bb::1'), '2001:db8:aa:bb::/64');
});

test('parameters: only what the listener advertises', () => {
  const hidden = { hideDSN: true, hideREQUIRETLS: true } as never;
  assert.deepEqual(unsupportedParameters('MAIL FROM', { SIZE: '1', BODY: '8BITMIME', SMTPUTF8: true, AUTH: '<>' }, hidden), []);
  assert.deepEqual(unsupportedParameters('MAIL FROM', { RET: 'FULL', XFOO: '1', REQUIRETLS: true }, hidden), ['RET', 'XFOO', 'REQUIRETLS']);
  assert.deepEqual(unsupportedParameters('RCPT TO', { NOTIFY: 'NEVER', '<X@EVIL>': true }, hidden), ['NOTIFY', '<X@EVIL>']);
  const dsn = { hideDSN: false, hideREQUIRETLS: false } as never;
  assert.deepEqual(unsupportedParameters('RCPT TO', { NOTIFY: 'NEVER', ORCPT: 'rfc822;a@b' }, dsn), []);
  assert.deepEqual(unsupportedParameters('MAIL FROM', { RET: 'FULL', ENVID: 'x', REQUIRETLS: true }, dsn), []);
});

test("session ids: the library's form (16 base32 characters), distinct, in the order the sessions began", () => {
  const t = Date.parse('2026-11-28T12:00:00Z');
  const ids = [sessionId(t), sessionId(t), sessionId(t + 1), sessionId(t + 60_000), sessionId(Date.parse('2099-01-01T00:00:00Z'))];
  for (const id of ids) assert.match(id, /^[0-9a-v]{16}$/);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual(ids.slice(2), [...ids.slice(2)].sort(), 'later sessions sort after earlier ones');
  assert.ok(ids[0] < ids[2] && ids[1] < ids[2]);
});
