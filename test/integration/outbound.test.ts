// Outbound delivery (docs/design.md §3.3, issue 5): Postfix's smtp-sink as the smarthost and
// as a loopback MX found through our own DNS server; retries, bounces, DKIM, queue
// control, and a SIGKILL in the middle of a delivery.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { dkimVerify } from 'mailauth';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { FAMILY, outboundQueued, startGateway, tempDir, type TestGateway } from '../support/gateway.ts';
import { startDnsServer, type DnsServer } from '../support/dns-server.ts';
import { startSink, freePort } from '../support/smtp-sink.ts';
import { startServe } from '../support/serve-process.ts';
import { DnsClient } from '../../core/dns/client.ts';
import { dkimRecord } from '../../core/dkim/keys.ts';

const FAST = [300, 300, 300];

async function sendFromLan(t: TestGateway, from: string, to: string[], subject: string): Promise<void> {
  const c = await RawSmtp.connect({ port: t.port(), localAddress: '127.0.0.1' });
  await c.cmd('EHLO pc.lan');
  const r = await transaction(
    c,
    from,
    to,
    `From: <${from}>\r\nTo: <${to[0]}>\r\nSubject: ${subject}\r\nDate: Tue, 24 Nov 2026 08:00:00 +0000\r\nMessage-ID: <${subject.replace(/\s/g, '')}@doe-family.com>\r\n\r\nHello from the family.\r\n`,
  );
  assert.equal(r.end?.code, 250, JSON.stringify(r));
  await c.quit();
}

function smarthostConfig(port: number, extra: Record<string, unknown> = {}) {
  return {
    ...FAMILY,
    outbound: { mode: 'smarthost', smarthost: { host: '127.0.0.1', port, requireTLS: false } },
    ...extra,
  };
}

async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

let dns: DnsServer;
before(async () => {
  dns = await startDnsServer({});
});
after(() => dns.close());

describe('through a smarthost (smtp-sink)', () => {
  test('delivered, DKIM-signed; the signature verifies against the published key', async () => {
    const sink = await startSink();
    const t = await startGateway(smarthostConfig(sink.port, { dns: { servers: [dns.address], timeoutMs: 1000 } }), { outboundRetryMs: FAST });
    try {
      await sendFromLan(t, 'john.doe@doe-family.com', ['aunt@example.net'], 'signed hello');
      await until(() => sink.messages().length === 1);
      await t.gw.outbound.drain();
      const dump = sink.messages()[0];
      assert.match(dump, /^X-Rcpt-Args: <aunt@example\.net>/m);
      assert.match(dump, /^DKIM-Signature: .*d=doe-family\.com/m);
      assert.deepEqual(outboundQueued(t.dataDir), [], 'delivered messages leave the queue');
      const ev = t.events().find((e) => e.stage === 'delivery' && e.verdict === 'accept');
      assert.ok(ev, 'a delivery event');
      assert.equal(ev.to, 'aunt@example.net');

      // Publish the key as `postern dkim` prints it, and verify what the sink received.
      const key = t.gw.dkim.get('doe-family.com', 'postern');
      dns.setZone({ 'postern._domainkey.doe-family.com': { TXT: [[dkimRecord(key).slice(0, 255), dkimRecord(key).slice(255)]] } });
      const message = dump.slice(dump.indexOf('\nDKIM-Signature:') + 1).replace(/\r?\n/g, '\r\n');
      const resolver = new DnsClient({ servers: [dns.address], timeoutMs: 1000, cache: false }).resolver;
      const v = await dkimVerify(Buffer.from(message), { resolver });
      assert.equal(v.results[0]?.status.result, 'pass', JSON.stringify(v.results[0]?.status));
      const tampered = await dkimVerify(Buffer.from(message.replace('Hello from the family.', 'Send money.')), { resolver });
      assert.notEqual(tampered.results[0]?.status.result, 'pass');
      assert.match(tampered.results[0]?.status.comment ?? '', /body hash/);
    } finally {
      await t.stop();
      await sink.stop();
    }
  });

  test('a 4xx is retried with backoff, then delivered', async () => {
    const port = await freePort();
    const grumpy = await startSink(['-r', 'RCPT'], port);
    const t = await startGateway(smarthostConfig(port), { outboundRetryMs: [400, 400, 400] });
    try {
      await sendFromLan(t, 'jane.doe@doe-family.com', ['uncle@example.net'], 'try again');
      await until(() => t.events().some((e) => e.stage === 'delivery' && e.verdict === 'defer'));
      const [entry] = t.gw.outbound.list();
      assert.equal(entry.recipients[0].status, 'deferred');
      assert.match(entry.recipients[0].lastError ?? '', /^450 /);
      await grumpy.stop();
      const happy = await startSink([], port);
      try {
        await until(() => happy.messages().length === 1);
        await t.gw.outbound.drain();
        assert.deepEqual(t.gw.outbound.list(), []);
        const kinds = t
          .events()
          .filter((e) => e.stage === 'delivery')
          .map((e) => e.verdict);
        assert.deepEqual(kinds.slice(-2), ['defer', 'accept']);
        assert.ok(kinds.filter((k) => k === 'defer').length >= 1);
      } finally {
        await happy.stop();
      }
    } finally {
      await t.stop();
    }
  });

  test('a 5xx bounces: an RFC 3464 report in the sender’s Maildir', async () => {
    const sink = await startSink(['-f', 'RCPT']);
    const t = await startGateway(smarthostConfig(sink.port), { outboundRetryMs: FAST });
    try {
      const before = t.maildirFiles('john').length;
      await sendFromLan(t, 'john.doe@doe-family.com', ['nobody@example.net'], 'doomed');
      await until(() => t.maildirFiles('john').length === before + 1);
      await t.gw.outbound.drain();
      const report = fs.readFileSync(t.maildirFiles('john').at(-1)!, 'latin1');
      assert.match(report, /^Content-Type: multipart\/report; report-type=delivery-status; boundary="([^"]+)"/m);
      assert.match(report, /^Subject: Undelivered Mail Returned to Sender$/m);
      const dsn = report.slice(report.indexOf('Content-Type: message/delivery-status'));
      assert.match(dsn, /^Reporting-MTA: dns; mx\.doe-family\.com$/m);
      assert.match(dsn, /^Final-Recipient: rfc822; nobody@example\.net$/m);
      assert.match(dsn, /^Action: failed$/m);
      assert.match(dsn, /^Status: 5\.\d+\.\d+$/m);
      assert.match(dsn, /^Diagnostic-Code: smtp; 5\d\d /m);
      assert.match(report, /Content-Type: text\/rfc822-headers\r\n\r\n[\s\S]*^Subject: doomed$/m);
      assert.deepEqual(outboundQueued(t.dataDir), []);
      assert.ok(t.events().some((e) => e.stage === 'delivery' && e.verdict === 'reject' && e.to === 'nobody@example.net'));
    } finally {
      await t.stop();
      await sink.stop();
    }
  });

  test('the queue is visible and controllable: list, retry now, delete', async () => {
    const port = await freePort(); // nothing listens: connection refused, deferred
    const t = await startGateway(smarthostConfig(port), { outboundRetryMs: [3_600_000] });
    try {
      await sendFromLan(t, 'john.doe@doe-family.com', ['a@example.net', 'b@example.org'], 'stuck');
      await until(() => t.gw.outbound.list()[0]?.recipients.every((r) => r.status === 'deferred'));
      const [entry] = t.gw.outbound.list();
      assert.equal(entry.from, 'john.doe@doe-family.com');
      assert.match(entry.recipients[0].lastError ?? '', /ECONNREFUSED|could not deliver/);
      const sink = await startSink([], port);
      try {
        assert.equal(t.gw.outbound.retry(entry.id), true);
        await until(() => sink.messages().length === 1);
        await t.gw.outbound.drain();
        assert.deepEqual(t.gw.outbound.list(), []);
      } finally {
        await sink.stop();
      }
      await sendFromLan(t, 'john.doe@doe-family.com', ['c@example.net'], 'unwanted');
      await until(() => t.gw.outbound.list().length === 1 && !!t.gw.outbound.list()[0].recipients[0].lastError);
      const id = t.gw.outbound.list()[0].id;
      assert.equal(t.gw.outbound.remove(id), true);
      assert.deepEqual(t.gw.outbound.list(), []);
      assert.deepEqual(outboundQueued(t.dataDir), []);
      assert.equal(t.gw.outbound.retry('NOSUCHID'), false);
    } finally {
      await t.stop();
    }
  });
});

describe('direct MX delivery (loopback MX through dns.servers)', () => {
  test('MX by priority, null MX and a missing domain are permanent failures', async () => {
    const sink = await startSink();
    dns.setZone({
      'example.org': {
        MX: [
          { priority: 20, exchange: 'backup.example.org' },
          { priority: 10, exchange: 'mx.example.org' },
        ],
      },
      'mx.example.org': { A: ['127.0.0.1'] },
      'backup.example.org': { A: ['127.0.0.1'] },
      'nomail.example': { MX: [{ priority: 0, exchange: '.' }] },
    });
    const t = await startGateway(
      { ...FAMILY, outbound: { mode: 'mx', mxPort: sink.port }, dns: { servers: [dns.address], timeoutMs: 1000 } },
      { outboundRetryMs: FAST },
    );
    try {
      await sendFromLan(t, 'jane.doe@doe-family.com', ['friend@example.org', 'x@nomail.example', 'y@does-not-exist.example'], 'direct');
      await until(() => sink.messages().length === 1 && t.gw.outbound.list().length === 0);
      assert.match(sink.messages()[0], /^X-Rcpt-Args: <friend@example\.org>/m);
      assert.doesNotMatch(sink.messages()[0], /nomail|does-not-exist/);
      const rejects = t.events().filter((e) => e.stage === 'delivery' && e.verdict === 'reject');
      assert.match(rejects.find((e) => e.to === 'x@nomail.example')?.text ?? '', /5\.1\.10 .*null MX/);
      assert.match(rejects.find((e) => e.to === 'y@does-not-exist.example')?.text ?? '', /5\.1\.2 /);
      const bounce = fs.readFileSync(t.maildirFiles('jane').at(-1)!, 'latin1');
      assert.match(bounce, /Final-Recipient: rfc822; x@nomail\.example/);
      assert.match(bounce, /Final-Recipient: rfc822; y@does-not-exist\.example/);
      assert.doesNotMatch(bounce, /Final-Recipient: rfc822; friend@example\.org/);
    } finally {
      await t.stop();
      await sink.stop();
    }
  });
});

describe('loops and hostile input', () => {
  test('mail whose MX (or address literal) is this very gateway bounces instead of looping', async () => {
    const t = await startGateway({ ...FAMILY, outbound: { mode: 'mx' } }, { outboundRetryMs: FAST });
    try {
      // Deliver "remote" mail on the gateway's own port: MX delivery would come straight back.
      t.gw.updateConfig((raw) => {
        raw.outbound = { mode: 'mx', mxPort: t.port() };
      });
      const before = t.maildirFiles('jane').length;
      await sendFromLan(t, 'jane.doe@doe-family.com', ['someone@[127.0.0.1]'], 'loop');
      await until(() => t.maildirFiles('jane').length === before + 1);
      await t.gw.outbound.drain();
      const bounce = fs.readFileSync(t.maildirFiles('jane').at(-1)!, 'latin1');
      assert.match(bounce, /5\.4\.6 mail for \[127\.0\.0\.1\] loops back to myself/);
      assert.equal(t.events().filter((e) => e.stage === 'data' && e.verdict === 'accept').length, 1, 'received once, not again and again');
    } finally {
      await t.stop();
    }
  });

  test('a From: header cannot pick the DKIM key file; a missing queue file fails once, no busy loop', async () => {
    const sink = await startSink();
    const t = await startGateway(smarthostConfig(sink.port), { outboundRetryMs: FAST });
    const outside = tempDir('postern-keyfile-');
    try {
      const c = await RawSmtp.connect({ port: t.port(), localAddress: '127.0.0.1' });
      await c.cmd('EHLO pc.lan');
      const evil = `x@doe-family.com/../../../../..${outside}/stolen`;
      const r = await transaction(c, 'john.doe@doe-family.com', ['aunt@example.net'], `From: <${evil}>\r\nSubject: traversal\r\n\r\nhi\r\n`);
      assert.equal(r.end?.code, 250);
      await c.quit();
      await until(() => sink.messages().length === 1);
      assert.deepEqual(fs.readdirSync(outside), [], 'no key file written outside the data dir');
      // Signed with the family domain's own key (the envelope sender's domain).
      assert.match(sink.messages()[0], /^DKIM-Signature: .*d=doe-family\.com/m);
      assert.deepEqual(fs.readdirSync(path.join(t.dataDir, 'dkim')), ['doe-family.com.postern.key']);

      // A queued message whose file vanished (an anti-virus quarantine, say).
      const dead = await freePort();
      t.gw.updateConfig((raw) => {
        raw.outbound = { mode: 'smarthost', smarthost: { host: '127.0.0.1', port: dead, requireTLS: false } };
      });
      await sendFromLan(t, 'john.doe@doe-family.com', ['b@example.net'], 'vanishing');
      await until(() => t.gw.outbound.list().length === 1 && !!t.gw.outbound.list()[0].recipients[0].lastError);
      const id = t.gw.outbound.list()[0].id;
      fs.rmSync(path.join(t.dataDir, 'queue', 'outbound', `${id}.eml`));
      t.gw.outbound.retry(id);
      await until(() => t.gw.outbound.list().length === 0);
      const failsOf = () => t.events().filter((e) => e.queueId === id && e.stage === 'delivery' && e.verdict === 'reject');
      await until(() => failsOf().length > 0);
      // No busy loop: a later message to the same dead smarthost is tried twice (a whole
      // retry interval passes), and the vanished one still failed just once.
      await sendFromLan(t, 'john.doe@doe-family.com', ['c@example.net'], 'sentinel');
      await until(() => t.gw.outbound.list().length === 1);
      const sentinel = t.gw.outbound.list()[0].id;
      await until(() => t.events().filter((e) => e.queueId === sentinel && e.stage === 'delivery' && e.verdict === 'defer').length >= 2);
      const fails = failsOf();
      assert.equal(fails.length, 1);
      assert.match(fails[0].text, /cannot be read/);
    } finally {
      await t.stop();
      await sink.stop();
    }
  });

  test('stop() returns while several deliveries are in flight', async () => {
    // A smarthost that greets and then never answers EHLO.
    const hangConnections: net.Socket[] = [];
    const hang = net.createServer((sock) => {
      hangConnections.push(sock);
      sock.write('220 slow.example ESMTP\r\n');
    });
    const hport = await freePort();
    await new Promise<void>((r) => hang.listen(hport, '127.0.0.1', () => r()));
    const t = await startGateway(smarthostConfig(hport), { outboundRetryMs: FAST });
    try {
      await sendFromLan(t, 'john.doe@doe-family.com', ['a@example.net'], 'one');
      await sendFromLan(t, 'john.doe@doe-family.com', ['b@example.net'], 'two');
      await until(() => hangConnections.length >= 2, 10_000); // both attempts in flight
      const t0 = Date.now();
      // The attempts end when the hanging server is dropped; stop must then resolve.
      const stopped = t.gw.stop();
      setTimeout(() => {
        for (const c of hangConnections) c.destroy();
      }, 300);
      await stopped;
      assert.ok(Date.now() - t0 < 8000, `stop took ${Date.now() - t0} ms`);
      assert.equal(t.gw.status().state, 'stopped');
    } finally {
      hang.close();
      await t.stop().catch(() => {});
    }
  });
});

describe('crash safety', () => {
  test('SIGKILL mid-delivery, restart: every message delivered once, none lost', async () => {
    // A receiver that answers "." only after 1.5 s and keeps a message only if the
    // client was still there to get its 250 (as a real MTA does).
    const kept: string[] = [];
    let holding = 0;
    let sessions = 0;
    const receiver = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      disableReverseLookup: true,
      logger: false,
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          holding++;
          setTimeout(() => {
            holding--;
            const alive = !(session as unknown as { closed?: boolean }).closed;
            if (alive) kept.push(/^Subject: (\S+)/m.exec(Buffer.concat(chunks).toString())?.[1] ?? '?');
            cb();
          }, 1500);
        });
      },
      onConnect(_session, cb) {
        sessions++;
        cb();
      },
      onClose(session) {
        (session as unknown as { closed: boolean }).closed = true;
        sessions--;
      },
    });
    receiver.on('error', () => {});
    const rport = await freePort();
    await new Promise<void>((r) => receiver.listen(rport, '127.0.0.1', () => r()));

    const dir = tempDir();
    const configFile = path.join(dir, 'postern.json');
    const dataDir = path.join(dir, 'data');
    fs.writeFileSync(configFile, JSON.stringify({ ...smarthostConfig(rport), listeners: [{ port: 0, host: '127.0.0.1', mode: 'mx' }] }));
    const first = await startServe(configFile, dataDir);
    try {
      const c = await RawSmtp.connect({ port: first.ports.mx, localAddress: '127.0.0.1' });
      await c.cmd('EHLO pc.lan');
      for (let i = 0; i < 6; i++) {
        const r = await transaction(c, 'john.doe@doe-family.com', [`friend${i}@example.net`], `Subject: msg-${i}\r\n\r\nbody ${i}\r\n`);
        assert.equal(r.end?.code, 250);
      }
      await c.quit();
      await until(() => holding >= 3, 10_000);
      first.child.kill('SIGKILL');
      await first.exited;
      const keptBefore = kept.length;
      assert.ok(keptBefore < 6, 'the kill landed before everything was delivered');

      const second = await startServe(configFile, dataDir);
      try {
        // Nothing more can arrive once the queue is empty (each message recorded as
        // delivered) and no delivery is open at the receiver.
        await until(() => kept.length >= 6 && outboundQueued(dataDir).length === 0 && holding === 0 && sessions === 0, 30_000);
        assert.deepEqual([...kept].sort(), ['msg-0', 'msg-1', 'msg-2', 'msg-3', 'msg-4', 'msg-5']);
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    } finally {
      await new Promise<void>((r) => receiver.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
