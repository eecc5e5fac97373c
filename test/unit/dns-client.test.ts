// core/dns/client.ts against the tests' own DNS server on loopback.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import dns from 'node:dns';
import { DnsClient, dnsClientFor } from '../../core/dns/client.ts';
import { DnsCache } from '../../core/dns/cache.ts';
import { startDnsServer, type DnsServer, type Zone } from '../support/dns-server.ts';

const ZONE: Zone = {
  'example.org': {
    TXT: ['v=spf1 -all', ['first half ', 'second half']],
    A: ['192.0.2.1', '192.0.2.2'],
    AAAA: ['2001:db8::1'],
    MX: [
      { priority: 10, exchange: 'mx1.example.org' },
      { priority: 20, exchange: 'mx2.example.org.' },
    ],
  },
  'nullmx.example.org': { MX: [{ priority: 0, exchange: '.' }] },
  '1.2.0.192.in-addr.arpa': { PTR: ['host.example.org'] },
  'www.example.org': { CNAME: 'example.org' },
  'deep.sub.example.org': { A: ['192.0.2.9'] }, // makes sub.example.org an empty non-terminal
  '"john smith".users.example.org': { A: ['127.0.0.2'] },
  'a b.example.org': { TXT: ['space in a label'] },
  'big.example.org': { TXT: [Array.from({ length: 8 }, (_, i) => `${i}`.repeat(250))] },
  'zero.example.org': { A: ['192.0.2.7'], ttl: 0 },
};
// A chain longer than the server follows (8): the client must chase the rest.
for (let i = 0; i < 10; i++) ZONE[`c${i}.example.org`] = { CNAME: `c${i + 1}.example.org` };
ZONE['c10.example.org'] = { A: ['192.0.2.10'] };

let server: DnsServer;
before(async () => {
  server = await startDnsServer(ZONE);
});
after(() => server.close());

const client = (extra: Partial<ConstructorParameters<typeof DnsClient>[0]> = {}) =>
  new DnsClient({ servers: [server.address], timeoutMs: 500, cache: false, ...extra });

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'resolved';
}

describe('record types, in the shapes of dns.promises', () => {
  test('TXT: one string[] per record, a multi-string record kept as its parts', async () => {
    const txt = await client().resolve('example.org', 'TXT');
    assert.deepEqual(txt.map((r) => r.join('|')).sort(), ['first half |second half', 'v=spf1 -all']);
  });
  test('A, AAAA', async () => {
    assert.deepEqual((await client().resolve('example.org', 'A')).sort(), ['192.0.2.1', '192.0.2.2']);
    assert.deepEqual(await client().resolve('example.org', 'AAAA'), ['2001:db8::1']);
  });
  test('MX: {exchange, priority}, no trailing dot; a null MX is exchange ""', async () => {
    const mx = await client().resolve('example.org', 'MX');
    assert.deepEqual(
      mx.sort((a, b) => a.priority - b.priority),
      [
        { exchange: 'mx1.example.org', priority: 10 },
        { exchange: 'mx2.example.org', priority: 20 },
      ],
    );
    assert.deepEqual(await client().resolve('nullmx.example.org', 'MX'), [{ exchange: '', priority: 0 }]);
  });
  test('PTR', async () => {
    assert.deepEqual(await client().resolve('1.2.0.192.in-addr.arpa', 'PTR'), ['host.example.org']);
  });
  test('CNAME: followed for other types, returned when asked for', async () => {
    assert.deepEqual((await client().resolve('WWW.Example.ORG.', 'A')).sort(), ['192.0.2.1', '192.0.2.2']);
    assert.deepEqual(await client().resolve('www.example.org', 'CNAME'), ['example.org']);
  });
  test('a CNAME chain the server stops following is chased by the client', async () => {
    assert.deepEqual(await client().resolve('c0.example.org', 'A'), ['192.0.2.10']);
  });
});

describe('negative answers and failures carry dns.promises error codes', () => {
  test('NXDOMAIN → ENOTFOUND, NODATA → ENODATA, an empty non-terminal → ENODATA', async () => {
    assert.equal(await code(client().resolve('nope.example.org', 'TXT')), 'ENOTFOUND');
    assert.equal(await code(client().resolve('example.org', 'PTR')), 'ENODATA');
    assert.equal(await code(client().resolve('sub.example.org', 'A')), 'ENODATA');
  });
  test('a server that drops queries → ETIMEOUT, within the time limit', async () => {
    server.setFault('drop');
    try {
      const t0 = Date.now();
      assert.equal(await code(client({ timeoutMs: 300 }).resolve('example.org', 'TXT')), 'ETIMEOUT');
      const took = Date.now() - t0;
      // Not before the limit; after it, soon (generous: a busy machine runs timers late).
      assert.ok(took >= 290 && took < 5000, `took ${took} ms`);
    } finally {
      server.setFault(null);
    }
  });
  test('SERVFAIL → ESERVFAIL, REFUSED → EREFUSED', async () => {
    server.setFault('servfail');
    assert.equal(await code(client().resolve('example.org', 'TXT')), 'ESERVFAIL');
    server.setFault('refused');
    assert.equal(await code(client().resolve('example.org', 'TXT')), 'EREFUSED');
    server.setFault(null);
  });
  test('faults can be limited to some names', async () => {
    server.setFault('servfail', ['users.example.org']);
    assert.equal(await code(client().resolve('"john smith".users.example.org', 'A')), 'ESERVFAIL');
    assert.deepEqual(await client().resolve('example.org', 'AAAA'), ['2001:db8::1']);
    server.setFault(null);
  });
  test('nothing listening → ECONNREFUSED', async () => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const port = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    assert.equal(await code(new DnsClient({ servers: [`127.0.0.1:${port}`], timeoutMs: 500, cache: false }).resolve('example.org', 'A')), 'ECONNREFUSED');
  });
  test('a failing server hands over to the next one', async () => {
    const bad = await startDnsServer(ZONE);
    bad.setFault('servfail');
    try {
      const c = new DnsClient({ servers: [bad.address, server.address], timeoutMs: 500, cache: false });
      assert.deepEqual(await c.resolve('example.org', 'AAAA'), ['2001:db8::1']);
      assert.equal(bad.queries.length, 1);
    } finally {
      await bad.close();
    }
  });
  test('never throws synchronously, whatever it is given', async () => {
    const c = client();
    const p1 = c.resolve(null as unknown as string, 'TXT');
    const p2 = c.resolve('example.org', 'SRV' as never);
    assert.ok(p1 instanceof Promise && p2 instanceof Promise);
    assert.equal(await code(p1), 'EBADNAME');
    assert.equal(await code(p2), 'EBADQUERY');
  });
});

describe('names', () => {
  test('any byte in a label: what SPF macros make of quoted local parts', async () => {
    assert.deepEqual(await client().resolve('"john smith".users.example.org', 'A'), ['127.0.0.2']);
    assert.deepEqual(await client().resolve('a b.example.org', 'TXT'), [['space in a label']]);
    // Node's own resolver refuses both before asking anyone: the reason this client exists.
    await assert.rejects(new dns.promises.Resolver().resolveTxt('a b.example.org'), { code: 'EBADNAME' });
  });
  test('names that cannot go on the wire → EBADNAME, without a query', async () => {
    const before = server.queries.length;
    assert.equal(await code(client().resolve(`${'x'.repeat(64)}.example.org`, 'A')), 'EBADNAME');
    assert.equal(await code(client().resolve('a..example.org', 'A')), 'EBADNAME');
    assert.equal(await code(client().resolve(`${'abcdefghi.'.repeat(26)}org`, 'A')), 'EBADNAME');
    assert.equal(server.queries.length, before);
  });
});

describe('transport', () => {
  test('a truncated UDP reply is asked again over TCP', async () => {
    server.setFault('truncate');
    try {
      const before = server.queries.length;
      assert.deepEqual(await client().resolve('example.org', 'AAAA'), ['2001:db8::1']);
      assert.deepEqual(
        server.queries.slice(before).map((q) => q.transport),
        ['udp', 'tcp'],
      );
    } finally {
      server.setFault(null);
    }
  });
  test('a record too big for a UDP reply comes over TCP, every string joined in order', async () => {
    const [rec] = await client().resolve('big.example.org', 'TXT');
    assert.equal(rec.length, 8);
    assert.equal(rec.join('').length, 2000);
    assert.equal(server.queries.at(-1)!.transport, 'tcp');
  });
  test('a server that refuses EDNS (FORMERR) is asked again without it', async () => {
    server.setFault('formerr-edns');
    try {
      assert.deepEqual(await client().resolve('example.org', 'AAAA'), ['2001:db8::1']);
    } finally {
      server.setFault(null);
    }
  });
});

describe('cache', () => {
  test('answers and negative answers are kept; TTL 0 is not', async () => {
    const c = new DnsClient({ servers: [server.address], timeoutMs: 500 });
    const count = (name: string) => server.queries.filter((q) => q.name === name).length;
    const before = { ex: count('example.org'), nope: count('nope2.example.org'), zero: count('zero.example.org') };
    for (let i = 0; i < 3; i++) {
      await c.resolve('example.org', 'A');
      assert.equal(await code(c.resolve('nope2.example.org', 'A')), 'ENOTFOUND');
      await c.resolve('zero.example.org', 'A');
    }
    assert.equal(count('example.org') - before.ex, 1);
    assert.equal(count('nope2.example.org') - before.nope, 1);
    assert.equal(count('zero.example.org') - before.zero, 3);
  });
  test('a cached answer is a copy: callers may sort or change theirs', async () => {
    const c = new DnsClient({ servers: [server.address], timeoutMs: 500 });
    const a = await c.resolve('example.org', 'A');
    a.length = 0;
    assert.equal((await c.resolve('example.org', 'A')).length, 2);
  });
  test('concurrent identical questions share one query', async () => {
    const c = new DnsClient({ servers: [server.address], timeoutMs: 500, cache: false });
    const before = server.queries.filter((q) => q.name === 'example.org' && q.type === 'MX').length;
    await Promise.all(Array.from({ length: 5 }, () => c.resolve('example.org', 'MX')));
    assert.equal(server.queries.filter((q) => q.name === 'example.org' && q.type === 'MX').length - before, 1);
  });
  test('expiry: positive by TTL, negative by the SOA minimum, both capped', () => {
    let now = 0;
    const cache = new DnsCache({ maxTtl: 100, maxNegativeTtl: 10, maxEntries: 2 }, () => now);
    cache.setValue('a', [1], 1000);
    cache.setNegative('n', { code: 'ENOTFOUND', message: '' }, 60);
    now = 9_999;
    assert.ok(cache.get('a') && cache.get('n'));
    now = 10_000;
    assert.equal(cache.get('n'), undefined);
    now = 99_999;
    assert.ok(cache.get('a'));
    now = 100_000;
    assert.equal(cache.get('a'), undefined);
    cache.setValue('x', 1, 50);
    cache.setValue('y', 2, 50);
    cache.setValue('z', 3, 50);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('x'), undefined);
  });
});

describe('configuration', () => {
  test('dnsClientFor takes dns.servers (ip, ip:port, [v6]:port) and dns.timeoutMs', () => {
    const c = dnsClientFor({ dns: { servers: ['192.0.2.53', '127.0.0.1:5353', '[::1]:53'], timeoutMs: 1234 } });
    assert.deepEqual(c.servers, [
      { host: '192.0.2.53', port: 53 },
      { host: '127.0.0.1', port: 5353 },
      { host: '::1', port: 53 },
    ]);
    assert.equal(c.timeoutMs, 1234);
  });
  test("no servers configured → the system's", () => {
    const c = dnsClientFor({ dns: { servers: [], timeoutMs: 5000 } });
    const sys = dns.getServers();
    if (sys.length) assert.equal(c.servers.length, sys.length);
    else assert.deepEqual(c.servers, [{ host: '127.0.0.1', port: 53 }]);
  });
});
