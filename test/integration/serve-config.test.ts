// One source of truth (docs/design.md §8.2): a running `postern serve` notices edits of its
// config file from outside — `postern user add`, a hand edit — and applies them within
// 2 s; a broken file leaves the running config and shows up as status.configError (the
// dashboard's banner). The dashboard link survives a restart (<data-dir>/dashboard-token,
// `postern dashboard`), and `postern bans list|lift` reach the running gateway through
// auth-bans.json (docs/design.md §2.4).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { FAMILY, INTERNET, tempDir } from '../support/gateway.ts';
import { POSTERN, ROOT, startServe, type ServeProcess } from '../support/serve-process.ts';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import type { GatewayApi } from '../../core/api.ts';

let dir: string;
let config: string;
let dataDir: string;
let serve: ServeProcess;

function postern(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [POSTERN, ...args], { cwd: ROOT, input, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function stopServe(): Promise<void> {
  if (serve && serve.child.exitCode === null) {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
}

/** The RCPT reply for `to` from an Internet client. */
async function rcpt(to: string): Promise<number> {
  const c = await RawSmtp.connect({ port: serve.ports.mx, localAddress: INTERNET });
  try {
    await c.cmd('EHLO outside.example');
    const r = await transaction(c, 'friend@example.net', [to]);
    return r.rcpts[0].code;
  } finally {
    await c.quit().catch(() => {});
  }
}

/** Polls until `fn` returns true; returns the time it took (ms). */
async function within(ms: number, what: string, fn: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await fn()) return Date.now() - t0;
    if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function api<M extends keyof GatewayApi>(
  method: M,
  body: unknown = {},
): Promise<{ ok: boolean; value: Awaited<ReturnType<GatewayApi[M]>>; error?: { code: string; message: string } }> {
  const url = new URL(serve.dashboardUrl!);
  const res = await fetch(`${url.origin}/api/${method}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${url.searchParams.get('token')}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await res.json()) as never;
}

before(async () => {
  dir = tempDir('postern-serve-config-');
  config = path.join(dir, 'config.json');
  dataDir = path.join(dir, 'data');
  fs.writeFileSync(config, JSON.stringify({ ...FAMILY, spf: { enabled: false }, dashboard: { host: '127.0.0.1', port: 0 } }, null, 2));
  serve = await startServe(config, dataDir);
});
after(async () => {
  await stopServe();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('outside edits reach a running postern serve', () => {
  test('postern user add: mail to the new account gets 250 instead of 550 within 2 s', async () => {
    assert.equal(await rcpt('kid@doe-family.com'), 550);
    const add = postern(['user', 'add', 'kid', '--address', 'kid@doe-family.com', '--config', config], 'violin cactus harbour\n');
    assert.equal(add.code, 0, add.err);
    const ms = await within(2000, 'the new account', async () => (await rcpt('kid@doe-family.com')) === 250);
    assert.ok(ms <= 2000);
    assert.equal(fs.statSync(config).mode & 0o777, 0o600, 'the file with password hashes is private');
  });

  test('a hand edit (written in place, as an editor does): applied within 2 s', async () => {
    assert.equal(await rcpt('johnny@doe-family.com'), 550);
    const raw = JSON.parse(fs.readFileSync(config, 'utf8'));
    raw.accounts[0].addresses.push('johnny@doe-family.com');
    fs.writeFileSync(config, JSON.stringify(raw, null, 2));
    await within(2000, 'the hand edit', async () => (await rcpt('johnny@doe-family.com')) === 250);
  });

  test('a broken file: the running config stays, status.configError says why in plain words; fixed: gone', async () => {
    const good = fs.readFileSync(config, 'utf8');
    fs.writeFileSync(config, good.replace('"doe-family.com"', '"doe-family.com",,'));
    await within(2000, 'the banner', async () => !!(await api('status')).value?.configError);
    const status = (await api('status')).value;
    assert.match(status.configError!.message, /^The file is not valid JSON near line \d+, column \d+: look there for a missing comma/);
    assert.doesNotMatch(status.configError!.message, /JSON\.parse|position|Unexpected token|\$\./);
    // The running config stays: the accounts added before still receive mail.
    assert.equal(await rcpt('kid@doe-family.com'), 250);
    assert.equal(await rcpt('johnny@doe-family.com'), 250);
    // A mistake of meaning is refused whole too, with every problem named.
    const raw = JSON.parse(good);
    raw.accounts.push({ name: 'Jo Hn', addresses: ['jo@doe-family,com'] });
    fs.writeFileSync(config, JSON.stringify(raw));
    await within(2000, 'the second banner', async () => /Jo Hn/.test((await api('status')).value?.configError?.message ?? ''));
    const both = (await api('status')).value.configError!.message as string;
    assert.match(
      both,
      /\(1\) Account 4: the name "Jo Hn" may only contain lower-case letters.*\(2\) Account 4, address 1: "jo@doe-family,com" has a comma in it/,
    );
    fs.writeFileSync(config, good);
    await within(2000, 'the banner gone', async () => !(await api('status')).value?.configError);
  });
});

describe('bans through the CLI', () => {
  test('a ban written by another process is taken in; postern bans list shows it; postern bans lift reaches the running gateway', async () => {
    const until = Date.now() + 600_000;
    fs.writeFileSync(path.join(dataDir, 'auth-bans.json'), JSON.stringify([{ ip: INTERNET, until, failures: 5 }]));
    await within(2000, 'the ban taken in', async () => {
      const c = await RawSmtp.connect({ port: serve.ports.mx, localAddress: INTERNET });
      await c.quit().catch(() => {});
      return c.greeting.code === 421;
    });
    const list = postern(['bans', 'list', '--data-dir', dataDir]);
    assert.equal(list.code, 0, list.err);
    assert.equal(list.out, `${INTERNET}\tuntil ${new Date(until).toISOString()}\t5 failed logins within 15 minutes\n`);
    assert.deepEqual((await api('bans')).value, [
      { address: INTERNET, until: new Date(until).toISOString(), failures: 5, reason: '5 failed logins within 15 minutes' },
    ]);
    const lift = postern(['bans', 'lift', INTERNET, '--data-dir', dataDir]);
    assert.equal(lift.code, 0, lift.err);
    assert.equal(lift.out, `Lifted the block on ${INTERNET}.\n`);
    await within(2000, 'the lift', async () => (await rcpt('john.doe@doe-family.com')) === 250);
    assert.deepEqual((await api('bans')).value, []);
    const events = await api('events', { rule: 'auth ban' });
    assert.ok(events.value.events.some((e: { text: string }) => e.text === `${INTERNET} unblocked (the block was lifted outside the dashboard)`));
    const again = postern(['bans', 'lift', INTERNET, '--data-dir', dataDir]);
    assert.equal(again.code, 2);
    assert.equal(again.err, `postern: ${INTERNET} is not blocked (see \`postern bans list\`)\n`);
  });
});

describe('the dashboard link', () => {
  test('survives a restart; postern dashboard prints it; a new link replaces it and the old one stops working', async () => {
    const first = serve.dashboardUrl!;
    const file = path.join(dataDir, 'dashboard-token');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(file, 'utf8').trim(), new URL(first).searchParams.get('token'));
    await stopServe();
    serve = await startServe(config, dataDir);
    // The port is the OS's choice (port 0 in this config): compare the token.
    assert.equal(new URL(serve.dashboardUrl!).searchParams.get('token'), new URL(first).searchParams.get('token'));
    const printed = postern(['dashboard', '--config', config, '--data-dir', dataDir]);
    assert.equal(printed.code, 0, printed.err);
    assert.equal(printed.out.trim(), `http://127.0.0.1:0/?token=${new URL(first).searchParams.get('token')}`);

    const old = new URL(serve.dashboardUrl!);
    const renewed = await api('newDashboardToken');
    assert.equal(renewed.ok, true, JSON.stringify(renewed));
    assert.notEqual(renewed.value.token, old.searchParams.get('token'));
    assert.equal(fs.readFileSync(file, 'utf8').trim(), renewed.value.token);
    const refused = await fetch(`${old.origin}/api/status`, { method: 'POST', headers: { Authorization: `Bearer ${old.searchParams.get('token')}` } });
    assert.equal(refused.status, 401);
    const accepted = await fetch(`${old.origin}/api/status`, { method: 'POST', headers: { Authorization: `Bearer ${renewed.value.token}` } });
    assert.equal(accepted.status, 200);
    serve.dashboardUrl = renewed.value.url;
  });
});
