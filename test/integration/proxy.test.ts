// Trusted proxies (docs/design.md §2.3): a VPS tunnel forwards port 25 with a PROXY v1 header.
// From a trusted proxy the header is required and names the client; from anyone
// else it is refused. And internal networks: detected ones are offered, disabled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type os from 'node:os';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { FAMILY, startGateway, type TestGateway } from '../support/gateway.ts';
import { detectNetworks } from '../../core/net/detect.ts';

const PROXY = '127.0.0.5';
let t: TestGateway;
before(async () => {
  t = await startGateway({
    ...FAMILY,
    // 127.0.0.1 is internal (a LAN client); the proxy itself is not.
    trustedProxies: [PROXY],
  });
});
after(() => t.stop());

test('through the trusted proxy, the PROXY source address is the client', async () => {
  // An Internet client behind the tunnel cannot relay…
  const c = await RawSmtp.connect({ port: t.port(), localAddress: PROXY, preamble: 'PROXY TCP4 198.51.100.8 203.0.113.1 51000 25\r\n' });
  assert.equal(c.greeting.code, 220);
  await c.cmd('EHLO far.example');
  const r = await transaction(c, 'x@example.org', ['y@example.net', 'john.doe@doe-family.com']);
  assert.deepEqual(
    r.rcpts.map((x) => x.code),
    [554, 250],
  );
  await c.quit();
  assert.ok(t.events().some((e) => e.client === '198.51.100.8' && e.stage === 'rcpt' && e.code === 554));
  // …and claiming an internal address through the tunnel makes it internal: the
  // proxy is trusted to tell the truth, which is why it must be listed explicitly.
  t.gw.setNetwork('10.9.0.0/16', true);
  try {
    const lan = await RawSmtp.connect({ port: t.port(), localAddress: PROXY, preamble: 'PROXY TCP4 10.9.0.5 203.0.113.1 51001 25\r\n' });
    await lan.cmd('EHLO pc.lan');
    assert.equal((await transaction(lan, 'x@example.org', ['y@example.net'])).rcpts[0].code, 250);
    await lan.quit();
  } finally {
    t.gw.removeNetwork('10.9.0.0/16');
  }
});

test('a trusted proxy that does not send the header is cut off', async () => {
  const c = await RawSmtp.connect({ port: t.port(), localAddress: PROXY, preamble: 'EHLO no-header.example\r\n' });
  assert.equal(c.greeting.code, 0, 'closed without an SMTP greeting');
  assert.equal(c.closed, true);
});

test('a PROXY header from anyone else is refused (before or after the greeting)', async () => {
  // An Internet client that talks first gets the early-talker refusal.
  const early = await RawSmtp.connect({ port: t.port(), localAddress: '127.0.0.2', preamble: 'PROXY TCP4 127.0.0.1 203.0.113.1 51002 25\r\n' });
  const r1 = early.greeting.code === 220 ? await early.read() : early.greeting;
  assert.equal(r1.code, 421);
  early.destroy();
  // A client greeted at once (internal: no early-talker pause) gets an explicit refusal.
  const late = await RawSmtp.connect({ port: t.port(), localAddress: '127.0.0.1' });
  const r2 = await late.cmd('PROXY TCP4 10.9.8.7 203.0.113.1 51003 25');
  assert.equal(r2.code, 421);
  assert.match(r2.text, /^4\.7\.0 PROXY protocol is accepted only from trusted proxies/);
  assert.equal((await late.read(2000)).code, 0, 'connection closed');
  const ev = t.events().find((e) => e.rule === 'trusted proxies');
  assert.equal(ev?.verdict, 'reject');
  assert.equal(ev?.client, '127.0.0.1');
});

test('a PROXY header naming no client (UNKNOWN, health checks) is refused, not taken as the proxy itself', async () => {
  for (const header of ['PROXY UNKNOWN\r\n', 'PROXY TCP4\r\n']) {
    const c = await RawSmtp.connect({ port: t.port(), localAddress: PROXY, preamble: header });
    assert.equal(c.greeting.code, 421, header);
    assert.match(c.greeting.text, /PROXY header named no client address/);
    c.destroy();
  }
  // Even when the proxy's own address is internal (a tunnel ending on this computer).
  t.gw.setNetwork('127.0.0.5/32', true);
  try {
    const c = await RawSmtp.connect({ port: t.port(), localAddress: PROXY, preamble: 'PROXY UNKNOWN\r\n' });
    assert.equal(c.greeting.code, 421);
    c.destroy();
  } finally {
    t.gw.removeNetwork('127.0.0.5/32');
  }
});

test('a proxy removed from the config can no longer name clients, without a restart', async () => {
  t.gw.updateConfig((raw) => {
    raw.trustedProxies = [];
  });
  try {
    const c = await RawSmtp.connect({ port: t.port(), localAddress: PROXY, preamble: 'PROXY TCP4 127.0.0.1 203.0.113.1 51009 25\r\n' });
    const r = c.greeting.code === 220 ? await c.read() : c.greeting;
    assert.equal(r.code, 421, 'an untrusted peer that talks first');
    c.destroy();
  } finally {
    t.gw.updateConfig((raw) => {
      raw.trustedProxies = [PROXY];
    });
  }
});

// The suite runs where loopback is the only interface (`npm test` uses a network
// namespace), so the host's interfaces are given here: a home LAN, a Docker bridge
// and a VPN, as os.networkInterfaces() reports them.
const IFACES: NodeJS.Dict<os.NetworkInterfaceInfo[]> = {
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
  eth0: [
    { address: '192.168.1.20', netmask: '255.255.255.0', family: 'IPv4', mac: '52:54:00:12:34:56', internal: false, cidr: '192.168.1.20/24' },
    {
      address: 'fe80::5054:ff:fe12:3456',
      netmask: 'ffff:ffff:ffff:ffff::',
      family: 'IPv6',
      mac: '52:54:00:12:34:56',
      internal: false,
      cidr: 'fe80::5054:ff:fe12:3456/64',
      scopeid: 2,
    },
  ],
  docker0: [{ address: '172.17.0.1', netmask: '255.255.0.0', family: 'IPv4', mac: '02:42:ac:11:00:01', internal: false, cidr: '172.17.0.1/16' }],
  wg0: [{ address: '10.8.0.2', netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: '10.8.0.2/24' }],
};

test("this host's networks are offered, disabled until the user enables one; then its clients may relay", async () => {
  t.gw.networks.refreshDetected(detectNetworks(IFACES));
  const offered = t.gw.listNetworks().filter((v) => v.detected && !v.configured);
  assert.deepEqual(offered.map((v) => [v.cidr, v.kind, v.enabled]).sort(), [
    ['10.8.0.0/24', 'vpn', false],
    ['172.17.0.0/16', 'container', false],
    ['192.168.1.0/24', 'lan', false],
    ['fe80::/64', 'link-local', false],
  ]);
  // A LAN client (arriving through the trusted proxy, which names it) cannot relay yet…
  const relayFromLan = async (port: number) => {
    const c = await RawSmtp.connect({ port: t.port(), localAddress: PROXY, preamble: `PROXY TCP4 192.168.1.33 203.0.113.1 ${port} 25\r\n` });
    await c.cmd('EHLO pc.lan');
    const code = (await transaction(c, 'x@example.org', ['friend@example.net'])).rcpts[0].code;
    await c.quit();
    return code;
  };
  assert.equal(await relayFromLan(52001), 554);
  // …until the user ticks the network: saved, and the matcher follows at once.
  t.gw.setNetwork('192.168.1.0/24', true);
  try {
    assert.equal(t.gw.listNetworks().find((x) => x.cidr === '192.168.1.0/24')?.enabled, true);
    assert.equal(await relayFromLan(52002), 250);
    t.gw.setNetwork('192.168.1.0/24', false);
    assert.equal(await relayFromLan(52003), 554);
  } finally {
    t.gw.removeNetwork('192.168.1.0/24');
  }
});

test('a trusted proxy that names a loopback client is refused: no one behind a tunnel is "this computer"', async () => {
  for (const client of ['TCP4 127.0.0.1 203.0.113.1', 'TCP4 127.3.2.1 203.0.113.1', 'TCP6 ::1 2001:db8::1']) {
    const c = await RawSmtp.connect({ port: t.port(), localAddress: PROXY, preamble: `PROXY ${client} 51001 25\r\n` });
    assert.equal(c.greeting.code, 421, client);
    assert.match(c.greeting.text, /^4\.7\.0 The PROXY header named a loopback address/);
    c.destroy();
  }
  const ev = t.events().filter((e) => e.rule === 'trusted proxies' && /loopback client/.test(e.reason ?? ''));
  assert.equal(ev.length, 3);
  assert.equal(ev[0].client, '127.0.0.1');
});
