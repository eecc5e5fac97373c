// The live log in real Chromium against a real gateway: rows appear live, filters
// and search, the session panel, follow/pause, a hundred thousand events.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import type { Browser, Page } from 'playwright-core';
import { ensureRenderer, launchBrowser, openDashboard, rows, startStack, type PageWindow, type Stack } from './support.ts';
import { FAMILY, INTERNET } from '../support/gateway.ts';
import { RawSmtp, transaction } from '../support/smtp-client.ts';

let s: Stack;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  await ensureRenderer();
  // This file sends a hundred-odd relay attempts from one Internet address to fill the
  // log: the per-client message rate limit (docs/design.md §2.13) would cut them short.
  s = await startStack({ ...FAMILY, rateLimits: { messagesPerMinute: 0, networkMessagesPerMinute: 0 } });
  browser = await launchBrowser();
  const o = await openDashboard(browser, s.dash);
  page = o.page;
  pageErrors.push(...o.errors);
  page.on('pageerror', (e) => pageErrors.push(e.message));
});
after(async () => {
  await browser?.close();
  await s?.stop();
});

async function relayAttempt(to: string, from = 'spammer@example.net') {
  const c = await RawSmtp.connect({ port: s.t.port(), localAddress: INTERNET });
  await c.cmd('EHLO relay-test.example');
  const r = await transaction(c, from, [to]);
  await c.quit();
  return r;
}

async function sendLocal(subject: string, to = 'john.doe@doe-family.com') {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: s.t.port(), secure: false, ignoreTLS: true, localAddress: '127.0.0.1' } as never);
  const info = await transport.sendMail({ from: 'jane.doe@doe-family.com', to, subject, text: `Body of ${subject}` });
  transport.close();
  return info;
}

/** Rendered rows as plain data. */
function rendered(p: Page) {
  return rows(p).evaluateAll((els) =>
    els.map((el) => ({
      id: Number(el.getAttribute('data-id')),
      verdict: el.getAttribute('data-verdict'),
      text: (el as unknown as { innerText: string }).innerText.replace(/\s+/g, ' '),
    })),
  );
}

describe('live rows', () => {
  test('a rejected relay attempt and an accepted message appear live, without a reload', async () => {
    await page.evaluate(() => ((globalThis as unknown as PageWindow).marker = 42));
    const navigations = await page.evaluate(() => (globalThis as unknown as PageWindow).performance.getEntriesByType('navigation').length);

    // How fast a row appears is measured by the benchmark (test/bench/live-bench.ts);
    // here: that it appears without a reload, within a generous deadline.
    const r = await relayAttempt('victim@example.com');
    assert.equal(r.rcpts[0].code, 554);
    const rejectRow = rows(page).filter({ hasText: 'victim@example.com' }).filter({ hasText: 'Relay access denied' });
    await rejectRow.waitFor({ timeout: 10_000 });
    assert.equal(await rejectRow.getAttribute('data-verdict'), 'reject');
    const rowText = (await rejectRow.innerText()).replace(/\s+/g, ' ');
    // time, client, stage, verdict, rule, code + text, from → to
    assert.match(rowText, /\d\d:\d\d:\d\d\.\d{3}/);
    assert.match(rowText, /Rejected/);
    assert.match(rowText, /Recipient/);
    assert.match(rowText, /127\.0\.0\.2/);
    assert.match(rowText, /relay rcpt/);
    assert.match(rowText, /554 5\.7\.1 <victim@example\.com>: Relay access denied/);
    assert.match(rowText, /spammer@example\.net → victim@example\.com/);

    const info = await sendLocal('live row test');
    const queueId = /queued as ([0-9A-Z]+)/.exec(info.response)![1];
    const acceptRow = rows(page).filter({ hasText: `queued as ${queueId}` });
    await acceptRow.waitFor({ timeout: 10_000 });
    assert.equal(await acceptRow.getAttribute('data-verdict'), 'accept');
    assert.match(
      (await acceptRow.innerText()).replace(/\s+/g, ' '),
      /Accepted.*Message.*127\.0\.0\.1.*data.*250 2\.0\.0 OK.*jane\.doe@doe-family\.com → john\.doe@doe-family\.com/,
    );

    // Same document: no reload happened.
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageWindow).marker), 42);
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageWindow).performance.getEntriesByType('navigation').length), navigations);

    // The status strip counts them (the server's counters, pushed live).
    await page
      .getByTestId('counter-relay-denied')
      .filter({ hasText: String(s.t.gw.status().counters.relayDenied) })
      .waitFor({ timeout: 10_000 });
    await page
      .getByTestId('counter-accepted')
      .filter({ hasText: String(s.t.gw.status().counters.accepted) })
      .waitFor({ timeout: 10_000 });
  });

  test('the page shows exactly the gateway’s events, in order', async () => {
    await page.waitForFunction(
      (n) => (globalThis as unknown as PageWindow).document.querySelector('[data-testid="log-count"]')?.textContent === `${n} events`,
      s.t.events().length,
      { timeout: 10_000 },
    );
    const ids = (await rendered(page)).map((r) => r.id);
    const all = s.t.events().map((e) => e.id);
    assert.deepEqual(ids, all.slice(all.length - ids.length));
  });
});

describe('filters and search', () => {
  before(async () => {
    await relayAttempt('other@example.org', 'bulk@example.com');
    await sendLocal('second message', 'jane.doe@doe-family.com');
    await page.waitForFunction(
      (n) => (globalThis as unknown as PageWindow).document.querySelector('[data-testid="log-count"]')?.textContent === `${n} events`,
      s.t.events().length,
      { timeout: 10_000 },
    );
  });

  test('verdict filter: only rejected rows, and the count says so', async () => {
    await page.getByRole('button', { name: 'Rejected' }).click();
    const expected = s.t.events().filter((e) => e.verdict === 'reject');
    await page
      .getByTestId('log-count')
      .filter({ hasText: `${expected.length} of ${s.t.events().length} events` })
      .waitFor({ timeout: 10_000 });
    const r = await rendered(page);
    assert.deepEqual(
      r.map((x) => x.id),
      expected.map((e) => e.id),
    );
    assert.ok(r.every((x) => x.verdict === 'reject'));
    await page.getByRole('button', { name: 'Rejected' }).click();
    await page
      .getByTestId('log-count')
      .filter({ hasText: /^\d+ events$/ })
      .waitFor({ timeout: 10_000 });
  });

  test('stage and rule filters', async () => {
    await page.getByLabel('Stage').selectOption('data');
    let r = await rendered(page);
    const data = s.t.events().filter((e) => e.stage === 'data');
    assert.deepEqual(
      r.map((x) => x.id),
      data.map((e) => e.id),
    );
    await page.getByLabel('Stage').selectOption('');
    await page.getByLabel('Rule').selectOption('relay mail from');
    r = await rendered(page);
    const mail = s.t.events().filter((e) => e.rule === 'relay mail from');
    assert.ok(mail.length >= 3);
    assert.deepEqual(
      r.map((x) => x.id),
      mail.map((e) => e.id),
    );
    await page.getByLabel('Rule').selectOption('');
  });

  test('text search matches addresses, clients and replies', async () => {
    const search = page.getByLabel('Search the log');
    await search.fill('bulk@example.com');
    const expected = s.t.events().filter((e) => [e.from, e.to, e.text].some((f) => f?.includes('bulk@example.com')));
    assert.ok(expected.length >= 2);
    await page
      .getByTestId('log-count')
      .filter({ hasText: `${expected.length} of` })
      .waitFor({ timeout: 10_000 });
    assert.deepEqual(
      (await rendered(page)).map((x) => x.id),
      expected.map((e) => e.id),
    );
    await search.fill('RELAY ACCESS DENIED');
    const denied = s.t.events().filter((e) => /relay access denied/i.test(e.text));
    await page
      .getByTestId('log-count')
      .filter({ hasText: `${denied.length} of` })
      .waitFor({ timeout: 10_000 });
    assert.equal(denied.length, 2);
    await search.fill('no-such-thing-anywhere');
    await page.getByText('No event matches these filters.').waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'Clear filters' }).click();
    assert.equal(await search.inputValue(), '');
    await page
      .getByTestId('log-count')
      .filter({ hasText: /^\d+ events$/ })
      .waitFor({ timeout: 10_000 });
  });

  test('a filter applies to rows that arrive later, too', async () => {
    await page.getByRole('button', { name: 'Rejected' }).click();
    const before = (await rendered(page)).length;
    await sendLocal('should stay hidden');
    await relayAttempt('late@example.com');
    await rows(page).filter({ hasText: 'late@example.com' }).first().waitFor({ timeout: 10_000 });
    const r = await rendered(page);
    assert.equal(r.length, before + 1);
    assert.ok(r.every((x) => x.verdict === 'reject'));
    await page.getByRole('button', { name: 'Rejected' }).click();
  });
});

describe('session panel', () => {
  test('clicking a row shows every event of that SMTP session', async () => {
    const reject = s.t.events().find((e) => e.to === 'victim@example.com' && e.verdict === 'reject')!;
    const session = s.t.events().filter((e) => e.session === reject.session);
    assert.ok(session.length >= 3);
    await rows(page).filter({ hasText: 'victim@example.com' }).filter({ hasText: 'Rejected' }).click();
    const panel = page.getByTestId('session-panel');
    await panel.waitFor();
    await panel
      .locator('.step')
      .nth(session.length - 1)
      .waitFor();
    assert.equal(await panel.locator('.step').count(), session.length);
    const text = (await panel.innerText()).replace(/\s+/g, ' ');
    assert.match(text, new RegExp(reject.session));
    assert.match(text, /127\.0\.0\.2/);
    for (const e of session) assert.ok(text.includes(e.text), `panel shows "${e.text}"`);
    // The clicked event is marked.
    assert.match((await panel.locator('.step.current').innerText()).replace(/\s+/g, ' '), /554 5\.7\.1 <victim@example\.com>/);
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
  });
});

describe('follow and pause', () => {
  test('scrolling up pauses; new rows are counted in a pill that resumes following', async () => {
    // Enough rows to scroll: 60 relay attempts over one connection.
    const c = await RawSmtp.connect({ port: s.t.port(), localAddress: INTERNET });
    await c.cmd('EHLO many.example');
    for (let i = 0; i < 60; i++) {
      await transaction(c, `s${i}@example.net`, [`t${i}@example.com`]);
      await c.cmd('RSET');
    }
    await c.quit();
    await rows(page).filter({ hasText: 't59@example.com' }).waitFor({ timeout: 10_000 });
    const scroller = page.getByTestId('log-scroll');
    const atBottom = () => scroller.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 16);
    assert.equal(await atBottom(), true, 'following keeps the newest row in view');

    await scroller.hover();
    await page.mouse.wheel(0, -600);
    await page.getByRole('button', { name: 'Follow' }).waitFor({ timeout: 10_000 });
    const top = await scroller.evaluate((el) => el.scrollTop);

    const before = s.t.events().length;
    await relayAttempt('while-paused@example.com');
    const added = s.t.events().length - before;
    const pill = page.getByTestId('new-pill');
    await pill.filter({ hasText: `${added} new` }).waitFor({ timeout: 10_000 });
    assert.equal(await scroller.evaluate((el) => el.scrollTop), top, 'paused: the view did not move');

    await pill.click();
    await page.getByRole('button', { name: 'Pause' }).waitFor({ timeout: 10_000 });
    await rows(page).filter({ hasText: 'while-paused@example.com' }).first().waitFor({ timeout: 10_000 });
    assert.equal(await atBottom(), true);
    assert.equal(await pill.count(), 0);
  });
});

describe('a hundred thousand events', () => {
  test('load, scroll, filter and stay live', async () => {
    // Fill the gateway's memory: 100,000 events (the ring's size) as fast as it takes them.
    for (let i = 0; i < 100_000; i++) {
      s.t.gw.bus.emit({
        stage: i % 5 === 0 ? 'rcpt' : 'mail',
        verdict: i % 7 === 0 ? 'reject' : 'accept',
        rule: i % 5 === 0 ? 'relay rcpt' : 'relay mail from',
        session: `bulk${Math.floor(i / 5)}`,
        client: `198.51.100.${i % 250}`,
        code: i % 7 === 0 ? 554 : 250,
        text: i % 7 === 0 ? `5.7.1 <user${i}@example.com>: Relay access denied` : 'Accepted',
        from: `sender${i}@example.net`,
        to: `user${i}@example.com`,
      });
    }
    const o = await openDashboard(browser, s.dash);
    const p = o.page;
    await p.getByTestId('log-count').filter({ hasText: '100,000 events' }).waitFor({ timeout: 30_000 });
    // Virtualised: only a screenful of rows is in the DOM.
    const inDom = await rows(p).count();
    assert.ok(inDom > 10 && inDom < 120, `${inDom} rows in the DOM`);

    // The person scrolls up a little (that pauses following)...
    await p.getByTestId('log-scroll').hover();
    await p.mouse.wheel(0, -300);
    await p.getByRole('button', { name: 'Follow' }).waitFor({ timeout: 10_000 });
    // ...then from the bottom to the top in steps (frame times while scrolling: the
    // benchmark, test/bench/live-bench.ts).
    const scroll = await p.getByTestId('log-scroll').evaluate(async (el) => {
      const steps = 60;
      for (let i = 0; i <= steps; i++) {
        el.scrollTop = el.scrollHeight * (1 - i / steps);
        await new Promise((r) => (globalThis as unknown as PageWindow).requestAnimationFrame(() => r(null)));
      }
      const first = el.querySelector('.log-inner [role="row"]');
      return { firstId: Number(first?.getAttribute('data-id')) };
    });
    const oldest = s.t.events()[0].id;
    assert.ok(scroll.firstId <= oldest + 50, `at the top the oldest rows show (first id ${scroll.firstId}, oldest ${oldest})`);

    // A search over all of them finds the one.
    await p.getByLabel('Search the log').fill('user99999@');
    await p.getByTestId('log-count').filter({ hasText: '1 of 100,000 events' }).waitFor({ timeout: 15_000 });
    await p.getByLabel('Search the log').fill('');
    await p.getByRole('button', { name: 'Follow' }).click();

    // Still live with a full buffer: a new SMTP event arrives and the oldest make room.
    await relayAttempt('after-100k@example.com');
    await rows(p).filter({ hasText: 'after-100k@example.com' }).first().waitFor({ timeout: 10_000 });
    const count = await p.getByTestId('log-count').innerText();
    assert.match(count, /^10\d,\d{3} events$/);
    assert.deepEqual(
      o.errors.filter((e) => !/Failed to load resource/.test(e)),
      [],
    );
    await o.context.close();
  });
});

test('no script errors in the page', () => {
  assert.deepEqual(
    pageErrors.filter((e) => !/Failed to load resource/.test(e)),
    [],
  );
});
