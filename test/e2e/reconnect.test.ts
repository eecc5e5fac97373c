// Live updates across connections: several pages at once, a dashboard restart
// (the page reconnects and catches up with events({afterId}), paging back when it
// missed more than a page), and the Electron bridge transport (window.postern).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { DIST, ensureRenderer, launchBrowser, openDashboard, rows, startStack, type PageWindow, type Stack } from './support.ts';
import { startDashboard } from '../../core/http/server.ts';
import { createApi } from '../../core/api-impl.ts';
import { API_METHODS } from '../../core/api-methods.ts';
import { INTERNET } from '../support/gateway.ts';
import { RawSmtp, transaction } from '../support/smtp-client.ts';

let s: Stack;
let browser: Browser;

before(async () => {
  await ensureRenderer();
  s = await startStack();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await s?.stop();
});

async function relay(to: string) {
  const c = await RawSmtp.connect({ port: s.t.port(), localAddress: INTERNET });
  await c.cmd('EHLO r.example');
  const r = await transaction(c, 'x@example.net', [to]);
  await c.quit();
  assert.equal(r.rcpts[0].code, 554);
}

/** The ids of all events the page holds, read through its rendered count and the gateway. */
async function shownCount(page: Page): Promise<number> {
  return Number((await page.getByTestId('log-count').innerText()).replace(/[^\d]/g, ''));
}

describe('several pages', () => {
  test('every open page gets each event', async () => {
    const a = await openDashboard(browser, s.dash);
    const b = await openDashboard(browser, s.dash, { colorScheme: 'dark' });
    await relay('both-pages@example.com');
    await rows(a.page).filter({ hasText: 'both-pages@example.com' }).waitFor({ timeout: 10_000 });
    await rows(b.page).filter({ hasText: 'both-pages@example.com' }).waitFor({ timeout: 10_000 });
    assert.equal(s.dash.stream().clients, 2);
    await a.context.close();
    await b.context.close();
  });
});

describe('reconnecting', () => {
  test('after a dashboard restart the page catches up: nothing lost, nothing twice (12,000 missed events)', async () => {
    const { page, context } = await openDashboard(browser, s.dash);
    await relay('before-restart@example.com');
    await rows(page).filter({ hasText: 'before-restart@example.com' }).waitFor({ timeout: 10_000 });
    const port = s.dash.port;
    const token = s.dash.token;
    await s.dash.close();
    await page.getByTestId('connection').filter({ hasText: 'Reconnecting' }).waitFor({ timeout: 10_000 });

    // While no dashboard runs, the gateway goes on: an SMTP reject and a flood of events.
    await relay('while-down@example.com');
    for (let i = 0; i < 12_000; i++) s.t.gw.bus.emit({ stage: 'system', verdict: 'info', rule: 'internal error', text: `missed ${i}` });
    await relay('last-while-down@example.com');

    // The same address and token, as after a restart of `postern serve` with a fixed token.
    const again = await startDashboard({ api: createApi({ gateway: s.t.gw }), gateway: s.t.gw, host: '127.0.0.1', port, token, staticDir: DIST });
    s.dash = again;
    await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 15_000 });
    await rows(page).filter({ hasText: 'last-while-down@example.com' }).first().waitFor({ timeout: 10_000 });
    const total = s.t.events().length;
    await page.waitForFunction(
      (n) => (globalThis as unknown as PageWindow).document.querySelector('[data-testid="log-count"]')?.textContent === `${n.toLocaleString('en-US')} events`,
      total,
      { timeout: 10_000 },
    );
    assert.equal(await shownCount(page), total);

    // Every event exactly once, in order: filter to the flood and compare ids at both ends.
    await page.getByLabel('Rule').selectOption('internal error');
    await page.getByTestId('log-count').filter({ hasText: `12,000 of` }).waitFor({ timeout: 10_000 });
    const flood = s.t.events().filter((e) => e.rule === 'internal error');
    const lastRows = await rows(page).evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-id'))));
    assert.deepEqual(
      lastRows,
      flood.slice(flood.length - lastRows.length).map((e) => e.id),
    );
    await page.getByLabel('Rule').selectOption('');
    // The row that happened while down is there too.
    await page.getByLabel('Search the log').fill('<while-down@example.com>');
    await page
      .getByTestId('log-count')
      .filter({ hasText: /^[1-9]\d* of / })
      .waitFor({ timeout: 10_000 });
    assert.equal(await rows(page).filter({ hasText: 'Relay access denied' }).count(), 1);
    // And still live afterwards.
    await page.getByLabel('Search the log').fill('');
    await relay('after-restart@example.com');
    await rows(page).filter({ hasText: 'after-restart@example.com' }).waitFor({ timeout: 10_000 });
    await context.close();
  });
});

describe('Electron bridge transport', () => {
  test('with window.postern the page needs no token and works through the bridge alone', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // A stand-in for electron/preload.ts: the PosternBridge shape, carried over HTTP here.
    await context.addInitScript(
      ({ token, methods }: { token: string; methods: string[] }) => {
        const w = globalThis as unknown as PageWindow;
        const calls: string[] = [];
        const bridge: Record<string, unknown> = { calls };
        for (const m of methods) {
          bridge[m] = async (...args: unknown[]) => {
            calls.push(m);
            const r = await w.fetch(`/api/${m}`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: args.length ? JSON.stringify(args[0]) : '',
            });
            return r.json();
          };
        }
        bridge.subscribe = (cb: (msg: unknown) => void) => {
          const es = new w.EventSource(`/api/stream?token=${token}`);
          es.onmessage = (m: { data: string }) => cb(JSON.parse(m.data));
          return () => es.close();
        };
        w.postern = bridge;
      },
      { token: s.dash.token, methods: [...API_METHODS] },
    );
    const page = await context.newPage();
    // No token in the address: only the bridge can make this page work.
    await page.goto(`${new URL(s.dash.url).origin}/`);
    await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });
    await relay('via-bridge@example.com');
    await rows(page).filter({ hasText: 'via-bridge@example.com' }).waitFor({ timeout: 10_000 });
    const calls = await page.evaluate(() => (globalThis as unknown as PageWindow).postern.calls as string[]);
    assert.ok(calls.includes('events') && calls.includes('status'), calls.join(','));
    // Networks through the bridge too.
    await page.getByRole('link', { name: 'Networks' }).click();
    await page.locator('[data-testid="network"][data-cidr="127.0.0.1/32"]').waitFor();
    assert.ok((await page.evaluate(() => (globalThis as unknown as PageWindow).postern.calls as string[])).includes('networks'));
    await context.close();
  });
});
