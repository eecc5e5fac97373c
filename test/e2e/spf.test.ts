// The SPF helper page in real Chromium: the seed's zone line from the default
// choices, copying it, building from other choices, validating a pasted record with
// positions, checking a published record (DNS answered by an in-process resolver),
// and the calm "not available" state when a build has no helper.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureRenderer, launchBrowser, openDashboard, startStack, unavailable, type PageWindow, type Stack } from './support.ts';
import { createSpfHelper } from '../../core/spf/record.ts';
import type { SpfHelper } from '../../core/api-impl.ts';

/** The seed's zone line (docs/design.md §6), character for character. */
const SEED_ZONE_LINE = 'doe-family.com.          TXT "v=spf1 +mx -all"';

/** What the DNS says about doe-family.com: the seed's record, its MX and their addresses. */
const ZONE: Record<string, Record<string, unknown>> = {
  'doe-family.com': { TXT: [['v=spf1 +mx -all'], ['google-site-verification=abc']], MX: [{ exchange: 'mx.doe-family.com', priority: 10 }] },
  'mx.doe-family.com': { A: ['203.0.113.25'] },
};

function nodata(name: string, type: string): Error {
  return Object.assign(new Error(`query${type} ENODATA ${name}`), { code: 'ENODATA' });
}

async function resolver(name: string, type: string): Promise<unknown> {
  const z = ZONE[name.toLowerCase().replace(/\.$/, '')];
  if (!z) throw Object.assign(new Error(`query${type} ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  const v = z[type];
  if (!v) throw nodata(name, type);
  return v;
}

let spf: SpfHelper;
let s: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;

before(async () => {
  await ensureRenderer();
  spf = createSpfHelper({ resolver, hostname: 'mx.doe-family.com' });
  s = await startStack(undefined, { api: { spf } });
  browser = await launchBrowser();
  const o = await openDashboard(browser, s.dash, { hash: '#/spf' });
  context = o.context;
  page = o.page;
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(s.dash.url).origin });
});
after(async () => {
  await browser?.close();
  await s?.stop();
});

const zoneLine = () => page.getByTestId('spf-zone-line');
const record = () => page.getByTestId('spf-record');

describe('build', () => {
  test("the default choices give the seed's zone line", async () => {
    await zoneLine().waitFor({ timeout: 10_000 });
    assert.equal(await zoneLine().innerText(), SEED_ZONE_LINE);
    assert.equal(await record().innerText(), 'v=spf1 +mx -all');
    // The page shows what the server built (it decides nothing itself).
    const defaults = (await (await import('../../core/api-impl.ts')).createApi({ gateway: s.t.gw, spf }).settings()).spfDefaults!;
    assert.equal(spf.build(defaults).zoneLine, SEED_ZONE_LINE);
  });

  test('Copy puts the zone line on the clipboard', async () => {
    await page.getByRole('button', { name: 'Copy the zone line' }).click();
    await page.getByRole('button', { name: 'Copy the zone line' }).filter({ hasText: 'Copied' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageWindow).navigator.clipboard.readText()), SEED_ZONE_LINE);
  });

  test('other choices: a, an address, the smarthost include, ~all', async () => {
    await page.getByLabel('a — the computer').check();
    await page.getByLabel('These addresses').fill('203.0.113.5 2001:db8::25');
    await page.getByLabel("Your smarthost provider's SPF").fill('_spf.provider.example');
    await page.getByLabel('~all').check();
    const expected = spf.build({
      domain: 'doe-family.com',
      mx: true,
      a: true,
      ip4: ['203.0.113.5'],
      ip6: ['2001:db8::25'],
      include: ['_spf.provider.example'],
      soft: true,
    });
    await record().filter({ hasText: expected.record }).waitFor({ timeout: 10_000 });
    assert.equal(await zoneLine().innerText(), expected.zoneLine);
    assert.match(expected.record, /^v=spf1 .*mx.*a.*ip4:203\.0\.113\.5.*ip6:2001:db8::25.*include:_spf\.provider\.example.*~all$/);
    // Back to the seed's choices.
    await page.getByLabel('a — the computer').uncheck();
    await page.getByLabel('These addresses').fill('');
    await page.getByLabel("Your smarthost provider's SPF").fill('');
    await page.getByLabel('-all').check();
    await zoneLine().filter({ hasText: SEED_ZONE_LINE }).waitFor({ timeout: 10_000 });
  });
});

describe('validate', () => {
  test('a broken pasted record lists each problem with its position', async () => {
    const bad = 'v=spf1 +mx ip4:300.1.2.3 include: -all';
    const expected = spf.validate(bad);
    assert.equal(expected.valid, false);
    assert.ok(expected.problems.some((p) => p.position !== null));
    await page.getByTestId('spf-paste').fill(bad);
    await page.getByRole('button', { name: 'Validate' }).click();
    const box = page.getByRole('region', { name: 'Validate a record' });
    await box.getByText('This record has problems.').waitFor({ timeout: 10_000 });
    const items = box.locator('.problem');
    assert.equal(await items.count(), expected.problems.length);
    for (let i = 0; i < expected.problems.length; i++) {
      const p = expected.problems[i];
      const text = await items.nth(i).innerText();
      assert.ok(text.includes(p.message), `shows "${p.message}"`);
      if (p.position !== null) {
        assert.ok(text.includes(`at character ${p.position + 1}`), `position of "${p.message}"`);
        // The caret points at the spot.
        const pointer = await items.nth(i).locator('.pointer').innerText();
        const [line, caret] = pointer.split('\n');
        assert.equal(line, expected.record);
        assert.equal(caret.indexOf('^'), p.position);
      }
    }
  });

  test('a good record is called valid, with its DNS lookup count', async () => {
    await page.getByTestId('spf-paste').fill('v=spf1 mx include:_spf.provider.example -all');
    await page.getByRole('button', { name: 'Validate' }).click();
    const box = page.getByRole('region', { name: 'Validate a record' });
    await box.getByText('This record is valid.').waitFor({ timeout: 10_000 });
    assert.match(await box.innerText(), /DNS lookups: 2 of 10/);
  });
});

describe('check the published record', () => {
  test('the published record matches the built one, and an address is evaluated', async () => {
    const card = page.getByRole('region', { name: 'Check the published record' });
    await card.getByLabel('Test a sending server’s IP address').fill('203.0.113.25');
    await card.getByRole('button', { name: 'Check published record' }).click();
    const result = card.getByTestId('spf-check');
    await result.waitFor({ timeout: 10_000 });
    const text = (await result.innerText()).replace(/\s+/g, ' ');
    assert.match(text, /Published at doe-family\.com v=spf1 \+mx -all/);
    assert.doesNotMatch(text, /google-site-verification/);
    assert.match(text, /The published record matches\./);
    assert.match(text, /Mail from 203\.0\.113\.25: pass/);
  });

  test('a different choice shows the difference; an unknown domain says so', async () => {
    await page.getByLabel('a — the computer').check();
    await record().filter({ hasText: '+a' }).waitFor({ timeout: 10_000 });
    const card = page.getByRole('region', { name: 'Check the published record' });
    await card.getByLabel('Test a sending server’s IP address').fill('198.51.100.7');
    await card.getByRole('button', { name: 'Check published record' }).click();
    await card.getByText('The published record is different.').waitFor({ timeout: 10_000 });
    assert.match(await card.getByTestId('spf-check').innerText(), /198\.51\.100\.7: fail/);
    await page.getByLabel('a — the computer').uncheck();

    await card.getByLabel('Domain').fill('nowhere.example');
    await card.getByLabel('Test a sending server’s IP address').fill('');
    await card.getByRole('button', { name: 'Check published record' }).click();
    await card.getByText('No SPF record is published for nowhere.example.').waitFor({ timeout: 10_000 });
  });
});

describe('a build without the helper', () => {
  test('the page says calmly that it is not available, and nothing breaks', async () => {
    const bare = await startStack(undefined, { override: unavailable('the SPF helper', 'spfBuild', 'spfValidate', 'spfCheck') });
    try {
      const o = await openDashboard(browser, bare.dash, { hash: '#/spf' });
      const notice = o.page.getByTestId('unavailable').first();
      await notice.waitFor({ timeout: 10_000 });
      assert.match(await notice.innerText(), /The SPF helper is not available in this version of Postern yet\./);
      // The form is still usable and the other tools say the same when used.
      await o.page.getByTestId('spf-paste').fill('v=spf1 -all');
      await o.page.getByRole('button', { name: 'Validate' }).click();
      await o.page.getByText('Validating SPF is not available in this version of Postern yet.').waitFor({ timeout: 10_000 });
      assert.deepEqual(
        o.errors.filter((e) => !/Failed to load resource/.test(e)),
        [],
      );
      await o.context.close();
    } finally {
      await bare.stop();
    }
  });
});
