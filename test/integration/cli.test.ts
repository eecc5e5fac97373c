// `postern` as a user runs it: exit codes, messages, files.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { LOOPBACK_DNS, tempDir } from '../support/gateway.ts';
import { POSTERN, ROOT, startServe } from '../support/serve-process.ts';
import { verifyPassword } from '../../core/auth/builtin.ts';

function postern(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [POSTERN, ...args], { cwd: ROOT, input, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('bad input: one line, exit 2, nothing changed', () => {
  test('an invalid config names every problem at once in plain words and starts nothing', () => {
    const dir = tempDir();
    const cfg = path.join(dir, 'c.json');
    fs.writeFileSync(cfg, JSON.stringify({ listeners: [{ port: 'twenty-five', mode: 'mx' }], internalNetworks: [{ cidr: '10.0.0.0/99' }], colour: 'blue' }));
    const r = postern(['serve', '--config', cfg, '--data-dir', path.join(dir, 'data')]);
    assert.equal(r.code, 2);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    // Every problem at once, in plain words: where, what, and what to type instead.
    assert.match(r.err, /Listener 1, "port": must be a whole number without quotes, for example 25 \(it is "twenty-five"\)/);
    assert.match(r.err, /"colour" is not a setting Postern knows: check its spelling/);
    assert.match(r.err, /Internal network 1: "10\.0\.0\.0\/99": the prefix length must be 0–32/);
    assert.doesNotMatch(r.err, /\$\.|must match pattern|\^\[/);
    assert.equal(fs.existsSync(path.join(dir, 'data')), false, 'no data dir created');
  });
  test('not JSON at all', () => {
    const dir = tempDir();
    const cfg = path.join(dir, 'c.json');
    fs.writeFileSync(cfg, '{ "hostname": ');
    const r = postern(['serve', '--config', cfg, '--data-dir', path.join(dir, 'data')]);
    assert.equal(r.code, 2);
    assert.match(r.err, /The file is not valid JSON near line 1, column 15/);
  });
  test('unknown commands and options', () => {
    assert.equal(postern(['frobnicate']).code, 2);
    const r = postern(['serve', '--no-such-flag']);
    assert.equal(r.code, 2);
    assert.match(r.err, /no-such-flag/);
  });
});

describe('postern user', () => {
  test('add (password on stdin), list, remove', async () => {
    const dir = tempDir();
    const cfg = path.join(dir, 'c.json');
    fs.writeFileSync(cfg, JSON.stringify({ hostname: 'mx.doe-family.com', domains: ['doe-family.com'], dns: LOOPBACK_DNS }, null, 2));
    const add = postern(
      ['user', 'add', 'john', '--address', 'john.doe@doe-family.com', '--address', 'postmaster@doe-family.com', '--config', cfg],
      'correct horse battery\nignored second line\n',
    );
    assert.equal(add.code, 0, add.err);
    assert.match(add.out, /Added account john/);
    const saved = JSON.parse(fs.readFileSync(cfg, 'utf8'));
    assert.deepEqual(saved.accounts[0].addresses, ['john.doe@doe-family.com', 'postmaster@doe-family.com']);
    assert.match(saved.accounts[0].passwordHash, /^scrypt\$/);
    assert.doesNotMatch(fs.readFileSync(cfg, 'utf8'), /correct horse/);
    assert.equal(await verifyPassword('correct horse battery', saved.accounts[0].passwordHash), true);
    assert.equal(await verifyPassword('wrong', saved.accounts[0].passwordHash), false);
    assert.equal(fs.statSync(cfg).mode & 0o077, 0, 'the config with hashes is private');

    const list = postern(['user', 'list', '--config', cfg]);
    assert.equal(list.code, 0);
    assert.match(list.out, /^john\tjohn\.doe@doe-family\.com, postmaster@doe-family\.com\tpassword set$/m);

    // An address outside the family's domains: refused, file unchanged.
    const before = fs.readFileSync(cfg, 'utf8');
    const bad = postern(['user', 'add', 'jane', '--address', 'jane@elsewhere.example', '--config', cfg], 'violin cactus harbour\n');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /not in one of the family's domains/);
    // A short or common password is refused by the same rules as the dashboard's.
    const weak = postern(['user', 'add', 'jane', '--address', 'jane@doe-family.com', '--config', cfg], 'password123\n');
    assert.equal(weak.code, 2);
    assert.match(weak.err, /^postern: that password is on the list of the most common passwords/);
    assert.equal(postern(['user', 'add', 'jane', '--address', 'jane@doe-family.com', '--config', cfg], 'short\n').code, 2, 'too short');
    assert.equal(fs.readFileSync(cfg, 'utf8'), before);
    assert.equal(postern(['user', 'add', 'jane', '--config', cfg], '\n').code, 2, 'empty password');

    assert.equal(postern(['user', 'remove', 'nobody', '--config', cfg]).code, 2);
    const rm = postern(['user', 'remove', 'john', '--config', cfg]);
    assert.equal(rm.code, 0);
    assert.deepEqual(JSON.parse(fs.readFileSync(cfg, 'utf8')).accounts, []);
  });
});

describe('postern spf and postern dkim', () => {
  test("the seed's record, printed as the zone line to paste", () => {
    const r = postern(['spf', 'doe-family.com', '--mx']);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.includes('doe-family.com.          TXT "v=spf1 +mx -all"'), r.out);
    assert.equal(postern(['spf', 'doe-family.com', '--ip4', '999.1.1.1']).code, 2);
  });
  test('the DKIM record for a family domain; the key is made once and reused', () => {
    const dir = tempDir();
    const cfg = path.join(dir, 'c.json');
    fs.writeFileSync(cfg, JSON.stringify({ hostname: 'mx.doe-family.com', domains: ['doe-family.com'], dns: LOOPBACK_DNS }));
    const a = postern(['dkim', 'doe-family.com', '--config', cfg, '--data-dir', path.join(dir, 'data')]);
    assert.equal(a.code, 0, a.err);
    const line = /^postern\._domainkey\.doe-family\.com\. TXT ("[^"]{1,255}" ?)+$/m.exec(a.out);
    assert.ok(line, a.out);
    assert.match(line[0], /"v=DKIM1; k=rsa; p=MIIB/);
    const b = postern(['dkim', 'doe-family.com', '--config', cfg, '--data-dir', path.join(dir, 'data')]);
    assert.equal(b.out, a.out, 'same key the second time');
    const other = postern(['dkim', 'example.com', '--config', cfg, '--data-dir', path.join(dir, 'data')]);
    assert.equal(other.code, 2);
    assert.match(other.err, /not one of your domains/);
  });
});

describe('postern serve', () => {
  test('a port in use is reported with the reason and a fix; the rest still starts', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const busy = (blocker.address() as net.AddressInfo).port;
    const dir = tempDir();
    const cfg = path.join(dir, 'c.json');
    fs.writeFileSync(
      cfg,
      JSON.stringify({
        hostname: 'mx.doe-family.com',
        listeners: [
          { port: busy, host: '127.0.0.1', mode: 'mx' },
          { port: 0, host: '127.0.0.1', mode: 'submission' },
        ],
        dns: LOOPBACK_DNS,
        dashboard: { host: '127.0.0.1', port: 0 },
      }),
    );
    const s = await startServe(cfg, path.join(dir, 'data'));
    try {
      assert.match(
        s.output(),
        new RegExp(`mx +NOT listening on port ${busy}: port ${busy} on 127\\.0\\.0\\.1 is already in use by another program\\. Stop the other mail server`),
      );
      assert.ok(s.ports.submission > 0);
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
      blocker.close();
    }
  });
});
