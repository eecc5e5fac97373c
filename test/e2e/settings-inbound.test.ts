// The Settings cards for inbound protection (docs/design.md §2.10–§2.14): DMARC, DNS
// blocklists, rspamd, greylisting and rate limits — screenshots at 1280 and 390 px, light
// and dark, in docs/screenshots/; one setting of each saved by clicking and seen in the
// gateway's running config; a bad entry refused in words; greylisting switched on from the
// page greylists the next Internet client, and the status strip's "Spam stopped" counter
// and its tooltip say so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ensureRenderer, launchBrowser, ROOT, startStack, type PageWindow, type Stack } from './support.ts';
import { FAMILY } from '../support/gateway.ts';
import { RawSmtp, transaction } from '../support/smtp-client.ts';

const SHOTS = path.join(ROOT, 'docs', 'screenshots');
const VARIANTS = [
  { width: 1280, height: 860, scheme: 'light' },
  { width: 1280, height: 860, scheme: 'dark' },
  { width: 390, height: 844, scheme: 'light' },
  { width: 390, height: 844, scheme: 'dark' },
] as const;
const CARDS = ['settings-dmarc', 'settings-dnsbl', 'settings-rspamd', 'settings-greylist', 'settings-rate-limits'];

let s: Stack;
let browser: Browser;

before(async () => {
  await ensureRenderer();
  s = await startStack({
    ...FAMILY,
    trustedProxies: ['127.0.0.1'],
    spf: { enabled: false },
    dnsbl: {
      zones: [
        { zone: 'zen.spamhaus.org', weight: 2 },
        { zone: 'bl.spamcop.net', weight: 1 },
      ],
      threshold: 2,
      allowAddresses: ['203.0.113.5/32'],
    },
  });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await s?.stop();
});

async function shot(p: Page, name: string, el: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  // A card taller than a phone's screen: the sticky header must not cover it.
  await p.evaluate(() => {
    const w = globalThis as unknown as PageWindow;
    for (const e of w.document.querySelectorAll('body *') as unknown as { style: { position: string } }[]) {
      const pos = w.getComputedStyle(e as never).position;
      if (pos === 'sticky' || pos === 'fixed') e.style.position = 'static';
    }
  });
  await p.getByTestId(el).screenshot({ path: file });
  assert.ok(fs.statSync(file).size > 5000, `${name}.png has content`);
}

test('Settings: the inbound protection cards at 1280 and 390 px, light and dark', async () => {
  for (const v of VARIANTS) {
    const context = await browser.newContext({ viewport: { width: v.width, height: v.height }, colorScheme: v.scheme, deviceScaleFactor: 1 });
    const p = await context.newPage();
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${s.dash.url}#/settings`);
    await p.getByTestId('settings-dmarc').waitFor();
    assert.equal(await p.getByTestId('settings-dnsbl').locator('textarea').inputValue(), 'zen.spamhaus.org 2\nbl.spamcop.net');
    for (const id of CARDS) {
      await p.getByTestId(id).scrollIntoViewIfNeeded();
      await shot(p, `${id}-${v.width}-${v.scheme}`, id);
    }
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test('one setting of each saved by clicking, in use at once; a bad entry refused in words; greylisting then seen in the strip', async () => {
  const p = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  await p.goto(`${s.dash.url}#/settings`);
  const saved = async (id: string) => {
    const card = p.getByTestId(id);
    await card.getByRole('button', { name: 'Save' }).click();
    await card.getByText('Saved — in use now').waitFor();
  };

  const dmarc = p.getByTestId('settings-dmarc');
  await dmarc.getByLabel(/Report only/).check();
  await saved('settings-dmarc');
  assert.equal(s.t.gw.config().dmarc.enforce, false);

  const dnsbl = p.getByTestId('settings-dnsbl');
  await dnsbl.getByLabel(/Servers you trust/).fill('203.0.113.5 my-provider');
  await dnsbl.getByRole('button', { name: 'Save' }).click();
  await dnsbl.getByText(/not saved: .*"my-provider".*type a network such as 192\.168\.1\.0\/24/).waitFor();
  assert.deepEqual(s.t.gw.config().dnsbl.allowAddresses, ['203.0.113.5/32'], 'nothing changed');
  await dnsbl.getByLabel(/Servers you trust/).fill('203.0.113.5 198.51.100.0/24');
  await dnsbl.locator('textarea').fill('zen.spamhaus.org 2\nbl.spamcop.net 1\nb.barracudacentral.org 0.5');
  await saved('settings-dnsbl');
  assert.deepEqual(s.t.gw.config().dnsbl.zones.at(-1), { zone: 'b.barracudacentral.org', weight: 0.5 });
  assert.deepEqual(s.t.gw.config().dnsbl.allowAddresses, ['203.0.113.5', '198.51.100.0/24']);

  const rspamd = p.getByTestId('settings-rspamd');
  await rspamd.getByLabel('Score incoming mail with rspamd').check();
  await rspamd.getByLabel(/Ask the sender’s server to try again later/).check();
  await rspamd.getByLabel(/Time-out/).fill('4');
  await saved('settings-rspamd');
  assert.deepEqual(s.t.gw.config().rspamd, { enabled: true, url: 'http://127.0.0.1:11333', timeoutMs: 4000, onUnreachable: 'defer' });
  // Back off, so the message below is not scanned by an rspamd that is not running.
  await rspamd.getByLabel('Score incoming mail with rspamd').uncheck();
  await saved('settings-rspamd');

  const rate = p.getByTestId('settings-rate-limits');
  await rate.getByLabel(/Messages an hour per family account/).fill('50');
  await saved('settings-rate-limits');
  assert.equal(s.t.gw.config().rateLimits.accountMessagesPerHour, 50);

  const grey = p.getByTestId('settings-greylist');
  await grey.getByLabel('Greylist new senders').check();
  await grey.getByLabel(/Wait before a retry/).fill('x');
  await grey.getByRole('button', { name: 'Save' }).click();
  await grey.getByText('Wait before a retry is accepted: type a number, for example 5').waitFor();
  await grey.getByLabel(/Wait before a retry/).fill('10');
  await saved('settings-greylist');
  assert.deepEqual(s.t.gw.config().greylist, { enabled: true, delayMinutes: 10, expireDays: 35 });

  // Applied: an Internet client (through the trusted PROXY) is greylisted at once.
  const c = await RawSmtp.connect({ port: s.t.port(), preamble: 'PROXY TCP4 192.0.2.44 127.0.0.1 40000 25\r\n' });
  await c.cmd('EHLO client.example');
  const r = await transaction(c, 'bob@sender.example', ['jane.doe@doe-family.com'], 'Subject: hi\r\n\r\nhello\r\n');
  await c.quit();
  assert.equal(r.rcpts[0].code, 451);
  assert.equal(r.rcpts[0].text, '4.7.1 Greylisted, try again in 10 minutes');
  const counter = p.getByTestId('counter-spam');
  await p.waitForFunction(() => (globalThis as unknown as PageWindow).document.querySelector('[data-testid="counter-spam"] dd')?.textContent === '1');
  assert.match((await counter.getAttribute('title')) ?? '', /refused by DMARC 0 · by the blocklists 0 · by the spam filter or greylisting 1 · sent to Junk 0/);
  assert.equal(s.t.gw.status().counters.spam, 1);
});
