// DNS blocklists (docs/design.md §2.11), over loopback with the test DNS server: a listed
// Internet client is refused at RCPT with 554 5.7.1 naming the list; an unlisted one is
// accepted; a list that times out, or answers with an error code, does not block; DNSWL
// and allowAddresses exempt; internal and authenticated clients are never looked up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { FAMILY, startGateway, type TestGateway } from '../support/gateway.ts';
import { startDnsServer, type DnsServer } from '../support/dns-server.ts';

const LISTED = '198.51.100.66';
const CLEAN = '198.51.100.67';
const REFUSED_CODE = '198.51.100.68'; // the list answers 127.255.255.254: "query refused", not a listing
const WHITELISTED = '198.51.100.69';
const TRUSTED = '203.0.113.5';
const rev = (ip: string) => ip.split('.').reverse().join('.');
let dns: DnsServer;
let t: TestGateway;

before(async () => {
  dns = await startDnsServer({
    [`${rev(LISTED)}.bl.example`]: { A: ['127.0.0.2'], TXT: ['listed for spam'] },
    [`${rev(LISTED)}.weak.example`]: { A: ['127.0.0.4'] },
    [`${rev(REFUSED_CODE)}.bl.example`]: { A: ['127.255.255.254'] },
    [`${rev(WHITELISTED)}.bl.example`]: { A: ['127.0.0.2'] },
    [`${rev(WHITELISTED)}.wl.example`]: { A: ['127.0.15.0'] },
    [`${rev(TRUSTED)}.bl.example`]: { A: ['127.0.0.2'] },
    'bl.example': { TXT: ['zone apex'] },
  });
  dns.setFault('drop', ['slow.example']);
  t = await startGateway({
    ...FAMILY,
    trustedProxies: ['127.0.0.1'],
    internalNetworks: [],
    spf: { enabled: false },
    dns: { servers: [dns.address], timeoutMs: 1500 },
    dnsbl: {
      zones: [
        { zone: 'bl.example', weight: 2 },
        { zone: 'weak.example', weight: 0.5 },
        { zone: 'slow.example', weight: 5 },
      ],
      threshold: 1,
      allow: ['wl.example'],
      allowAddresses: [`${TRUSTED}/32`],
    },
  });
});
after(async () => {
  await t?.stop();
  await dns?.close();
});

async function rcptFrom(ip: string) {
  const c = await RawSmtp.connect({ port: t.port(), preamble: `PROXY TCP4 ${ip} 127.0.0.1 40000 25\r\n` });
  await c.cmd('EHLO client.example');
  const t0 = Date.now();
  const r = await transaction(c, 'someone@elsewhere.example', ['john.doe@doe-family.com'], 'Subject: hi\r\n\r\nhello\r\n');
  const ms = Date.now() - t0;
  await c.quit();
  return { rcpt: r.rcpts[0], end: r.end, ms };
}

test('a listed client: 554 5.7.1 at RCPT naming the list (the heaviest that listed it), rule dnsbl, counted', async () => {
  const r = await rcptFrom(LISTED);
  assert.equal(r.rcpt.code, 554);
  assert.equal(r.rcpt.text, `5.7.1 Service unavailable; client [${LISTED}] blocked using bl.example`);
  const e = t.events().findLast((x) => x.rule === 'dnsbl')!;
  assert.equal(e.stage, 'rcpt');
  assert.equal(e.verdict, 'reject');
  assert.equal(e.client, LISTED);
  assert.match(e.reason ?? '', /listed by bl\.example \(127\.0\.0\.2; weight 2\), weak\.example \(127\.0\.0\.4; weight 0\.5\): score 2\.5/);
  assert.ok((t.gw.status().counters.dnsbl ?? 0) >= 1);
});

test('an unlisted client is accepted; the list that times out (slow.example, weight 5) does not block, and costs at most dns.timeoutMs', async () => {
  const r = await rcptFrom(CLEAN);
  assert.equal(r.rcpt.code, 250);
  assert.equal(r.end?.code, 250);
  assert.ok(r.ms < 1500 + 3000, `${r.ms} ms`);
  assert.ok(
    dns.queries.some((q) => q.name === `${rev(CLEAN)}.slow.example`),
    'the slow list was asked',
  );
});

test('an error code (127.255.255.254, "query refused") is not a listing', async () => {
  const r = await rcptFrom(REFUSED_CODE);
  assert.equal(r.rcpt.code, 250);
});

test('DNSWL (allow zones) and allowAddresses exempt a listed client', async () => {
  assert.equal((await rcptFrom(WHITELISTED)).rcpt.code, 250);
  const before = dns.queries.length;
  assert.equal((await rcptFrom(TRUSTED)).rcpt.code, 250);
  assert.ok(!dns.queries.slice(before).some((q) => q.name.startsWith(rev(TRUSTED))), 'an allowed address is not looked up');
});

test('an internal client is never looked up', async () => {
  t.gw.live.update((raw) => {
    raw.internalNetworks = [{ cidr: `${LISTED}/32`, label: 'pretend LAN', enabled: true }];
  });
  try {
    assert.equal((await rcptFrom(LISTED)).rcpt.code, 250);
  } finally {
    t.gw.live.update((raw) => {
      raw.internalNetworks = [];
    });
  }
});
