// The pieces of the setup check that need no network: address classes, reverse names,
// the internal-networks check with detected bridges, the TLS certificate check, the
// relay attempts, the command's argument handling.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import { validateConfig } from '../../core/config/load.ts';
import { DnsClient } from '../../core/dns/client.ts';
import { coversPublicSpace, interfacePublicAddresses, isPublicAddress, reverseName } from '../../core/doctor/addresses.ts';
import { networksCheck } from '../../core/doctor/networks-check.ts';
import { nameMatches, tlsCheck } from '../../core/doctor/tls-check.ts';
import { relayAttempts } from '../../core/doctor/relay-self-test.ts';
import { hostnameCheck, publicAddresses } from '../../core/doctor/dns-checks.ts';
import { combine, worst, type DoctorContext } from '../../core/doctor/common.ts';
import { doctorCommand, formatReport } from '../../core/doctor-cli.ts';
import { passed } from '../../core/doctor/checks.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-doctor-unit-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// A DNS client pointed at a port nobody answers on: these checks must not need it.
const noDns = new DnsClient({ servers: ['127.0.0.1:9'], timeoutMs: 100 });

function ctx(raw: Record<string, unknown>, extra: Partial<DoctorContext> = {}): DoctorContext {
  return { config: validateConfig({ hostname: 'mx.doe-family.com', domains: ['doe-family.com'], ...raw }), dataDir: tmp, dns: noDns, interfaces: {}, ...extra };
}

const iface = (address: string, cidr: string, family: 'IPv4' | 'IPv6' = 'IPv4'): os.NetworkInterfaceInfo =>
  ({ address, cidr, family, netmask: '', mac: '00:00:00:00:00:00', internal: false, scopeid: family === 'IPv6' ? 0 : undefined }) as os.NetworkInterfaceInfo;

describe('addresses', () => {
  test('public or not', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '2001:4860:4860::8888', '::ffff:8.8.8.8', '172.32.0.1']) assert.equal(isPublicAddress(ip), true, ip);
    for (const ip of [
      '10.1.2.3',
      '172.16.5.4',
      '192.168.1.10',
      '100.64.3.2',
      '169.254.1.1',
      '127.0.0.1',
      'fe80::1',
      'fd12::1',
      '::1',
      '203.0.113.5',
      'nonsense',
    ]) {
      assert.equal(isPublicAddress(ip), false, ip);
    }
  });

  test('a trusted network covering public space', () => {
    for (const c of ['0.0.0.0/0', '::/0', '8.8.8.0/24', '10.0.0.0/7', '172.0.0.0/11', '0.0.0.0/1', '2000::/3', '::ffff:0:0/96'])
      assert.equal(coversPublicSpace(c), true, c);
    for (const c of ['10.0.0.0/8', '192.168.1.0/24', '172.16.0.0/12', '100.64.0.0/10', '127.0.0.0/8', 'fd00::/8', 'fe80::/64', '::1/128', '192.168.1.7']) {
      assert.equal(coversPublicSpace(c), false, c);
    }
  });

  test('reverse names', () => {
    assert.equal(reverseName('203.0.113.5'), '5.113.0.203.in-addr.arpa');
    assert.equal(reverseName('::ffff:203.0.113.5'), '5.113.0.203.in-addr.arpa');
    assert.equal(reverseName('2001:db8::1'), `1.${'0.'.repeat(23)}8.b.d.0.1.0.0.2.ip6.arpa`);
    assert.equal(reverseName('2001:db8:1:2:3:4:5:6'), '6.0.0.0.5.0.0.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  });

  test("this host's public addresses: from the config, else the interfaces, never a guess", () => {
    const ifaces = {
      eth0: [iface('192.168.1.5', '192.168.1.5/24'), iface('2a01:4f8::5', '2a01:4f8::5/64', 'IPv6'), iface('fe80::5', 'fe80::5/64', 'IPv6')],
      wan: [iface('81.2.69.160', '81.2.69.160/24')],
    };
    assert.deepEqual(interfacePublicAddresses(ifaces), ['81.2.69.160', '2a01:4f8::5']);
    assert.deepEqual(publicAddresses(ctx({}, { interfaces: ifaces })), { addresses: ['81.2.69.160', '2a01:4f8::5'], source: 'interfaces' });
    assert.deepEqual(publicAddresses(ctx({ publicAddress: '203.0.113.5' }, { interfaces: ifaces })), { addresses: ['203.0.113.5'], source: 'config' });
    assert.deepEqual(publicAddresses(ctx({}, { interfaces: { eth0: [iface('192.168.1.5', '192.168.1.5/24')] } })), { addresses: [], source: 'none' });
  });
});

describe('internal networks', () => {
  const detected = {
    eth0: [iface('192.168.1.5', '192.168.1.5/24')],
    docker0: [iface('172.17.0.1', '172.17.0.1/16')],
    tailscale0: [iface('100.101.102.103', '100.64.0.0/10')],
  };

  test('the defaults are ok', () => {
    const c = networksCheck(ctx({}, { interfaces: detected }));
    assert.equal(c.status, 'ok');
    assert.match(c.detail, /127\.0\.0\.0\/8 \("This computer"\) trusted/);
  });

  test('a trusted Docker bridge or VPN is a warning naming it; a detected, untouched one is not', () => {
    const c = networksCheck(
      ctx(
        {
          internalNetworks: [
            { cidr: '192.168.1.0/24', label: 'LAN', enabled: true },
            { cidr: '172.17.0.0/16', label: 'docker', enabled: true },
            { cidr: '100.64.0.0/10', label: 'tailnet', enabled: true },
          ],
        },
        { interfaces: detected },
      ),
    );
    assert.equal(c.status, 'warn');
    assert.match(c.detail, /172\.17\.0\.0\/16 \("docker"\) is a Docker\/VM bridge and is trusted: anyone on that bridge may relay/);
    assert.match(c.detail, /100\.64\.0\.0\/10 \("tailnet"\) is a VPN and is trusted: anyone on that VPN may relay/);
    assert.match(c.fix, /Turn off 172\.17\.0\.0\/16 in Internal networks unless/);
    assert.equal(networksCheck(ctx({}, { interfaces: detected })).status, 'ok', 'detected networks are offered disabled');
  });

  test('a public range outranks a bridge', () => {
    // (0.0.0.0/0 itself can no longer be configured: the config refuses it.)
    const c = networksCheck(
      ctx(
        {
          internalNetworks: [
            { cidr: '172.17.0.0/16', enabled: true },
            { cidr: '8.8.8.0/24', enabled: true },
          ],
        },
        { interfaces: detected },
      ),
    );
    assert.equal(c.status, 'fail');
    assert.equal(c.fix, 'Turn off 8.8.8.0/24 in Internal networks (trust only your own LAN, e.g. 192.168.1.0/24).');
  });
});

describe('TLS certificate', () => {
  async function cert(o: { names: string[]; from?: number; days?: number; ca?: { key: string; cert: string } }) {
    const now = Date.now();
    return generate([{ name: 'commonName', value: o.names[0] }], {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
      notBeforeDate: new Date(now + (o.from ?? -1) * 86_400_000),
      notAfterDate: new Date(now + (o.days ?? 90) * 86_400_000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'subjectAltName', altNames: o.names.map((value) => ({ type: 2, value })) },
      ],
      ...(o.ca ? { ca: o.ca } : {}),
    });
  }
  let n = 0;
  function files(pems: { cert: string; private: string }, key = pems.private) {
    const certFile = path.join(tmp, `c${++n}.pem`);
    const keyFile = path.join(tmp, `k${n}.pem`);
    fs.writeFileSync(certFile, pems.cert);
    fs.writeFileSync(keyFile, key);
    return { certFile, keyFile };
  }

  test('wildcards cover one label', () => {
    assert.equal(nameMatches('*.doe-family.com', 'mx.doe-family.com'), true);
    assert.equal(nameMatches('*.doe-family.com', 'doe-family.com'), false);
    assert.equal(nameMatches('*.doe-family.com', 'a.mx.doe-family.com'), false);
    assert.equal(nameMatches('MX.Doe-Family.com', 'mx.doe-family.com.'), true);
  });

  test("the generated certificate: a warning with the Let's Encrypt fix", async () => {
    const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
    const c = await tlsCheck(ctx({}, { dataDir }));
    assert.equal(c.status, 'warn');
    assert.match(c.detail, /Postern's generated certificate is self-signed: senders that check certificates will not trust it/);
    assert.equal(
      c.fix,
      "Turn on “Get and renew the certificate automatically” under Settings → Certificate: Postern gets a free Let's Encrypt certificate for mx.doe-family.com and renews it.",
    );
    assert.ok(fs.existsSync(path.join(dataDir, 'tls', 'cert.pem')), 'the one Postern would serve');
  });

  test('issued by a trusted CA for the hostname (wildcard): ok; the CA unknown: a warning', async () => {
    const ca = await generate([{ name: 'commonName', value: 'Unit CA' }], {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', keyCertSign: true },
      ],
    });
    const leaf = await cert({ names: ['*.doe-family.com'], ca: { key: ca.private, cert: ca.cert } });
    const tls = files(leaf);
    const ok = await tlsCheck(ctx({ tls }, { trustedCAs: [ca.cert] }));
    assert.equal(ok.status, 'ok', ok.detail);
    assert.equal(ok.fix, '');
    const unknown = await tlsCheck(ctx({ tls }));
    assert.equal(unknown.status, 'warn');
    assert.match(unknown.detail, /issued by CN=Unit CA, which is not a known certificate authority/);
    const selfSigned = await tlsCheck(ctx({ tls: files(await cert({ names: ['mx.doe-family.com'] })) }, { trustedCAs: [ca.cert] }));
    assert.equal(selfSigned.status, 'warn');
    assert.match(selfSigned.detail, /^the certificate is self-signed/);
    assert.match(selfSigned.fix, /Let's Encrypt/);
  });

  test('another name: fail; expiring within 14 days: warn; expired: fail; wrong key: fail', async () => {
    const other = await tlsCheck(ctx({ tls: files(await cert({ names: ['www.doe-family.com'] })) }));
    assert.equal(other.status, 'fail');
    assert.match(other.detail, /the certificate is for www\.doe-family\.com, not for mx\.doe-family\.com/);

    const soon = await tlsCheck(ctx({ tls: files(await cert({ names: ['mx.doe-family.com'], days: 5 })) }));
    assert.equal(soon.status, 'warn');
    assert.match(soon.detail, /expires in 5 day\(s\)/);

    const expired = await tlsCheck(ctx({ tls: files(await cert({ names: ['mx.doe-family.com'], from: -30, days: -1 })) }));
    assert.equal(expired.status, 'fail');
    assert.match(expired.detail, /the certificate expired on/);

    const a = await cert({ names: ['mx.doe-family.com'] });
    const b = await cert({ names: ['mx.doe-family.com'] });
    const mismatch = await tlsCheck(ctx({ tls: files(a, b.private) }));
    assert.equal(mismatch.status, 'fail');
    assert.match(mismatch.detail, /is not the private key of/);

    const missing = await tlsCheck(ctx({ tls: { certFile: path.join(tmp, 'nope.pem'), keyFile: path.join(tmp, 'nope.key') } }));
    assert.equal(missing.status, 'fail');
    // A plain sentence naming the setting; Node's text (ENOENT …) goes to the log only.
    assert.match(missing.detail, /nope\.pem and .*nope\.key cannot be used: Postern could not read them as a certificate and its private key/);
    assert.doesNotMatch(missing.detail, /ENOENT|no such file/);
    assert.match(missing.fix, /^Under Settings → Certificate files, choose readable PEM files/);
  });
});

describe('small parts', () => {
  test("the relay attempts: a foreign recipient, nmap's 16, a forged local sender", () => {
    const a = relayAttempts('doe-family.com');
    assert.equal(a.length, 18);
    assert.deepEqual(a[0], { from: 'someone@example.org', to: 'someone-else@example.net', spoof: false });
    assert.deepEqual(a.at(-1), { from: 'postmaster@doe-family.com', to: 'someone-else@example.net', spoof: true });
    assert.equal(a.filter((x) => x.spoof).length, 2, "nmap's antispam@DOMAIN and the forged postmaster");
    // Without family domains the host name stands in: nobody's sender to forge, only relaying counts.
    assert.equal(relayAttempts('mx.doe-family.com', false).filter((x) => x.spoof).length, 0);
  });

  test('hostname "localhost" fails without asking DNS', async () => {
    const c = await hostnameCheck(ctx({ hostname: 'localhost' }), { addresses: [], source: 'none' });
    assert.equal(c.status, 'fail');
    assert.match(
      c.fix,
      /^Type this server's public name under Settings → This server → Server name, for example mx\.doe-family\.com, and publish an A record for it\.$/,
    );
  });

  test('combining findings: worst status, every detail, one fix gathering the records', () => {
    assert.equal(worst(['ok', 'warn', 'ok']), 'warn');
    assert.equal(worst(['warn', 'fail']), 'fail');
    const c = combine('mx', [
      { status: 'fail', detail: 'a has no MX record', record: 'a. MX 10 mx.a.' },
      { status: 'ok', detail: 'b fine' },
      { status: 'fail', detail: 'c has no MX record', record: 'c. MX 10 mx.a.' },
    ]);
    assert.equal(c.status, 'fail');
    assert.equal(c.detail, 'a has no MX record; b fine; c has no MX record');
    assert.equal(c.fix, 'Publish these records at your DNS provider: a. MX 10 mx.a. ; c. MX 10 mx.a.');
    assert.equal(combine('mx', [{ status: 'ok', detail: 'fine', fix: 'never shown' }]).fix, '');
  });

  test('human output and the exit rule', () => {
    const report = {
      ranAt: '',
      checks: [combine('mx', [{ status: 'ok', detail: 'd: MX 10 mx.d' }]), combine('dmarc', [{ status: 'warn', detail: 'no DMARC', record: 'R' }])],
    };
    assert.deepEqual(formatReport(report, 'mx.d'), [
      'Postern setup check for mx.d',
      '',
      '✓ MX records: d: MX 10 mx.d',
      '! DMARC record: no DMARC',
      '    fix: Publish this record at your DNS provider: R',
      '',
      'Nothing broken; 1 warning(s).',
    ]);
    assert.equal(passed(report), true);
    assert.equal(passed({ checks: [combine('mx', [{ status: 'fail', detail: 'x' }])] }), false);
  });

  test('bad arguments are user errors (exit 2), before anything runs', async () => {
    await assert.rejects(doctorCommand(['extra']), (e: Error & { code?: string }) => e.code === 'EUSER' && /takes no arguments/.test(e.message));
    await assert.rejects(doctorCommand(['--colour']), (e: Error & { code?: string }) => e.code === 'EUSER' && /colour/.test(e.message));
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, '{"hostname": 7}');
    await assert.rejects(doctorCommand(['--config', bad]), (e: Error & { code?: string }) => e.code === 'EUSER' && /host name/.test(e.message));
  });
});
