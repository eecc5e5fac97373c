// core/spf/authres.ts: DKIM and DMARC next to SPF in one Authentication-Results,
// with messages signed here by mailauth's dkimSign and keys and DMARC records
// published in the tests' own DNS server on loopback.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { dkimSign } from 'mailauth';
import { validateConfig } from '../../core/config/load.ts';
import { parseMailbox } from '../../core/policy/address.ts';
import { DnsClient } from '../../core/dns/client.ts';
import { checkSpf, type SpfDetail } from '../../core/spf/check.ts';
import { authservIdOf, messageAuthHeaders, withoutForgedAuthResults } from '../../core/spf/authres.ts';
import { startDnsServer, type DnsServer } from '../support/dns-server.ts';

const IP = '198.51.100.10';
const OTHER = '203.0.113.66';

const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const P = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const KEY_RECORD = `v=DKIM1; k=rsa; p=${P}`;
const OTHER_KEY = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

let dns: DnsServer;
before(async () => {
  dns = await startDnsServer({
    'sender.example': { TXT: [`v=spf1 ip4:${IP} -all`] },
    // A 2048-bit key is longer than one TXT string: published as two (RFC 6376 §3.6.2.2).
    's1._domainkey.sender.example': { TXT: [[KEY_RECORD.slice(0, 250), KEY_RECORD.slice(250)]] },
    '_dmarc.sender.example': { TXT: ['v=DMARC1; p=reject'] },
    'nodmarc.example': { TXT: [`v=spf1 ip4:${IP} -all`] },
    's1._domainkey.nodmarc.example': { TXT: [[KEY_RECORD.slice(0, 250), KEY_RECORD.slice(250)]] },
    's1._domainkey.slow.example': { TXT: ['v=DKIM1; p='] },
  });
  dns.setFault('drop', ['slow.example']);
});
after(() => dns.close());

function config(header = 'both') {
  return validateConfig({ hostname: 'mx.doe-family.com', dns: { servers: [dns.address], timeoutMs: 1500 }, spf: { header } });
}

const resolver = () => new DnsClient({ servers: [dns.address], timeoutMs: 1500, cache: false }).resolver;

function message(from: string, body = 'Hello John,\r\nsee you on Sunday.\r\n'): Buffer {
  return Buffer.from(
    `From: Alice <${from}>\r\nTo: John <john.doe@doe-family.com>\r\nSubject: Sunday\r\nDate: Sun, 1 Feb 2026 10:00:00 +0000\r\nMessage-ID: <1@${from.split('@')[1]}>\r\n\r\n${body}`,
  );
}

async function signed(msg: Buffer, domain: string, key = PRIVATE): Promise<Buffer> {
  // mailauth 7.1 signs only what is in signatureData; its typings ask for the top-level fields.
  const sig = { signingDomain: domain, selector: 's1', privateKey: key };
  const r = await dkimSign(msg, { ...sig, canonicalization: 'relaxed/relaxed', signatureData: [sig] });
  assert.ok(r.signatures.startsWith('DKIM-Signature: '));
  assert.deepEqual(r.errors, []);
  return Buffer.concat([Buffer.from(r.signatures), msg]);
}

async function spfFor(from: string, ip: string): Promise<SpfDetail> {
  return checkSpf({ sender: parseMailbox(from), ip, helo: 'mail.client.example' }, config(), resolver());
}

async function headers(msg: Buffer, from: string, ip: string, header = 'both'): Promise<{ block: string; ar: string }> {
  const spf = await spfFor(from, ip);
  const block = await messageAuthHeaders(msg, { spf, ip, helo: 'mail.client.example', sender: from, cfg: config(header) }, { resolver: resolver() });
  const ar = (block.split(/\r\n(?![ \t])/).find((f) => f.startsWith('Authentication-Results:')) ?? '').replace(/\r\n[ \t]+/g, ' ');
  return { block, ar };
}

function results(ar: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of ar.matchAll(/(?:;|^Authentication-Results: [^;]+;) (spf|dkim|dmarc)=(\w+)/g)) out[m[1]] ??= m[2];
  return out;
}

describe('one Authentication-Results with spf=, dkim=, dmarc=', () => {
  test('signed by the From domain, key published: dkim=pass, dmarc=pass — even when SPF fails (a forwarder)', async () => {
    const msg = await signed(message('alice@sender.example'), 'sender.example');
    const { block, ar } = await headers(msg, 'alice@sender.example', OTHER);
    assert.deepEqual(results(ar), { spf: 'fail', dkim: 'pass', dmarc: 'pass' });
    assert.match(ar, /header\.d=sender\.example/);
    assert.match(ar, /header\.from=sender\.example/);
    assert.equal(block.match(/^Authentication-Results:/gm)?.length, 1);
    assert.ok(block.indexOf('Authentication-Results:') < block.indexOf('Received-SPF:'), 'A-R on top (RFC 8601 §5)');
  });

  test('the body changed after signing: dkim=fail, and without SPF dmarc=fail', async () => {
    const msg = await signed(message('alice@sender.example'), 'sender.example');
    const tampered = Buffer.from(msg.toString('latin1').replace('Sunday.', 'Monday.'), 'latin1');
    const { ar } = await headers(tampered, 'alice@sender.example', OTHER);
    assert.deepEqual(results(ar), { spf: 'fail', dkim: 'fail', dmarc: 'fail' });
    assert.match(ar, /body hash did not verify/);
  });

  test('a header changed after signing: dkim=fail', async () => {
    const msg = await signed(message('alice@sender.example'), 'sender.example');
    const tampered = Buffer.from(msg.toString('latin1').replace('Subject: Sunday', 'Subject: Monday'), 'latin1');
    const { ar } = await headers(tampered, 'alice@sender.example', OTHER);
    assert.equal(results(ar).dkim, 'fail');
  });

  test('signed with a key other than the published one: dkim=fail', async () => {
    const msg = await signed(message('alice@sender.example'), 'sender.example', OTHER_KEY);
    const { ar } = await headers(msg, 'alice@sender.example', IP);
    assert.equal(results(ar).dkim, 'fail');
  });

  test('not signed, SPF passes for the From domain: dkim=none, dmarc=pass by SPF alignment', async () => {
    const { ar } = await headers(message('alice@sender.example'), 'alice@sender.example', IP);
    assert.deepEqual(results(ar), { spf: 'pass', dkim: 'none', dmarc: 'pass' });
  });

  test('a domain without a DMARC record: dmarc=none', async () => {
    const msg = await signed(message('alice@nodmarc.example'), 'nodmarc.example');
    const { ar } = await headers(msg, 'alice@nodmarc.example', IP);
    assert.deepEqual(results(ar), { spf: 'pass', dkim: 'pass', dmarc: 'none' });
  });

  test('the key lookup times out: dkim=temperror, within the DNS time limit', async () => {
    const msg = await signed(message('alice@sender.example'), 'slow.example');
    const t0 = Date.now();
    const { ar } = await headers(msg, 'alice@sender.example', IP);
    assert.equal(results(ar).dkim, 'temperror');
    assert.ok(Date.now() - t0 < 1500 + 3000);
  });

  test('two From domains: DMARC cannot be evaluated, said so', async () => {
    const msg = Buffer.from(
      message('alice@sender.example').toString().replace('From: Alice <alice@sender.example>', 'From: a@sender.example, b@nodmarc.example'),
    );
    const { ar } = await headers(msg, 'alice@sender.example', IP);
    assert.equal(results(ar).dmarc, 'permerror');
    assert.match(ar, /multiple-author-domains/);
  });

  test('SPF not checked (null): no spf= entry, DKIM and DMARC still there', async () => {
    const msg = await signed(message('alice@sender.example'), 'sender.example');
    const block = await messageAuthHeaders(msg, { spf: null, ip: IP, helo: 'x', sender: 'alice@sender.example', cfg: config() }, { resolver: resolver() });
    assert.doesNotMatch(block, /spf=|Received-SPF/);
    assert.match(block, /dkim=pass/);
  });
});

describe('spf.header', () => {
  test('both: A-R then Received-SPF, each folded and CRLF-terminated', async () => {
    const msg = await signed(message('alice@sender.example'), 'sender.example');
    const { block } = await headers(msg, 'alice@sender.example', IP);
    assert.match(block, /^Authentication-Results: mx\.doe-family\.com;\r\n spf=pass /);
    assert.match(block, /\r\nReceived-SPF: pass /);
    assert.ok(block.endsWith('\r\n'));
    for (const line of block.slice(0, -2).split('\r\n')) {
      assert.ok(/^(Authentication-Results|Received-SPF): /.test(line) || /^[ \t]\S/.test(line), line);
      assert.ok(line.length <= 78 || !line.slice(1).includes(' '), `long line: ${line}`);
    }
  });
  test('spf: only Received-SPF; auth: only Authentication-Results; none: nothing', async () => {
    const msg = message('alice@sender.example');
    const only = async (h: string) => (await headers(msg, 'alice@sender.example', IP, h)).block;
    const spf = await only('spf');
    assert.match(spf, /^Received-SPF: pass/);
    assert.doesNotMatch(spf, /Authentication-Results/);
    const auth = await only('auth');
    assert.match(auth, /^Authentication-Results: /);
    assert.doesNotMatch(auth, /Received-SPF/);
    assert.equal(await only('none'), '');
  });
});

describe('forged Authentication-Results', () => {
  test('fields with our authserv-id are removed, others and the body kept byte for byte', () => {
    const msg = Buffer.from(
      'Authentication-Results: MX.Doe-Family.com;\r\n dkim=pass header.d=bank.example\r\n' +
        'Authentication-Results: other.example; spf=pass\r\n' +
        'From: a@bank.example\r\nauthentication-results : mx.doe-family.com; dmarc=pass\r\n\r\n' +
        'Authentication-Results: mx.doe-family.com; in the body stays\r\n',
    );
    assert.equal(
      withoutForgedAuthResults(msg, 'mx.doe-family.com').toString(),
      'Authentication-Results: other.example; spf=pass\r\nFrom: a@bank.example\r\n\r\nAuthentication-Results: mx.doe-family.com; in the body stays\r\n',
    );
    const clean = message('alice@sender.example');
    assert.equal(withoutForgedAuthResults(clean, 'mx.doe-family.com'), clean);
  });
});

describe('the authserv-id as RFC 8601 writes it (issue 12)', () => {
  test('CFWS with nested comments, quoted string, trailing dot, any case', () => {
    const cases: [string, string | null][] = [
      [' mx.doe-family.com; spf=pass', 'mx.doe-family.com'],
      [' (a (nested) comment) mx.doe-family.com; spf=pass', 'mx.doe-family.com'],
      ['(x)(y (z \\) w))\r\n\t MX.Doe-Family.COM.; dkim=pass', 'mx.doe-family.com'],
      [' mx.doe-family.com.; spf=pass', 'mx.doe-family.com'],
      [' "mx.doe-family.com"; spf=pass', 'mx.doe-family.com'],
      [' "mx.doe-family.com."; spf=pass', 'mx.doe-family.com'],
      [' mx.doe-family.com(trailing comment); spf=pass', 'mx.doe-family.com'],
      [' mx.doe-family.com 1; spf=pass', 'mx.doe-family.com'],
      [' other.example; spf=pass (mx.doe-family.com)', 'other.example'],
      [' (unterminated mx.doe-family.com; spf=pass', null],
      [' ;spf=pass', null],
    ];
    for (const [value, want] of cases) assert.equal(authservIdOf(value), want, JSON.stringify(value));
  });

  test('both spellings found in issue 12 are removed; a field that merely mentions us stays', () => {
    const msg = Buffer.from(
      'Authentication-Results: (a (nested) comment) mx.doe-family.com; dkim=pass header.d=bank.example\r\n' +
        'Authentication-Results: mx.doe-family.com.; spf=pass smtp.mailfrom=bank.example\r\n' +
        'Authentication-Results: "MX.DOE-FAMILY.COM";\r\n dmarc=pass\r\n' +
        'Authentication-Results: (broken mx.doe-family.com; dmarc=pass\r\n' +
        'Authentication-Results: relay.example; spf=pass (forwarded by mx.doe-family.com)\r\n' +
        'Subject: hi\r\n\r\nbody\r\n',
    );
    assert.equal(
      withoutForgedAuthResults(msg, 'mx.doe-family.com').toString(),
      'Authentication-Results: relay.example; spf=pass (forwarded by mx.doe-family.com)\r\nSubject: hi\r\n\r\nbody\r\n',
    );
  });

  test('a hostname configured with a trailing dot matches too', () => {
    const msg = Buffer.from('Authentication-Results: mx.doe-family.com; spf=pass\r\nSubject: x\r\n\r\n');
    assert.equal(withoutForgedAuthResults(msg, 'mx.doe-family.com.').toString(), 'Subject: x\r\n\r\n');
  });
});
