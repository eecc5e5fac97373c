// The Messages view, the history and the viewer as the product runs them: the real
// `postern serve` (core/runtime.ts wires the history index, docs/design.md §4.4), Chromium.
// A mixed run — accepted, refused, deferred and authenticated mail — is one row per
// transaction with its subject; a restart of serve and a reload show the same rows; a
// field search and an export give the right rows; an HTML message with a script and a
// remote image opens without the script running or the image being fetched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureRenderer, launchBrowser, screenshotPath } from './support.ts';
import { startServe, type ServeProcess } from '../support/serve-process.ts';
import { FAMILY, INTERNET, tempDir } from '../support/gateway.ts';
import { freePort } from '../support/smtp-sink.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { hashPassword } from '../../core/auth/builtin.ts';

let dir: string;
let config: string;
let serve: ServeProcess;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let beacon: http.Server;
const beaconHits: string[] = [];
let beaconPort = 0;

async function startPostern(): Promise<void> {
  serve = await startServe(config, path.join(dir, 'data'));
  assert.ok(serve.dashboardUrl, serve.output());
}

async function stopPostern(): Promise<void> {
  if (serve && serve.child.exitCode === null) {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
}

async function openPage(hash = '#/messages'): Promise<void> {
  await context?.close();
  context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  page = await context.newPage();
  await page.goto(serve.dashboardUrl! + hash);
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });
}

before(async () => {
  await ensureRenderer();
  // A loopback web server that counts every request: the "remote" image and anything a script might fetch.
  beacon = http.createServer((req, res) => {
    beaconHits.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'image/png' });
    res.end();
  });
  await new Promise<void>((r) => beacon.listen(0, '127.0.0.1', () => r()));
  beaconPort = (beacon.address() as AddressInfo).port;
  dir = tempDir('postern-messages-');
  config = path.join(dir, 'postern.json');
  const hash = await hashPassword('sunday roast');
  const family = FAMILY.accounts.map((a) => (a.name === 'jane' ? { ...a, passwordHash: hash } : a));
  fs.writeFileSync(
    config,
    JSON.stringify({
      ...FAMILY,
      accounts: family,
      // Nothing listens there: the family's outbound message waits in the queue, retrying.
      outbound: { mode: 'smarthost', smarthost: { host: '127.0.0.1', port: await freePort(), requireTLS: false } },
      dashboard: { host: '127.0.0.1', port: 0 },
    }),
  );
  await startPostern();
  browser = await launchBrowser();
});

after(async () => {
  await context?.close();
  await browser?.close();
  await stopPostern();
  await new Promise<void>((r) => beacon.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});

const HTML_MAIL = () =>
  [
    'From: Jane Doe <jane.doe@doe-family.com>',
    'To: john.doe@doe-family.com',
    'Subject: Cookies for Sunday',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Dear John, the cookies are ready.',
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    '',
    `<html><body><p id="greeting">Dear John, the cookies are ready.</p><img src="http://127.0.0.1:${beaconPort}/x.png">`,
    `<script>document.getElementById('greeting').textContent = 'SCRIPT RAN'; fetch('http://127.0.0.1:${beaconPort}/script');</script>`,
    '</body></html>',
    '--b1--',
    '',
  ].join('\r\n');

/** One transaction; returns the last reply code (DATA's, or the refusal). */
async function send(o: { client: string; from: string; to: string[]; subject?: string; body?: string; login?: [string, string] }): Promise<number> {
  const c = await RawSmtp.connect({ port: serve.ports.mx, localAddress: o.client });
  await c.cmd('EHLO home.example');
  if (o.login) {
    assert.equal((await c.starttls()).code, 220);
    await c.cmd('EHLO home.example');
    assert.equal((await c.cmd(`AUTH PLAIN ${Buffer.from(`\0${o.login[0]}\0${o.login[1]}`).toString('base64')}`)).code, 235);
  }
  try {
    const mail = await c.cmd(`MAIL FROM:<${o.from}>`, 15_000);
    if (mail.code >= 400) return mail.code;
    let ok = 0;
    let last = 0;
    for (const t of o.to) {
      const r = await c.cmd(`RCPT TO:<${t}>`);
      last = r.code;
      if (r.code < 400) ok++;
    }
    if (!ok) return last;
    assert.equal((await c.cmd('DATA')).code, 354);
    c.write(`${o.body ?? `From: ${o.from}\r\nTo: ${o.to.join(', ')}\r\nSubject: ${o.subject}\r\n\r\nhello\r\n`}.\r\n`);
    return (await c.read(15_000)).code;
  } finally {
    await c.quit();
  }
}

const rowsOf = (p: Page) => p.getByTestId('message-row');

async function rowTexts(p: Page): Promise<string[]> {
  return (await rowsOf(p).allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
}

test('a mixed run is one Messages row per transaction, with subjects and the family words', async () => {
  assert.equal(await send({ client: '127.0.0.1', from: 'jane.doe@doe-family.com', to: ['john.doe@doe-family.com'], body: HTML_MAIL() }), 250);
  assert.equal(await send({ client: '127.0.0.1', from: 'grandma@example.org', to: ['john.doe@doe-family.com'], subject: 'Hello from grandma' }), 250);
  // Refused: our own domain as sender from the Internet (554), and an unknown family address (550).
  assert.equal(await send({ client: INTERNET, from: 'john.doe@doe-family.com', to: ['john.doe@doe-family.com'], subject: 'x' }), 554);
  assert.equal(await send({ client: '127.0.0.1', from: 'grandma@example.org', to: ['nobody@doe-family.com'], subject: 'x' }), 550);
  // Deferred: SPF cannot be checked (the DNS server does not answer): 451 at MAIL FROM.
  assert.equal(await send({ client: INTERNET, from: 'uncle@flaky.example', to: ['john.doe@doe-family.com'], subject: 'x' }), 451);
  // Authenticated: Jane sends to her aunt; the smarthost is down, so it waits in the queue.
  assert.equal(
    await send({ client: INTERNET, from: 'jane.doe@doe-family.com', to: ['aunt@example.net'], subject: 'Sunday lunch', login: ['jane', 'sunday roast'] }),
    250,
  );

  await openPage();
  await rowsOf(page).nth(5).waitFor({ timeout: 10_000 });
  const texts = await rowTexts(page);
  assert.equal(texts.length, 6, texts.join('\n'));
  // Newest first.
  assert.match(texts[0], /jane\.doe@doe-family\.com aunt@example\.net Sunday lunch .*Accepted (queued|retrying)/);
  assert.match(texts[0], /login jane/);
  assert.match(texts[1], /uncle@flaky\.example .*Deferred/);
  assert.match(texts[2], /nobody@doe-family\.com .*Refused unknown local user/);
  assert.match(texts[3], /Refused local sender from outside/);
  assert.match(texts[4], /grandma@example\.org john\.doe@doe-family\.com Hello from grandma .*Accepted in the Maildir/);
  assert.match(texts[5], /Cookies for Sunday .*Accepted in the Maildir/);
  // The status strip counts messages, not events: 3 accepted, 2 refused, 1 deferred; logins apart.
  await page
    .getByTestId('counter-accepted')
    .filter({ hasText: /^Accepted\s*3$/ })
    .waitFor({ timeout: 10_000 });
  assert.match(await page.getByTestId('counter-refused').innerText(), /2/);
  assert.match(await page.getByTestId('counter-deferred').innerText(), /1/);
  assert.match(await page.getByTestId('counter-logins').innerText(), /1/);
  // A row opens to its SMTP events.
  await rowsOf(page).nth(0).click();
  const panel = page.getByTestId('message-panel');
  await panel.getByTestId('message-step').nth(3).waitFor({ timeout: 10_000 });
  const steps = (await panel.getByTestId('message-step').allInnerTexts()).join('\n');
  assert.match(steps, /Login[\s\S]*Sender[\s\S]*Recipient[\s\S]*Message/);
  await page.screenshot({ path: screenshotPath('messages-light') });
});

test('a restart of postern serve and a reload show the same rows', async () => {
  await openPage();
  await rowsOf(page).nth(5).waitFor({ timeout: 10_000 });
  const before = await rowTexts(page);
  await stopPostern();
  await startPostern();
  await openPage();
  await rowsOf(page).nth(5).waitFor({ timeout: 10_000 });
  // Times and verdicts are the same; the queued message may have had another try meanwhile.
  const strip = (t: string) => t.replace(/(queued|retrying)( \(\d+ tr(y|ies)\))?/, 'waiting');
  assert.deepEqual((await rowTexts(page)).map(strip), before.map(strip));
  // The strip's counters continue from the history (the 24 hours before this start), not from zero.
  await page
    .getByTestId('counter-accepted')
    .filter({ hasText: /^Accepted\s*3$/ })
    .waitFor({ timeout: 10_000 });
  assert.match(await page.getByTestId('counter-refused').innerText(), /2/);
  assert.match(await page.getByTestId('counter-logins').innerText(), /1/);
  assert.match((await page.getByTestId('counter-accepted').getAttribute('title')) ?? '', /the 24 hours before Postern started, from the history, and since/);
  // The live log opens on the history too, not on an empty page: the first run's events are there.
  await page.goto(`${serve.dashboardUrl!}#/log`);
  await page.locator('.log-inner [role="row"]').filter({ hasText: 'grandma@example.org' }).first().waitFor({ timeout: 10_000 });
});

test('a field search is kept in the address, and the export gives the same rows', async () => {
  await openPage('#/messages');
  await page.getByTestId('message-search').fill('from:grandma');
  await page.getByTestId('message-search').press('Enter');
  await page.waitForFunction(() => (globalThis as unknown as { location: { hash: string } }).location.hash.includes('q=from%3Agrandma'));
  await page.waitForFunction(
    () =>
      (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('[data-testid="message-row"]')
        .length === 2,
  );
  const texts = await rowTexts(page);
  assert.ok(
    texts.every((t) => t.includes('grandma@example.org')),
    texts.join('\n'),
  );
  // A reload keeps the search.
  await page.reload();
  await page.getByTestId('message-search').and(page.locator('[value="from:grandma"]')).waitFor({ timeout: 10_000 });
  // Fields combine: the refused one of grandma's two.
  await page.getByTestId('message-search').fill('from:grandma verdict:refused');
  await page.getByTestId('message-search').press('Enter');
  await page.waitForFunction(
    () =>
      (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('[data-testid="message-row"]')
        .length === 1,
  );
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
  const csv = fs
    .readFileSync((await download.path())!, 'utf8')
    .trim()
    .split('\r\n');
  assert.equal(csv.length, 2, csv.join('\n'));
  assert.match(csv[0], /^time,client,user,from,to,subject,size,verdict,outcome,code,rule,reason,queueId$/);
  assert.match(csv[1], /grandma@example\.org,nobody@doe-family\.com,,0,refused,,550,relay rcpt,unknown local user/);
  // JSON through the API, as a script would fetch it.
  const token = new URL(serve.dashboardUrl!).searchParams.get('token');
  const res = await fetch(new URL('/api/exportMessages', serve.dashboardUrl!), {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ q: 'subject:sunday', format: 'json' }),
  });
  const file = (await res.json()) as { ok: boolean; value: { body: string } };
  const rows = JSON.parse(file.value.body) as { subject: string }[];
  assert.deepEqual(rows.map((r) => r.subject).sort(), ['Cookies for Sunday', 'Sunday lunch']);
});

test('an HTML message opens without running its script or fetching its remote image', async () => {
  await openPage(`#/messages?q=${encodeURIComponent('subject:cookies')}`);
  await rowsOf(page).first().click();
  await page.getByTestId('open-message').click();
  const viewer = page.getByTestId('message-viewer');
  await viewer.getByTestId('message-frame').waitFor({ timeout: 10_000 });
  const frame = page.frameLocator('[data-testid="message-frame"]');
  await frame.locator('#greeting').waitFor({ timeout: 10_000 });
  assert.equal(await frame.locator('#greeting').innerText(), 'Dear John, the cookies are ready.');
  // The frame has finished loading (images are fetched, or refused, before 'load').
  const f = page.frames().find((x) => x.url().includes('/api/message-html'));
  assert.ok(f, 'the HTML part is framed from its own CSP-guarded address');
  await f.waitForLoadState('load');
  assert.deepEqual(beaconHits, [], 'nothing reached the loopback web server');
  assert.equal(await viewer.getByRole('heading', { name: 'Cookies for Sunday' }).count(), 1);
  await page.screenshot({ path: screenshotPath('viewer-light') });
  // The source is there too.
  await viewer.getByRole('button', { name: 'Source' }).click();
  assert.match(await viewer.getByTestId('message-source').innerText(), /Subject: Cookies for Sunday/);
});

test('the traffic picture counts the run; screenshots in both themes', async () => {
  for (const scheme of ['light', 'dark'] as const) {
    await context?.close();
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: scheme });
    page = await context.newPage();
    await page.goto(`${serve.dashboardUrl!}#/traffic`);
    await page.getByTestId('chart-hour').locator('canvas').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('.lead').innerText(), /Last 24 hours: 3 accepted, 2 refused, 1 deferred/);
    assert.match(
      await page.getByRole('table', { name: 'Top refusal reasons' }).innerText(),
      /unknown local user[\s\S]*local sender from outside|local sender from outside[\s\S]*unknown local user/,
    );
    await page.screenshot({ path: screenshotPath(`traffic-${scheme}`), fullPage: true });
    if (scheme === 'light') continue;
    await page.goto(`${serve.dashboardUrl!}#/messages`);
    await rowsOf(page).nth(5).waitFor({ timeout: 10_000 });
    await rowsOf(page).nth(5).click();
    await page.getByTestId('message-step').first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: screenshotPath('messages-dark') });
    await page.getByTestId('open-message').click();
    await page.frameLocator('[data-testid="message-frame"]').locator('#greeting').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: screenshotPath('viewer-dark') });
  }
});
