// What real mail software expects of Postern (issue 15; docs/design.md §2.8, §3.1, §3.3–§3.5),
// each shown by a real peer over loopback: Postfix's smtp-sink with and without
// 8BITMIME (what it logged: the MAIL FROM parameters and the body it stored), mailauth
// verifying the DKIM signature on what the sink stored, and Dovecot reading a Maildir
// over IMAP (what it serves: Return-Path and Delivered-To on the local copy of a message
// that also went to a remote recipient).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { dkimVerify } from 'mailauth';
import { generate } from 'selfsigned';
import { SMTPServer } from 'smtp-server';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { FAMILY, startGateway, tempDir, type TestGateway } from '../support/gateway.ts';
import { startDnsServer, type DnsServer } from '../support/dns-server.ts';
import { freePort, startSink, type Sink } from '../support/smtp-sink.ts';
import { Imap, startDovecot } from '../support/dovecot.ts';
import { requireTools } from '../support/tools.ts';
import { DnsClient } from '../../core/dns/client.ts';
import { dkimRecord } from '../../core/dkim/keys.ts';

const FAST = [300, 300, 300];
const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

let dns: DnsServer;
before(async () => {
  requireTools('smtp-sink', 'dovecot');
  dns = await startDnsServer({});
});
after(() => dns.close());

function config(sinkPort: number, extra: Record<string, unknown> = {}) {
  return {
    ...FAMILY,
    dns: { servers: [dns.address], timeoutMs: 1000 },
    outbound: { mode: 'smarthost', smarthost: { host: '127.0.0.1', port: sinkPort, requireTLS: false } },
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

/** Sends from the LAN (127.0.0.1, internal); the body is given as text, sent as UTF-8 bytes. */
async function send(
  t: TestGateway,
  from: string,
  to: string[],
  message: string,
  o: { helo?: string; host?: string; port?: number; localAddress?: string } = {},
) {
  const c = await RawSmtp.connect({ port: o.port ?? t.port(), host: o.host, localAddress: o.localAddress ?? '127.0.0.1' });
  await c.cmd(`EHLO ${o.helo ?? 'pc.lan'}`);
  const r = await transaction(c, from, to, latin1(message));
  await c.quit();
  return r;
}

const EIGHT_BIT = [
  'From: John Doe <john.doe@doe-family.com>',
  'To: <aunt@example.net>',
  'Subject: Grüße',
  'Date: Tue, 24 Nov 2026 08:00:00 +0000',
  'Message-ID: <gruesse@doe-family.com>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  '',
  'Liebe Tante, viele Grüße aus Köln — bis Sonntag!',
  '.eine Zeile mit Punkt',
  '',
].join('\r\n');

/** The message as the sink stored it (from the first header line Postern sent), read as UTF-8 text. */
function stored(dump: string): string {
  return dump.slice(dump.indexOf('\nDKIM-Signature:') + 1).replace(/\r?\n/g, '\r\n');
}

async function verifyDkim(t: TestGateway, message: string): Promise<string> {
  const key = t.gw.dkim.get('doe-family.com', 'postern');
  dns.setZone({ 'postern._domainkey.doe-family.com': { TXT: [[dkimRecord(key).slice(0, 255), dkimRecord(key).slice(255)]] } });
  const resolver = new DnsClient({ servers: [dns.address], timeoutMs: 1000, cache: false }).resolver;
  const v = await dkimVerify(Buffer.from(message, 'utf8'), { resolver });
  return v.results[0]?.status.result ?? 'none';
}

describe('8BITMIME (RFC 6152) with Postfix’s smtp-sink as the smarthost', () => {
  test('offered: MAIL FROM carries BODY=8BITMIME and the 8-bit body arrives as it was; the signature verifies', async () => {
    const sink = await startSink();
    const t = await startGateway(config(sink.port), { outboundRetryMs: FAST });
    try {
      assert.equal((await send(t, 'john.doe@doe-family.com', ['aunt@example.net'], EIGHT_BIT)).end?.code, 250);
      await until(() => sink.messages().length === 1);
      const dump = sink.messages()[0];
      assert.match(dump, /^X-Mail-Args: <john\.doe@doe-family\.com> .*BODY=8BITMIME/m, 'what smtp-sink logged of MAIL FROM');
      const message = stored(dump);
      assert.ok(message.includes('viele Grüße aus Köln — bis Sonntag!'), 'the 8-bit body unchanged (the dump is read as UTF-8)');
      assert.match(message, /^Content-Transfer-Encoding: 8bit\r$/m);
      assert.equal(await verifyDkim(t, message), 'pass');
    } finally {
      await t.stop();
      await sink.stop();
    }
  });

  test('not offered (smtp-sink -8): no BODY parameter, the body arrives 7-bit as quoted-printable, and the signature still verifies', async () => {
    const sink = await startSink(['-8']);
    const t = await startGateway(config(sink.port), { outboundRetryMs: FAST });
    try {
      assert.equal((await send(t, 'john.doe@doe-family.com', ['aunt@example.net'], EIGHT_BIT)).end?.code, 250);
      await until(() => sink.messages().length === 1);
      const dump = sink.messages()[0];
      assert.match(dump, /^X-Mail-Args: <john\.doe@doe-family\.com>/m);
      assert.doesNotMatch(dump, /BODY=/, 'no BODY parameter to a server without 8BITMIME');
      const message = stored(dump);
      const body = message.slice(message.indexOf('\r\n\r\n') + 4);
      assert.ok(/^[\x00-\x7f]*$/.test(body), `the body is 7-bit: ${body}`);
      assert.match(message, /^Content-Transfer-Encoding: quoted-printable\r$/m);
      assert.doesNotMatch(message, /^Content-Transfer-Encoding: 8bit/m);
      assert.match(body, /^Liebe Tante, viele Gr=C3=BC=C3=9Fe aus K=C3=B6ln =E2=80=94 bis Sonntag!\r$/m);
      assert.match(body, /^\.eine Zeile mit Punkt\r$/m, 'a leading dot comes back un-stuffed');
      assert.equal(await verifyDkim(t, message), 'pass', 'signed after the conversion');
    } finally {
      await t.stop();
      await sink.stop();
    }
  });
});

describe('local delivery read by Dovecot over IMAP', () => {
  test('one message to jane and to an outside address: jane’s copy starts with Return-Path and Delivered-To; the relayed copy has neither', async () => {
    const sink = await startSink();
    const t = await startGateway(config(sink.port), { outboundRetryMs: FAST });
    const dovecot = await startDovecot(t.dataDir);
    try {
      const msg = [
        'From: John Doe <john.doe@doe-family.com>',
        'To: <jane.doe@doe-family.com>, <aunt@example.net>',
        'Subject: Sunday lunch',
        'Return-Path: <forged@example.org>',
        'Message-ID: <lunch@doe-family.com>',
        '',
        'At one.',
        '',
      ].join('\r\n');
      assert.equal((await send(t, 'john.doe@doe-family.com', ['jane.doe@doe-family.com', 'aunt@example.net'], msg)).end?.code, 250);
      await until(() => sink.messages().length === 1);
      dovecot.readable('jane');

      const imap = await Imap.connect(dovecot.port);
      try {
        assert.equal((await imap.cmd('LOGIN jane imap-test')).status, 'OK', dovecot.log());
        const select = await imap.cmd('SELECT INBOX');
        assert.equal(select.status, 'OK', dovecot.log());
        assert.match(select.text, /^\* 1 EXISTS\r$/m);
        const fetched = await imap.cmd('FETCH 1 (BODY.PEEK[HEADER])');
        assert.equal(fetched.status, 'OK', dovecot.log());
        const header = Imap.literal(fetched.text);
        // What Dovecot serves: the final delivery's fields first (RFC 5321 §4.4, RFC 9228).
        assert.match(header, /^Return-Path: <john\.doe@doe-family\.com>\r\nDelivered-To: jane\.doe@doe-family\.com\r\n/);
        assert.equal(header.match(/^Return-Path:/gim)?.length, 1, 'the message’s own Return-Path was dropped');
        assert.match(header, /^Received: from pc\.lan \(\[127\.0\.0\.1\]\) by mx\.doe-family\.com \(Postern\)/m);
        assert.match(header, /^Subject: Sunday lunch\r$/m);
      } finally {
        imap.close();
      }

      const relayed = stored(sink.messages()[0]);
      assert.doesNotMatch(relayed, /^Return-Path:/im, 'the outbound copy carries no Return-Path');
      assert.doesNotMatch(relayed, /^Delivered-To:/im, 'nor a Delivered-To');
      assert.match(relayed, /^Received: from pc\.lan/m);
    } finally {
      await dovecot.stop();
      await t.stop();
      await sink.stop();
    }
  });
});

describe('trace fields', () => {
  test('a client on ::1 is [IPv6:::1] in Received (RFC 5321 §4.1.3); an odd HELO goes into a comment', async () => {
    const t = await startGateway({
      ...FAMILY,
      listeners: [{ port: 0, host: '::1', mode: 'mx' }],
      internalNetworks: [{ cidr: '::1/128', label: 'this computer', enabled: true }],
    });
    try {
      const ok = await send(t, 'jane.doe@doe-family.com', ['john.doe@doe-family.com'], 'Subject: over IPv6\r\n\r\nhi\r\n', {
        host: '::1',
        localAddress: '::1',
        helo: 'laptop.lan',
      });
      assert.equal(ok.end?.code, 250);
      const odd = await send(t, 'jane.doe@doe-family.com', ['john.doe@doe-family.com'], 'Subject: odd helo\r\n\r\nhi\r\n', {
        host: '::1',
        localAddress: '::1',
        helo: 'odd(helo);x=y',
      });
      assert.equal(odd.end?.code, 250);
      const [first, second] = t.maildirFiles('john').map((f) => fs.readFileSync(f, 'latin1').replace(/\r\n[ \t]+/g, ' '));
      assert.match(first, /^Received: from laptop\.lan \(\[IPv6:::1\]\) by mx\.doe-family\.com \(Postern\)/m);
      assert.match(second, /^Received: from unknown \(\[IPv6:::1\]\) \(HELO odd\\\(helo\\\);x=y\) by mx\.doe-family\.com \(Postern\)/m);
    } finally {
      await t.stop();
    }
  });

  test('a message that already carries Delivered-To: <its local recipient> is a forwarding loop: 554 5.4.6, nothing stored', async () => {
    const t = await startGateway({ ...FAMILY, dns: { servers: [dns.address], timeoutMs: 1000 } });
    try {
      const r = await send(t, 'jane.doe@doe-family.com', ['john.doe@doe-family.com'], 'Delivered-To: John.Doe@doe-family.com\r\nSubject: again\r\n\r\nhi\r\n');
      assert.equal(r.end?.code, 554);
      assert.match(r.end?.text ?? '', /5\.4\.6 Mail forwarding loop for <john\.doe@doe-family\.com>/);
      assert.equal(t.maildirFiles('john').length, 0);
      // Another address's Delivered-To is trace information of an earlier delivery: kept.
      const fwd = await send(
        t,
        'jane.doe@doe-family.com',
        ['john.doe@doe-family.com'],
        'Delivered-To: john@old-provider.example\r\nSubject: forwarded\r\n\r\nhi\r\n',
      );
      assert.equal(fwd.end?.code, 250);
      const kept = fs.readFileSync(t.maildirFiles('john')[0], 'latin1');
      assert.match(
        kept,
        /^Return-Path: <jane\.doe@doe-family\.com>\r\nDelivered-To: john\.doe@doe-family\.com\r\n[\s\S]*^Delivered-To: john@old-provider\.example\r$/m,
      );
    } finally {
      await t.stop();
    }
  });
});

describe('bounces (RFC 3464)', () => {
  async function bounceOf(t: TestGateway, sink: Sink | null, to: string): Promise<string> {
    const before = t.maildirFiles('john').length;
    assert.equal(
      (await send(t, 'john.doe@doe-family.com', [to], `From: <john.doe@doe-family.com>\r\nTo: <${to}>\r\nSubject: doomed\r\n\r\nhi\r\n`)).end?.code,
      250,
    );
    await until(() => t.maildirFiles('john').length === before + 1);
    await t.gw.outbound.drain();
    void sink;
    return fs.readFileSync(t.maildirFiles('john').at(-1)!, 'latin1');
  }

  test('refused by the smarthost (smtp-sink -f RCPT): stored with Return-Path: <>, Diagnostic-Code smtp; the reply, no Remote-MTA for an address, no Original-Recipient', async () => {
    const sink = await startSink(['-f', 'RCPT']);
    const t = await startGateway(config(sink.port), { outboundRetryMs: FAST });
    try {
      const report = await bounceOf(t, sink, 'nobody@example.net');
      assert.match(report, /^Return-Path: <>\r\nDelivered-To: john\.doe@doe-family\.com\r\n/);
      const dsn = report.slice(report.indexOf('Content-Type: message/delivery-status'));
      assert.match(dsn, /^Final-Recipient: rfc822; nobody@example\.net\r$/m);
      assert.doesNotMatch(dsn, /^Original-Recipient:/m, 'no ORCPT was given');
      assert.match(dsn, /^Diagnostic-Code: smtp; 5\d\d /m, 'what smtp-sink answered');
      assert.doesNotMatch(dsn, /^Remote-MTA:/m, 'the smarthost is configured as 127.0.0.1: an address is no dns name');
      assert.match(report, /^<nobody@example\.net>: host 127\.0\.0\.1 said: 5\d\d /m);
    } finally {
      await t.stop();
      await sink.stop();
    }
  });

  test('Postern’s own failure (the domain does not exist): Diagnostic-Code X-Postern;', async () => {
    const t = await startGateway({ ...FAMILY, dns: { servers: [dns.address], timeoutMs: 1000 }, outbound: { mode: 'mx' } }, { outboundRetryMs: FAST });
    try {
      const report = await bounceOf(t, null, 'y@does-not-exist.example');
      const dsn = report.slice(report.indexOf('Content-Type: message/delivery-status'));
      assert.match(dsn, /^Status: 5\.1\.2\r$/m);
      assert.match(dsn, /^Diagnostic-Code: X-Postern; 5\.1\.2 domain does-not-exist\.example does not exist\r$/m);
      assert.doesNotMatch(dsn, /^Remote-MTA:/m);
      assert.doesNotMatch(dsn, /^Diagnostic-Code: smtp;/m);
    } finally {
      await t.stop();
    }
  });
});

describe('a smarthost with a certificate from a private CA', () => {
  test('refused in plain words with the caFile hint (no --use-system-ca); trusted once outbound.smarthost.caFile names the CA', async () => {
    const now = Date.now();
    const ca = await generate([{ name: 'commonName', value: 'Doe Family NAS CA' }], {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
      notBeforeDate: new Date(now - 60_000),
      notAfterDate: new Date(now + 365 * 86_400_000),
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true },
      ],
    });
    const leaf = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
      notBeforeDate: new Date(now - 60_000),
      notAfterDate: new Date(now + 90 * 86_400_000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
      ],
      ca: { key: ca.private, cert: ca.cert },
    });
    const dir = tempDir('postern-ca-');
    const caFile = path.join(dir, 'nas-ca.pem');
    fs.writeFileSync(caFile, ca.cert);
    const got: string[] = [];
    const relay = new SMTPServer({
      secure: true,
      key: leaf.private,
      cert: leaf.cert,
      authOptional: true,
      logger: false,
      onData(stream, _session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          got.push(Buffer.concat(chunks).toString('latin1'));
          cb();
        });
      },
    });
    relay.on('error', () => {});
    const port = await freePort();
    await new Promise<void>((r) => relay.listen(port, '127.0.0.1', () => r()));
    const t = await startGateway(
      { ...FAMILY, outbound: { mode: 'smarthost', smarthost: { host: '127.0.0.1', port, secure: true } } },
      { outboundRetryMs: [60_000] },
    );
    try {
      assert.equal((await send(t, 'john.doe@doe-family.com', ['aunt@example.net'], 'Subject: via the NAS\r\n\r\nhi\r\n')).end?.code, 250);
      await until(() => t.events().some((e) => e.stage === 'delivery' && e.verdict === 'defer'));
      const deferred = t.events().find((e) => e.stage === 'delivery' && e.verdict === 'defer')!.text;
      // A leaf from an unknown CA looks to TLS like a chain without its issuer (Node: "unable to verify the first certificate").
      assert.match(deferred, /issued by an authority this computer does not know|self-made|cannot be checked/, deferred);
      assert.match(deferred, /set outbound\.smarthost\.caFile to its CA certificate/);
      assert.doesNotMatch(deferred, /use-system-ca|NODE_EXTRA_CA_CERTS/);
      assert.equal(got.length, 0);

      t.gw.updateConfig((raw) => {
        (raw.outbound as { smarthost: Record<string, unknown> }).smarthost.caFile = caFile;
      });
      const [entry] = t.gw.outbound.list();
      t.gw.outbound.retry(entry.id);
      await until(() => got.length === 1);
      assert.match(got[0], /^Subject: via the NAS\r$/m);
      await until(() => t.events().some((e) => e.stage === 'delivery' && e.verdict === 'accept'));
    } finally {
      await t.stop();
      await new Promise<void>((r) => relay.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
