// The guided first run end to end (issue 13, docs/design.md §7.1): `postern serve` from an
// empty data dir and a config with only loopback listeners, a loopback dashboard and the
// test DNS server; everything else is set up in Chromium by clicking and typing. Then
// swaks sends as the Internet (to a family account: 250), as a family member over
// STARTTLS with AUTH (relayed: queued and handed to the smarthost), and as a stranger
// trying to relay (554). The test never writes the config file after the start.
// Screenshots of each step and of every page at 1280 and 390 px, light and dark, go to
// docs/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { ensureRenderer, launchBrowser, ROOT, type PageWindow } from './support.ts';
import { startServe, type ServeProcess } from '../support/serve-process.ts';
import { startDnsServer, type DnsServer } from '../support/dns-server.ts';
import { startSink, type Sink } from '../support/smtp-sink.ts';
import { tempDir } from '../support/gateway.ts';
import { requireTools } from '../support/tools.ts';

const SHOTS = path.join(ROOT, 'docs', 'screenshots');
const PASSWORD = 'Kitchen-Table-42';
const VARIANTS = [
  { width: 1280, height: 860, scheme: 'light' },
  { width: 1280, height: 860, scheme: 'dark' },
  { width: 390, height: 844, scheme: 'light' },
  { width: 390, height: 844, scheme: 'dark' },
] as const;

let dir: string;
let configFile: string;
let dns: DnsServer;
let sink: Sink;
let serve: ServeProcess;
let browser: Browser;
let page: Page;

before(async () => {
  requireTools('swaks', 'swaks TLS', 'chromium', 'smtp-sink');
  await ensureRenderer();
  dir = tempDir('postern-first-run-');
  configFile = path.join(dir, 'config.json');
  dns = await startDnsServer({
    // Published already: the MX and the server's name; the SPF record differs; DKIM and DMARC not yet.
    'doe-family.com': { MX: [{ priority: 10, exchange: 'mx.doe-family.com' }], TXT: ['v=spf1 +mx ~all'] },
    'mx.doe-family.com': { A: ['203.0.113.25'] },
  });
  sink = await startSink();
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      listeners: [
        { port: 0, host: '127.0.0.1', mode: 'mx' },
        { port: 0, host: '127.0.0.1', mode: 'submission' },
      ],
      dashboard: { host: '127.0.0.1', port: 0 },
      dns: { servers: [dns.address], timeoutMs: 1000 },
    }),
  );
  serve = await startServe(configFile, path.join(dir, 'data'));
  assert.ok(serve.dashboardUrl, serve.output());
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light', deviceScaleFactor: 1 });
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
  if (serve) {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  await sink?.stop();
  await dns?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function shot(p: Page, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  await p.evaluate(() => (globalThis as unknown as PageWindow).scrollTo(0, 0));
  await p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** The first-run step as it is now, in every size and theme (same page, resized and re-themed). */
async function shootStep(n: number, slug: string): Promise<void> {
  for (const v of VARIANTS) {
    await page.setViewportSize({ width: v.width, height: v.height });
    await page.emulateMedia({ colorScheme: v.scheme });
    await page.waitForTimeout(150);
    await shot(page, `first-run-${n}-${slug}-${v.width}-${v.scheme}`);
  }
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.emulateMedia({ colorScheme: 'light' });
}

const step = (n: number) => page.locator(`[data-testid="first-run-step"][data-step="${n}"]`);

/** swaks in its own process; async, because the test DNS server answers from this one. */
function swaks(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/swaks', ['--server', '127.0.0.1', '--timeout', '20', '--suppress-data', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

test('the guided first run, by clicking and typing only', async () => {
  const written = fs.statSync(configFile).mtimeMs;
  await page.goto(serve.dashboardUrl!);
  // A fresh install opens on the first run.
  await step(1).waitFor({ timeout: 10_000 });
  await shootStep(1, 'domain');
  await step(1).getByLabel('Your domains').fill('doe-family.com');
  await step(1).getByRole('button', { name: 'Save and continue' }).click();

  await step(2).waitFor();
  assert.equal(await step(2).getByLabel('Server name (host name)').inputValue(), 'mx.doe-family.com', 'mx.<domain> suggested');
  await step(2).getByLabel('Public IP address (optional)').fill('203.0.113.25');
  await shootStep(2, 'server');
  await step(2).getByRole('button', { name: 'Save and continue' }).click();

  await step(3).waitFor();
  for (const [name, address] of [
    ['john', 'john.doe@doe-family.com'],
    ['jane', ''],
  ]) {
    const form = step(3).getByRole('form', { name: 'Add a family member' });
    await form.getByLabel('Name (login)').fill(name);
    if (address) await form.getByLabel('Address').fill(address);
    await form.getByLabel(/^Password/).fill(PASSWORD);
    await form.getByRole('button', { name: 'Add' }).click();
    await step(3).getByTestId('account').filter({ hasText: name }).waitFor();
  }
  assert.match(await step(3).getByTestId('account').filter({ hasText: 'jane' }).innerText(), /jane@doe-family\.com/, 'the address is name@domain unless typed');
  await shootStep(3, 'family');
  await step(3).getByRole('button', { name: 'Continue' }).click();

  await step(4).waitFor();
  await step(4).getByLabel('Sending server', { exact: true }).fill('127.0.0.1');
  await step(4).getByLabel('Port', { exact: true }).fill(String(sink.port));
  await step(4).getByLabel('Encryption').selectOption('none');
  await step(4).getByRole('button', { name: 'Test the connection' }).click();
  await step(4).getByTestId('smarthost-test').waitFor({ timeout: 30_000 });
  assert.match(await step(4).getByTestId('smarthost-test').innerText(), new RegExp(`127\\.0\\.0\\.1:${sink.port} answered`));
  await shootStep(4, 'outgoing');
  await step(4).getByRole('button', { name: 'Save and continue' }).click();

  await step(5).waitFor();
  const records = step(5).getByTestId('dns-record');
  await records.first().waitFor({ timeout: 15_000 });
  const state = async (type: string, name: RegExp) =>
    (await records
      .filter({ has: page.locator(`td:nth-child(2)`, { hasText: type }) })
      .filter({ hasText: name })
      .getAttribute('data-state')) ?? '';
  assert.equal(await state('MX', /10 mx\.doe-family\.com\./), 'published');
  assert.equal(await state('A', /203\.0\.113\.25/), 'published');
  assert.equal(await state('TXT', /v=spf1 \+mx \+ip4:203\.0\.113\.25 -all/), 'different');
  assert.equal(await state('TXT', /v=DKIM1; k=rsa; p=/), 'missing');
  assert.equal(await state('TXT', /v=DMARC1/), 'missing');
  assert.equal(
    await step(5)
      .getByRole('button', { name: /^Copy the/ })
      .count(),
    5,
    'a copy button per value',
  );
  assert.ok(!(await step(5).innerText()).includes('<'), 'no <placeholder> in the table');
  await shootStep(5, 'dns');
  await step(5).getByRole('button', { name: 'Continue' }).click();

  await step(6).waitFor();
  await step(6).getByTestId('check').first().waitFor({ timeout: 60_000 });
  await shootStep(6, 'check');
  await step(6)
    .getByRole('link', { name: /Finish/ })
    .click();
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();

  // Trust is explicit: this computer (all of 127.0.0.0/8 here) is trusted by default, so the
  // Internet and the stranger would be "this computer". Switched off in the Networks page.
  await page.getByRole('link', { name: 'Networks' }).click();
  const loop = page.locator('[data-testid="network"][data-cidr="127.0.0.0/8"]');
  await loop.locator('.switch').click();
  for (let i = 0; i < 50 && (await loop.getByRole('switch').isChecked()); i++) await page.waitForTimeout(100);
  assert.equal(await loop.getByRole('switch').isChecked(), false, 'this computer no longer trusted');

  const saved = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  assert.deepEqual(saved.domains, ['doe-family.com']);
  assert.equal(saved.hostname, 'mx.doe-family.com');
  assert.equal(saved.outbound.smarthost.port, sink.port);
  assert.ok(fs.statSync(configFile).mtimeMs > written, 'Postern wrote the file; the test never did');
});

test('swaks: the Internet delivers to the family, the family relays, a stranger is refused', async () => {
  const internet = await swaks([
    '--port',
    String(serve.ports.mx),
    '--local-interface',
    '127.0.0.2',
    '--from',
    'grandma@example.org',
    '--to',
    'john.doe@doe-family.com',
  ]);
  assert.equal(internet.code, 0, internet.out);
  assert.match(internet.out, /<-\s+250 2\.0\.0 OK: queued as/);
  const maildir = path.join(dir, 'data', 'maildir', 'john', 'new');
  assert.equal(fs.readdirSync(maildir).length, 1, 'in john’s Maildir');

  const family = await swaks([
    '--port',
    String(serve.ports.submission),
    '--local-interface',
    '127.0.0.4',
    '--tls',
    '--auth',
    'PLAIN',
    '--auth-user',
    'jane',
    '--auth-password',
    PASSWORD,
    '--from',
    'jane@doe-family.com',
    '--to',
    'grandma@example.org',
  ]);
  assert.equal(family.code, 0, family.out);
  assert.match(family.out, /<-\s+220 .*TLS/i);
  assert.match(family.out, /<~\s+235 /);
  assert.match(family.out, /<~\s+250 2\.0\.0 OK: queued as/);
  // Relayed: handed to the smarthost set in the first run.
  for (let i = 0; i < 100 && sink.messages().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(sink.messages().length, 1, 'the smarthost got it');

  const stranger = await swaks([
    '--port',
    String(serve.ports.mx),
    '--local-interface',
    '127.0.0.3',
    '--from',
    'spam@example.net',
    '--to',
    'victim@example.com',
  ]);
  assert.notEqual(stranger.code, 0);
  assert.match(stranger.out, /<\*\*\s+554 5\.7\.1 <victim@example\.com>: Relay access denied/);
});

test('screenshots of every page at 1280 and 390 px, light and dark', async () => {
  const sideways: string[] = [];
  const pages = ['log', 'messages', 'traffic', 'networks', 'spf', 'accounts', 'queue', 'setup', 'settings'];
  for (const v of VARIANTS) {
    const context = await browser.newContext({ viewport: { width: v.width, height: v.height }, colorScheme: v.scheme, deviceScaleFactor: 1 });
    const p = await context.newPage();
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${serve.dashboardUrl!}#/log`);
    await p.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
    for (const id of pages) {
      if (v.width === 390) {
        // The menu: the current page's name on the button, the pages behind it.
        await p.locator('.menu-button').click();
        await p.locator('#page-tabs.open').waitFor();
        await p.locator(`#page-tabs a[href="#/${id}"]`).click();
        assert.equal(await p.locator('#page-tabs.open').count(), 0, 'the menu closes after a choice');
      } else {
        await p.locator(`nav.tabs a[href="#/${id}"]`).click();
      }
      await p.locator(`main.page-${id}`).waitFor();
      await p.waitForTimeout(id === 'setup' ? 2500 : 700);
      if (v.width === 390) {
        const wide = await p.evaluate(() => {
          const w = globalThis as unknown as PageWindow;
          const over = [...w.document.querySelectorAll('main *')]
            .filter((el) => el.getBoundingClientRect().right > 391)
            .slice(0, 3)
            .map((el) => `${el.tagName}.${el.className}`);
          return { width: w.document.documentElement.scrollWidth, over };
        });
        if (wide.width > 391) sideways.push(`${id} at 390 px scrolls sideways (${wide.width} px: ${wide.over.join(', ')})`);
        assert.match(await p.locator('.menu-current').innerText(), /\S/, 'the current page is named');
      }
      await shot(p, `${id}-${v.width}-${v.scheme}`);
      if (id === 'log') {
        await p.locator('.log-inner [role="row"]').filter({ hasText: 'Relay access denied' }).first().click();
        await p.getByTestId('session-panel').waitFor();
        if (v.width === 390) {
          const box = await p.getByTestId('session-panel').boundingBox();
          assert.ok(box && box.x === 0 && box.width >= 389, `the session panel takes the screen (${JSON.stringify(box)})`);
        }
        await p.waitForTimeout(300);
        await shot(p, `log-session-${v.width}-${v.scheme}`);
        await p.keyboard.press('Escape');
      }
    }
    assert.deepEqual(errors, []);
    await context.close();
  }
  assert.deepEqual(sideways, [], 'no page scrolls sideways at 390 px');
});
