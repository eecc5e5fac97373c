// Built-in ACME end to end (docs/design.md §2.5) against Debian's pebble on loopback: the
// test DNS server answers the hostname with 127.0.0.1, pebble validates HTTP-01 against
// Postern's own responder (and DNS-01 against a TXT record published by "hand"), the
// certificate is served on STARTTLS (587) and 465 and checked with openssl s_client
// against pebble's issuing root; a short-lived certificate is renewed by the timer; with
// pebble stopped the renewal fails, is reported, and the old certificate keeps serving.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { requireTools } from '../support/tools.ts';
import { startDnsServer, type DnsServer } from '../support/dns-server.ts';
import { freePort } from '../support/smtp-sink.ts';
import { FAMILY, startGateway, tempDir, type TestGateway } from '../support/gateway.ts';
import { sClient, startPebble, type Pebble } from '../support/pebble.ts';
import { waitFor } from '../support/wait.ts';
import { doctorCommand } from '../../core/doctor-cli.ts';
import type { GatewayEvent } from '../../core/events/types.ts';

const HOST = 'mx.doe-family.com';
// Short-lived: renewal is due at 1/3 of the lifetime left (30 s after issue), leaving 15 s
// of validity in which the old certificate must still be served after a failed renewal.
const LIFETIME_MS = 45_000;

let dns: DnsServer;
let pebble: Pebble;
let dir: string;
let httpPort: number;
let rootFile: string;

before(async () => {
  requireTools('pebble', 'openssl');
  dir = tempDir('postern-acme-');
  dns = await startDnsServer({ [HOST]: { A: ['127.0.0.1'] } });
  httpPort = await freePort();
  pebble = await startPebble(dir, { dnsServer: dns.address, httpPort });
});

after(async () => {
  await pebble?.stop();
  await dns?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function acmeConfig(challenge: 'http-01' | 'dns-01') {
  return {
    ...FAMILY,
    listeners: [
      { port: 0, host: '127.0.0.1', mode: 'submission' },
      { port: 0, host: '127.0.0.1', mode: 'submissions' },
    ],
    dns: { servers: [dns.address], timeoutMs: 1000 },
    acme: { enabled: true, directory: pebble.directory, email: 'john.doe@doe-family.com', challenge, httpPort, caFile: pebble.caFile },
  };
}

const acmeEvents = (t: TestGateway, verdict: GatewayEvent['verdict']) => t.events().filter((e) => e.rule === 'acme' && e.verdict === verdict);

async function served(t: TestGateway): Promise<{ starttls: X509Certificate; implicit: X509Certificate }> {
  const a = await sClient(t.port('submission'), rootFile, HOST, true);
  assert.ok(a.ok, `STARTTLS on 587 verifies against pebble's root:\n${a.output}`);
  const b = await sClient(t.port('submissions'), rootFile, HOST, false);
  assert.ok(b.ok, `TLS on 465 verifies against pebble's root:\n${b.output}`);
  return { starttls: new X509Certificate(a.leaf), implicit: new X509Certificate(b.leaf) };
}

test('DNS-01 by hand: the TXT record is shown in the status, Postern waits until its DNS client sees it, pebble validates it', async () => {
  const t = await startGateway(acmeConfig('dns-01'), { acme: { pollMinMs: 200, httpRetries: 0, retryMs: [60_000], dnsPollMs: 100, maxTimerMs: 500 } });
  try {
    await waitFor(() => !!t.gw.status().tls?.acme?.dnsRecord, 30_000, 'the TXT record to publish', 50);
    const s = t.gw.status().tls!.acme!;
    assert.equal(s.state, 'waiting-dns');
    assert.equal(s.dnsRecord!.name, `_acme-challenge.${HOST}`);
    assert.ok(
      t.events().some((e) => e.rule === 'acme' && e.text.includes(s.dnsRecord!.value)),
      'the record is in the live log',
    );
    // Not published yet: Postern keeps waiting (and says so to postern doctor).
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(acmeEvents(t, 'accept').length, 0);
    const lines: string[] = [];
    const cfgFile = path.join(dir, 'config-dns.json');
    fs.writeFileSync(cfgFile, JSON.stringify(acmeConfig('dns-01')));
    await doctorCommand(['--config', cfgFile, '--data-dir', t.dataDir, '--json'], { out: (l) => lines.push(l) });
    const tls = (JSON.parse(lines.join('\n')) as { checks: { id: string; status: string; fix: string }[] }).checks.find((c) => c.id === 'tls')!;
    assert.equal(tls.status, 'fail');
    assert.ok(tls.fix.includes(s.dnsRecord!.value), tls.fix);

    const txtQueries = () => dns.queries.filter((q) => q.type === 'TXT' && q.name.toLowerCase() === s.dnsRecord!.name).length;
    const before = txtQueries();
    assert.ok(before >= 1, 'Postern looked for the record');
    dns.setZone({ [HOST]: { A: ['127.0.0.1'] }, [s.dnsRecord!.name]: { TXT: [s.dnsRecord!.value], ttl: 1 } });
    await waitFor(() => acmeEvents(t, 'accept').length === 1 || acmeEvents(t, 'reject').length > 0, 30_000, 'the certificate', 50);
    assert.deepEqual(
      acmeEvents(t, 'reject').map((e) => e.text),
      [],
    );
    // Postern's last look (which found it) plus pebble's own validation query, and no HTTP-01 attempt.
    assert.ok(txtQueries() >= before + 2, `TXT queries: ${before} before publishing, ${txtQueries()} after`);
    assert.doesNotMatch(pebble.log(), /validate w\/ HTTP/);
    assert.equal(t.gw.status().tls!.acme!.dnsRecord, null);
    assert.match(t.gw.status().tls!.acme!.issuer ?? '', /Pebble/);
    assert.equal(t.gw.status().tls!.selfSigned, false);
  } finally {
    await t.stop();
    dns.setZone({ [HOST]: { A: ['127.0.0.1'] } });
  }
});

test("HTTP-01: issued through Postern's responder, served on 587 and 465, renewed by the timer, a failed renewal reported while the old certificate serves", async () => {
  const t = await startGateway(acmeConfig('http-01'), {
    acme: { pollMinMs: 200, httpRetries: 0, retryMs: [2_000], validityMs: LIFETIME_MS, maxTimerMs: 500 },
  });
  try {
    await waitFor(() => acmeEvents(t, 'accept').length === 1 || acmeEvents(t, 'reject').length > 0, 60_000, 'the first certificate', 50);
    assert.deepEqual(
      acmeEvents(t, 'reject').map((e) => e.text),
      [],
      pebble.log(),
    );
    rootFile = path.join(dir, 'pebble-root.pem');
    fs.writeFileSync(rootFile, await pebble.root());

    // Stored in <data>/acme/, keys 0600.
    const acmeDir = path.join(t.dataDir, 'acme');
    for (const f of ['account-key.pem', 'key.pem']) assert.equal(fs.statSync(path.join(acmeDir, f)).mode & 0o777, 0o600, f);
    const first = await served(t);
    assert.equal(first.starttls.fingerprint256, first.implicit.fingerprint256);
    assert.match(first.starttls.issuer, /Pebble/);
    assert.ok(first.starttls.subjectAltName?.includes(`DNS:${HOST}`));
    // pebble really asked Postern's responder, and the responder is closed again.
    assert.ok(pebble.log().includes(`validate w/ HTTP: http://${HOST}:${httpPort}/.well-known/acme-challenge/`), pebble.log());
    assert.match(pebble.log(), /set VALID by completed challenge/);
    await assert.rejects(fetch(`http://127.0.0.1:${httpPort}/`), 'port 80 (here httpPort) is open only while issuing');

    let s = t.gw.status().tls!;
    assert.equal(s.selfSigned, false);
    assert.ok(s.acme, 'ACME state in the gateway status');
    assert.match(s.acme.issuer ?? '', /Pebble/);
    assert.equal(s.acme.lastError, null);
    const notAfter = new Date(s.acme.notAfter!).getTime();
    const lifetime = notAfter - new Date(first.starttls.validFrom).getTime();
    assert.ok(lifetime <= LIFETIME_MS + 2000, `a short-lived certificate (${lifetime} ms)`);
    // Renewal at a third of the lifetime left.
    assert.ok(Math.abs(new Date(s.acme.nextRenewal!).getTime() - (notAfter - lifetime / 3)) < 1000, `next renewal ${s.acme.nextRenewal}`);

    // Renewed by the timer, served without a restart.
    await waitFor(() => acmeEvents(t, 'accept').length === 2, LIFETIME_MS + 30_000, 'the renewal', 100);
    const second = await served(t);
    assert.notEqual(second.starttls.serialNumber, first.starttls.serialNumber, 'a new certificate on 587');
    assert.notEqual(second.implicit.serialNumber, first.implicit.serialNumber, 'a new certificate on 465');
    assert.ok(
      t.events().some((e) => e.rule === 'tls' && /reloaded/.test(e.text)),
      'through the TLS reload path',
    );

    // The CA goes away: the next renewal fails, is reported, and the current certificate keeps serving.
    await pebble.stop();
    await waitFor(() => acmeEvents(t, 'reject').length >= 1, LIFETIME_MS, 'the failed renewal', 100);
    const failure = acmeEvents(t, 'reject')[0];
    assert.equal(failure.reason, 'renewal failed');
    assert.match(failure.text, /could not be reached/);
    assert.match(failure.text, /keeps serving/);
    s = t.gw.status().tls!;
    assert.equal(s.acme!.state, 'failed');
    assert.match(s.acme!.lastError ?? '', /could not be reached/);
    assert.ok(s.acme!.failures >= 1);
    const still = await served(t);
    assert.equal(still.starttls.serialNumber, second.starttls.serialNumber, 'the old certificate still on 587');
    assert.equal(still.implicit.serialNumber, second.implicit.serialNumber, 'the old certificate still on 465');

    // postern doctor (another process's view: <data>/acme/state.json) names the failure —
    // once the gateway has written that file (it is written after the event).
    const stateFile = path.join(t.dataDir, 'acme', 'state.json');
    await waitFor(() => /could not be reached/.test(fs.existsSync(stateFile) ? fs.readFileSync(stateFile, 'utf8') : ''), 10_000, 'state.json with the failure');
    const lines: string[] = [];
    const cfgFile = path.join(dir, 'config.json');
    fs.writeFileSync(cfgFile, JSON.stringify(acmeConfig('http-01')));
    await doctorCommand(
      ['--config', cfgFile, '--data-dir', t.dataDir, '--json'],
      { out: (l) => lines.push(l) },
      { trustedCAs: [fs.readFileSync(rootFile, 'utf8')] },
    );
    const tls = (JSON.parse(lines.join('\n')) as { checks: { id: string; status: string; detail: string }[] }).checks.find((c) => c.id === 'tls')!;
    assert.equal(tls.status, 'fail');
    assert.match(tls.detail, /renewal failed/);
    assert.match(tls.detail, /Pebble/);
  } finally {
    await t.stop();
  }
});
