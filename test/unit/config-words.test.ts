// The config file's problems in plain words (docs/design.md §8.2): every problem at once,
// each naming where in words and what to type instead — no JSON path, no regex, no
// parser text — and trust is explicit in the file too (docs/design.md §2.2).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfigFile, validateConfig, writeConfigFile } from '../../core/config/load.ts';
import { trustVerdict } from '../../core/net/trust.ts';

function problems(raw: unknown): ConfigError {
  try {
    validateConfig(raw, 'config.json');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e;
  }
  assert.fail('the config was accepted');
}

describe('plain words', () => {
  test('a four-mistake file names all four in one run, each as a sentence', () => {
    const e = problems({
      domains: ['doe-family.com'],
      accounts: [{ name: 'Jo Hn', addresses: ['john.doe@doe-family,com'] }],
      listeners: [{ port: 'twenty-five', mode: 'mx' }],
      internalNetworks: [{ cidr: '0.0.0.0/0', enabled: true }],
    });
    assert.deepEqual(
      e.problems.map((p) => p.message),
      [
        'Account 1: the name "Jo Hn" may only contain lower-case letters, digits, dots, hyphens and underscores, and must start with a letter or digit — for example "john"',
        'Listener 1, "port": must be a whole number without quotes, for example 25 (it is "twenty-five")',
        'Account 1, address 1: "john.doe@doe-family,com" has a comma in it, and a mail address has none: did you mean "john.doe@doe-family.com"? (Several addresses are given one by one, separated by spaces.)',
        'Internal network 1: 0.0.0.0/0 is the whole Internet: trusting it would let anyone send mail through Postern. Type your own network instead, for example 192.168.1.0/24',
      ],
    );
    // The JSON paths stay for the log and for tests, never in the words.
    assert.deepEqual(
      e.problems.map((p) => p.path),
      ['$.accounts[0].name', '$.listeners[0].port', '$.accounts[0].addresses[0]', '$.internalNetworks[0].cidr'],
    );
    for (const p of e.problems) assert.doesNotMatch(p.message, /\$\.|\^\[|must match pattern|\{0,63\}/);
  });

  test('unknown settings, wrong choices, numbers out of range', () => {
    const e = problems({ colour: 'blue', spf: { policy: 'lenient' }, limits: { maxClients: 0 }, auth: { enabled: true } });
    const m = e.problems.map((p) => p.message);
    assert.ok(
      m.some((x) => /^The file: "colour" is not a setting Postern knows: check its spelling \(the settings here are "hostname", /.test(x)),
      m.join('\n'),
    );
    assert.ok(m.includes('The setting "spf.policy": "lenient" is not one of the choices: write "soft" or "strict"'), m.join('\n'));
    assert.ok(m.includes('The setting "limits.maxClients": must be at least 1, for example 200 (it is 0)'), m.join('\n'));
    assert.ok(
      m.some((x) => /^The login settings \("auth"\): "enabled" is not a setting Postern knows/.test(x)),
      m.join('\n'),
    );
  });

  test('a file that is not JSON: the line and column, the parser’s text kept for the log', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-words-'));
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, '{\n  "hostname": "mx.doe-family.com"\n  "domains": []\n}\n');
    assert.throws(
      () => loadConfigFile(file),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.plain ===
          'The file is not valid JSON near line 3, column 3: look there for a missing comma or quote, a comma after the last item, or a missing } or ]' &&
        /JSON\.parse: Expected ',' or '}'/.test(e.technical),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('trust is explicit in the file', () => {
  test('0.0.0.0/0, ::/0 and anything wider than /8 or /32 are refused; public ranges allowed (the file is explicit)', () => {
    for (const cidr of ['0.0.0.0/0', '::/0', '0.0.0.0/1', '10.0.0.0/7', '2000::/3', '2001:db8::/31']) {
      const e = problems({ internalNetworks: [{ cidr, enabled: false }] });
      assert.equal(e.problems.length, 1, cidr);
      assert.match(e.problems[0].message, /^Internal network 1: .*(is the whole (IPv6 )?Internet|is too wide to trust)/, cidr);
    }
    assert.match(
      problems({ internalNetworks: [{ cidr: '0.0.0.0/0' }] }).plain,
      /0\.0\.0\.0\/0 is the whole Internet: trusting it would let anyone send mail through Postern/,
    );
    for (const cidr of ['10.0.0.0/8', '8.8.8.0/24', '2001:db8::/32', '192.168.1.0/24'])
      assert.doesNotThrow(() => validateConfig({ internalNetworks: [{ cidr, enabled: true }] }), cidr);
  });

  test('what a click may trust', () => {
    for (const cidr of ['127.0.0.0/8', '::1/128', '192.168.1.0/24', '10.0.0.0/8', '172.16.0.0/12', 'fd00:1234::/64', 'fe80::/64', '169.254.0.0/16'])
      assert.equal(trustVerdict(cidr).kind, 'ok', cidr);
    for (const cidr of ['8.8.8.0/24', '1.0.0.0/8', '2a00:1450::/32', '11.0.0.0/8']) {
      const v = trustVerdict(cidr);
      assert.equal(v.kind, 'confirm', cidr);
      assert.match(v.kind === 'confirm' ? v.message : '', /contains public Internet addresses/);
    }
    for (const cidr of ['0.0.0.0/0', '::/0', '128.0.0.0/2', '2000::/16']) assert.equal(trustVerdict(cidr).kind, 'refuse', cidr);
  });
});

test('writes are atomic and private: temp file + rename, mode 0600, nothing left behind', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-write-'));
  const file = path.join(dir, 'config.json');
  writeConfigFile(file, { hostname: 'a.example' });
  fs.chmodSync(file, 0o644);
  writeConfigFile(file, { hostname: 'b.example' });
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { hostname: 'b.example' });
  assert.deepEqual(fs.readdirSync(dir), ['config.json']);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('DNS blocklists: allowAddresses are networks, zones domain names, each refused in words (docs/design.md §2.11)', () => {
  const e = problems({
    dnsbl: {
      zones: [{ zone: 'zen.spamhaus.org' }, { zone: 'bl example' }, { zone: 'http://bl.example/' }],
      allow: ['list.dnswl.org', 'not a zone'],
      allowAddresses: ['203.0.113.5/32', '192.0.2.1', '2001:db8::/48', '203.0.113.300/32', 'my mail provider'],
    },
  });
  assert.deepEqual(
    e.problems.map((p) => p.path),
    ['$.dnsbl.zones[1].zone', '$.dnsbl.zones[2].zone', '$.dnsbl.allow[1]', '$.dnsbl.allowAddresses[3]', '$.dnsbl.allowAddresses[4]'],
  );
  const [z, , a, ip, words] = e.problems.map((p) => p.message);
  assert.match(z, /^DNS blocklist 2, "zone": "bl example" is not a domain name: .*for example "zen\.spamhaus\.org"/);
  assert.match(a, /^Allow-list zone 2: "not a zone" is not a domain name/);
  assert.match(ip, /^Address never looked up in the blocklists 4: .*type a network such as 192\.168\.1\.0\/24/);
  assert.match(words, /^Address never looked up in the blocklists 5: /);
  for (const p of e.problems) assert.doesNotMatch(p.message, /\$\.|\[\d\]/, 'no JSON path in the words');
  assert.doesNotThrow(() =>
    validateConfig({ dnsbl: { zones: [{ zone: 'bl.example.', weight: 2 }], allow: ['wl.example'], allowAddresses: ['198.51.100.0/24', '::1'] } }),
  );
});
