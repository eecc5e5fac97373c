// The setup check (docs/design.md §5, §8.1 `postern doctor`) against real parts on loopback:
// our DNS server with a complete zone for doe-family.com (then each record missing or
// wrong), a running gateway, smtp-sink and an smtp-server smarthost, the relay
// self-test over SMTP with a PROXY header, and `postern doctor` as a child process.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { generate } from 'selfsigned';
import { SMTPServer } from 'smtp-server';
import type { DoctorCheck, DoctorReport } from '../../core/api.ts';
import { MemoryConfigStore } from '../../core/config/store.ts';
import { Gateway } from '../../core/gateway.ts';
import { DkimKeys, dkimRecord, dkimZoneLine, type DkimKey } from '../../core/dkim/keys.ts';
import { doctorForGateway, runDoctor, CHECK_IDS } from '../../core/doctor/checks.ts';
import { dnsClientFor } from '../../core/dns/client.ts';
import { validateConfig } from '../../core/config/load.ts';
import { FAMILY, startGateway, tempDir, type TestGateway } from '../support/gateway.ts';
import { startDnsServer, type DnsServer, type Zone } from '../support/dns-server.ts';
import { startSink, freePort, type Sink } from '../support/smtp-sink.ts';
import { POSTERN, ROOT } from '../support/serve-process.ts';

const PUBLIC = '203.0.113.5';
const HOST = 'mx.doe-family.com';
const SPF_LINE = 'doe-family.com.          TXT "v=spf1 +mx +ip4:203.0.113.5 -all"';
const MX_LINE = 'doe-family.com. MX 10 mx.doe-family.com.';
const DMARC_LINE = '_dmarc.doe-family.com. TXT "v=DMARC1; p=none; rua=mailto:postmaster@doe-family.com"';

/** A TXT record's value as strings of at most 255 bytes. */
function split255(value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 255) out.push(value.slice(i, i + 255));
  return out;
}

function completeZone(key: DkimKey): Zone {
  return {
    'doe-family.com': { MX: [{ priority: 10, exchange: HOST }], TXT: ['v=spf1 +mx +ip4:203.0.113.5 -all', 'google-site-verification=abc'] },
    [HOST]: { A: [PUBLIC] },
    'postern._domainkey.doe-family.com': { TXT: [split255(dkimRecord(key))] },
    '_dmarc.doe-family.com': { TXT: ['v=DMARC1; p=none; rua=mailto:postmaster@doe-family.com'] },
    '5.113.0.203.in-addr.arpa': { PTR: [HOST] },
  };
}

/** A tiny certificate authority and a certificate it issued for `names`. */
async function issue(names: string[], days = 90): Promise<{ ca: string; cert: string; key: string }> {
  const now = Date.now();
  const ca = await generate([{ name: 'commonName', value: 'Postern Test CA' }], {
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
  const leaf = await generate([{ name: 'commonName', value: names[0] }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + days * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
    ],
    ca: { key: ca.private, cert: ca.cert },
  });
  return { ca: ca.cert, cert: leaf.cert, key: leaf.private };
}

const byId = (r: Pick<DoctorReport, 'checks'>, id: string): DoctorCheck => {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `no check ${id}`);
  return c;
};
const show = (r: Pick<DoctorReport, 'checks'>) => r.checks.map((c) => `${c.id}: ${c.status} — ${c.detail}${c.fix ? ` [fix: ${c.fix}]` : ''}`).join('\n');

let dns: DnsServer;
let sink: Sink;
let t: TestGateway;
let key: DkimKey;
let ca: string;
let files: { certFile: string; keyFile: string };
let baseConfig: Record<string, unknown>;
const dir = tempDir('postern-doctor-');

before(async () => {
  dns = await startDnsServer({});
  sink = await startSink();
  const pems = await issue([HOST]);
  ca = pems.ca;
  files = { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') };
  fs.writeFileSync(files.certFile, pems.cert);
  fs.writeFileSync(files.keyFile, pems.key);
  baseConfig = {
    ...FAMILY,
    publicAddress: PUBLIC,
    tls: files,
    dns: { servers: [dns.address], timeoutMs: 1500 },
    outbound: { mode: 'smarthost', smarthost: { host: '127.0.0.1', port: sink.port, requireTLS: false } },
  };
  t = await startGateway(baseConfig);
  key = new DkimKeys(t.dataDir).get('doe-family.com', 'postern');
  dns.setZone(completeZone(key));
});

after(async () => {
  await t.stop();
  await sink.stop();
  await dns.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The check as the dashboard runs it: the running gateway, our test CA trusted, no interfaces of this host. */
const doctor = (gw: Gateway = t.gw) => doctorForGateway(gw, { trustedCAs: [ca], interfaces: {} });

async function withZone<T>(change: (z: Zone) => void, fn: () => Promise<T>): Promise<T> {
  const z = completeZone(key);
  change(z);
  dns.setZone(z);
  try {
    return await fn();
  } finally {
    dns.setZone(completeZone(key));
  }
}

describe('a complete, correct setup', () => {
  test('every check is ok, in the documented order (docs/design.md §5)', async () => {
    const r = await doctor();
    assert.deepEqual(
      r.checks.map((c) => c.id),
      ['listeners', 'hostname', 'mx', 'spf', 'dkim', 'dmarc', 'ptr', 'tls', 'smarthost', 'networks', 'disk', 'relay-self-test'],
    );
    assert.deepEqual(
      CHECK_IDS,
      r.checks.map((c) => c.id),
    );
    for (const c of r.checks) {
      assert.equal(c.status, 'ok', show(r));
      assert.equal(c.fix, '');
      assert.ok(c.title && c.detail, c.id);
    }
    assert.match(byId(r, 'listeners').detail, /mx listening on 127\.0\.0\.1:\d+/);
    assert.match(byId(r, 'hostname').detail, /resolves to 203\.0\.113\.5, this server's public address/);
    assert.match(byId(r, 'spf').detail, /covers this server \(203\.0\.113\.5\)/);
    assert.match(byId(r, 'ptr').detail, /203\.0\.113\.5 → mx\.doe-family\.com → 203\.0\.113\.5/);
    assert.match(byId(r, 'tls').detail, /valid for mx\.doe-family\.com .*\(trusted\)/);
    assert.match(byId(r, 'smarthost').detail, /127\.0\.0\.1:\d+ answered/);
    assert.match(byId(r, 'relay-self-test').detail, /all 18 relay attempts from the Internet address 192\.0\.2\.77 were refused/);
    assert.ok(!Number.isNaN(Date.parse(r.ranAt)));
  });

  test('the self-test leaves the live log and the counters alone', async () => {
    const before = t.gw.status().counters;
    const events = t.events().length;
    const r = await doctor();
    assert.equal(byId(r, 'relay-self-test').status, 'ok');
    assert.deepEqual(t.gw.status().counters, before);
    assert.equal(t.events().length, events);
  });
});

describe('each missing or wrong record: the right status and the exact record to publish', () => {
  test('no MX', async () => {
    const c = byId(await withZone((z) => delete z['doe-family.com'].MX, doctor), 'mx');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /doe-family\.com has no MX record/);
    assert.ok(c.fix.includes(MX_LINE), c.fix);
  });

  test('MX pointing at another host', async () => {
    const c = byId(await withZone((z) => (z['doe-family.com'].MX = [{ priority: 10, exchange: 'mail.elsewhere.example' }]), doctor), 'mx');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /points at mail\.elsewhere\.example, not at mx\.doe-family\.com/);
    assert.ok(c.fix.includes(MX_LINE), c.fix);
  });

  test('SPF missing', async () => {
    const c = byId(await withZone((z) => (z['doe-family.com'].TXT = ['google-site-verification=abc']), doctor), 'spf');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /publishes no SPF record/);
    assert.ok(c.fix.includes(SPF_LINE), c.fix);
  });

  test('SPF not covering this server', async () => {
    const c = byId(await withZone((z) => (z['doe-family.com'].TXT = ['v=spf1 +ip4:198.51.100.1 -all']), doctor), 'spf');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /does not cover this server \(203\.0\.113\.5: fail\)/);
    assert.ok(c.fix.includes(SPF_LINE), c.fix);
  });

  test('SPF invalid (two records)', async () => {
    const c = byId(await withZone((z) => (z['doe-family.com'].TXT = ['v=spf1 +mx -all', 'v=spf1 +ip4:203.0.113.5 -all']), doctor), 'spf');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /not valid: 2 SPF records are published/);
    assert.ok(c.fix.includes(SPF_LINE), c.fix);
  });

  test('DKIM stale (the published p= is another key) and DKIM missing', async () => {
    const other = new DkimKeys(tempDir()).get('doe-family.com', 'postern');
    assert.notEqual(other.publicKey, key.publicKey);
    const expected = dkimZoneLine(key);
    assert.ok(expected.includes(key.publicKey.slice(0, 200)));
    const stale = byId(await withZone((z) => (z['postern._domainkey.doe-family.com'].TXT = [split255(dkimRecord(other))]), doctor), 'dkim');
    assert.equal(stale.status, 'fail');
    assert.match(stale.detail, /is not the key Postern signs with/);
    assert.ok(stale.fix.includes(expected), stale.fix);
    const missing = byId(await withZone((z) => delete z['postern._domainkey.doe-family.com'], doctor), 'dkim');
    assert.equal(missing.status, 'fail');
    assert.match(missing.detail, /no DKIM record at postern\._domainkey\.doe-family\.com/);
    assert.ok(missing.fix.includes(expected), missing.fix);
  });

  test('no DMARC: a warning with a suggested record', async () => {
    const c = byId(await withZone((z) => delete z['_dmarc.doe-family.com'], doctor), 'dmarc');
    assert.equal(c.status, 'warn');
    assert.match(c.detail, /publishes no DMARC record/);
    assert.ok(c.fix.includes(DMARC_LINE), c.fix);
  });

  test('PTR naming another host: a warning through a smarthost, a failure with direct delivery', async () => {
    const mismatch = (z: Zone) => (z['5.113.0.203.in-addr.arpa'].PTR = ['host-203-0-113-5.isp.example']);
    const viaSmarthost = byId(await withZone(mismatch, doctor), 'ptr');
    assert.equal(viaSmarthost.status, 'warn');
    assert.match(viaSmarthost.detail, /reverse DNS of 203\.0\.113\.5 is host-203-0-113-5\.isp\.example, not mx\.doe-family\.com/);
    assert.ok(viaSmarthost.fix.includes('5.113.0.203.in-addr.arpa. PTR mx.doe-family.com.'), viaSmarthost.fix);

    const g = await startGateway({ ...baseConfig, outbound: { mode: 'mx' } }, { dataDir: tempDir() });
    try {
      const r = await withZone(mismatch, () => doctor(g.gw));
      const direct = byId(r, 'ptr');
      assert.equal(direct.status, 'fail');
      assert.ok(direct.fix.includes('5.113.0.203.in-addr.arpa. PTR mx.doe-family.com.'), direct.fix);
      assert.equal(byId(r, 'smarthost').status, 'warn');
      assert.match(byId(r, 'smarthost').detail, /outbound port 25/);
    } finally {
      await g.stop();
    }
  });

  test('the hostname resolving elsewhere fails hostname and the reverse-DNS round trip', async () => {
    const r = await withZone((z) => (z[HOST].A = ['198.51.100.9']), doctor);
    const h = byId(r, 'hostname');
    assert.equal(h.status, 'fail');
    assert.match(h.detail, /resolves to 198\.51\.100\.9, not to this server's public address 203\.0\.113\.5/);
    assert.ok(h.fix.includes('mx.doe-family.com. A 203.0.113.5'), h.fix);
    assert.match(byId(r, 'ptr').detail, /does not resolve back to 203\.0\.113\.5/);
  });

  test('no public address known: PTR says so instead of guessing', async () => {
    const g = await startGateway({ ...baseConfig, publicAddress: null }, { dataDir: tempDir() });
    try {
      const r = await doctor(g.gw);
      const ptr = byId(r, 'ptr');
      assert.equal(ptr.status, 'warn');
      assert.match(ptr.detail, /public address is not known/);
      assert.match(ptr.fix, /Settings → This server → Public IP address/);
    } finally {
      await g.stop();
    }
  });
});

describe('listeners', () => {
  test('a port in use: the running gateway reports fail with the reason', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const gw = new Gateway({ store: new MemoryConfigStore({ ...baseConfig, listeners: [{ port, host: '127.0.0.1', mode: 'mx' }] }), dataDir: tempDir() });
    try {
      await gw.start();
      const c = byId(await doctor(gw), 'listeners');
      assert.equal(c.status, 'fail');
      assert.match(c.detail, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use by another program`));
      assert.match(c.fix, /Stop the other mail server/);
    } finally {
      await gw.stop();
      blocker.close();
    }
  });

  test("standalone: Postern's greeting is ok, another program's is fail, a free port is a warning", async () => {
    const other = net.createServer((s) => s.end('220 other.example ESMTP Exim 4.96 Mon, 24 Nov 2025\r\n'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const otherPort = (other.address() as net.AddressInfo).port;
    const free = await freePort();
    const cfg = validateConfig({
      ...baseConfig,
      listeners: [
        { port: t.port(), host: '127.0.0.1', mode: 'mx' },
        { port: otherPort, host: '127.0.0.1', mode: 'submission' },
        { port: free, host: '127.0.0.1', mode: 'submissions' },
      ],
    });
    try {
      const r = await runDoctor({ config: cfg, dataDir: t.dataDir, dns: dnsClientFor(cfg), interfaces: {}, trustedCAs: [ca] });
      const c = byId(r, 'listeners');
      assert.equal(c.status, 'fail');
      assert.match(c.detail, new RegExp(`mx on 127\\.0\\.0\\.1:${t.port()}: Postern answers \\("220 mx\\.doe-family\\.com ESMTP Postern"\\)`));
      assert.match(c.detail, new RegExp(`port ${otherPort} is used by another program, which greets "220 other\\.example ESMTP Exim 4\\.96`));
      assert.match(c.detail, new RegExp(`submissions on 127\\.0\\.0\\.1:${free}: Postern is not running \\(the port is free\\)`));
      assert.match(c.fix, new RegExp(`Stop the other mail server on port ${otherPort}`));
      // Without a relay self-test hook the check says so rather than passing.
      assert.equal(byId(r, 'relay-self-test').status, 'warn');
    } finally {
      other.close();
    }
  });
});

describe('internal networks', () => {
  test('trusting a public /8 around the self-test’s address fails `networks` and the open-relay self-test, naming each accepted attempt', async () => {
    const g = await startGateway(
      { ...baseConfig, internalNetworks: [...FAMILY.internalNetworks, { cidr: '192.0.0.0/8', label: 'everyone', enabled: true }] },
      { dataDir: tempDir() },
    );
    try {
      const r = await doctor(g.gw);
      const n = byId(r, 'networks');
      assert.equal(n.status, 'fail');
      // (0.0.0.0/0 itself cannot be trusted any more: the config refuses it, docs/design.md §2.2.)
      assert.match(n.detail, /192\.0\.0\.0\/8 \("everyone"\) is trusted and covers public Internet addresses/);
      assert.match(n.fix, /Turn off 192\.0\.0\.0\/8/);
      const s = byId(r, 'relay-self-test');
      assert.equal(s.status, 'fail');
      assert.match(s.detail, /^OPEN RELAY: Postern accepted \d+ of 18 relay attempts from the Internet address 192\.0\.2\.77/);
      assert.match(s.detail, /MAIL FROM:<someone@example\.org> RCPT TO:<someone-else@example\.net> → 250/);
      assert.match(s.detail, /MAIL FROM:<postmaster@doe-family\.com> RCPT TO:<someone-else@example\.net> → 250/);
      assert.match(s.fix, /Turn off 192\.0\.0\.0\/8 in Internal networks/);
    } finally {
      await g.stop();
    }
  });

  test('a first start (no domains, no accounts yet): the self-test passes, nothing relays', async () => {
    const g = await startGateway({ hostname: HOST, listeners: FAMILY.listeners, dns: baseConfig.dns }, { dataDir: tempDir() });
    try {
      const s = byId(await doctor(g.gw), 'relay-self-test');
      assert.equal(s.status, 'ok', s.detail);
      assert.match(s.detail, /all 18 relay attempts .* were refused/);
    } finally {
      await g.stop();
    }
  });

  test('a public range fails (IPv4 and IPv6), a private LAN is ok', async () => {
    const g = await startGateway(
      {
        ...baseConfig,
        internalNetworks: [
          { cidr: '192.168.1.0/24', label: 'LAN', enabled: true },
          { cidr: '8.8.8.0/24', label: 'oops', enabled: true },
          { cidr: '2a00::/32', label: 'all v6', enabled: true },
          { cidr: '11.0.0.0/8', label: 'too wide', enabled: true },
          { cidr: '1.1.1.0/24', label: 'off', enabled: false },
        ],
      },
      { dataDir: tempDir() },
    );
    try {
      const n = byId(await doctor(g.gw), 'networks');
      assert.equal(n.status, 'fail');
      assert.match(n.detail, /192\.168\.1\.0\/24 \("LAN"\) trusted/);
      assert.match(n.detail, /8\.8\.8\.0\/24 \("oops"\) is trusted and covers public Internet addresses/);
      assert.match(n.detail, /2a00::\/32 \("all v6"\) is trusted and covers public Internet addresses/);
      assert.match(n.detail, /11\.0\.0\.0\/8 \("too wide"\) is trusted and covers public Internet addresses/);
      assert.doesNotMatch(n.detail, /1\.1\.1\.0/);
    } finally {
      await g.stop();
    }
  });
});

describe('smarthost', () => {
  async function smarthost(): Promise<{ port: number; close(): Promise<void> }> {
    const server = new SMTPServer({
      key: fs.readFileSync(files.keyFile),
      cert: fs.readFileSync(files.certFile),
      authMethods: ['PLAIN', 'LOGIN'],
      logger: false,
      onAuth(auth, _session, cb) {
        if (auth.username === 'family' && auth.password === 'app-password') return cb(null, { user: 'family' });
        cb(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
      },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { port: (server.server.address() as net.AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  async function smarthostResult(smarthostCfg: Record<string, unknown>, mode = 'smarthost'): Promise<DoctorCheck> {
    const cfg = validateConfig({ ...baseConfig, outbound: { mode, smarthost: smarthostCfg } });
    return byId(await runDoctor({ config: cfg, dataDir: t.dataDir, dns: dnsClientFor(cfg), listeners: [], interfaces: {} }), 'smarthost');
  }

  test('the credentials are accepted (after STARTTLS) → ok; wrong ones → fail with the reply', async () => {
    const s = await smarthost();
    try {
      const good = await smarthostResult({ host: '127.0.0.1', port: s.port, requireTLS: false, user: 'family', password: 'app-password' });
      assert.equal(good.status, 'ok', good.detail);
      assert.match(good.detail, /127\.0\.0\.1:\d+ answered, TLS; login as "family" accepted/);
      const bad = await smarthostResult({ host: '127.0.0.1', port: s.port, requireTLS: false, user: 'family', password: 'wrong' });
      assert.equal(bad.status, 'fail');
      assert.match(bad.detail, /refused the login as "family": 535/);
      assert.match(bad.fix, /^Check the login and password under Settings → Outgoing mail/);
    } finally {
      await s.close();
    }
  });

  test('nothing listening → fail with the reason; no host → "set a smarthost"', async () => {
    const c = await smarthostResult({ host: '127.0.0.1', port: await freePort(), requireTLS: false });
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /could not reach the smarthost 127\.0\.0\.1:\d+ .*ECONNREFUSED/);
    const none = await smarthostResult({ host: '' });
    assert.equal(none.status, 'fail');
    assert.equal(
      none.fix,
      'Your Internet provider probably blocks port 25: enter your mail provider’s sending server, login and password under Settings → Outgoing mail.',
    );
  });
});

describe('DNS unreachable', () => {
  test('every DNS check is a warning with the reason, and the run ends within its bound', async () => {
    const dead = await startDnsServer({});
    dead.setFault('drop');
    const g = await startGateway({ ...baseConfig, dns: { servers: [dead.address], timeoutMs: 500 } }, { dataDir: tempDir() });
    try {
      const t0 = Date.now();
      const r = await doctor(g.gw);
      const took = Date.now() - t0;
      assert.ok(took < 4000, `took ${took} ms`);
      for (const id of ['hostname', 'mx', 'spf', 'dkim', 'dmarc', 'ptr']) {
        const c = byId(r, id);
        assert.equal(c.status, 'warn', `${id}: ${c.detail}`);
        assert.match(c.detail, new RegExp(`DNS did not answer \\(.*no reply from ${dead.address.replace(/\./g, '\\.')} within 500 ms\\)`), id);
        assert.match(c.fix, /reach its DNS servers/);
      }
      for (const id of ['listeners', 'tls', 'smarthost', 'networks', 'relay-self-test']) assert.equal(byId(r, id).status, 'ok', show(r));
      assert.ok(dead.queries.length > 0, 'the dead server was asked');
    } finally {
      await g.stop();
      await dead.close();
    }
  });
});

describe('postern doctor (the binary)', () => {
  function postern(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [POSTERN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out, err });
      });
    });
  }

  function writeConfig(extra: Record<string, unknown> = {}): string {
    const file = path.join(tempDir(), 'config.json');
    fs.writeFileSync(file, JSON.stringify({ ...baseConfig, listeners: [{ port: t.port(), host: '127.0.0.1', mode: 'mx' }], ...extra }, null, 2));
    return file;
  }

  test('--json: one object with every check; exit 0 when nothing fails (the test CA is unknown to it: tls warns)', async () => {
    const r = await postern(['doctor', '--json', '--config', writeConfig(), '--data-dir', t.dataDir]);
    assert.equal(r.code, 0, r.out + r.err);
    const parsed = JSON.parse(r.out) as { checks: DoctorCheck[] };
    assert.deepEqual(Object.keys(parsed), ['checks']);
    assert.deepEqual(
      parsed.checks.map((c) => c.id),
      ['listeners', 'hostname', 'mx', 'spf', 'dkim', 'dmarc', 'ptr', 'tls', 'smarthost', 'networks', 'disk', 'relay-self-test'],
    );
    for (const c of parsed.checks) {
      assert.deepEqual(Object.keys(c), ['id', 'status', 'title', 'detail', 'fix']);
      assert.equal(c.status, c.id === 'tls' ? 'warn' : 'ok', `${c.id}: ${c.detail}`);
    }
    assert.match(byId(parsed, 'tls').detail, /issued by .*Postern Test CA.*not a known certificate authority/);
    assert.match(byId(parsed, 'listeners').detail, /Postern answers/);
    assert.match(byId(parsed, 'relay-self-test').detail, /all 18 relay attempts .* were refused/);
  });

  test('exit 1 when a check fails; the human output has a line per check', async () => {
    const file = writeConfig({ internalNetworks: [{ cidr: '192.0.0.0/8', label: 'everyone', enabled: true }] });
    const json = await postern(['doctor', '--json', '--config', file, '--data-dir', t.dataDir]);
    assert.equal(json.code, 1, json.err);
    const parsed = JSON.parse(json.out) as { checks: DoctorCheck[] };
    assert.equal(byId(parsed, 'networks').status, 'fail');
    assert.equal(byId(parsed, 'relay-self-test').status, 'fail');
    const human = await postern(['doctor', '--config', file, '--data-dir', t.dataDir]);
    assert.equal(human.code, 1);
    assert.match(human.out, /^✗ Internal networks: 192\.0\.0\.0\/8/m);
    assert.match(human.out, /^✗ Open-relay self-test: OPEN RELAY/m);
    assert.match(human.out, /^✓ MX records: doe-family\.com: MX 10 mx\.doe-family\.com$/m);
    assert.match(human.out, /^ {4}fix: Turn off 192\.0\.0\.0\/8 in Internal networks \(trust only your own LAN, e\.g\. 192\.168\.1\.0\/24\)\.$/m);
  });

  test('exit 2 for bad input: one line naming the problem', async () => {
    const file = path.join(tempDir(), 'bad.json');
    fs.writeFileSync(file, JSON.stringify({ hostname: 'mx.doe-family.com', internalNetworks: [{ cidr: '10.0.0.0/99' }] }));
    const bad = await postern(['doctor', '--json', '--config', file]);
    assert.equal(bad.code, 2);
    assert.equal(bad.err.trim().split('\n').length, 1, bad.err);
    assert.match(bad.err, /Internal network 1: "10\.0\.0\.0\/99": the prefix length must be 0–32/);
    assert.equal(bad.out, '');
    const flag = await postern(['doctor', '--frobnicate']);
    assert.equal(flag.code, 2);
    assert.match(flag.err, /frobnicate/);
  });
});
