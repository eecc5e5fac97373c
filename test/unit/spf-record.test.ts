// core/spf/record.ts: building, validating and checking SPF records (docs/design.md §6).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DnsClient } from '../../core/dns/client.ts';
import { buildRecord, createSpfHelper, defaultChoices, sameRecord, txtStrings, validateRecord, zoneLine } from '../../core/spf/record.ts';
import type { SpfChoices, SpfValidation } from '../../core/spf/record-types.ts';
import type { SpfHelper } from '../../core/api-impl.ts';
import { startDnsServer, type DnsServer } from '../support/dns-server.ts';

const choices = (c: Partial<SpfChoices>): SpfChoices => ({ domain: 'doe-family.com', mx: false, a: false, ip4: [], ip6: [], include: [], soft: false, ...c });

function errors(v: SpfValidation): { position: number | null; message: string }[] {
  return v.problems.filter((p) => p.severity === 'error').map(({ position, message }) => ({ position, message }));
}
function warnings(v: SpfValidation): string[] {
  return v.problems.filter((p) => p.severity === 'warning').map((p) => p.message);
}

describe('build', () => {
  test("the seed's record and zone line, exactly", () => {
    const r = buildRecord(choices({ mx: true }));
    assert.equal(r.record, 'v=spf1 +mx -all');
    assert.equal(r.zoneLine, 'doe-family.com.          TXT "v=spf1 +mx -all"');
    assert.deepEqual(r.problems, []);
  });
  test('the order: mx, a, ip4, ip6, include, then -all or ~all', () => {
    const r = buildRecord(
      choices({ include: ['_spf.smarthost.example'], ip6: ['2001:db8::25'], ip4: ['203.0.113.5', '198.51.100.0/24'], a: true, mx: true, soft: true }),
    );
    assert.equal(r.record, 'v=spf1 +mx +a +ip4:203.0.113.5 +ip4:198.51.100.0/24 +ip6:2001:db8::25 +include:_spf.smarthost.example ~all');
    assert.deepEqual(r.problems, []);
  });
  test('duplicates are dropped, domains normalized', () => {
    assert.equal(
      buildRecord(choices({ ip4: ['203.0.113.5', ' 203.0.113.5'], include: ['_SPF.Provider.Example.'] })).record,
      'v=spf1 +ip4:203.0.113.5 +include:_spf.provider.example -all',
    );
  });
  test('bad choices are errors naming the value', () => {
    const msgs = (c: Partial<SpfChoices>) =>
      buildRecord(choices(c))
        .problems.filter((p) => p.severity === 'error')
        .map((p) => p.message);
    assert.match(msgs({ ip4: ['203.0.113.256'] })[0], /--ip4 "203\.0\.113\.256" is not an IPv4 address/);
    assert.match(msgs({ ip4: ['2001:db8::1'] })[0], /--ip4 "2001:db8::1"/);
    assert.match(msgs({ ip4: ['203.0.113.0/33'] })[0], /--ip4 "203\.0\.113\.0\/33"/);
    assert.match(msgs({ ip6: ['2001:db8::/129'] })[0], /--ip6 "2001:db8::\/129"/);
    assert.match(msgs({ include: ['not a domain'] })[0], /--include "not a domain" is not a valid domain/);
    assert.match(msgs({ domain: 'doe_family..com' })[0], /"doe_family\.\.com" is not a valid domain/);
  });
  test('nothing allowed but "all": a warning', () => {
    assert.match(buildRecord(choices({})).problems[0].message, /no sender is allowed/);
  });
  test('a record over 255 characters: the zone line splits it into several quoted strings', () => {
    const ip4 = Array.from({ length: 20 }, (_, i) => `198.51.100.${i + 1}`);
    const r = buildRecord(choices({ mx: true, ip4 }));
    assert.ok(r.record.length > 255);
    const strings = [...r.zoneLine.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    assert.equal(strings.length, 2);
    assert.ok(strings.every((s) => s.length <= 255));
    assert.equal(strings.join(''), r.record, 'joined with nothing in between gives the record back (RFC 7208 §3.3)');
    assert.ok(strings[1].startsWith(' +ip4:'), 'split before a space, not inside a term');
    assert.match(warnings(validateRecord(r.record)).join('\n'), /over 255, it must be published as several strings/);
  });
  test('txtStrings and zoneLine for long owner names', () => {
    assert.deepEqual(
      txtStrings('a'.repeat(600)).map((s) => s.length),
      [255, 255, 90],
    );
    assert.equal(zoneLine('a-rather-long-subdomain.doe-family.com', 'v=spf1 -all'), 'a-rather-long-subdomain.doe-family.com. TXT "v=spf1 -all"');
  });
  test('defaults: mx, the public addresses by family, the smarthost include, -all', () => {
    assert.deepEqual(defaultChoices('Doe-Family.com', ['203.0.113.5', '2001:db8::25', '::ffff:198.51.100.7'], '_spf.smarthost.example'), {
      domain: 'doe-family.com',
      mx: true,
      a: false,
      ip4: ['203.0.113.5', '198.51.100.7'],
      ip6: ['2001:db8::25'],
      include: ['_spf.smarthost.example'],
      soft: false,
    });
    assert.equal(buildRecord(defaultChoices('doe-family.com', [])).record, 'v=spf1 +mx -all');
  });
});

describe('validate', () => {
  test('good records', () => {
    for (const r of [
      'v=spf1 +mx -all',
      'v=spf1 mx a:mail.doe-family.com/28 ip4:203.0.113.0/24 ip6:2001:db8::/32 include:_spf.google.com ~all',
      'V=SPF1 MX -ALL',
      'v=spf1 exists:%{i}._spf.%{d} -all',
      'v=spf1 redirect=_spf.doe-family.com',
    ]) {
      const v = validateRecord(r);
      assert.ok(v.valid, `${r}: ${JSON.stringify(v.problems)}`);
      assert.deepEqual(errors(v), []);
    }
  });
  test('a record pasted from a zone file, quotes and all, is joined first', () => {
    const v = validateRecord('"v=spf1 +mx " "+ip4:203.0.113.5 -all"');
    assert.equal(v.record, 'v=spf1 +mx +ip4:203.0.113.5 -all');
    assert.ok(v.valid);
  });
  test('syntax errors carry the position of the offending characters', () => {
    const record = 'v=spf1 ip4:203.0.113.5/33 frob:x include:foo..bar a:%{z}.example.org -all';
    const e = errors(validateRecord(record));
    assert.deepEqual(
      e.map((x) => x.position),
      [record.indexOf('33'), record.indexOf('frob'), record.indexOf('foo..bar'), record.indexOf('z}')],
    );
    assert.match(e[0].message, /CIDR length "33"/);
    assert.match(e[1].message, /Unknown mechanism "frob"/);
    assert.match(e[2].message, /"foo\.\.bar" is not a valid domain name/);
    assert.match(e[3].message, /Unknown macro letter "z"/);
  });
  test('CIDR lengths: /32 and /128 at most, no leading zeros; dual CIDR for a and mx', () => {
    assert.ok(validateRecord('v=spf1 ip4:0.0.0.0/0 ip6:::/0 a/24//64 mx//128 -all').valid);
    assert.deepEqual(
      errors(validateRecord('v=spf1 a/33 -all')).map((x) => x.position),
      [9],
    );
    assert.equal(validateRecord('v=spf1 mx//129 -all').valid, false);
    assert.equal(validateRecord('v=spf1 ip4:203.0.113.0/024 -all').valid, false);
    assert.match(warnings(validateRecord('v=spf1 ip4:0.0.0.0/0 -all')).join(), /matches every IPv4 address/);
  });
  test('the version: "v=spf1" then a space, nothing before it', () => {
    assert.deepEqual(errors(validateRecord('v=spf2 -all')), [{ position: 0, message: 'an SPF record starts with "v=spf1" followed by a space' }]);
    assert.equal(validateRecord('v=spf1-all').valid, false);
    assert.match(errors(validateRecord(' v=spf1 -all'))[0].message, /starts with a space/);
  });
  test('a tab or a non-ASCII character is an error at its position', () => {
    assert.deepEqual(errors(validateRecord('v=spf1 mx\t-all')), [{ position: 9, message: 'a tab: terms are separated by spaces only' }]);
    assert.equal(errors(validateRecord('v=spf1 include:spf.exämple.org -all'))[0].position, 'v=spf1 include:spf.ex'.length);
  });
  test('two records run together', () => {
    const v = validateRecord('v=spf1 -all v=spf1 +mx -all');
    assert.deepEqual(
      errors(v).map((x) => x.position),
      [12],
    );
    assert.match(warnings(v).join(), /"\+mx" comes after "all"/);
  });
  test('the DNS-term count against the limit of 10', () => {
    const ok = validateRecord(`v=spf1 mx a ${Array.from({ length: 7 }, (_, i) => `include:i${i}.example.org`).join(' ')} redirect=r.example.org`);
    assert.equal(ok.dnsTerms, 10);
    assert.deepEqual(errors(ok), []);
    const over = validateRecord(`v=spf1 mx a ptr exists:%{i}.x.example.org ${Array.from({ length: 7 }, (_, i) => `include:i${i}.example.org`).join(' ')} -all`);
    assert.equal(over.dnsTerms, 11);
    assert.match(errors(over)[0].message, /11 terms need DNS lookups .* the limit is 10/);
    assert.equal(validateRecord('v=spf1 ip4:203.0.113.5 ip6:2001:db8::1 -all').dnsTerms, 0);
  });
  test('unknown modifiers: a warning; unknown mechanisms: an error', () => {
    const v = validateRecord('v=spf1 mx -all moo=cow');
    assert.ok(v.valid);
    assert.match(warnings(v)[0], /unknown modifier "moo"/);
    assert.equal(validateRecord('v=spf1 mx cow -all').valid, false);
  });
  test('redirect= with all, ptr, +all, ?all, no all: warnings', () => {
    assert.match(warnings(validateRecord('v=spf1 -all redirect=_spf.example.org')).join(), /"redirect=" is ignored because the record has "all"/);
    assert.match(warnings(validateRecord('v=spf1 ptr -all')).join(), /"ptr" is slow and unreliable/);
    assert.match(warnings(validateRecord('v=spf1 +all')).join(), /"\+all" lets anyone/);
    assert.match(warnings(validateRecord('v=spf1 mx all')).join(), /"\+all" lets anyone/);
    assert.match(warnings(validateRecord('v=spf1 mx ?all')).join(), /"\?all" is neutral/);
    assert.match(warnings(validateRecord('v=spf1 mx')).join(), /no "all" at the end/);
  });
  test('two redirects or two exp modifiers', () => {
    const record = 'v=spf1 redirect=a.example.org redirect=b.example.org';
    assert.deepEqual(errors(validateRecord(record)), [
      { position: record.lastIndexOf('redirect'), message: 'a second "redirect=": at most one is allowed (RFC 7208 §6)' },
    ]);
    assert.equal(validateRecord('v=spf1 -all exp=a.example.org exp=b.example.org').valid, false);
  });
  test('sameRecord compares meaning: "+" implied, case, order of pass mechanisms', () => {
    assert.ok(sameRecord('v=spf1 mx -all', 'v=spf1 +mx -all'));
    assert.ok(sameRecord('v=spf1 ip4:203.0.113.5 MX -ALL', 'v=spf1 +mx +ip4:203.0.113.5 -all'));
    assert.ok(!sameRecord('v=spf1 mx ~all', 'v=spf1 mx -all'));
    assert.ok(!sameRecord('v=spf1 -mx a -all', 'v=spf1 a -mx -all'), 'different qualifiers: order matters');
  });
});

describe('check a published record (through the DNS client)', () => {
  let dns: DnsServer;
  let helper: SpfHelper;
  const include = (i: number) => `include:i${i}.deep.example`;
  before(async () => {
    const zone: Record<string, object> = {
      'doe-family.com': { TXT: ['v=spf1 +mx -all', 'google-site-verification=xyz'], MX: [{ priority: 10, exchange: 'mx.doe-family.com' }] },
      'mx.doe-family.com': { A: ['203.0.113.5'] },
      'split.example': { TXT: [['v=spf1 ip4:203.0.113.5', ' ip4:203.0.113.6 -all']] },
      'two.example': { TXT: ['v=spf1 mx -all', 'v=spf1 -all'] },
      'nospf.example': { TXT: ['just text'] },
      'broken.example': { TXT: ['v=spf1 ip4:203.0.113.5/40 -all'] },
      // 4 + 4 + 3 includes across three levels: each record alone is fine, together 11 lookups.
      'deep.example': { TXT: [`v=spf1 ${[0, 1, 2, 3].map(include).join(' ')} -all`] },
      'voids.example': { TXT: ['v=spf1 a:n1.voids.example a:n2.voids.example a:n3.voids.example -all'] },
      'slow.example': { TXT: ['v=spf1 -all'] },
    };
    for (let i = 0; i < 4; i++) zone[`i${i}.deep.example`] = { TXT: [i === 3 ? `v=spf1 ${[4, 5, 6, 7].map(include).join(' ')} ?all` : 'v=spf1 ?all'] };
    for (let i = 4; i < 8; i++) zone[`i${i}.deep.example`] = { TXT: [i === 7 ? `v=spf1 ${[8, 9, 10].map(include).join(' ')} ?all` : 'v=spf1 ?all'] };
    for (let i = 8; i < 11; i++) zone[`i${i}.deep.example`] = { TXT: ['v=spf1 ?all'] };
    dns = await startDnsServer(zone as never);
    dns.setFault('drop', ['slow.example']);
    helper = createSpfHelper({ resolver: new DnsClient({ servers: [dns.address], timeoutMs: 1500, cache: false }).resolver, hostname: 'mx.doe-family.com' });
  });
  after(() => dns.close());

  test("the seed's domain: valid, matches the built record, evaluates this host's address", async () => {
    const r = await helper.check('doe-family.com', { ip: '203.0.113.5', expected: choices({ mx: true }) });
    assert.deepEqual(r.published, ['v=spf1 +mx -all']);
    assert.equal(r.validation?.valid, true);
    assert.equal(r.validation?.voidLookups, 0);
    assert.equal(r.expected, 'v=spf1 +mx -all');
    assert.equal(r.matchesExpected, true);
    assert.equal(r.evaluation?.result, 'pass');
    assert.match(r.evaluation!.explanation, /designates 203\.0\.113\.5 as permitted sender/);
    assert.equal((await helper.check('doe-family.com', { ip: '198.51.100.1' })).evaluation?.result, 'fail');
    assert.equal((await helper.check('doe-family.com', { expected: choices({ mx: true, soft: true }) })).matchesExpected, false);
  });
  test('a record in several strings is joined before anything else', async () => {
    const r = await helper.check('split.example', { ip: '203.0.113.6' });
    assert.deepEqual(r.published, ['v=spf1 ip4:203.0.113.5 ip4:203.0.113.6 -all']);
    assert.equal(r.evaluation?.result, 'pass');
  });
  test('several v=spf1 records: an error', async () => {
    const r = await helper.check('two.example', {});
    assert.equal(r.published.length, 2);
    assert.equal(r.validation?.valid, false);
    assert.match(r.validation!.problems[0].message, /2 SPF records are published/);
  });
  test('no record, no domain, no answer: said in error', async () => {
    assert.match((await helper.check('nospf.example', {})).error!, /publishes no SPF record/);
    assert.match((await helper.check('nxdomain.example', {})).error!, /does not exist/);
    assert.match((await helper.check('slow.example', {})).error!, /timeout/);
  });
  test('a broken published record: its syntax error, with position', async () => {
    const r = await helper.check('broken.example', {});
    assert.equal(r.validation?.valid, false);
    assert.equal(r.validation?.problems[0].position, 'v=spf1 ip4:203.0.113.5/'.length);
  });
  test('lookups through includes count against 10, though each record alone is fine', async () => {
    const r = await helper.check('deep.example', {});
    assert.equal(r.validation?.dnsTerms, 4);
    assert.equal(r.validation?.valid, false);
    assert.match(r.validation!.problems.map((p) => p.message).join(), /permerror: .*Too many DNS requests/);
  });
  test('void lookups are counted; a third is an error', async () => {
    const r = await helper.check('voids.example', {});
    assert.equal(r.validation?.valid, false);
    assert.equal(r.validation?.voidLookups, 3);
    assert.match(r.validation!.problems.map((p) => p.message).join(), /void/i);
  });
  test('bad input is an error, no DNS asked', async () => {
    const before = dns.queries.length;
    assert.match((await helper.check('not a domain', {})).error!, /not a valid domain/);
    assert.match((await helper.check('doe-family.com', { ip: '300.1.1.1' })).error!, /not an IP address/);
    assert.equal(dns.queries.length, before);
  });
});
