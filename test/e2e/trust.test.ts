// Trust is explicit, and the page never shows as saved what was not written (docs/design.md
// §2.2, §8.2), in real Chromium over a gateway whose config is a file:
//   - 0.0.0.0/0 (and ::/0, anything wider than /8) refused in the page and the API;
//   - a public /24 needs the confirmation, which says what it means;
//   - a range that makes Postern an open relay turns the status strip red at once;
//   - a save that fails (the config folder made immutable) is shown as failed, rolled back;
//   - a broken hand edit leaves the running config and shows a banner;
//   - blocked addresses are listed with their reason and lifted after a question.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { DIST, ensureRenderer, launchBrowser, openDashboard, screenshotPath } from './support.ts';
import { FAMILY, startGateway, tempDir, type TestGateway } from '../support/gateway.ts';
import { createApi } from '../../core/api-impl.ts';
import { startDashboard, type Dashboard } from '../../core/http/server.ts';
import { ApiError, type GatewayApi } from '../../core/api.ts';

let dir: string;
let config: string;
let t: TestGateway;
let dash: Dashboard;
let api: GatewayApi;
let browser: Browser;
let page: Page;

before(async () => {
  await ensureRenderer();
  dir = tempDir('postern-trust-e2e-');
  config = path.join(dir, 'config.json');
  t = await startGateway(FAMILY, { configFile: config });
  api = createApi({ gateway: t.gw });
  dash = await startDashboard({ api, gateway: t.gw, host: '127.0.0.1', port: 0, staticDir: DIST });
  browser = await launchBrowser();
  page = (await openDashboard(browser, dash, { hash: '#/networks' })).page;
  await page.getByRole('heading', { name: 'Internal networks' }).waitFor();
});
after(async () => {
  spawnSync('chattr', ['-i', dir]);
  await browser?.close();
  await dash?.close();
  await t?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const row = (cidr: string) => page.locator(`[data-testid="network"][data-cidr="${cidr}"]`);
const form = () => page.getByRole('form', { name: 'Add a network' });
const WHOLE = '0.0.0.0/0 is the whole Internet: trusting it would let anyone send mail through Postern';

async function add(cidr: string, label = '') {
  await page.getByLabel('Network (CIDR)').fill(cidr);
  await page.getByLabel('Name (optional)').fill(label);
  await page.getByRole('button', { name: 'Add and trust' }).click();
}

describe('too wide: refused everywhere', () => {
  test('0.0.0.0/0 in the page: the plain sentence, nothing trusted, nothing written', async () => {
    const before = fs.readFileSync(config, 'utf8');
    await add('0.0.0.0/0', 'everyone');
    await form().getByRole('alert').filter({ hasText: WHOLE }).waitFor({ timeout: 10_000 });
    assert.equal(await page.getByTestId('confirm-trust').count(), 0, 'no "trust it anyway" for the whole Internet');
    assert.equal(t.gw.networks.isInternal('8.8.8.8'), false);
    assert.equal(fs.readFileSync(config, 'utf8'), before);
    for (const [cidr, words] of [
      ['::/0', /whole IPv6 Internet/],
      ['10.0.0.0/7', /too wide to trust \(IPv4 networks may be at most \/8\)/],
      ['2000::/3', /at most \/32/],
    ] as const) {
      await add(cidr);
      await form().getByRole('alert').filter({ hasText: words }).waitFor({ timeout: 10_000 });
    }
  });

  test('and in the API, with or without the confirmation', async () => {
    for (const confirmPublic of [false, true]) {
      await assert.rejects(
        api.setNetwork({ cidr: '0.0.0.0/0', enabled: true, confirmPublic }),
        (e: unknown) => e instanceof ApiError && e.code === 'invalid-input' && e.message.startsWith(WHOLE),
      );
    }
    await assert.rejects(api.setNetwork({ cidr: '::/0', enabled: false }), (e: unknown) => e instanceof ApiError && e.code === 'invalid-input');
  });
});

describe('a public range needs a confirmation', () => {
  test('8.8.8.0/24: the page says what it means; trusted only after "Trust it anyway"', async () => {
    await assert.rejects(
      api.setNetwork({ cidr: '8.8.8.0/24', enabled: true }),
      (e: unknown) => e instanceof ApiError && e.code === 'needs-confirmation' && /contains public Internet addresses/.test(e.message),
    );
    await add('8.8.8.0/24', 'Rented server');
    const box = page.getByTestId('confirm-trust');
    await box.waitFor({ timeout: 10_000 });
    const text = (await box.innerText()).replace(/\s+/g, ' ');
    assert.match(
      text,
      /Trust 8\.8\.8\.0\/24\? 8\.8\.8\.0\/24 contains public Internet addresses, not only your home network: every computer in it could send mail anywhere through Postern without a password/,
    );
    await page.screenshot({ path: screenshotPath('networks-confirm-public'), fullPage: true });
    assert.equal(t.gw.networks.isInternal('8.8.8.8'), false, 'nothing trusted before the answer');
    assert.equal(await row('8.8.8.0/24').count(), 0);
    await box.getByRole('button', { name: 'Trust it anyway' }).click();
    await row('8.8.8.0/24').getByText('Trusted: devices here may send mail').waitFor({ timeout: 10_000 });
    assert.equal(t.gw.networks.isInternal('8.8.8.8'), true);
    assert.deepEqual(
      JSON.parse(fs.readFileSync(config, 'utf8')).internalNetworks.find((n: { cidr: string }) => n.cidr === '8.8.8.0/24'),
      { cidr: '8.8.8.0/24', label: 'Rented server', enabled: true },
    );
    // Off again with its switch: no question for taking trust away.
    await row('8.8.8.0/24').locator('.switch').click();
    await row('8.8.8.0/24').getByText('Not trusted.').waitFor({ timeout: 10_000 });
    // On again with its switch: the question again, Cancel changes nothing.
    await row('8.8.8.0/24').locator('.switch').click();
    await page.getByTestId('confirm-trust').getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await row('8.8.8.0/24').getByRole('switch').isChecked(), false);
    assert.equal(t.gw.networks.isInternal('8.8.8.8'), false);
  });
});

describe('the relay self-test runs after every change', () => {
  test('trusting the self-test’s Internet range turns the strip red at once; undoing it clears it', async () => {
    // 192.0.2.0/24 is a documentation range (a click, no question) — and the self-test's client.
    await add('192.0.2.0/24', 'oops');
    const alarm = page.getByTestId('relay-alarm');
    await alarm.waitFor({ timeout: 10_000 });
    assert.match(await alarm.innerText(), /Postern is an open relay\.[\s\S]*Turn off 192\.0\.2\.0\/24 in Internal networks now/);
    assert.match(await page.getByTestId('state').innerText(), /OPEN RELAY/);
    assert.equal(t.gw.status().relay?.ok, false);
    await page.screenshot({ path: screenshotPath('networks-open-relay-alarm'), fullPage: false });
    await row('192.0.2.0/24').locator('.switch').click();
    await alarm.waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(t.gw.status().relay?.ok, true);
  });
});

describe('a save that fails is shown as failed and rolled back', () => {
  test('the config folder made immutable: "not saved: …", the switch stays off, nothing trusted', async () => {
    await add('10.9.8.0/24', 'Garage');
    await row('10.9.8.0/24').getByText('Trusted: devices here may send mail').waitFor({ timeout: 10_000 });
    await row('10.9.8.0/24').locator('.switch').click();
    await row('10.9.8.0/24').getByText('Not trusted.').waitFor({ timeout: 10_000 });
    const before = fs.readFileSync(config, 'utf8');
    const lock = spawnSync('chattr', ['+i', dir]);
    assert.equal(lock.status, 0, `chattr +i: ${lock.stderr}`);
    try {
      await row('10.9.8.0/24').locator('.switch').click();
      const alert = page.getByRole('alert').filter({ hasText: /^✕ not saved: Postern is not allowed to write config\.json or its folder/ });
      await alert.waitFor({ timeout: 10_000 });
      assert.doesNotMatch(await alert.innerText(), /EPERM|EACCES|rename|\.tmp/);
      await page.waitForFunction(
        () =>
          !(globalThis as unknown as { document: { querySelector(s: string): { checked: boolean } | null } }).document.querySelector(
            '[data-cidr="10.9.8.0/24"] input',
          )?.checked,
        undefined,
        { timeout: 10_000 },
      );
      assert.equal(t.gw.networks.isInternal('10.9.8.7'), false, 'rolled back in memory');
      assert.equal(t.gw.config().internalNetworks.find((n) => n.cidr === '10.9.8.0/24')?.enabled, false);
      assert.equal(fs.readFileSync(config, 'utf8'), before);
      assert.ok(
        t
          .events()
          .some(
            (e) =>
              e.rule === 'config' && e.verdict === 'reject' && /^not saved \(10\.9\.8\.0\/24 was not trusted\): Postern is not allowed to write/.test(e.text),
          ),
      );
      // The accounts page's saves fail the same way (one path: LiveConfig.save).
      await assert.rejects(
        api.addAccount({ name: 'kid', addresses: ['kid@doe-family.com'], password: 'violin cactus harbour' }),
        (e: unknown) => e instanceof ApiError && e.code === 'unavailable' && /^not saved: /.test(e.message),
      );
    } finally {
      spawnSync('chattr', ['-i', dir]);
    }
  });
});

describe('an outside edit of the file', () => {
  test('broken: a banner, the running config stays; fixed: applied, the banner goes', async () => {
    const good = fs.readFileSync(config, 'utf8');
    fs.writeFileSync(config, good.replace('"mx.doe-family.com"', '"mx.doe-family.com" "oops"'));
    const banner = page.getByTestId('config-error');
    await banner.waitFor({ timeout: 10_000 });
    assert.match(
      await banner.innerText(),
      /The configuration file was changed, but the change was not applied — Postern keeps running with the settings it had\. The file is not valid JSON near line \d+, column \d+/,
    );
    assert.equal(t.gw.config().hostname, 'mx.doe-family.com');
    assert.deepEqual(
      t.gw.directory().accounts.map((a) => a.name),
      ['john', 'jane'],
    );
    const raw = JSON.parse(good);
    raw.internalNetworks.push({ cidr: '10.7.7.0/24', label: 'Edited by hand', enabled: true });
    fs.writeFileSync(config, JSON.stringify(raw, null, 2));
    await banner.waitFor({ state: 'detached', timeout: 10_000 });
    await row('10.7.7.0/24').waitFor({ timeout: 10_000 });
    assert.equal(t.gw.networks.isInternal('10.7.7.1'), true);
  });
});

describe('blocked addresses', () => {
  test('listed with reason and end; Lift asks first, then the address may connect again', async () => {
    for (let i = 0; i < 5; i++) t.gw.bans.fail('203.0.113.45');
    assert.ok(t.gw.bans.banned('203.0.113.45'));
    await page.reload();
    const ban = page.locator('[data-testid="ban"][data-address="203.0.113.45"]');
    await ban.waitFor({ timeout: 10_000 });
    assert.match(await ban.innerText(), /203\.0\.113\.45 — 5 failed logins within 15 minutes; blocked until/);
    await ban.getByRole('button', { name: 'Lift the block on 203.0.113.45' }).click();
    await ban.getByText('Let 203.0.113.45 try again?').waitFor();
    assert.ok(t.gw.bans.banned('203.0.113.45'), 'nothing lifted before the answer');
    await ban.getByRole('button', { name: 'Lift the block', exact: true }).click();
    await ban.waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(t.gw.bans.banned('203.0.113.45'), null);
    await page.getByTestId('bans').getByText('No address is blocked.').waitFor();
  });
});
