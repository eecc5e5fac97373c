// The relay rules (docs/design.md §2.1) over real SMTP on loopback. The "Internet" connects from 127.0.0.2,
// the internal network is 127.0.0.1/32.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { FAMILY, INTERNET, outboundQueued, startGateway, type TestGateway } from '../support/gateway.ts';
import { requireTools } from '../support/tools.ts';

const run = promisify(execFile);

let t: TestGateway;
before(async () => {
  requireTools('swaks');
  t = await startGateway();
});
after(() => t.stop());

const internet = () => RawSmtp.connect({ port: t.port(), localAddress: INTERNET });
const lan = () => RawSmtp.connect({ port: t.port(), localAddress: '127.0.0.1' });

describe("nmap smtp-open-relay's 16 tests, from the Internet", () => {
  // The combinations nmap's smtp-open-relay script tries, with DOMAIN our own
  // domain (the worst case: tricks that hide a foreign address behind a local one)
  // and IP the server's address.
  const IP = '[127.0.0.1]';
  const DOMAIN = 'doe-family.com';
  const R = 'relaytest@nmap.scanme.org';
  const cases: [string, string][] = [
    ['', R],
    ['antispam@nmap.scanme.org', R],
    [`antispam@${DOMAIN}`, R],
    [`antispam@${IP}`, R],
    [`antispam@${IP}`, `relaytest%nmap.scanme.org@${IP}`],
    [`antispam@${IP}`, `relaytest%nmap.scanme.org@${DOMAIN}`],
    [`antispam@${IP}`, `"${R}"`],
    [`antispam@${IP}`, '"relaytest%nmap.scanme.org"'],
    [`antispam@${IP}`, `${R}@${IP}`],
    [`antispam@${IP}`, `"${R}"@${IP}`],
    [`antispam@${IP}`, `${R}@${DOMAIN}`],
    [`antispam@${IP}`, `@${IP}:${R}`],
    [`antispam@${IP}`, `@${DOMAIN}:${R}`],
    [`antispam@${IP}`, 'nmap.scanme.org!relaytest'],
    [`antispam@${IP}`, `nmap.scanme.org!relaytest@${IP}`],
    [`antispam@${IP}`, `nmap.scanme.org!relaytest@${DOMAIN}`],
  ];
  assert.equal(cases.length, 16);

  test('every combination is refused and nothing is relayed', async () => {
    let relayed = 0;
    const c = await internet();
    await c.cmd('EHLO nmap.scanme.org');
    for (const [from, to] of cases) {
      const r = await transaction(c, from, [to]);
      if (r.rcpts[0].code === 250) relayed++;
      if (r.mail.code === 250) {
        assert.equal(r.rcpts[0].code, 554, `MAIL FROM:<${from}> RCPT TO:<${to}> → ${r.rcpts[0].lines[0]}`);
        assert.match(r.rcpts[0].text, /^5\.7\.1 /);
      } else {
        // Our own domain as sender from the Internet: refused at MAIL already.
        assert.equal(r.mail.code, 554, `MAIL FROM:<${from}> → ${r.mail.lines[0]}`);
        assert.match(r.mail.text, /^5\.7\.1 /);
      }
      await c.cmd('RSET');
    }
    await c.quit();
    assert.equal(relayed, 0);
    assert.deepEqual(outboundQueued(t.dataDir), []);
  });
});

describe('relay rules (docs/design.md §2.1)', () => {
  test('a family address receives mail from anyone (nodemailer from the Internet)', async () => {
    const before = t.maildirFiles('john').length;
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: t.port(), secure: false, ignoreTLS: true, localAddress: INTERNET } as never);
    const info = await transport.sendMail({ from: 'friend@example.org', to: 'john.doe@doe-family.com', subject: 'hello', text: 'Hi John' });
    assert.match(info.response, /^250 2\.0\.0 OK: queued as [0-9A-Z]{12}$/);
    const files = t.maildirFiles('john');
    assert.equal(files.length, before + 1);
    const stored = fs.readFileSync(files.at(-1)!, 'utf8');
    // The final delivery's fields first (RFC 5321 §4.4, RFC 9228), then the trace fields.
    assert.match(
      stored,
      /^Return-Path: <friend@example\.org>\r\nDelivered-To: john\.doe@doe-family\.com\r\n(?:[^\r\n]*\r\n)*?Received: from \S+ \(\[127\.0\.0\.2\]\)/,
    );
    assert.match(stored, /Subject: hello/);
  });

  test('an unknown local user is refused now (550 5.1.1), not bounced later', async () => {
    const c = await internet();
    await c.cmd('EHLO client.example.org');
    const r = await transaction(c, 'friend@example.org', ['nobody@doe-family.com']);
    assert.equal(r.rcpts[0].code, 550);
    assert.match(r.rcpts[0].text, /^5\.1\.1 /);
    await c.quit();
  });

  test('local domain: case-insensitive, one trailing dot ignored, postmaster always exists', async () => {
    const c = await internet();
    await c.cmd('EHLO client.example.org');
    const r = await transaction(c, 'friend@example.org', ['JOHN.Doe@DOE-family.COM.', 'postmaster@doe-family.com', 'Postmaster'], 'Subject: x\r\n\r\nhi');
    assert.deepEqual(
      r.rcpts.map((x) => x.code),
      [250, 250, 250],
    );
    assert.equal(r.end!.code, 250);
    await c.quit();
  });

  test('a spoofed local sender from the Internet gets 554 5.7.1 at MAIL FROM', async () => {
    const c = await internet();
    await c.cmd('EHLO client.example.org');
    const r = await c.cmd('MAIL FROM:<jane.doe@doe-family.com>');
    assert.equal(r.code, 554);
    assert.match(r.text, /^5\.7\.1 /);
    await c.quit();
  });

  test('the null sender <> is accepted for a family address', async () => {
    const c = await internet();
    await c.cmd('EHLO bounces.example.org');
    const r = await transaction(c, '', ['jane.doe@doe-family.com'], 'Subject: bounce\r\n\r\nreport');
    assert.equal(r.mail.code, 250);
    assert.equal(r.end!.code, 250);
    await c.quit();
  });

  test('swaks from the Internet to a foreign address: no recipient accepted (exit 24)', async () => {
    const r = await run(
      'swaks',
      ['-s', `127.0.0.1:${t.port()}`, '--local-interface', INTERNET, '-f', 'a@example.org', '-t', 'b@example.net', '--timeout', '10'],
      { encoding: 'utf8' },
    ).catch((e) => e);
    assert.equal(r.code, 24, r.stdout);
    assert.match(r.stdout, /554 5\.7\.1 <b@example\.net>: Relay access denied/);
  });

  test('a rejected recipient never reaches the envelope; a transaction never leaks into the next', async () => {
    const before = outboundQueued(t.dataDir).length;
    const c = await internet();
    await c.cmd('EHLO client.example.org');
    const r = await transaction(c, 'friend@example.org', ['stranger@example.net', 'jane.doe@doe-family.com'], 'Subject: mixed\r\n\r\nhi');
    assert.deepEqual(
      r.rcpts.map((x) => x.code),
      [554, 250],
    );
    assert.equal(r.end!.code, 250);
    assert.equal(outboundQueued(t.dataDir).length, before, 'the refused foreign recipient was not queued');
    // RSET drops the envelope: DATA without a new RCPT is out of sequence.
    await c.cmd('MAIL FROM:<friend@example.org>');
    assert.equal((await c.cmd('RCPT TO:<jane.doe@doe-family.com>')).code, 250);
    assert.equal((await c.cmd('RSET')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 503);
    await c.quit();
  });

  test('an internal client relays; turning its network off refuses the next transaction, no restart', async () => {
    const c = await lan();
    await c.cmd('EHLO pc.lan');
    const first = await transaction(c, 'john.doe@doe-family.com', ['aunt@example.net'], 'Subject: out\r\n\r\nhi');
    assert.equal(first.rcpts[0].code, 250);
    assert.equal(first.end!.code, 250);
    const queued = outboundQueued(t.dataDir).length;
    assert.ok(queued >= 1);

    t.gw.setNetwork('127.0.0.1/32', false);
    try {
      const second = await transaction(c, 'someone@example.org', ['aunt@example.net']);
      assert.equal(second.rcpts[0].code, 554, 'same connection, next transaction: no longer internal');
      await c.cmd('RSET');
      // …and our own domain is now a spoof from this client.
      assert.equal((await c.cmd('MAIL FROM:<john.doe@doe-family.com>')).code, 554);
      assert.equal(outboundQueued(t.dataDir).length, queued);
      const ev = t.events().filter((e) => e.stage === 'network');
      assert.match(ev.at(-1)!.text, /127\.0\.0\.1\/32\) no longer trusted/);
    } finally {
      t.gw.setNetwork('127.0.0.1/32', true);
      await c.quit();
    }
  });

  test('every decision is an event naming the rule and the reply', async () => {
    const rcptRejects = t.events().filter((e) => e.stage === 'rcpt' && e.verdict === 'reject');
    const policy = rcptRejects.filter((e) => e.rule === 'relay rcpt');
    assert.ok(policy.length >= 15);
    for (const e of policy) {
      assert.ok(e.code >= 500);
      assert.ok(e.text.length > 0);
      assert.ok(e.reason);
    }
    // The rest are protocol errors, e.g. RCPT after a refused MAIL FROM: 503, named as such.
    for (const e of rcptRejects.filter((x) => x.rule !== 'relay rcpt')) {
      assert.equal(e.rule, 'smtp protocol');
      assert.equal(e.code, 503);
    }
    const spoof = t.events().find((e) => e.stage === 'mail' && e.rule === 'relay mail from' && e.code === 554);
    assert.ok(spoof);
  });
});

describe('address families', () => {
  test('an IPv6 client never matches an IPv4 network, an IPv4-mapped one does', async () => {
    // ::1's first bits are zeros: ip-cidr would let it "match" 0.0.0.0/8 bit for bit.
    // 127.0.0.0/8 covers the IPv4 client. (Networks wider than /8 cannot be trusted.)
    const g = await startGateway({
      ...FAMILY,
      internalNetworks: [
        { cidr: '0.0.0.0/8', label: 'zeros', enabled: true },
        { cidr: '127.0.0.0/8', label: 'IPv4 loopback', enabled: true },
      ],
      listeners: [{ port: 0, host: '::', mode: 'mx' }],
    });
    try {
      const v6 = await RawSmtp.connect({ port: g.port(), host: '::1' });
      await v6.cmd('EHLO v6.example');
      const r6 = await transaction(v6, 'x@example.org', ['y@example.net']);
      assert.equal(r6.rcpts[0].code, 554, '::1 is in no IPv4 network');
      await v6.quit();

      // Through the dual-stack listener an IPv4 client appears as ::ffff:127.0.0.1.
      const v4 = await RawSmtp.connect({ port: g.port(), host: '127.0.0.1' });
      await v4.cmd('EHLO v4.example');
      const r4 = await transaction(v4, 'x@example.org', ['y@example.net']);
      assert.equal(r4.rcpts[0].code, 250, '127.0.0.1 (mapped) is in 0.0.0.0/1');
      await v4.quit();
    } finally {
      await g.stop();
    }
  });
});
