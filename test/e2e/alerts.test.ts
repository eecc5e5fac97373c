// Browser notifications in the headless dashboard (docs/design.md §7.5): nothing is asked
// on page load; the alerts button asks for the permission; then what needs someone — a
// ban, a rate limit hit, a failed setup check, a bounce — becomes a notification,
// decided by the desktop app's rules (renderer/src/notify-rules.ts).
//
// Headless Chromium shows no real notifications, so an init script wraps
// window.Notification to record each one (and still calls the real constructor); the
// permission itself is granted to the browser context by Playwright, and the wrapper
// reports "default" until the page asks, so the test sees when it asks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureRenderer, launchBrowser, startStack, screenshotPath, type PageWindow, type Stack } from './support.ts';

let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;

interface Recorded {
  title: string;
  body: string;
  tag: string;
}

before(async () => {
  await ensureRenderer();
  stack = await startStack();
  browser = await launchBrowser();
});

after(async () => {
  await context?.close();
  await browser?.close();
  await stack?.stop();
});

async function open(): Promise<void> {
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['notifications'], { origin: new URL(stack.dash.url).origin });
  await context.addInitScript(() => {
    const w = globalThis as unknown as PageWindow;
    const Real = w.Notification;
    // What the page was told the last time it asked (kept across reloads, as a browser keeps a grant).
    const told = w.sessionStorage.getItem('test-permission');
    const state = { asked: 0, shown: [] as Recorded[], permission: told ?? 'default' };
    w.__alerts = state;
    class Recording {
      static get permission(): string {
        return state.permission;
      }
      static async requestPermission(): Promise<string> {
        state.asked++;
        state.permission = await Real.requestPermission();
        w.sessionStorage.setItem('test-permission', state.permission);
        return state.permission;
      }
      onclick: unknown = null;
      constructor(title: string, opts: { body?: string; tag?: string } = {}) {
        state.shown.push({ title, body: opts.body ?? '', tag: opts.tag ?? '' });
        try {
          new Real(title, opts);
        } catch {
          // headless: nothing to show
        }
      }
      close(): void {}
    }
    w.Notification = Recording;
  });
  page = await context.newPage();
  await page.goto(stack.dash.url);
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });
}

const alerts = () => page.evaluate(() => (globalThis as unknown as PageWindow).__alerts as { asked: number; shown: Recorded[] });

async function shownTitles(n: number): Promise<string[]> {
  await page.waitForFunction((k) => (globalThis as unknown as PageWindow).__alerts.shown.length >= k, n, { timeout: 10_000 });
  return (await alerts()).shown.map((s) => s.title);
}

test('alerts: asked only from the button; then a ban, a rate limit and a failed setup check notify, once each', async () => {
  const gw = stack.t.gw;
  await open();
  const button = page.getByTestId('alerts-button');
  await button.filter({ hasText: 'Turn on alerts' }).waitFor();
  // A ban while alerts are off: nothing shown, nothing asked.
  gw.bus.emit({
    stage: 'auth',
    verdict: 'reject',
    rule: 'auth ban',
    client: '198.51.100.20',
    user: 'john',
    code: 421,
    reason: '5 failed logins within 15 minutes',
    text: '4.7.0 Too many failed logins',
  });
  await page.waitForTimeout(500);
  assert.deepEqual({ ...(await alerts()) }, { asked: 0, shown: [], permission: 'default' });

  await button.click();
  await button.filter({ hasText: 'Alerts on' }).waitFor();
  assert.equal((await alerts()).asked, 1, 'asked once, from the click');
  assert.equal(await button.getAttribute('aria-pressed'), 'true');

  // The ban itself, as core/smtp/hooks.ts reports it.
  gw.bus.emit({
    stage: 'auth',
    verdict: 'reject',
    rule: 'auth ban',
    client: '203.0.113.9',
    user: 'john',
    code: 421,
    reason: '5 failed logins within 15 minutes',
    text: '4.7.0 Too many failed logins from 203.0.113.9: blocked for 900 seconds',
  });
  assert.deepEqual(await shownTitles(1), ['Blocked 203.0.113.9 after failed logins']);
  // What the ban causes later is not news; the same ban again within the hour is not either.
  gw.bus.emit({ stage: 'connect', verdict: 'reject', rule: 'auth ban', client: '203.0.113.9', code: 421, text: '4.7.0 blocked' });
  gw.bus.emit({ stage: 'auth', verdict: 'reject', rule: 'auth ban', client: '203.0.113.9', user: 'john', code: 421, text: '4.7.0 again' });
  // An account over its hourly limit (core/inbound/checks.ts).
  gw.bus.emit({
    stage: 'mail',
    verdict: 'defer',
    rule: 'rate limits',
    user: 'jane',
    from: 'jane.doe@doe-family.com',
    code: 451,
    reason: 'jane has sent 101 messages in the last hour (limit 100 messages an hour; lift it on the dashboard)',
    text: '4.7.1 jane has sent too much mail in the last hour; try again later',
  });
  assert.deepEqual(await shownTitles(2), ['Blocked 203.0.113.9 after failed logins', 'jane hit a sending limit']);

  // A setup check that fails (the status pushed to the page).
  gw.setSetupReport({
    ranAt: new Date().toISOString(),
    checks: [
      { id: 'mx', status: 'fail', title: 'MX record for doe-family.com', fix: 'Publish it.' },
      { id: 'spf', status: 'ok', title: 'SPF' },
    ],
  });
  const titles = await shownTitles(3);
  assert.equal(titles[2], 'The setup check found a problem');
  const setup = (await alerts()).shown[2];
  assert.equal(setup.body, 'MX record for doe-family.com. The Setup page says how to fix it.');
  assert.equal(setup.tag, 'setup');
  await page.screenshot({ path: screenshotPath('alerts-on') });

  // Turned off: nothing more, and the choice is kept in this browser.
  await button.click();
  await button.filter({ hasText: 'Turn on alerts' }).waitFor();
  gw.bus.emit({ stage: 'auth', verdict: 'reject', rule: 'auth ban', client: '192.0.2.77', code: 421, text: '4.7.0 blocked' });
  await page.waitForTimeout(500);
  assert.equal((await alerts()).shown.length, 3);
  assert.equal((await alerts()).asked, 1);
});

test('alerts stay on after a reload (asked again never); what the page shows at load is not news', async () => {
  const gw = stack.t.gw;
  await context?.close();
  await open();
  const button = page.getByTestId('alerts-button');
  await button.filter({ hasText: 'Turn on alerts' }).waitFor(); // a new context: a new browser profile
  await button.click();
  await button.filter({ hasText: 'Alerts on' }).waitFor();
  await page.reload();
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });
  await button.filter({ hasText: 'Alerts on' }).waitFor();
  await page.waitForTimeout(300);
  assert.equal((await alerts()).asked, 0);
  assert.deepEqual(
    (await alerts()).shown.map((s) => s.title),
    [],
    'the failed setup check the strip already shows is not notified at load',
  );
  gw.bus.emit({
    stage: 'delivery',
    verdict: 'reject',
    rule: 'delivery',
    code: 550,
    queueId: 'Q0000000000X',
    from: 'jane.doe@doe-family.com',
    to: 'aunt@example.net',
    text: '550 5.1.1 mailbox unavailable',
  });
  assert.deepEqual(await shownTitles(1), ['A message could not be delivered']);
});
