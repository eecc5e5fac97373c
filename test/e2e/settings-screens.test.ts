// The certificate on the Setup page and the Settings cards added for issues 13 and 14
// (docs/design.md §2.5, §7.1): built-in ACME's state after a failed renewal while the next
// attempt waits for the DNS-01 record (copy button, "checked: not yet"), "Renew now",
// the status strip's note; and the cards for ACME, logins, DNS, the dashboard address,
// history and the advanced limits — screenshots at 1280 and 390 px, light and dark, in
// docs/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ensureRenderer, launchBrowser, ROOT, startStack, type PageWindow, type Stack } from './support.ts';
import { FAMILY } from '../support/gateway.ts';

const SHOTS = path.join(ROOT, 'docs', 'screenshots');
const VARIANTS = [
  { width: 1280, height: 860, scheme: 'light' },
  { width: 1280, height: 860, scheme: 'dark' },
  { width: 390, height: 844, scheme: 'light' },
  { width: 390, height: 844, scheme: 'dark' },
] as const;
const CARDS = ['settings-acme', 'settings-logins', 'settings-dns', 'settings-dashboard', 'settings-history', 'settings-advanced-limits'];

let s: Stack;
let browser: Browser;

before(async () => {
  await ensureRenderer();
  // ACME on, against a directory nobody answers on loopback: the attempt fails and says why.
  s = await startStack({ ...FAMILY, acme: { enabled: true, directory: 'http://127.0.0.1:9/directory', email: 'jane@doe-family.com', challenge: 'dns-01' } });
  await s.t.gw.certificates.renewNow();
  // The next attempt waits for the TXT record (what the manager shows while DNS-01 waits).
  const m = s.t.gw.certificates as unknown as { dnsRecord: unknown; phase: string; changed(): void };
  m.dnsRecord = {
    name: '_acme-challenge.mx.doe-family.com',
    value: 'x4kqvUeD0g9oX3n7uQ2mB1sJc8LwR5tYzA6fHpKdE0c',
    checkedAt: new Date().toISOString(),
    published: false,
  };
  m.phase = 'waiting-dns';
  m.changed();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await s?.stop();
});

async function shot(p: Page, name: string, el?: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  if (el) {
    // A card taller than a phone's screen is scrolled through: the sticky header must not cover it.
    await p.evaluate(() => {
      const w = globalThis as unknown as PageWindow;
      for (const e of w.document.querySelectorAll('body *') as unknown as { style: { position: string } }[]) {
        const pos = w.getComputedStyle(e as never).position;
        if (pos === 'sticky' || pos === 'fixed') e.style.position = 'static';
      }
    });
    await p.getByTestId(el).screenshot({ path: file });
  } else {
    await p.evaluate(() => (globalThis as unknown as PageWindow).scrollTo(0, 0));
    await p.screenshot({ path: file, fullPage: true });
  }
  assert.ok(fs.statSync(file).size > 5000, `${name}.png has content`);
}

test('Setup: ACME state, the TXT record with copy and "checked", Renew now; the strip says renewal failed', async () => {
  for (const v of VARIANTS) {
    const context = await browser.newContext({ viewport: { width: v.width, height: v.height }, colorScheme: v.scheme, deviceScaleFactor: 1 });
    const p = await context.newPage();
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${s.dash.url}#/setup`);
    const card = p.getByTestId('certificate-card');
    await card.getByTestId('acme-state').waitFor();
    const text = (await card.innerText()).replace(/\s+/g, ' ');
    assert.match(text, /Waiting for the DNS record below/);
    assert.match(text, /Getting a certificate failed .*could not be reached/);
    assert.match(text, /_acme-challenge\.mx\.doe-family\.com/);
    assert.match(await card.getByTestId('acme-dns-checked').innerText(), /Checked .*: not yet/);
    assert.equal(await card.getByRole('button', { name: /Copy the TXT value/ }).count(), 1);
    assert.equal(await card.getByRole('button', { name: /Renew now|Renewing|Waiting for the DNS record…/ }).count(), 1);
    assert.match(await p.getByTestId('acme-failed').innerText(), /Getting a certificate failed/);
    await p.waitForTimeout(1500);
    await card.scrollIntoViewIfNeeded();
    await shot(p, `setup-certificate-${v.width}-${v.scheme}`, 'certificate-card');
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test('Settings: each new card, saved through the page', async () => {
  for (const v of VARIANTS) {
    const context = await browser.newContext({ viewport: { width: v.width, height: v.height }, colorScheme: v.scheme, deviceScaleFactor: 1 });
    const p = await context.newPage();
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${s.dash.url}#/settings`);
    await p.getByTestId('settings-acme').waitFor();
    await p
      .getByTestId('settings-logins')
      .getByLabel(/through saslauthd/)
      .check();
    await p.getByTestId('settings-advanced-limits').locator('summary').click();
    for (const id of CARDS) {
      await p.getByTestId(id).scrollIntoViewIfNeeded();
      await shot(p, `${id}-${v.width}-${v.scheme}`, id);
    }
    assert.deepEqual(errors, []);
    await context.close();
  }
  // Saved by clicking: the dashboard address says when it takes effect.
  const p = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  await p.goto(`${s.dash.url}#/settings`);
  const dash = p.getByTestId('settings-dashboard');
  await dash.getByLabel('Port').fill('8031');
  await dash.getByRole('button', { name: 'Save' }).click();
  await dash.getByText('Saved — used from the next start of postern serve').waitFor();
  assert.equal(s.t.gw.config().dashboard.port, 8031);
  const hist = p.getByTestId('settings-history');
  await hist.getByLabel('Days to keep').fill('0');
  await hist.getByRole('button', { name: 'Save' }).click();
  await hist.getByText('Days to keep: type at least 1').waitFor();
  assert.equal(s.t.gw.config().history.retentionDays, 30);
});
