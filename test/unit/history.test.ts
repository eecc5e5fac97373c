// The history index (core/history/): events → one row per transaction, field search,
// catch-up from events.jsonl after a restart, retention; the counters' message words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DatabaseSync } from 'node:sqlite';
import { HistoryIndex } from '../../core/history/index.ts';
import { HistoryWriter } from '../../core/history/writer.ts';
import { IDLE_CHECKPOINT_MS, THREAD_NICE } from '../../core/history/writer-thread.ts';
import { waitFor } from '../support/wait.ts';
import { parseSearch } from '../../core/history/search.ts';
import { toCsv } from '../../core/history/export.ts';
import { subjectOf } from '../../core/mail/subject.ts';
import { authVerdicts } from '../../core/mail/view.ts';
import { count, emptyCounters } from '../../core/counters.ts';
import type { GatewayEvent } from '../../core/events/types.ts';

let nextId = 1;
const T0 = Date.parse('2026-11-24T10:00:00Z');
function ev(p: Partial<GatewayEvent> & Pick<GatewayEvent, 'stage' | 'verdict' | 'rule'>): GatewayEvent {
  const id = nextId++;
  return { id, time: new Date(T0 + id * 1000).toISOString(), session: '', client: '', listener: 'mx:25', code: 0, text: '', ...p };
}

/** A mixed run: accepted local, refused relay, deferred SPF, authenticated remote (delivered), a login failure. */
function mixedRun(): GatewayEvent[] {
  const s = (session: string, client: string) => ({ session, client });
  return [
    ev({ ...s('A', '198.51.100.7'), stage: 'connect', verdict: 'accept', rule: 'connect', code: 220 }),
    ev({ ...s('A', '198.51.100.7'), stage: 'mail', verdict: 'accept', rule: 'check spf', code: 250, from: 'grandma@example.org' }),
    ev({ ...s('A', '198.51.100.7'), stage: 'rcpt', verdict: 'accept', rule: 'relay rcpt', code: 250, to: 'john.doe@doe-family.com' }),
    ev({
      ...s('A', '198.51.100.7'),
      stage: 'data',
      verdict: 'accept',
      rule: 'data',
      code: 250,
      queueId: 'Q00000000001',
      subject: 'Cookies',
      reason: '1 local, 0 remote, 1234 bytes',
    }),
    ev({ ...s('B', '203.0.113.9'), stage: 'connect', verdict: 'accept', rule: 'connect', code: 220 }),
    ev({ ...s('B', '203.0.113.9'), stage: 'mail', verdict: 'accept', rule: 'relay mail from', code: 250, from: 'spam@bad.example' }),
    ev({
      ...s('B', '203.0.113.9'),
      stage: 'rcpt',
      verdict: 'reject',
      rule: 'relay rcpt',
      code: 554,
      to: 'victim@example.com',
      reason: 'not relaying',
      text: '5.7.1 Relay access denied',
    }),
    ev({ ...s('C', '192.0.2.1'), stage: 'mail', verdict: 'defer', rule: 'check spf', code: 451, from: 'x@flaky.example', reason: 'spf=temperror' }),
    ev({ ...s('D', '10.0.0.5'), stage: 'auth', verdict: 'reject', rule: 'auth', code: 535 }),
    ev({ ...s('D', '10.0.0.5'), stage: 'auth', verdict: 'accept', rule: 'auth', code: 235, user: 'jane' }),
    ev({ ...s('D', '10.0.0.5'), stage: 'mail', verdict: 'accept', rule: 'relay mail from', code: 250, from: 'jane.doe@doe-family.com', user: 'jane' }),
    ev({ ...s('D', '10.0.0.5'), stage: 'rcpt', verdict: 'accept', rule: 'relay rcpt', code: 250, to: 'aunt@example.net', user: 'jane' }),
    ev({
      ...s('D', '10.0.0.5'),
      stage: 'data',
      verdict: 'accept',
      rule: 'data',
      code: 250,
      queueId: 'Q00000000002',
      subject: 'Sunday lunch',
      reason: '0 local, 1 remote, 900 bytes',
    }),
    ev({ stage: 'delivery', verdict: 'defer', rule: 'delivery', code: 451, queueId: 'Q00000000002', to: 'aunt@example.net' }),
    ev({ stage: 'delivery', verdict: 'accept', rule: 'delivery', code: 250, queueId: 'Q00000000002', to: 'aunt@example.net' }),
    ev({ stage: 'system', verdict: 'reject', rule: 'setup check', text: 'setup check: 1 problem(s)' }),
  ];
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'postern-history-'));
}

/** mixedRun's transactions as the Messages page lists them, newest first: from, verdict, subject, outcome. */
const MIXED_ROWS = [
  ['jane.doe@doe-family.com', 'accepted', 'Sunday lunch', 'delivered'],
  ['x@flaky.example', 'deferred', '', ''],
  ['spam@bad.example', 'refused', '', ''],
  ['grandma@example.org', 'accepted', 'Cookies', 'maildir'],
];

test('one row per transaction, with the words a family uses and what happened after the 250', () => {
  nextId = 1;
  const dir = tmp();
  const h = new HistoryIndex({ logDir: dir, retentionDays: () => 30 });
  for (const e of mixedRun()) h.add(e);
  const rows = h.messages({}, T0 + 3600_000).messages;
  assert.deepEqual(
    rows.map((r) => [r.from, r.verdict, r.subject, r.outcome.join('+')]),
    MIXED_ROWS,
  );
  assert.equal(rows[0].user, 'jane');
  assert.equal(rows[0].deferrals, 1);
  assert.equal(rows[3].size, 1234);
  const detail = h.message(rows[0].id)!;
  assert.deepEqual(
    detail.events.map((e) => `${e.stage}:${e.verdict}`),
    ['auth:reject', 'auth:accept', 'mail:accept', 'rcpt:accept', 'data:accept', 'delivery:defer', 'delivery:accept'],
  );
  h.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The nice value of each thread of this process (Linux: field 19 of /proc/self/task/<tid>/stat). */
function threadNices(): number[] {
  return fs.readdirSync('/proc/self/task').map((t) => {
    const stat = fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

test('written in a thread of its own (as Postern runs it): the same rows once settled; if the thread dies, writing goes on inline', async () => {
  nextId = 1;
  const dir = tmp();
  const h = new HistoryIndex({ logDir: dir, retentionDays: () => 30 });
  h.writeInThread();
  const run = mixedRun();
  for (const e of run.slice(0, 8)) h.add(e);
  await h.settled();
  assert.equal(h.written, 8, 'the thread wrote the first batch');
  // It yields the CPU to the event loop that answers SMTP clients: a nice value of its own.
  if (process.platform === 'linux') assert.ok(threadNices().includes(THREAD_NICE), `a thread at nice ${THREAD_NICE}: ${threadNices()}`);
  // Its WAL is checkpointed once writing pauses (not in the middle of a burst), and emptied.
  const wal = `${h.file}-wal`;
  assert.ok(fs.statSync(wal).size > 0, 'the batch is in the WAL');
  await waitFor(() => fs.statSync(wal).size === 0, IDLE_CHECKPOINT_MS + 10_000, 'the WAL checkpointed and emptied');
  const waiting = new DatabaseSync(h.file, { readOnly: true });
  assert.deepEqual(waiting.prepare('SELECT id FROM messages_fts_pending').all(), [], 'the deferred words were written first');
  waiting.close();
  // The thread goes away (a crash): what comes next is written inline, nothing is lost.
  await (h as unknown as { thread: { worker: { terminate(): Promise<number> } } }).thread.worker.terminate();
  for (const e of run.slice(8)) h.add(e);
  await h.settled();
  const rows = h.messages({}, T0 + 3600_000).messages;
  assert.deepEqual(
    rows.map((r) => [r.from, r.verdict, r.subject, r.outcome.join('+')]),
    MIXED_ROWS,
  );
  assert.equal(h.written, run.length);
  // Free words go through the trigram table, written by the thread (which merges it when quiet).
  assert.deepEqual(
    h.messages({ q: 'cookies' }, T0 + 3600_000).messages.map((r) => r.from),
    ['grandma@example.org'],
  );
  h.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a burst is written after it: the thread holds batches while they keep coming, writes them once they pause, at once for a query, and after maxLagMs at the latest', async () => {
  const pace = () => sleep(40); // one event every 40 ms: the shape of a burst, not a wait for a result
  const open = (hold: { quietMs: number; maxLagMs: number }) => {
    nextId = 1;
    const dir = tmp();
    const h = new HistoryIndex({ logDir: dir, retentionDays: () => 30, flushMs: 20, hold });
    h.writeInThread();
    const done = () => {
      h.close();
      fs.rmSync(dir, { recursive: true, force: true });
    };
    return { h, done };
  };
  const run = mixedRun();

  // Events for about 0.7 s, a batch handed over every 20 ms: nothing written until they pause.
  const a = open({ quietMs: 1500, maxLagMs: 60_000 });
  for (const e of run) {
    a.h.add(e);
    await pace();
  }
  assert.equal(a.h.written, 0, 'nothing written while the burst goes on');
  await waitFor(() => a.h.written === run.length, 15_000, 'the burst written once it paused (no query asked for it)');
  assert.deepEqual(
    a.h.messages({}, T0 + 3600_000).messages.map((r) => r.from),
    MIXED_ROWS.map((r) => r[0]),
  );
  a.done();

  // A query does not wait for the pause: settled() has the held batches written at once.
  const b = open({ quietMs: 600_000, maxLagMs: 600_000 });
  for (const e of run) b.h.add(e);
  await Promise.race([b.h.settled(), sleep(20_000).then(() => assert.fail('settled() waited for the pause'))]);
  assert.equal(b.h.written, run.length);
  assert.equal(b.h.messages({}, T0 + 3600_000).messages.length, MIXED_ROWS.length);
  b.done();

  // A burst that does not pause is written every maxLagMs while it goes on.
  const c = open({ quietMs: 600_000, maxLagMs: 300 });
  let added = 0;
  for (; added < 500 && c.h.written === 0; added++) {
    c.h.add(run[added % run.length]);
    await pace();
  }
  assert.ok(c.h.written > 0, `written while the burst went on (${c.h.written} of ${added} events)`);
  await c.h.settled();
  c.done();
});

test('search words deferred (the writer thread in a burst): found by LIKE until written, by the trigram table after', () => {
  nextId = 1;
  const dir = tmp();
  const h = new HistoryIndex({ logDir: dir, retentionDays: () => 30 });
  const db = new DatabaseSync(h.file);
  const w = new HistoryWriter(db, { deferred: true });
  w.write(mixedRun());
  const pending = () => (db.prepare('SELECT count(*) AS n FROM messages_fts_pending').get() as { n: number }).n;
  const found = () => ['cookies', '-cookies', 'unday lunch', 'access denied', 'flaky'].map((q) => h.messages({ q }, T0 + 3600_000).messages.map((r) => r.from));
  const expected = [
    ['grandma@example.org'],
    ['jane.doe@doe-family.com', 'x@flaky.example', 'spam@bad.example'],
    ['jane.doe@doe-family.com'],
    ['spam@bad.example'],
    ['x@flaky.example'],
  ];
  assert.equal(pending(), 4, 'every transaction waits');
  assert.deepEqual(found(), expected);
  w.writeDeferredWords();
  assert.equal(pending(), 0);
  assert.deepEqual(found(), expected);
  db.close();
  h.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('field search: from, to, subject, ip, rule, verdict, after/before, free words, negation', () => {
  nextId = 1;
  const dir = tmp();
  const h = new HistoryIndex({ logDir: dir, retentionDays: () => 30 });
  for (const e of mixedRun()) h.add(e);
  const q = (s: string) => h.messages({ q: s }, T0 + 7_200_000).messages.map((r) => r.from);
  assert.deepEqual(q('from:grandma'), ['grandma@example.org']);
  assert.deepEqual(q('to:aunt'), ['jane.doe@doe-family.com']);
  assert.deepEqual(q('subject:"sunday lunch"'), ['jane.doe@doe-family.com']);
  assert.deepEqual(q('ip:203.0.113.'), ['spam@bad.example']);
  assert.deepEqual(q('rule:"check spf"'), ['x@flaky.example', 'grandma@example.org']);
  assert.deepEqual(q('verdict:refused'), ['spam@bad.example']);
  assert.deepEqual(q('verdict:rejected'), ['spam@bad.example']);
  assert.deepEqual(q('relay denied'), ['spam@bad.example']);
  assert.deepEqual(q('-verdict:accepted -verdict:refused'), ['x@flaky.example']);
  assert.deepEqual(q('after:2026-11-24T10:00:09Z before:2026-11-24T10:00:12Z'), ['jane.doe@doe-family.com']);
  assert.equal(q('after:1h').length, 0);
  assert.equal(q('after:3h').length, 4);
  assert.throws(() => h.messages({ q: 'verdict:maybe' }), /accepted, refused/);
  assert.deepEqual(parseSearch('from:a -to:"b c" word'), [
    { field: 'from', value: 'a', negate: false },
    { field: 'to', value: 'b c', negate: true },
    { field: 'text', value: 'word', negate: false },
  ]);
  const csv = toCsv(h.messages({ q: 'from:grandma' }).messages);
  assert.match(csv, /^time,client,user,from,to,subject,size,verdict,outcome,code,rule,reason,queueId\r\n/);
  assert.match(csv, /grandma@example\.org,john\.doe@doe-family\.com,Cookies,1234,accepted,maildir,250,data/);
  h.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('after a restart the index catches up from events.jsonl, keeps what it had, and prunes by retention', () => {
  nextId = 1;
  const dir = tmp();
  const events = mixedRun();
  // The first run indexed the first half, then died; the log has everything.
  let h = new HistoryIndex({ logDir: dir, retentionDays: () => 30 });
  for (const e of events.slice(0, 7)) h.add(e);
  h.flush();
  h.close();
  fs.writeFileSync(path.join(dir, 'events.jsonl'), `${events.map((e) => JSON.stringify(e)).join('\n')}\n{"id": 99, "torn`);
  h = new HistoryIndex({ logDir: dir, retentionDays: () => 30 });
  assert.equal(h.catchUp(), events.length - 7);
  assert.equal(h.lastId(), events.length);
  assert.equal(h.messages({}, T0).messages.length, 4);
  assert.equal(h.events({ limit: 5000 }).length, events.length);
  assert.equal(h.prune(T0 + 31 * 86_400_000), events.length);
  assert.equal(h.messages({}).messages.length, 0);
  h.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('free words: the trigram index (any case, inside words, quoted phrases), words under 3 characters by LIKE; a rewritten row by its later words', () => {
  nextId = 1;
  const dir = tmp();
  const h = new HistoryIndex({ logDir: dir, retentionDays: () => 30 });
  const events = mixedRun();
  for (const e of events) h.add(e);
  const q = (s: string) => h.messages({ q: s }, T0 + 7_200_000).messages.map((r) => r.from);
  assert.deepEqual(q('GRANDMA'), ['grandma@example.org']);
  assert.deepEqual(q('ookie'), ['grandma@example.org']);
  assert.deepEqual(q('"sunday lunch"'), ['jane.doe@doe-family.com']);
  assert.deepEqual(q('"lunch sunday"'), []);
  assert.deepEqual(q('temperror'), ['x@flaky.example']);
  assert.deepEqual(q('113'), ['spam@bad.example']);
  assert.deepEqual(q('Q00000000002'), ['jane.doe@doe-family.com']);
  assert.deepEqual(q('ja'), ['jane.doe@doe-family.com']);
  assert.deepEqual(q('-grandma verdict:accepted'), ['jane.doe@doe-family.com']);
  assert.deepEqual(q('quote"d'), []);
  // Session B's transaction was written at MAIL FROM and rewritten at its refused RCPT: the index has the later words.
  assert.deepEqual(q('relay denied'), ['spam@bad.example']);
  h.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('an index written before the trigram table (schema 1) is migrated in place: its rows stay and are found by word', async () => {
  nextId = 1;
  const dir = tmp();
  const { DatabaseSync } = await import('node:sqlite');
  const old = new DatabaseSync(path.join(dir, 'index.sqlite'));
  // The schema of version 1 (commit 32a4e41), one transaction in it.
  old.exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, session TEXT NOT NULL, client TEXT NOT NULL,
    stage TEXT NOT NULL, verdict TEXT NOT NULL, rule TEXT NOT NULL, queue_id TEXT, json TEXT NOT NULL);
  CREATE TABLE messages (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, session TEXT NOT NULL, open INTEGER NOT NULL,
    client TEXT NOT NULL, login TEXT NOT NULL, sender TEXT NOT NULL, rcpts TEXT NOT NULL, subject TEXT NOT NULL,
    queue_id TEXT NOT NULL, verdict TEXT NOT NULL, rules TEXT NOT NULL, reason TEXT NOT NULL, text TEXT NOT NULL, state TEXT NOT NULL);
  CREATE INDEX messages_ts ON messages(ts);`);
  const h1 = new HistoryIndex({ logDir: path.join(dir, 'fresh'), retentionDays: () => 30 });
  for (const e of mixedRun()) h1.add(e);
  h1.flush();
  const fresh = new DatabaseSync(h1.file);
  for (const r of fresh.prepare('SELECT * FROM messages').all() as Record<string, unknown>[]) {
    old
      .prepare('INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(
        ...(['id', 'ts', 'session', 'open', 'client', 'login', 'sender', 'rcpts', 'subject', 'queue_id', 'verdict', 'rules', 'reason', 'text', 'state'].map(
          (k) => r[k],
        ) as (string | number)[]),
      );
  }
  fresh.close();
  h1.close();
  old.close();
  const h = new HistoryIndex({ logDir: dir, retentionDays: () => 30 });
  const q = (s: string) => h.messages({ q: s }, T0 + 7_200_000).messages.map((r) => r.from);
  assert.equal(q('').length, 4);
  assert.deepEqual(q('cookies'), ['grandma@example.org']);
  assert.deepEqual(h.traffic(T0 + 7_200_000).topReasons, [{ rule: 'relay rcpt', reason: 'not relaying', count: 1 }]);
  h.close();
  const again = new DatabaseSync(path.join(dir, 'index.sqlite'));
  assert.equal((again.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, 2);
  again.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('traffic: per hour and per local day, counted in SQL', () => {
  nextId = 1;
  const dir = tmp();
  const h = new HistoryIndex({ logDir: dir, retentionDays: () => 30 });
  for (const e of mixedRun()) h.add(e);
  const t = h.traffic(T0 + 7_200_000);
  assert.equal(t.hours.length, 24);
  assert.equal(t.days.length, 30);
  const sum = (b: typeof t.hours) => b.reduce((a, x) => [a[0] + x.accepted, a[1] + x.refused, a[2] + x.deferred], [0, 0, 0]);
  assert.deepEqual(sum(t.hours), [2, 1, 1]);
  assert.deepEqual(sum(t.days), [2, 1, 1]);
  // The transactions are at T0 + a few seconds: the bucket of hour T0 (the 22nd of 24, now being T0 + 2 h).
  assert.deepEqual([t.hours[21].accepted, t.hours[21].start], [2, new Date(T0).toISOString()]);
  const today = new Date(T0 + 7_200_000);
  today.setHours(0, 0, 0, 0);
  assert.equal(t.days[29].start, today.toISOString());
  h.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('counters: messages accepted/refused/deferred, logins apart, a setup check is not refused mail', () => {
  nextId = 1;
  const c = emptyCounters();
  for (const e of mixedRun()) count(c, e);
  assert.deepEqual(c, {
    connections: 2,
    accepted: 2,
    rejected: 1,
    deferred: 1,
    relayDenied: 1,
    authFailures: 1,
    logins: 1,
    refusedConnections: 0,
    dmarc: 0,
    dnsbl: 0,
    spam: 0,
    rateLimited: 0,
    junk: 0,
  });
});

test('subject: unfolded, RFC 2047 decoded; Authentication-Results as verdicts', () => {
  assert.equal(subjectOf('From: a@b\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n  =?ISO-8859-1?Q?_aus_K=F6ln?=\r\n\r\n'), 'Grüße aus Köln');
  assert.equal(subjectOf('To: x\r\n\r\n'), '');
  assert.deepEqual(
    authVerdicts(['mx.doe-family.com;\r\n spf=pass smtp.mailfrom=a@example.org;\r\n dkim=none (no signatures); dmarc=fail header.from=example.org']),
    [
      { method: 'spf', result: 'pass', detail: 'smtp.mailfrom=a@example.org' },
      { method: 'dkim', result: 'none', detail: '(no signatures)' },
      { method: 'dmarc', result: 'fail', detail: 'header.from=example.org' },
    ],
  );
});
