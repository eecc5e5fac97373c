// Small pure pieces: CIDR matching, line endings, config validation, the event ring.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkSet, parseCidr } from '../../core/net/cidr.ts';
import { classify, detectNetworks } from '../../core/net/detect.ts';
import { LineEndings } from '../../core/smtp/message.ts';
import { ConfigError, validateConfig } from '../../core/config/load.ts';
import { EventBus, Ring } from '../../core/events/bus.ts';
import { BanList } from '../../core/auth/bans.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

describe('CIDR matching is family-correct', () => {
  test('IPv4-mapped addresses match as IPv4, IPv6 never matches IPv4', () => {
    const s = new NetworkSet(['192.168.0.0/16', '10.0.0.0/8']);
    assert.equal(s.has('192.168.1.5'), true);
    assert.equal(s.has('::ffff:192.168.1.5'), true);
    assert.equal(s.has('c0a8::1'), false, 'ip-cidr alone says true');
    assert.equal(s.has('a00::1'), false);
    const v6 = new NetworkSet(['fd00::/8', '2000::/3']);
    assert.equal(v6.has('253.1.1.1'), false);
    assert.equal(v6.has('32.0.0.1'), false);
    assert.equal(v6.has('fd12::1'), true);
    assert.equal(new NetworkSet(['0.0.0.0/0']).has('::1'), false);
    // …and the other way round: IPv6 networks never contain IPv4 clients
    // (a single net.BlockList would match them as ::ffff:a.b.c.d).
    for (const v6net of ['::/0', '::/1', '::ffff:0:0/96']) {
      assert.equal(new NetworkSet([v6net]).has('192.0.2.77'), false, v6net);
      assert.equal(new NetworkSet([v6net]).has('::ffff:192.0.2.77'), false, v6net);
    }
    assert.equal(new NetworkSet(['::/0']).has('2001:db8::1'), true);
    assert.equal(new NetworkSet([]).has('127.0.0.1'), false);
  });
  test('parseCidr normalises and explains', () => {
    assert.equal(parseCidr('192.168.1.77/24').cidr, '192.168.1.0/24');
    assert.equal(parseCidr('10.1.2.3').cidr, '10.1.2.3/32');
    assert.equal(parseCidr('FD00:0:0::1/64').cidr, 'fd00::/64');
    assert.throws(() => parseCidr('192.168.1.0/33'), /prefix length must be 0–32/);
    assert.throws(() => parseCidr('300.1.1.1/8'), /not an IP address/);
    assert.throws(() => parseCidr('example.com/24'), /not an IP address/);
    assert.throws(() => parseCidr(''), /empty/);
  });
  test('detected networks: labelled, loopback left out', () => {
    const found = detectNetworks({
      lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '', internal: true, cidr: '127.0.0.1/8' }],
      eth0: [
        { address: '192.168.1.20', netmask: '255.255.255.0', family: 'IPv4', mac: '', internal: false, cidr: '192.168.1.20/24' },
        { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
      ],
      docker0: [{ address: '172.17.0.1', netmask: '255.255.0.0', family: 'IPv4', mac: '', internal: false, cidr: '172.17.0.1/16' }],
      wg0: [{ address: '10.8.0.2', netmask: '255.255.255.0', family: 'IPv4', mac: '', internal: false, cidr: '10.8.0.2/24' }],
    });
    assert.deepEqual(
      found.map((n) => [n.cidr, n.kind]),
      [
        ['192.168.1.0/24', 'lan'],
        ['fe80::/64', 'link-local'],
        ['172.17.0.0/16', 'container'],
        ['10.8.0.0/24', 'vpn'],
      ],
    );
    assert.equal(classify('eth0', '169.254.3.4/16'), 'link-local');
  });
});

describe('line endings', () => {
  const norm = (chunks: string[]) => {
    const l = new LineEndings();
    const out = Buffer.concat([...chunks.map((c) => l.push(Buffer.from(c, 'latin1'))), l.end()]).toString('latin1');
    return { out, bare: l.bare };
  };
  test('CRLF passes through untouched', () => {
    assert.deepEqual(norm(['a\r\nb\r\n']), { out: 'a\r\nb\r\n', bare: false });
  });
  test('bare LF and bare CR become CRLF and are reported', () => {
    assert.deepEqual(norm(['a\nb\rc\r\n']), { out: 'a\r\nb\r\nc\r\n', bare: true });
  });
  test('a CRLF split across chunks is not bare; a CR at the very end is', () => {
    assert.deepEqual(norm(['a\r', '\nb']), { out: 'a\r\nb', bare: false });
    assert.deepEqual(norm(['a\r', '', '\nb']), { out: 'a\r\nb', bare: false });
    assert.deepEqual(norm(['a\r']), { out: 'a\r\n', bare: true });
    assert.deepEqual(norm(['a\r', 'b']), { out: 'a\r\nb', bare: true });
  });
  test('every split of a tricky message gives the same result', () => {
    const msg = 'x\r\ny\nz\r\r\n.\r\n\n\r';
    const whole = norm([msg]);
    for (let i = 0; i <= msg.length; i++) assert.deepEqual(norm([msg.slice(0, i), msg.slice(i)]), whole, `split at ${i}`);
  });
});

describe('config validation', () => {
  test('defaults fill missing keys', () => {
    const c = validateConfig({});
    assert.equal(c.listeners.length, 3);
    assert.equal(c.auth.maxFailures, 5);
    assert.deepEqual(
      c.internalNetworks.map((n) => n.cidr),
      ['127.0.0.0/8', '::1/128'],
    );
    assert.equal(c.spf.policy, 'soft');
  });
  test('every problem is named by its JSON path, nothing half-applied', () => {
    try {
      validateConfig({
        hostname: 'not a host',
        domains: ['doe-family.com'],
        accounts: [{ name: 'john', addresses: ['john@elsewhere.example'] }, { name: 'john' }],
        listeners: [{ port: 70000, mode: 'mx' }],
        internalNetworks: [{ cidr: '10.0.0.0/40', enabled: true }],
        trustedProxies: ['10.0.0.0/8'],
        spf: { policy: 'lenient' },
        typo: 1,
      });
      assert.fail('should have thrown');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      const paths = e.problems.map((p) => p.path);
      assert.ok(paths.includes('$.listeners[0].port'), paths.join());
      assert.ok(paths.includes('$.spf.policy'), paths.join());
      assert.ok(paths.includes('$.typo'), paths.join());
    }
    try {
      validateConfig({
        hostname: 'not a host',
        domains: ['doe-family.com'],
        accounts: [{ name: 'john', addresses: ['john@elsewhere.example'] }, { name: 'john' }],
        internalNetworks: [{ cidr: '10.0.0.0/40', enabled: true }],
        trustedProxies: ['10.0.0.0/8'],
      });
      assert.fail('should have thrown');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(
        e.problems.map((p) => p.path),
        ['$.hostname', '$.accounts[0].addresses[0]', '$.accounts[1].name', '$.internalNetworks[0].cidr', '$.trustedProxies[0]'],
      );
    }
  });
});

describe('events and bans', () => {
  test('a ban file that cannot be written never throws (the ban holds in memory)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-bans-'));
    fs.mkdirSync(path.join(dir, 'auth-bans.json.tmp')); // the temp name is a directory: the write fails
    const b = new BanList(dir, 1, 60);
    assert.doesNotThrow(() => b.fail('192.0.2.9'));
    assert.ok(b.banned('192.0.2.9'));
    assert.match(b.saveError ?? '', /EISDIR/);
  });
  test('the ring keeps the newest, ids keep increasing', () => {
    const r = new Ring<number>(3);
    for (let i = 1; i <= 5; i++) r.push(i);
    assert.deepEqual(r.toArray(), [3, 4, 5]);
    const bus = new EventBus(2);
    for (let i = 0; i < 4; i++) bus.emit({ stage: 'system', verdict: 'info', rule: 'system', text: String(i) });
    assert.deepEqual(
      bus.recent().map((e) => e.id),
      [3, 4],
    );
    assert.deepEqual(
      bus.recent(3).map((e) => e.id),
      [4],
    );
  });
  test('bans after maxFailures in the window, and expire', () => {
    let now = 1_000_000;
    const b = new BanList(null, 3, 60, () => now);
    assert.equal(b.fail('::ffff:192.0.2.1').ban, null);
    assert.equal(b.fail('192.0.2.1').ban, null);
    assert.ok(b.fail('192.0.2.1').ban);
    assert.ok(b.banned('192.0.2.1'));
    now += 61_000;
    assert.equal(b.banned('192.0.2.1'), null);
    // IPv6: counted per /64, so a host cannot rotate through its own prefix
    b.fail('2001:db8:1:2::a');
    b.fail('2001:db8:1:2::b');
    assert.ok(b.fail('2001:db8:1:2:ffff::1').ban);
    assert.ok(b.banned('2001:db8:1:2::9'));
    assert.equal(b.banned('2001:db8:1:3::1'), null);
    // failures older than 15 minutes do not count
    b.fail('192.0.2.2');
    b.fail('192.0.2.2');
    now += 16 * 60_000;
    assert.equal(b.fail('192.0.2.2').ban, null);
  });
});
