// Authentication (docs/design.md §2.4, §2.5) over real SMTP: TLS on every listener mode, AUTH only over TLS, the
// builtin and saslauthd (shadow) backends, sender-login mismatch, brute-force bans.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { X509Certificate } from 'node:crypto';
import nodemailer from 'nodemailer';
import { generate } from 'selfsigned';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { FAMILY, INTERNET, outboundQueued, startGateway, tempDir, type TestGateway } from '../support/gateway.ts';
import { startSaslauthd, UNIX_PASSWORD, UNIX_USER, type Saslauthd } from '../support/saslauthd.ts';
import { requireTools } from '../support/tools.ts';
import { hashCost, hashPassword, LEGACY_SCRYPT_COST, SCRYPT_COST } from '../../core/auth/builtin.ts';
import { PosternServer } from '../../core/smtp/connection.ts';
import { waitFor } from '../support/wait.ts';

const run = promisify(execFile);
const b64 = (s: string) => Buffer.from(s).toString('base64');
const plain = (user: string, pw: string) => `AUTH PLAIN ${b64(`\0${user}\0${pw}`)}`;

const LISTENERS = [
  { port: 0, host: '127.0.0.1', mode: 'mx' },
  { port: 0, host: '127.0.0.1', mode: 'submission' },
  { port: 0, host: '127.0.0.1', mode: 'submissions' },
];

let t: TestGateway;
let johnPw: string;
before(async () => {
  requireTools('swaks', 'swaks TLS');
  johnPw = 'john-has-a-long-passphrase';
  t = await startGateway({
    ...FAMILY,
    accounts: [
      { name: 'john', addresses: ['john.doe@doe-family.com'], passwordHash: await hashPassword(johnPw) },
      { name: 'jane', addresses: ['jane.doe@doe-family.com'], passwordHash: await hashPassword('jane-pw') },
    ],
    listeners: LISTENERS,
    auth: { maxFailures: 3, banSeconds: 600 },
  });
});
after(() => t.stop());

async function internetClient(mode: 'mx' | 'submission' | 'submissions' = 'submission', localAddress = INTERNET): Promise<RawSmtp> {
  return RawSmtp.connect({ port: t.port(mode), localAddress, tls: mode === 'submissions' });
}

describe('AUTH only over TLS', () => {
  for (const mode of ['mx', 'submission'] as const) {
    test(`${mode}: no AUTH in EHLO before STARTTLS, 538 5.7.11 if tried`, async () => {
      const c = await internetClient(mode);
      const ehlo = await c.cmd('EHLO phone.example.net');
      assert.ok(ehlo.lines.some((l) => /STARTTLS/.test(l)));
      assert.ok(!ehlo.lines.some((l) => /AUTH/.test(l)), ehlo.lines.join('\n'));
      const r = await c.cmd(plain('john', johnPw));
      assert.equal(r.code, 538);
      assert.match(r.text, /^5\.7\.11 /);
      await c.quit();
    });
  }

  test('after STARTTLS (TLS ≥ 1.2): AUTH advertised, 235 2.7.0 / 535 5.7.8', async () => {
    const c = await internetClient('mx');
    await c.cmd('EHLO phone.example.net');
    assert.equal((await c.starttls()).code, 220);
    assert.match(c.tlsSocket!.getProtocol() ?? '', /^TLSv1\.[23]$/);
    const ehlo = await c.cmd('EHLO phone.example.net');
    assert.ok(
      ehlo.lines.some((l) => /AUTH (PLAIN LOGIN|LOGIN PLAIN)/.test(l)),
      ehlo.lines.join('\n'),
    );
    const bad = await c.cmd(plain('john', 'wrong'));
    assert.equal(bad.code, 535);
    assert.match(bad.text, /^5\.7\.8 /);
    const good = await c.cmd(plain('john.doe@doe-family.com', johnPw));
    assert.equal(good.code, 235);
    assert.match(good.text, /^2\.7\.0 /);
    await c.quit();
  });

  test('a password typed after a refused AUTH is not written into any event', async () => {
    const c = await internetClient('mx');
    await c.cmd('EHLO phone.example.net');
    assert.equal((await c.cmd('AUTH LOGIN')).code, 538);
    const secret = b64('hunter-two'); // aHVudGVyLXR3bw==: starts with letters, like a command
    await c.cmd(secret); // a client that goes on with its dialogue regardless
    await c.quit();
    for (const e of t.events()) assert.doesNotMatch(JSON.stringify(e), new RegExp(secret.slice(0, 6), 'i'), JSON.stringify(e));
  });

  test('TLS 1.1 is refused', async () => {
    const err = await new Promise<Error | null>((resolve) => {
      const s = tls.connect({ port: t.port('submissions'), host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }, () =>
        resolve(null),
      );
      s.on('error', resolve);
    });
    assert.ok(err, 'the handshake must fail');
  });

  test('hiding or disabling STARTTLS never turns plaintext AUTH on', async () => {
    for (const opts of [{ hideSTARTTLS: true }, { disabledCommands: ['STARTTLS'] }]) {
      const server = new PosternServer(
        { ...opts, authOptional: true, disableReverseLookup: true, logger: false, onAuth: (_a, _s, cb) => cb(null, { user: 'anyone' }) },
        { isTrusted: () => true },
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      try {
        const c = await RawSmtp.connect({ port: (server.server.address() as { port: number }).port });
        const ehlo = await c.cmd('EHLO x.example');
        assert.ok(!ehlo.lines.some((l) => /AUTH/.test(l)));
        assert.equal((await c.cmd(plain('a', 'b'))).code, 538);
        await c.quit();
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
      }
    }
  });
});

describe('family members send from anywhere', () => {
  test('submission: MAIL before STARTTLS from outside gets 530 5.7.0', async () => {
    const c = await internetClient('submission');
    await c.cmd('EHLO phone.example.net');
    const r = await c.cmd('MAIL FROM:<john.doe@doe-family.com>');
    assert.equal(r.code, 530);
    assert.match(r.text, /^5\.7\.0 /);
    await c.quit();
  });

  test('nodemailer on the implicit-TLS port, AUTH LOGIN, from the Internet to a foreign address', async () => {
    const before = outboundQueued(t.dataDir).length;
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: t.port('submissions'),
      secure: true,
      localAddress: INTERNET,
      auth: { user: 'john', pass: johnPw, method: 'LOGIN' },
      tls: { rejectUnauthorized: false },
    } as never);
    const info = await transport.sendMail({ from: 'john.doe@doe-family.com', to: 'aunt@example.net', subject: 'from my phone', text: 'hi' });
    assert.match(info.response, /^250 /);
    assert.deepEqual(info.accepted, ['aunt@example.net']);
    assert.equal(outboundQueued(t.dataDir).length, before + 1);
  });

  test('swaks: STARTTLS + AUTH PLAIN relays; without TLS AUTH is not even offered', async () => {
    const ok = await run(
      'swaks',
      [
        '-s',
        `127.0.0.1:${t.port('submission')}`,
        '--local-interface',
        INTERNET,
        '-tls',
        '-a',
        'PLAIN',
        '-au',
        'john',
        '-ap',
        johnPw,
        '-f',
        'john.doe@doe-family.com',
        '-t',
        'cousin@example.net',
        '--timeout',
        '10',
      ],
      { encoding: 'utf8' },
    ).catch((e) => e);
    assert.equal(ok.code ?? 0, 0, ok.stdout);
    assert.match(ok.stdout, /235 2\.7\.0/);
    const noTls = await run(
      'swaks',
      [
        '-s',
        `127.0.0.1:${t.port('mx')}`,
        '--local-interface',
        INTERNET,
        '-a',
        'PLAIN',
        '-au',
        'john',
        '-ap',
        johnPw,
        '-f',
        'john.doe@doe-family.com',
        '-t',
        'cousin@example.net',
        '--timeout',
        '10',
      ],
      { encoding: 'utf8' },
    ).catch((e) => e);
    assert.equal(noTls.code, 28, noTls.stdout);
    assert.doesNotMatch(noTls.stdout, /235/);
  });

  test('sender-login mismatch: 553 5.7.1; the null sender too (issue 12)', async () => {
    const c = await internetClient('submissions');
    await c.cmd('EHLO phone.example.net');
    assert.equal((await c.cmd(plain('john', johnPw))).code, 235);
    const r = await c.cmd('MAIL FROM:<jane.doe@doe-family.com>');
    assert.equal(r.code, 553);
    assert.match(r.text, /^5\.7\.1 /);
    const nul = await c.cmd('MAIL FROM:<>');
    assert.equal(nul.code, 553);
    assert.match(nul.text, /^5\.7\.1 The null sender <> is not allowed for user john$/);
    await c.quit();
  });

  test("a From header that is not the login's is refused at the end of DATA (550 5.7.1, rule from header); nothing is queued", async () => {
    const before = outboundQueued(t.dataDir).length;
    const c = await internetClient('submissions');
    await c.cmd('EHLO phone.example.net');
    assert.equal((await c.cmd(plain('john', johnPw))).code, 235);
    const forged = await transaction(
      c,
      'john.doe@doe-family.com',
      ['aunt@example.net'],
      'From: Jane <jane.doe@doe-family.com>\r\nSubject: it is me, Jane\r\n\r\nhi',
    );
    assert.equal(forged.end?.code, 550);
    assert.equal(forged.end?.text, '5.7.1 From header <jane.doe@doe-family.com> does not belong to user john');
    const own = await transaction(c, 'john.doe@doe-family.com', ['aunt@example.net'], 'From: John <john.doe@doe-family.com>\r\nSubject: me\r\n\r\nhi');
    assert.equal(own.end?.code, 250, own.end?.text);
    await c.quit();
    assert.equal(outboundQueued(t.dataDir).length, before + 1, 'only the honest message is queued');
    const ev = t.events().find((e) => e.rule === 'from header');
    assert.equal(ev?.code, 550);
    assert.equal(ev?.user, 'john');
  });

  test('a login never leaks into the next connection, and a different authzid is refused', async () => {
    const c = await internetClient('submissions');
    await c.cmd('EHLO phone.example.net');
    const proxyAuth = await c.cmd(`AUTH PLAIN ${b64(`jane\0john\0${johnPw}`)}`);
    assert.equal(proxyAuth.code, 535);
    await c.quit();
    const d = await internetClient('submissions');
    await d.cmd('EHLO phone.example.net');
    const r = await transaction(d, 'friend@example.org', ['aunt@example.net']);
    assert.equal(r.rcpts[0].code, 554, 'not authenticated: no relaying');
    await d.quit();
  });
});

describe('brute force', () => {
  test('a ban reaches connections already open: the right password gets 421, not 235', async () => {
    const ip = '127.0.0.11';
    const early = await RawSmtp.connect({ port: t.port('submissions'), localAddress: ip, tls: true });
    await early.cmd('EHLO early.example.org');
    const c = await RawSmtp.connect({ port: t.port('submissions'), localAddress: ip, tls: true });
    await c.cmd('EHLO brute.example.org');
    for (let i = 0; i < 2; i++) assert.equal((await c.cmd(plain('john', `guess${i}`))).code, 535);
    assert.equal((await c.cmd(plain('john', 'guess-last'))).code, 421);
    const r = await early.cmd(plain('john', johnPw));
    assert.equal(r.code, 421, 'no oracle for a banned address');
    assert.equal((await early.read(2000)).code, 0, 'and the connection is closed');
    t.gw.bans.unban(ip);
  });

  test('3 failures ban the IP (421 4.7.0, closed), others unaffected, events, survives a restart', async () => {
    const ip = '127.0.0.9';
    const c = await RawSmtp.connect({ port: t.port('submissions'), localAddress: ip, tls: true });
    await c.cmd('EHLO brute.example.org');
    assert.equal((await c.cmd(plain('john', 'guess1'))).code, 535);
    assert.equal((await c.cmd(plain('john', 'guess2'))).code, 535);
    const third = await c.cmd(plain('john', 'guess3'));
    assert.equal(third.code, 421);
    assert.match(third.text, /^4\.7\.0 /);
    assert.equal((await c.read(2000)).code, 0, 'connection closed');

    const again = await RawSmtp.connect({ port: t.port('mx'), localAddress: ip });
    assert.equal(again.greeting.code, 421, 'refused at connect while banned');
    again.destroy();
    const other = await RawSmtp.connect({ port: t.port('mx'), localAddress: '127.0.0.10' });
    assert.equal(other.greeting.code, 220);
    await other.quit();

    const ev = t.events().filter((e) => e.client === ip && e.stage === 'auth');
    assert.equal(ev.filter((e) => e.rule === 'auth' && e.verdict === 'reject').length, 3);
    assert.equal(ev.filter((e) => e.rule === 'auth ban').length, 1);
    for (const e of t.events()) assert.doesNotMatch(JSON.stringify(e), /guess\d|john-has-a-long/, 'no password in any event');

    // A connection opened before the ban gets no more guesses, and no answer on a right one.
    assert.ok(t.gw.bans.banned(ip));

    // A restart on the same data dir does not forgive.
    const dataDir = t.dataDir;
    const cfg = t.gw.config();
    await t.gw.stop();
    const again2 = await startGateway({ ...FAMILY, accounts: cfg.accounts, listeners: LISTENERS }, { dataDir, keepDataDir: true });
    try {
      const c2 = await RawSmtp.connect({ port: again2.port('mx'), localAddress: ip });
      assert.equal(c2.greeting.code, 421);
      c2.destroy();
    } finally {
      await again2.gw.stop();
      await t.gw.start();
    }
  });
});

describe('password hashes of an older cost (docs/design.md §2.4)', () => {
  test("an N=2^14 hash: a login over STARTTLS + AUTH rewrites it at today's cost in the config file, the same password still works; a wrong password never rewrites", async () => {
    const dir = tempDir();
    const configFile = path.join(dir, 'postern.json');
    const oldJohn = await hashPassword('john-old-pw', LEGACY_SCRYPT_COST);
    const oldJane = await hashPassword('jane-old-pw', LEGACY_SCRYPT_COST);
    const g = await startGateway(
      {
        ...FAMILY,
        accounts: [
          { name: 'john', addresses: ['john.doe@doe-family.com'], passwordHash: oldJohn },
          { name: 'jane', addresses: ['jane.doe@doe-family.com'], passwordHash: oldJane },
        ],
        listeners: LISTENERS,
      },
      { configFile, dataDir: path.join(dir, 'data') },
    );
    const hashes = () =>
      Object.fromEntries(
        (JSON.parse(fs.readFileSync(configFile, 'utf8')).accounts as { name: string; passwordHash: string }[]).map((a) => [a.name, a.passwordHash]),
      );
    const login = async (user: string, pw: string) => {
      const c = await RawSmtp.connect({ port: g.port('submission'), localAddress: INTERNET });
      await c.cmd('EHLO phone.example.net');
      assert.equal((await c.starttls()).code, 220);
      await c.cmd('EHLO phone.example.net');
      const r = await c.cmd(plain(user, pw));
      return { c, code: r.code };
    };
    try {
      // A wrong password for jane: 535, and her hash stays what it was — also after john's upgrade has run.
      const wrong = await login('jane', 'not-janes-pw');
      assert.equal(wrong.code, 535);
      await wrong.c.quit();

      const first = await login('john', 'john-old-pw');
      assert.equal(first.code, 235);
      const r = await transaction(
        first.c,
        'john.doe@doe-family.com',
        ['aunt@example.net'],
        'From: john.doe@doe-family.com\r\nSubject: before the upgrade\r\n\r\nhi',
      );
      assert.equal(r.end?.code, 250);
      await first.c.quit();

      await waitFor(() => hashes().john !== oldJohn, 20_000, "john's hash to be rewritten in the config file");
      assert.deepEqual(hashCost(hashes().john), { ...SCRYPT_COST }, "the new hash has today's cost (N=2^17)");
      assert.equal(g.gw.config().accounts.find((a) => a.name === 'john')?.passwordHash, hashes().john, 'and the running config holds it');
      const ev = g.events().find((e) => e.rule === 'config' && /password hash of account john upgraded/.test(e.text ?? ''));
      assert.ok(ev, 'the upgrade is an event');
      assert.doesNotMatch(JSON.stringify(g.events()), /john-old-pw|not-janes-pw/, 'no password in any event');
      assert.equal(hashes().jane, oldJane, 'a wrong password never rewrites');

      const again = await login('john', 'john-old-pw');
      assert.equal(again.code, 235, 'the same password works against the new hash');
      const r2 = await transaction(
        again.c,
        'john.doe@doe-family.com',
        ['aunt@example.net'],
        'From: john.doe@doe-family.com\r\nSubject: after the upgrade\r\n\r\nhi',
      );
      assert.equal(r2.end?.code, 250);
      await again.c.quit();
      const upgraded = hashes().john;
      const bad = await login('john', 'john-new-guess');
      assert.equal(bad.code, 535);
      await bad.c.quit();
      assert.equal(hashes().john, upgraded, 'a login on the new hash rewrites nothing');
      assert.equal(hashes().jane, oldJane);
    } finally {
      await g.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the seed: saslauthd -a shadow checking Unix accounts', () => {
  let sasl: Saslauthd;
  let g: TestGateway;
  before(async () => {
    sasl = await startSaslauthd();
    g = await startGateway({
      ...FAMILY,
      accounts: [{ name: UNIX_USER, addresses: ['tester@doe-family.com'] }],
      listeners: LISTENERS,
      auth: { backend: 'saslauthd', saslauthd: { socket: sasl.socket, service: 'smtp', realm: '' } },
    });
  });
  after(async () => {
    await g.stop();
    sasl.stop();
  });

  test('the Unix password authenticates over STARTTLS and relays; a wrong one is 535', async () => {
    const c = await RawSmtp.connect({ port: g.port('submission'), localAddress: INTERNET });
    await c.cmd('EHLO phone.example.net');
    await c.starttls();
    await c.cmd('EHLO phone.example.net');
    assert.equal((await c.cmd(plain(UNIX_USER, 'not-the-password'))).code, 535);
    const ok = await c.cmd(plain(UNIX_USER, UNIX_PASSWORD));
    assert.equal(ok.code, 235, ok.lines.join());
    const r = await transaction(c, 'tester@doe-family.com', ['aunt@example.net'], 'From: tester@doe-family.com\r\nSubject: via saslauthd\r\n\r\nhi');
    assert.equal(r.rcpts[0].code, 250);
    assert.equal(r.end?.code, 250);
    await c.quit();
  });

  test('nodemailer AUTH LOGIN against saslauthd on the implicit-TLS port', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: g.port('submissions'),
      secure: true,
      localAddress: INTERNET,
      auth: { user: UNIX_USER, pass: UNIX_PASSWORD, method: 'LOGIN' },
      tls: { rejectUnauthorized: false },
    } as never);
    const info = await transport.sendMail({ from: 'tester@doe-family.com', to: 'aunt@example.net', subject: 's', text: 'x' });
    assert.match(info.response, /^250 /);
  });

  test('a dead saslauthd socket is a temporary failure (454 4.7.0), logged, not a crash', async () => {
    const dead = await startGateway({
      ...FAMILY,
      accounts: [{ name: UNIX_USER, addresses: ['tester@doe-family.com'] }],
      listeners: LISTENERS,
      auth: { backend: 'saslauthd', saslauthd: { socket: path.join(tempDir(), 'no-such-mux'), service: 'smtp', realm: '' } },
    });
    try {
      const c = await RawSmtp.connect({ port: dead.port('submissions'), localAddress: INTERNET, tls: true });
      await c.cmd('EHLO phone.example.net');
      const r = await c.cmd(plain(UNIX_USER, UNIX_PASSWORD));
      assert.equal(r.code, 454);
      assert.match(r.text, /^4\.7\.0 /);
      assert.equal((await c.cmd('NOOP')).code, 250, 'the session goes on');
      await c.quit();
      const ev = dead.events().find((e) => e.stage === 'auth' && e.verdict === 'defer');
      assert.match(ev?.reason ?? '', /saslauthd at .*no-such-mux: ENOENT/);
      assert.equal(dead.gw.bans.list().length, 0, 'a backend outage does not count toward a ban');
    } finally {
      await dead.stop();
    }
  });
});

describe('certificates', () => {
  async function writeCert(dir: string, cn: string): Promise<string> {
    const pems = await generate([{ name: 'commonName', value: cn }], { keyType: 'rsa', keySize: 2048 });
    fs.writeFileSync(path.join(dir, 'key.pem.new'), pems.private);
    fs.writeFileSync(path.join(dir, 'cert.pem.new'), pems.cert);
    // Replace both the way certbot's deploy would: new files moved into place.
    fs.renameSync(path.join(dir, 'key.pem.new'), path.join(dir, 'key.pem'));
    fs.renameSync(path.join(dir, 'cert.pem.new'), path.join(dir, 'cert.pem'));
    return new X509Certificate(pems.cert).fingerprint256;
  }

  async function servedFingerprint(port: number): Promise<string> {
    const c = await RawSmtp.connect({ port, localAddress: INTERNET });
    await c.cmd('EHLO check.example');
    await c.starttls();
    const fp = c.tlsSocket!.getPeerX509Certificate()!.fingerprint256;
    await c.quit();
    return fp;
  }

  test('a replaced certificate is served on the next connection, without a restart', async () => {
    const dir = tempDir();
    const first = await writeCert(dir, 'mx.doe-family.com');
    const g = await startGateway({ ...FAMILY, tls: { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') } });
    try {
      assert.equal(await servedFingerprint(g.port()), first);
      const second = await writeCert(dir, 'mx.doe-family.com');
      assert.notEqual(second, first);
      // The files are looked at about once a second: wait for the new one to be served.
      await waitFor(async () => (await servedFingerprint(g.port())) === second, 15_000, 'the new certificate served', 200);
      assert.ok(g.events().some((e) => e.rule === 'tls' && /reloaded/.test(e.text)));
    } finally {
      await g.stop();
    }
  });

  test('without a configured certificate, a self-signed one is generated once into tls/ (never the library default)', async () => {
    const fp1 = await servedFingerprint(t.port());
    const cert = fs.readFileSync(path.join(t.dataDir, 'tls', 'cert.pem'), 'utf8');
    assert.equal(new X509Certificate(cert).fingerprint256, fp1);
    assert.match(new X509Certificate(cert).subject, /CN=mx\.doe-family\.com/);
  });
});
