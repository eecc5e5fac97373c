// `postern serve` as a child process: it prints the dashboard URL with its token
// (docs/design.md §7.2), the page works from that URL, and a wrong token sees nothing.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { ensureRenderer, launchBrowser, rows } from './support.ts';
import { startServe, type ServeProcess } from '../support/serve-process.ts';
import { FAMILY, INTERNET, tempDir } from '../support/gateway.ts';
import { RawSmtp, transaction } from '../support/smtp-client.ts';

let dir: string;
let serve: ServeProcess;
let browser: Browser;

before(async () => {
  await ensureRenderer();
  dir = tempDir('postern-serve-e2e-');
  const config = path.join(dir, 'config.json');
  // SPF off: `postern serve` checks Internet senders against real DNS, and tests stay on loopback.
  fs.writeFileSync(config, JSON.stringify({ ...FAMILY, spf: { enabled: false }, dashboard: { host: '127.0.0.1', port: 0 } }));
  serve = await startServe(config, path.join(dir, 'data'));
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  if (serve && serve.child.exitCode === null) {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('postern serve', () => {
  test('prints the dashboard line: loopback URL with the access token', () => {
    const line = serve
      .output()
      .split('\n')
      .find((l) => l.includes('dashboard'));
    assert.ok(line, serve.output());
    assert.match(line, /^ {2}dashboard {4}http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    assert.equal(serve.dashboardUrl, line.trim().split(/\s+/)[1]);
    assert.doesNotMatch(serve.output(), /not built/);
  });

  test('the printed URL opens the live dashboard; an SMTP reject shows up live', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(serve.dashboardUrl!);
    await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });
    // The token left the address bar (it stays in this tab's session storage).
    assert.doesNotMatch(page.url(), /token=/);
    const c = await RawSmtp.connect({ port: serve.ports.mx, localAddress: INTERNET });
    await c.cmd('EHLO x.example');
    const r = await transaction(c, 'a@example.net', ['relay-me@example.com']);
    assert.equal(r.rcpts[0].code, 554);
    await c.quit();
    await rows(page).filter({ hasText: 'relay-me@example.com' }).waitFor({ timeout: 10_000 });
    // A reload keeps working (the token is remembered for this tab).
    await page.reload();
    await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });
    await rows(page).filter({ hasText: 'relay-me@example.com' }).waitFor({ timeout: 10_000 });
    await context.close();
  });

  test('a wrong token: the page says so and shows no data; API and stream answer 401', async () => {
    const url = new URL(serve.dashboardUrl!);
    const wrong = `${url.origin}/?token=${'A'.repeat(43)}`;
    const context = await browser.newContext();
    const page = await context.newPage();
    const answers: { url: string; status: number; body: string }[] = [];
    page.on('response', async (res) => {
      if (new URL(res.url()).pathname.startsWith('/api/'))
        answers.push({ url: res.url(), status: res.status(), body: res.url().includes('/api/stream') ? '' : await res.text().catch(() => '') });
    });
    await page.goto(wrong);
    await page.getByText('This access link is not valid.').waitFor({ timeout: 10_000 });
    const text = await page.locator('body').innerText();
    assert.doesNotMatch(text, /mx\.doe-family\.com|Running|Connections|127\.0\.0\./);
    assert.ok(answers.length >= 1, 'the page tried the API');
    for (const a of answers) {
      assert.equal(a.status, 401, a.url);
      assert.doesNotMatch(a.body, /doe-family|running|counters/);
    }
    // And from outside the browser.
    const api = await fetch(`${url.origin}/api/status`, { method: 'POST', headers: { authorization: `Bearer ${'A'.repeat(43)}` } });
    assert.equal(api.status, 401);
    const stream = await fetch(`${url.origin}/api/stream?token=${'A'.repeat(43)}`);
    assert.equal(stream.status, 401);
    assert.doesNotMatch(await stream.text(), /data:|running/);
    await context.close();
  });

  test('without a token the page asks for the printed link', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${new URL(serve.dashboardUrl!).origin}/`);
    await page.getByText('This page needs its access link.').waitFor({ timeout: 10_000 });
    await context.close();
  });

  test('SIGTERM stops the dashboard with the gateway', async () => {
    const origin = new URL(serve.dashboardUrl!).origin;
    serve.child.kill('SIGTERM');
    const exit = await serve.exited;
    assert.equal(exit.code, 0);
    await assert.rejects(fetch(`${origin}/`));
  });
});
