// The inbound checks' pure parts (docs/design.md §2.10–§2.13): DMARC actions with sp/pct,
// DNSBL names and return codes, rspamd's actions, the sliding windows of the rate limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dmarcAction, dmarcVerdictOf, type DmarcVerdict } from '../../core/inbound/dmarc.ts';
import { answerMeaning, checkDnsbl, reversedName } from '../../core/inbound/dnsbl.ts';
import { parseRspamdReply, rspamdVerdict, spamHeaders } from '../../core/inbound/rspamd.ts';
import { accountAlarm, SlidingCounter, take } from '../../core/inbound/rate-limits.ts';

const fail = (over: Partial<DmarcVerdict> = {}): DmarcVerdict => ({
  result: 'fail',
  domain: 'x.example',
  policy: 'reject',
  p: 'reject',
  sp: 'reject',
  pct: 100,
  policyDomain: 'x.example',
  testMode: false,
  ...over,
});

test('DMARC: only a fail acts; reject / quarantine / none; report only when not enforced', () => {
  assert.equal(dmarcAction(fail(), { enforce: true }).action, 'reject');
  assert.equal(dmarcAction(fail({ policy: 'quarantine' }), { enforce: true }).action, 'quarantine');
  assert.equal(dmarcAction(fail({ policy: 'none' }), { enforce: true }).action, 'none');
  assert.equal(dmarcAction(fail({ result: 'pass' }), { enforce: true }).action, 'none');
  assert.equal(dmarcAction(fail({ result: 'temperror' }), { enforce: true }).action, 'none');
  assert.equal(dmarcAction(null, { enforce: true }).action, 'none');
  const off = dmarcAction(fail(), { enforce: false });
  assert.equal(off.action, 'none');
  assert.match(off.reason, /report only/);
});

test('DMARC pct (RFC 7489 §6.6.4): outside the sample the next policy down applies; pct=0 never, 100 always', () => {
  assert.equal(dmarcAction(fail({ pct: 0 }), { enforce: true, random: () => 0 }).action, 'quarantine');
  assert.equal(dmarcAction(fail({ pct: 0, policy: 'quarantine' }), { enforce: true, random: () => 0 }).action, 'none');
  assert.equal(dmarcAction(fail({ pct: 100 }), { enforce: true, random: () => 0.999 }).action, 'reject');
  assert.equal(dmarcAction(fail({ pct: 30 }), { enforce: true, random: () => 0.29 }).action, 'reject');
  assert.equal(dmarcAction(fail({ pct: 30 }), { enforce: true, random: () => 0.3 }).action, 'quarantine');
});

test('DMARC verdict from mailauth: policy (sp applied), pct from the record, absent pct = 100', () => {
  const v = dmarcVerdictOf(
    { status: { result: 'fail', header: { from: 'a.b.example' } }, policy: 'quarantine', p: 'reject', sp: 'quarantine', policyDomain: 'b.example' },
    { pct: 20 },
  )!;
  assert.deepEqual([v.policy, v.pct, v.domain], ['quarantine', 20, 'a.b.example']);
  assert.equal(dmarcVerdictOf({ status: { result: 'fail' }, policy: 'reject' }, {})!.pct, 100);
});

test('DNSBL names: IPv4 reversed octets, IPv6 nibbles (RFC 5782 §2.1, §2.4), mapped IPv4', () => {
  assert.equal(reversedName('192.0.2.99'), '99.2.0.192');
  assert.equal(reversedName('::ffff:192.0.2.99'), '99.2.0.192');
  assert.equal(reversedName('2001:db8:1:2:3:4:567:89ab'), 'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2');
  assert.equal(reversedName('2001:db8::1'), '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2');
  assert.equal(reversedName('not an ip'), null);
});

test('DNSBL return codes: 127.0.0.2+ listed; 127.0.0.1 and 127.255.255.x errors; outside 127/8 ignored', () => {
  assert.equal(answerMeaning('127.0.0.2'), 'listed');
  assert.equal(answerMeaning('127.0.0.11'), 'listed');
  assert.equal(answerMeaning('127.0.0.1'), 'error');
  assert.equal(answerMeaning('127.255.255.254'), 'error');
  assert.equal(answerMeaning('127.255.255.255'), 'error');
  assert.equal(answerMeaning('127.255.255.252'), 'error');
  assert.equal(answerMeaning('10.0.0.1'), 'ignored');
});

test('DNSBL scoring: weights add up to the threshold; a failing lookup is no listing', async () => {
  const answers: Record<string, string[] | Error> = {
    '9.2.0.192.a.example': ['127.0.0.2'],
    '9.2.0.192.b.example': ['127.0.0.3'],
    '9.2.0.192.c.example': Object.assign(new Error('timeout'), { code: 'ETIMEOUT' }),
  };
  const lookup = async (n: string) => {
    const a = answers[n];
    if (a instanceof Error) throw a;
    if (!a) throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
    return a;
  };
  const zones = [
    { zone: 'a.example', weight: 0.5 },
    { zone: 'b.example', weight: 0.6 },
    { zone: 'c.example', weight: 10 },
  ];
  const r = await checkDnsbl('192.0.2.9', { zones, threshold: 1, allow: [], allowAddresses: [] }, lookup);
  assert.equal(r.blocked, true);
  assert.equal(r.zone, 'b.example');
  assert.equal(r.errors.length, 1);
  const low = await checkDnsbl('192.0.2.9', { zones, threshold: 2, allow: [], allowAddresses: [] }, lookup);
  assert.equal(low.blocked, false);
  const allowed = await checkDnsbl('192.0.2.9', { zones, threshold: 1, allow: [], allowAddresses: ['192.0.2.0/24'] }, lookup);
  assert.equal(allowed.allowedBy, 'dnsbl.allowAddresses');
});

test('rspamd actions: reject 550, soft reject and greylist 451, add header / rewrite subject Junk, no action deliver', () => {
  const r = (action: string) => rspamdVerdict({ action, score: 1, requiredScore: 15, symbols: [] });
  assert.deepEqual(r('reject'), { kind: 'refuse', code: 550, text: '5.7.1 Message refused as spam (score 1.00)' });
  assert.equal((r('soft reject') as { code: number }).code, 451);
  assert.equal((r('greylist') as { code: number }).code, 451);
  assert.equal(r('add header').kind, 'junk');
  assert.equal(r('rewrite subject').kind, 'junk');
  assert.equal(r('no action').kind, 'deliver');
  const p = parseRspamdReply('{"action":"reject","score":1000.5,"required_score":15,"symbols":{"GTUBE":{"score":0},"R_X":{"score":3}}}');
  assert.deepEqual(p.symbols, ['R_X', 'GTUBE']);
  assert.match(spamHeaders(p, true, 'mx'), /^X-Spam-Status: Yes, score=1000\.50 required=15\.00 action=reject tests=R_X,GTUBE\r\nX-Spam-Score: 1000\.50\r\n$/);
});

test('rate limits: a sliding window forgets after its length; take refuses at the limit without counting', () => {
  const c = new SlidingCounter(60_000);
  for (let i = 0; i < 5; i++) assert.equal(take(c, 1000 + i, 5).ok, true);
  assert.deepEqual(take(c, 2000, 5), { ok: false, count: 5 });
  assert.equal(c.count(2000), 5);
  assert.equal(take(c, 70_000, 5).ok, true, 'a minute later');
  assert.equal(take(c, 70_000, 0).ok, true, '0 is off');
  assert.equal(accountAlarm('jane', { kind: 'messages', count: 300 }), "jane's account sent 300 messages in an hour \u2014 is the password leaked?");
});
