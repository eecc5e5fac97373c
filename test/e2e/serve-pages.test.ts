// The Queue and Setup pages as the product wires them: the real `postern serve`
// (core/serve.ts → core/runtime.ts, the runtime the desktop app uses too), opened
// from its printed link in Chromium. No fakes: the queue is the real outbound queue
// (a smarthost that answers 4xx, Postfix's smtp-sink), the setup check is the real
// one, asking the tests' DNS server on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureRenderer, launchBrowser } from './support.ts';
import { startServe, type ServeProcess } from '../support/serve-process.ts';
import { FAMILY, tempDir } from '../support/gateway.ts';
import { startDnsServer, type DnsServer, type Zone } from '../support/dns-server.ts';
import { freePort, startSink, type Sink } from '../support/smtp-sink.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { waitFor } from '../support/wait.ts';

const PUBLIC = '203.0.113.5';
const ZONE: Zone = {
  'mx.doe-family.com': { A: [PUBLIC] },
  'doe-family.com': { MX: [{ priority: 10, exchange: 'mx.doe-family.com' }], TXT: [`v=spf1 +mx ip4:${PUBLIC} -all`] },
};

let dir: string;
let dns: DnsServer;
let sinkPort: number;
let sink: Sink;
let serve: ServeProcess;
let browser: Browser;
let context: BrowserContext;
let page: Page;

before(async () => {
  await ensureRenderer();
  dns = await startDnsServer(ZONE);
  sinkPort = await freePort();
  // The smarthost says "try later" to every recipient.
  sink = await startSink(['-r', 'RCPT'], sinkPort);
  dir = tempDir('postern-serve-pages-');
  const config = path.join(dir, 'postern.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      ...FAMILY,
      publicAddress: PUBLIC,
      dns: { servers: [dns.address], timeoutMs: 800 },
      outbound: { mode: 'smarthost', smarthost: { host: '127.0.0.1', port: sinkPort, requireTLS: false } },
      dashboard: { host: '127.0.0.1', port: 0 },
    }),
  );
  serve = await startServe(config, path.join(dir, 'data'));
  assert.ok(serve.dashboardUrl, serve.output());
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  await page.goto(serve.dashboardUrl!);
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });
});

after(async () => {
  await context?.close();
  await browser?.close();
  if (serve && serve.child.exitCode === null) {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  await sink?.stop();
  await dns?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Sends one message from the family's network; returns its queue id. */
async function sendOut(to: string, subject: string): Promise<string> {
  const c = await RawSmtp.connect({ port: serve.ports.mx, localAddress: '127.0.0.1' });
  await c.cmd('EHLO pc.lan');
  assert.equal((await c.cmd('MAIL FROM:<jane.doe@doe-family.com>')).code, 250);
  assert.equal((await c.cmd(`RCPT TO:<${to}>`)).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  c.write(`From: jane.doe@doe-family.com\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nsee you sunday\r\n.\r\n`);
  const r = await c.read();
  assert.equal(r.code, 250, r.text);
  await c.quit();
  return /queued as (\w+)/.exec(r.text)![1];
}

test('Queue: a message the smarthost deferred is listed with its 4xx; "Retry now" delivers it', async () => {
  const id = await sendOut('aunt@example.net', 'sunday lunch');
  await page.getByRole('link', { name: 'Queue' }).click();
  const table = page.getByRole('table', { name: 'Queued messages' });
  const row = table.getByRole('row').filter({ hasText: id });
  const notAvailable = page.getByText(/is not available/);
  // The first attempt is made at once; the page follows the live log.
  await row.filter({ hasText: '1 attempt(s)' }).or(notAvailable).first().waitFor({ timeout: 20_000 });
  assert.equal(await notAvailable.count(), 0, await page.locator('.page-body').innerText());
  const text = (await row.innerText()).replace(/\s+/g, ' ');
  assert.match(text, /jane\.doe@doe-family\.com/);
  assert.match(text, /aunt@example\.net — ↻ will retry · 1 attempt\(s\) 4\d\d /);

  // The smarthost recovers; the next attempt would be minutes away — "Retry now" sends it now.
  await sink.stop();
  sink = await startSink([], sinkPort);
  await row.getByRole('button', { name: 'Retry now' }).click();
  await row.waitFor({ state: 'detached', timeout: 20_000 });
  await waitFor(() => sink.messages().length === 1, 10_000, 'the message at the smarthost');
  const [delivered] = sink.messages();
  assert.match(delivered, /aunt@example\.net/);
  assert.match(delivered, /Subject: sunday lunch/);
  await page.getByText('Nothing is waiting to be sent.').waitFor({ timeout: 10_000 });
  const outbound = path.join(dir, 'data', 'queue', 'outbound');
  assert.deepEqual(
    fs.readdirSync(outbound).filter((f) => f.startsWith(id)),
    [],
    'the queue files are gone',
  );
});

test('Setup: the real check against the configured DNS, and "Check again" sees a record once published', async () => {
  // The check that runs after every start already found the missing DKIM record: the status strip links to it.
  await page.getByTestId('setup-problems').filter({ hasText: /./ }).waitFor({ timeout: 20_000 });
  assert.match((await page.getByTestId('setup-problems').getAttribute('title')) ?? '', /DKIM record/);
  await page.getByRole('link', { name: 'Setup', exact: true }).click();
  const checks = page.getByTestId('check');
  const notAvailable = page.getByText(/is not available/);
  await checks.first().or(notAvailable).first().waitFor({ timeout: 20_000 });
  assert.equal(await notAvailable.count(), 0, await page.locator('.page-body').innerText());
  const text = (await checks.allInnerTexts()).join('\n');
  assert.match(text, /OK[\s\S]*MX records?/);
  const dmarc = checks.filter({ hasText: 'DMARC record' });
  assert.match(await dmarc.innerText(), /Warning[\s\S]*_dmarc\.doe-family\.com\. TXT "v=DMARC1; p=none/);
  dns.setZone({ ...ZONE, '_dmarc.doe-family.com': { TXT: ['v=DMARC1; p=none; rua=mailto:postmaster@doe-family.com'] } });
  await page.getByRole('button', { name: 'Check again' }).click();
  await page.locator('.check-item.s-ok').filter({ hasText: 'DMARC record' }).waitFor({ timeout: 20_000 });
  assert.ok(
    dns.queries.some((q) => q.name === '_dmarc.doe-family.com'),
    'the check asked the configured DNS server',
  );
});
