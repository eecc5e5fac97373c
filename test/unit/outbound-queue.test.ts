// The outbound queue (docs/design.md §3.3, §3.4) through the courier interface with a
// fake clock: no sockets, no waiting. What is checked is what a person would see: the
// queue files, the bounce in the sender's Maildir, and when each attempt happened.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { OutboundQueue, type OutboundOptions } from '../../core/delivery/outbound.ts';
import {
  byDomain,
  MxCourier,
  SmarthostCourier,
  SmtpCourier,
  type Batch,
  type Courier,
  type OutboundMessage,
  type RcptOutcome,
} from '../../core/delivery/courier.ts';
import { fixedMessage } from '../../core/delivery/smtp-client.ts';
import { MessageStore, newQueueId, type OutboundEnvelope } from '../../core/spool/store.ts';
import { EventBus } from '../../core/events/bus.ts';
import { validateConfig } from '../../core/config/load.ts';
import type { Config } from '../../core/config/schema.ts';
import { Directory } from '../../core/policy/directory.ts';
import { DkimKeys } from '../../core/dkim/keys.ts';
import type { DnsClient } from '../../core/dns/client.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { tempDir } from '../support/gateway.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function familyConfig(extra: Record<string, unknown> = {}): Config {
  return validateConfig({
    hostname: 'mx.doe-family.com',
    domains: ['doe-family.com'],
    accounts: [
      { name: 'john', addresses: ['john.doe@doe-family.com'] },
      { name: 'jane', addresses: ['jane.doe@doe-family.com'] },
    ],
    outbound: { mode: 'mx' },
    ...extra,
  });
}

const MX = 'mx.example.net';
const outcome =
  (code: number, text: string) =>
  (address: string): RcptOutcome => ({ address, ok: code < 400, permanent: code >= 500, code, text, remoteMta: MX, reply: true });
const ok = outcome(250, '250 2.0.0 queued as 4711');
const temp = outcome(451, '451 4.7.1 greylisted, try again later');
const unknownUser = (address: string): RcptOutcome => outcome(550, `550 5.1.1 <${address}>: user unknown`)(address);

type Reply = (batch: Batch, call: number) => RcptOutcome[] | Promise<RcptOutcome[]>;

/** A courier that answers from a script and writes down when it was asked. */
class ScriptedCourier implements Courier {
  readonly calls: { at: number; from: string; rcpts: string[]; message: string }[] = [];
  private readonly clock: FakeClock;
  private readonly reply: Reply;

  constructor(clock: FakeClock, reply: Reply) {
    this.clock = clock;
    this.reply = reply;
  }

  batches(rcpts: readonly string[]): Batch[] {
    return byDomain(rcpts);
  }

  async deliver(batch: Batch, from: string, message: OutboundMessage): Promise<RcptOutcome[]> {
    this.calls.push({ at: this.clock.now(), from, rcpts: batch.rcpts, message: (await message.bytes('8bit')).toString('latin1') });
    return this.reply(batch, this.calls.length - 1);
  }
}

// One key for the whole file: generating RSA-2048 keys per test would be most of its time.
let dkimDir: string;
let dkim: DkimKeys;
before(() => {
  dkimDir = tempDir('postern-dkim-');
  dkim = new DkimKeys(dkimDir);
});
after(() => fs.rmSync(dkimDir, { recursive: true, force: true }));

interface Harness {
  t0: number;
  clock: FakeClock;
  store: MessageStore;
  bus: EventBus;
  queue: OutboundQueue;
  /** Commits a message from the LAN as the SMTP stage does, and tells the queue. */
  send(rcpts: string[], from?: string): Promise<string>;
  /** Fires whatever is due now and waits for the attempts it started, until nothing is due now. */
  run(): Promise<void>;
  /** Moves time forward to `t`, timer by timer, letting every attempt finish. */
  advanceTo(t: number): Promise<void>;
  queueFiles(): string[];
  envelope(id: string): OutboundEnvelope;
  /** The messages in maildir/<account>/new. */
  mailbox(account: string): string[];
  /** A second queue on the same data directory, as after a restart. */
  restart(courier: Courier): Promise<OutboundQueue>;
  close(): Promise<void>;
}

async function harness(
  courierFor: (clock: FakeClock) => Courier,
  opts: Partial<OutboundOptions> & { cfg?: Config } = {},
): Promise<Harness & { courier: Courier }> {
  const dataDir = tempDir('postern-outbound-');
  const clock = new FakeClock(Date.now());
  const t0 = clock.now();
  const store = new MessageStore(dataDir);
  const bus = new EventBus(1000);
  const cfg = opts.cfg ?? familyConfig();
  const directory = new Directory(cfg);
  const courier = courierFor(clock);
  const make = (c: Courier) => new OutboundQueue({ store, bus, config: () => cfg, directory: () => directory, dkim, clock, courier: c, ...opts });
  let queue = make(courier);
  queue.start();

  const run = async (): Promise<void> => {
    for (;;) {
      const fired = clock.fireDue();
      await queue.settled();
      if (!fired) return;
    }
  };
  const h = {
    t0,
    clock,
    store,
    bus,
    courier,
    get queue() {
      return queue;
    },
    async send(rcpts: string[], from = 'john.doe@doe-family.com') {
      const id = newQueueId();
      const head = `From: <${from}>\r\nTo: <${rcpts[0]}>\r\nSubject: hello\r\nMessage-ID: <${id}@doe-family.com>\r\n`;
      const data = Buffer.from(`${head}\r\nHello from the family.\r\n`);
      await store.commit({ id, from, client: '192.168.1.20', local: [], remote: rcpts, data });
      queue.enqueued(id);
      return id;
    },
    run,
    async advanceTo(t: number) {
      await run();
      for (;;) {
        const next = clock.nextAt();
        if (next === undefined || next > t) break;
        clock.set(Math.max(next, clock.now()));
        await run();
      }
      clock.set(t);
      await run();
    },
    queueFiles: () => fs.readdirSync(store.outbound).sort(),
    envelope: (id: string) => JSON.parse(fs.readFileSync(path.join(store.outbound, `${id}.json`), 'utf8')) as OutboundEnvelope,
    mailbox(account: string) {
      const dir = path.join(store.maildir(account), 'new');
      return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'latin1')) : [];
    },
    async restart(c: Courier) {
      await queue.stop();
      queue = make(c);
      queue.load(store.recover().outbound);
      queue.start();
      return queue;
    },
    async close() {
      await queue.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return h;
}

describe('the outbound queue, through a scripted courier and a fake clock', () => {
  test('a delivered message leaves the queue: both files gone, a delivery event', async () => {
    const h = await harness((clock) => new ScriptedCourier(clock, (b) => b.rcpts.map(ok)));
    try {
      const courier = h.courier as ScriptedCourier;
      const id = await h.send(['aunt@example.net']);
      assert.deepEqual(h.queueFiles(), [`${id}.eml`, `${id}.json`]);
      await h.run();
      assert.equal(courier.calls.length, 1);
      assert.equal(courier.calls[0].at, h.t0, 'tried at once');
      assert.deepEqual(courier.calls[0].rcpts, ['aunt@example.net']);
      assert.equal(courier.calls[0].from, 'john.doe@doe-family.com');
      assert.match(courier.calls[0].message, /^DKIM-Signature: .*d=doe-family\.com/, 'signed before it is handed over');
      assert.deepEqual(h.queueFiles(), []);
      assert.equal(h.queue.size, 0);
      const ev = h.bus.recent().find((e) => e.stage === 'delivery');
      assert.equal(ev?.verdict, 'accept');
      assert.equal(ev?.to, 'aunt@example.net');
      assert.match(ev?.text ?? '', /delivered to mx\.example\.net: 250 2\.0\.0 queued as 4711/);
    } finally {
      await h.close();
    }
  });

  test('a temporary failure is retried at the backoff times (1 m, then 5 m), written down in between', async () => {
    const h = await harness((clock) => new ScriptedCourier(clock, (b, call) => b.rcpts.map(call < 2 ? temp : ok)));
    try {
      const courier = h.courier as ScriptedCourier;
      const id = await h.send(['aunt@example.net']);
      await h.run();
      assert.equal(courier.calls.length, 1);
      const r = h.envelope(id).recipients[0];
      assert.equal(r.status, 'deferred');
      assert.equal(r.attempts, 1);
      assert.equal(r.nextAttempt, new Date(h.t0 + MINUTE).toISOString());
      assert.equal(r.lastError, '451 4.7.1 greylisted, try again later');
      assert.deepEqual(h.queue.list()[0].recipients[0], r, 'the dashboard sees what is on disk');

      await h.advanceTo(h.t0 + MINUTE - 1);
      assert.equal(courier.calls.length, 1, 'not a millisecond early');
      await h.advanceTo(h.t0 + DAY);
      assert.deepEqual(
        courier.calls.map((c) => c.at - h.t0),
        [0, MINUTE, MINUTE + 5 * MINUTE],
      );
      assert.deepEqual(h.queueFiles(), []);
      assert.deepEqual(h.mailbox('john'), [], 'no bounce for a message that got through');
      assert.equal(h.bus.recent().filter((e) => e.stage === 'delivery' && e.verdict === 'defer').length, 2);
    } finally {
      await h.close();
    }
  });

  test('the retry time survives a restart: the next queue waits for it, then delivers', async () => {
    const h = await harness((clock) => new ScriptedCourier(clock, (b) => b.rcpts.map(temp)));
    try {
      const id = await h.send(['aunt@example.net']);
      await h.run();
      const second = new ScriptedCourier(h.clock, (b) => b.rcpts.map(ok));
      await h.restart(second);
      await h.advanceTo(h.t0 + 30_000);
      assert.equal(second.calls.length, 0, 'a deferred recipient waits for its time after a restart too');
      assert.deepEqual(h.queueFiles(), [`${id}.eml`, `${id}.json`]);
      await h.advanceTo(h.t0 + HOUR);
      assert.deepEqual(
        second.calls.map((c) => c.at - h.t0),
        [MINUTE],
      );
      assert.deepEqual(h.queueFiles(), []);
    } finally {
      await h.close();
    }
  });

  test('a permanent failure bounces into the sender’s Maildir (only the failed recipient), the rest is delivered', async () => {
    const h = await harness((clock) => new ScriptedCourier(clock, (b) => b.rcpts.map((a) => (a.endsWith('@example.net') ? unknownUser(a) : ok(a)))));
    try {
      const courier = h.courier as ScriptedCourier;
      const id = await h.send(['nobody@example.net', 'uncle@example.org']);
      await h.run();
      assert.deepEqual(
        courier.calls.map((c) => c.rcpts),
        [['nobody@example.net'], ['uncle@example.org']],
        'one batch per domain',
      );
      assert.deepEqual(h.queueFiles(), [], 'nothing left to try');
      const [bounce, ...more] = h.mailbox('john');
      assert.equal(more.length, 0, 'one bounce');
      assert.match(bounce, /^To: <john\.doe@doe-family\.com>$/m);
      assert.match(bounce, /^Content-Type: multipart\/report; report-type=delivery-status;/m);
      assert.match(bounce, /^Final-Recipient: rfc822; nobody@example\.net$/m);
      assert.doesNotMatch(bounce, /^Final-Recipient: rfc822; uncle@example\.org$/m, 'the delivered recipient is not reported');
      assert.match(bounce, /^Status: 5\.1\.1$/m);
      assert.match(bounce, /^Remote-MTA: dns; mx\.example\.net$/m);
      assert.match(bounce, /^Diagnostic-Code: smtp; 550 5\.1\.1 <nobody@example\.net>: user unknown$/m);
      assert.match(bounce, new RegExp(`^X-Postern-Queue-ID: ${id}$`, 'm'));
      assert.match(bounce, /^Subject: hello$/m, 'the original header section comes back');
      assert.deepEqual(h.mailbox('jane'), []);
    } finally {
      await h.close();
    }
  });

  test('a sender who is not a family address gets no bounce (no backscatter)', async () => {
    const h = await harness((clock) => new ScriptedCourier(clock, (b) => b.rcpts.map(unknownUser)));
    try {
      await h.send(['nobody@example.net'], 'printer@example.com');
      await h.run();
      assert.deepEqual(h.queueFiles(), []);
      assert.deepEqual(h.mailbox('john'), []);
      assert.ok(h.bus.recent().some((e) => e.rule === 'bounce' && /no bounce sent/.test(e.text)));
    } finally {
      await h.close();
    }
  });

  test('still deferred 5 days after arrival: given up and bounced, after the documented schedule', async () => {
    const h = await harness((clock) => new ScriptedCourier(clock, (b) => b.rcpts.map(temp)));
    try {
      const courier = h.courier as ScriptedCourier;
      const id = await h.send(['aunt@example.net']);
      const received = Date.parse(h.envelope(id).received);
      await h.advanceTo(h.t0 + 6 * DAY);
      // 1 m, 5 m, 15 m, 30 m, 1 h, 2 h, then every 4 h, until an attempt finds it 5 days old.
      const expected = [0];
      for (const gap of [MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR]) expected.push(expected.at(-1)! + gap);
      while (h.t0 + expected.at(-1)! - received < 5 * DAY) expected.push(expected.at(-1)! + 4 * HOUR);
      assert.deepEqual(
        courier.calls.map((c) => c.at - h.t0),
        expected,
      );
      assert.deepEqual(h.queueFiles(), []);
      const [bounce, ...more] = h.mailbox('john');
      assert.equal(more.length, 0);
      assert.match(bounce, /^Final-Recipient: rfc822; aunt@example\.net$/m);
      assert.match(bounce, /^Status: 5\.7\.1$/m, 'the remote 4.7.1, reported as permanent');
      assert.match(bounce, /^Diagnostic-Code: smtp; 451 4\.7\.1 greylisted, try again later$/m, 'the server’s reply as it was (RFC 3464 §2.3.6)');
      assert.match(bounce, /^<aunt@example\.net>: gave up after 5 days: host mx\.example\.net said: 451 4\.7\.1 greylisted, try again later$/m);
      assert.equal(h.clock.nextAt(), undefined, 'nothing left to wake up for');
    } finally {
      await h.close();
    }
  });

  test('deleted while an attempt is under way: the attempt ends without writing back or bouncing', async () => {
    let answer!: (o: RcptOutcome[]) => void;
    const h = await harness((clock) => new ScriptedCourier(clock, () => new Promise((r) => (answer = r))));
    try {
      const courier = h.courier as ScriptedCourier;
      // One answer that would bounce and one that would be written back for a retry.
      const id = await h.send(['nobody@example.net', 'aunt@example.net']);
      h.clock.fireDue();
      while (!courier.calls.length) await new Promise((r) => setImmediate(r));
      assert.equal(h.queue.remove(id), true);
      assert.deepEqual(h.queueFiles(), [], 'gone from disk when remove() returns');
      answer([unknownUser('nobody@example.net'), temp('aunt@example.net')]);
      await h.queue.settled();
      await h.advanceTo(h.t0 + DAY);
      assert.deepEqual(h.queueFiles(), [], 'the envelope is not written back');
      assert.deepEqual(h.mailbox('john'), [], 'a deleted message is not bounced');
      assert.equal(courier.calls.length, 1);
      assert.equal(h.queue.size, 0);
      assert.equal(h.queue.remove(id), false);
    } finally {
      await h.close();
    }
  });

  test('a queued message file that has vanished fails its recipients once (5.3.0), without a delivery', async () => {
    const h = await harness((clock) => new ScriptedCourier(clock, (b) => b.rcpts.map(ok)));
    try {
      const courier = h.courier as ScriptedCourier;
      const id = await h.send(['aunt@example.net']);
      fs.rmSync(path.join(h.store.outbound, `${id}.eml`));
      await h.advanceTo(h.t0 + DAY);
      assert.equal(courier.calls.length, 0);
      assert.deepEqual(h.queueFiles(), []);
      const [bounce] = h.mailbox('john');
      assert.match(bounce, /^Status: 5\.3\.0$/m);
    } finally {
      await h.close();
    }
  });
});

/** DNS answers from a table: a name maps to records, or to an error code. */
function fakeDns(zone: Record<string, Record<string, unknown[] | string>>): DnsClient {
  const resolve = async (name: string, type: string): Promise<unknown[]> => {
    const a = zone[name]?.[type] ?? zone[name]?.['*'] ?? 'ENODATA';
    if (typeof a === 'string') throw Object.assign(new Error(`${a} ${name} ${type}`), { code: a });
    return a;
  };
  return { resolve } as unknown as DnsClient;
}

const batch = (domain: string, rcpts: string[]): Batch => ({ route: { kind: 'mx', domain }, rcpts });

describe('the SMTP couriers, where no socket is needed', () => {
  const cfg = familyConfig();

  test('an MX that is this gateway: permanent 5.4.6 for every recipient, nothing dialled', async () => {
    const seen: string[] = [];
    const c = new MxCourier({
      config: () => cfg,
      dns: () => fakeDns({ 'example.net': { MX: [{ priority: 10, exchange: 'mail.example.net' }] }, 'mail.example.net': { A: ['127.0.0.1'], AAAA: ['::1'] } }),
      isSelf: (ip, port) => {
        seen.push(`${ip}:${port}`);
        return true;
      },
    });
    const out = await c.deliver(batch('example.net', ['a@example.net', 'b@example.net']), 'john.doe@doe-family.com', fixedMessage(Buffer.from('x')));
    assert.deepEqual(seen, ['127.0.0.1:25', '::1:25'], 'every address asked about');
    assert.deepEqual(
      out.map((o) => [o.address, o.ok, o.permanent]),
      [
        ['a@example.net', false, true],
        ['b@example.net', false, true],
      ],
    );
    assert.match(out[0].text, /^5\.4\.6 mail for example\.net loops back to myself/);
  });

  test('DNS decides permanence: null MX and a missing domain bounce, a lookup failure and no address retry', async () => {
    const dns = fakeDns({
      'null.example': { MX: [{ priority: 0, exchange: '.' }] },
      'gone.example': { '*': 'ENOTFOUND' },
      'flaky.example': { MX: 'ETIMEOUT' },
      'noaddr.example': { MX: [{ priority: 10, exchange: 'mx.noaddr.example' }] },
    });
    const c = new MxCourier({ config: () => cfg, dns: () => dns });
    const one = async (domain: string) => (await c.deliver(batch(domain, [`x@${domain}`]), '', fixedMessage(Buffer.from('x'))))[0];
    assert.deepEqual([(await one('null.example')).permanent, (await one('null.example')).text], [true, '5.1.10 null.example does not accept mail (null MX)']);
    assert.deepEqual([(await one('gone.example')).permanent, (await one('gone.example')).text], [true, '5.1.2 domain gone.example does not exist']);
    assert.equal((await one('flaky.example')).permanent, false);
    assert.match((await one('flaky.example')).text, /^4\.4\.3 /);
    assert.equal((await one('noaddr.example')).permanent, false);
    assert.match((await one('noaddr.example')).text, /^4\.4\.4 no address for the mail servers of noaddr\.example/);
  });

  test('no smarthost configured: a temporary 4.4.1, never a bounce', async () => {
    const c = new SmarthostCourier(() => familyConfig({ outbound: { mode: 'smarthost' } }));
    const [b] = c.batches(['a@example.net', 'b@example.org']);
    const out = await c.deliver(b, 'john.doe@doe-family.com', fixedMessage(Buffer.from('x')));
    assert.deepEqual(
      out.map((o) => [o.ok, o.permanent]),
      [
        [false, false],
        [false, false],
      ],
    );
    assert.match(out[0].text, /^4\.4\.1 could not deliver: no smarthost is configured/);
  });

  test('batches follow outbound.mode: the smarthost takes everyone at once, MX goes domain by domain', () => {
    let mode: 'mx' | 'smarthost' = 'smarthost';
    const c = new SmtpCourier({ config: () => ({ ...cfg, outbound: { ...cfg.outbound, mode } }), dns: () => fakeDns({}) });
    const rcpts = ['a@example.net', 'b@example.org', 'c@example.net'];
    assert.deepEqual(c.batches(rcpts), [{ route: { kind: 'smarthost' }, rcpts }]);
    mode = 'mx';
    assert.deepEqual(c.batches(rcpts), [batch('example.net', ['a@example.net', 'c@example.net']), batch('example.org', ['b@example.org'])]);
  });

  test('the queue with the real MX courier: a loop to ourselves ends as a 5.4.6 bounce', async () => {
    const dns = fakeDns({ 'example.net': { MX: [{ priority: 10, exchange: 'mail.example.net' }] }, 'mail.example.net': { A: ['127.0.0.1'] } });
    const h = await harness(() => new SmtpCourier({ config: () => cfg, dns: () => dns, isSelf: () => true }));
    try {
      await h.send(['aunt@example.net']);
      await h.run();
      assert.deepEqual(h.queueFiles(), []);
      const [bounce] = h.mailbox('john');
      assert.match(bounce, /^Status: 5\.4\.6$/m);
      assert.match(bounce, /^Diagnostic-Code: X-Postern; 5\.4\.6 mail for example\.net loops back to myself/m, 'Postern’s own reason, not an SMTP reply');
    } finally {
      await h.close();
    }
  });
});
