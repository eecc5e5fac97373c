// The SPF check (docs/design.md §2.6) over real SMTP: a gateway whose SPF check asks the tests' own DNS
// server on loopback. Clients arrive through a trusted PROXY header, so each test
// picks the Internet address the SPF check sees; no internal network is enabled.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { RawSmtp, type Reply } from '../support/smtp-client.ts';
import { FAMILY, startGateway, type TestGateway } from '../support/gateway.ts';
import { startDnsServer, type DnsServer, type Zone } from '../support/dns-server.ts';
import { createSpfCheckFactory } from '../../core/spf/check.ts';

const GOOD_IP = '198.51.100.10';
const BAD_IP = '203.0.113.66';
const JOHN = 'john.doe@doe-family.com';

function split(s: string): string[] {
  return s.match(/[\s\S]{1,200}/g)!;
}

const ZONE: Zone = {
  'pass.example': { TXT: [`v=spf1 ip4:${GOOD_IP} -all`] },
  'fail.example': { TXT: [`v=spf1 ip4:${GOOD_IP} -all`] },
  'softfail.example': { TXT: [`v=spf1 ip4:${GOOD_IP} ~all`] },
  'neutral.example': { TXT: [`v=spf1 ip4:${GOOD_IP} ?all`] },
  'none.example': { TXT: ['google-site-verification=abc'], A: ['192.0.2.1'] },
  'timeout.example': { TXT: ['v=spf1 +all'] }, // never answered: the server drops its queries
  'servfail.example': { TXT: ['v=spf1 +all'] },
  'permerror.example': { TXT: [`v=spf1 ip4:${GOOD_IP} frobnicate:x.example -all`] },
  // 11 includes: over 255 characters, so published as two strings (RFC 7208 §3.3).
  'toomany.example': { TXT: [split(`v=spf1 ${Array.from({ length: 11 }, (_, i) => `include:i${i}.toomany.example`).join(' ')} ip4:${BAD_IP} -all`)] },
  'mail.helo-pass.example': { TXT: [`v=spf1 ip4:${GOOD_IP} -all`] },
  'mail.helo-fail.example': { TXT: [`v=spf1 ip4:${GOOD_IP} -all`] },
};
for (let i = 0; i < 11; i++) ZONE[`i${i}.toomany.example`] = { TXT: ['v=spf1 ?all'] };

let dns: DnsServer;
let t: TestGateway;
before(async () => {
  dns = await startDnsServer(ZONE);
  dns.setFault('drop', ['timeout.example']);
  dns.setFault('servfail', ['servfail.example']);
  t = await startGateway(
    {
      ...FAMILY,
      internalNetworks: [],
      trustedProxies: ['127.0.0.1'],
      dns: { servers: [dns.address], timeoutMs: 1000 },
      spf: { enabled: true, header: 'both', policy: 'soft' },
    },
    { spfFactory: createSpfCheckFactory() },
  );
});
after(async () => {
  await t?.stop();
  await dns?.close();
});

function setSpf(spf: Record<string, unknown>): void {
  t.gw.updateConfig((raw) => {
    raw.spf = { enabled: true, header: 'both', policy: 'soft', ...spf };
  });
}

async function connect(clientIp: string, helo = 'client.example.net'): Promise<RawSmtp> {
  const c = await RawSmtp.connect({ port: t.port(), preamble: `PROXY TCP4 ${clientIp} 127.0.0.1 12345 25\r\n` });
  assert.equal(c.greeting.code, 220, c.greeting.text);
  const ehlo = await c.cmd(`EHLO ${helo}`);
  assert.equal(ehlo.code, 250);
  return c;
}

interface Sent {
  mail: Reply;
  end?: Reply;
  /** The stored message, when it was accepted. */
  stored?: string;
  ms: number;
}

/** One transaction to John from `clientIp`; reads back the Maildir file on success. */
async function send(clientIp: string, from: string, helo?: string): Promise<Sent> {
  const c = await connect(clientIp, helo);
  try {
    const t0 = Date.now();
    const mail = await c.cmd(`MAIL FROM:<${from}>`);
    const ms = Date.now() - t0;
    if (mail.code !== 250) return { mail, ms };
    assert.equal((await c.cmd(`RCPT TO:<${JOHN}>`)).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    const before = new Set(t.maildirFiles('john'));
    c.write(`From: <${from || 'mailer-daemon@client.example.net'}>\r\nTo: <${JOHN}>\r\nSubject: spf test\r\n\r\nhello\r\n.\r\n`);
    const end = await c.read();
    const file = t.maildirFiles('john').find((f) => !before.has(f));
    return { mail, end, ms, stored: file ? fs.readFileSync(file, 'latin1') : undefined };
  } finally {
    await c.quit();
  }
}

/** The header block above the message's own headers, unfolded, one field per entry. */
function traceFields(stored: string): string[] {
  const head = stored.slice(0, stored.indexOf('\r\nFrom: '));
  return head.split(/\r\n(?![ \t])/).map((f) => f.replace(/\r\n[ \t]/g, ' '));
}

function assertAccepted(s: Sent, result: string, identity = 'mailfrom'): void {
  assert.equal(s.mail.code, 250, s.mail.text);
  assert.equal(s.end?.code, 250, s.end?.text);
  assert.ok(s.stored, 'message stored');
  const fields = traceFields(s.stored!);
  const ar = fields.findIndex((f) => f.startsWith('Authentication-Results: mx.doe-family.com; '));
  const rs = fields.findIndex((f) => f.startsWith('Received-SPF: '));
  const rcvd = fields.findIndex((f) => f.startsWith('Received: '));
  assert.ok(ar >= 0 && rs > ar && rcvd > rs, `order A-R, Received-SPF, Received:\n${fields.join('\n')}`);
  assert.match(fields[ar], new RegExp(`; spf=${result} \\(mx\\.doe-family\\.com: `));
  assert.match(fields[rs], new RegExp(`^Received-SPF: ${result} \\(mx\\.doe-family\\.com: .*\\) client-ip=`));
  assert.match(fields[rs], new RegExp(`identity=${identity}; receiver=mx\\.doe-family\\.com;$`));
  // Folded with CRLF + whitespace, no line over 78 characters.
  for (const line of s.stored!.slice(0, s.stored!.indexOf('\r\nReceived: ')).split('\r\n')) assert.ok(line.length <= 78, line);
}

function assertRejected(s: Sent, code: number, enhanced: string): void {
  assert.equal(s.mail.code, code, s.mail.text);
  assert.ok(s.mail.text.startsWith(`${enhanced} `), s.mail.text);
  assert.equal(s.stored, undefined);
}

// The table of docs/design.md §2.6: result → [soft, strict], null = accepted.
const TABLE: { result: string; from: string; ip: string; soft: [number, string] | null; strict: [number, string] | null }[] = [
  { result: 'pass', from: 'alice@pass.example', ip: GOOD_IP, soft: null, strict: null },
  { result: 'neutral', from: 'alice@neutral.example', ip: BAD_IP, soft: null, strict: null },
  { result: 'none', from: 'alice@none.example', ip: BAD_IP, soft: null, strict: null },
  { result: 'softfail', from: 'alice@softfail.example', ip: BAD_IP, soft: null, strict: [550, '5.7.23'] },
  { result: 'fail', from: 'alice@fail.example', ip: BAD_IP, soft: [550, '5.7.23'], strict: [550, '5.7.23'] },
  { result: 'temperror', from: 'alice@timeout.example', ip: BAD_IP, soft: [451, '4.7.24'], strict: [451, '4.7.24'] },
  { result: 'permerror', from: 'alice@permerror.example', ip: BAD_IP, soft: [550, '5.7.24'], strict: [550, '5.7.24'] },
];

for (const policy of ['soft', 'strict'] as const) {
  describe(`policy ${policy}`, () => {
    before(() => setSpf({ policy }));
    for (const row of TABLE) {
      const expect = row[policy];
      test(`${row.result} → ${expect ? expect.join(' ') : 'accepted, with headers'}`, async () => {
        const s = await send(row.ip, row.from);
        if (expect) assertRejected(s, expect[0], expect[1]);
        else assertAccepted(s, row.result);
        const ev = t
          .events()
          .filter((e) => e.stage === 'mail' && e.from === row.from)
          .at(-1);
        assert.equal(ev?.spf, row.result);
        assert.equal(ev?.rule, 'check spf');
      });
    }
  });
}

describe('corner cases', () => {
  before(() => setSpf({ policy: 'soft' }));

  test('a DNS timeout is a 451 4.7.24, quickly', async () => {
    const s = await send(BAD_IP, 'bob@timeout.example');
    assertRejected(s, 451, '4.7.24');
    assert.match(s.mail.text, /DNS timeout/);
    assert.ok(s.ms < 1000 + 3000, `took ${s.ms} ms`);
  });

  test('a DNS server failure (SERVFAIL) is a 451 4.7.24 too', async () => {
    assertRejected(await send(BAD_IP, 'bob@servfail.example'), 451, '4.7.24');
  });

  test('a record past the 10 DNS-term limit is a permerror, 550 5.7.24', async () => {
    const s = await send(BAD_IP, 'bob@toomany.example');
    assertRejected(s, 550, '5.7.24');
    assert.match(s.mail.text, /Too many DNS requests/);
  });

  test('the fail reply names the domain, the address and the client', async () => {
    const s = await send(BAD_IP, 'bob@fail.example');
    assert.equal(s.mail.text, `5.7.23 SPF check failed: domain of bob@fail.example does not designate ${BAD_IP} as permitted sender`);
  });

  test('the null sender is checked with the HELO identity (RFC 7208 §2.4)', async () => {
    const ok = await send(GOOD_IP, '', 'mail.helo-pass.example');
    assertAccepted(ok, 'pass', 'helo');
    assert.match(traceFields(ok.stored!).find((f) => f.startsWith('Authentication-Results'))!, /smtp\.helo=mail\.helo-pass\.example/);
    const bad = await send(BAD_IP, '', 'mail.helo-fail.example');
    assertRejected(bad, 550, '5.7.23');
    assert.match(bad.mail.text, /postmaster@mail\.helo-fail\.example/);
  });

  test('spf.header: spf → Received-SPF only, auth → Authentication-Results only, none → neither', async () => {
    const fieldsFor = async (header: string) => {
      setSpf({ header });
      const s = await send(GOOD_IP, 'carol@pass.example');
      assert.equal(s.end?.code, 250);
      return traceFields(s.stored!).map((f) => f.split(':')[0]);
    };
    try {
      const spf = await fieldsFor('spf');
      assert.ok(spf.includes('Received-SPF') && !spf.includes('Authentication-Results'), spf.join());
      const auth = await fieldsFor('auth');
      assert.ok(!auth.includes('Received-SPF') && auth.includes('Authentication-Results'), auth.join());
      const none = await fieldsFor('none');
      assert.ok(!none.includes('Received-SPF') && !none.includes('Authentication-Results'), none.join());
    } finally {
      setSpf({});
    }
  });

  test('spf.enabled false: no check, no headers, even for a failing sender', async () => {
    setSpf({ enabled: false });
    try {
      const s = await send(BAD_IP, 'dave@fail.example');
      assert.equal(s.end?.code, 250);
      assert.ok(!/^(Received-SPF|Authentication-Results):/m.test(s.stored!));
    } finally {
      setSpf({});
    }
  });

  test('a client inside an enabled internal network is not checked', async () => {
    t.gw.updateConfig((raw) => {
      raw.internalNetworks = [{ cidr: `${BAD_IP}/32`, label: 'test LAN', enabled: true }];
    });
    try {
      const s = await send(BAD_IP, 'erin@fail.example');
      assert.equal(s.end?.code, 250);
      assert.ok(!/^Received-SPF:/m.test(s.stored!));
    } finally {
      t.gw.updateConfig((raw) => {
        raw.internalNetworks = [];
      });
    }
  });
});
