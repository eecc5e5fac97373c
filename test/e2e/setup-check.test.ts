// The Setup page with the real setup check (core/doctor) against our own DNS server
// on loopback: a zone that is half done gives a mix of ok / warn / fail, each fix
// names the exact record, and "Check again" sees a record once it is published.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page, BrowserContext } from 'playwright-core';
import { FAMILY } from '../support/gateway.ts';
import { startDnsServer, type DnsServer, type Zone } from '../support/dns-server.ts';
import { ensureRenderer, launchBrowser, openDashboard, screenshotPath, startStack, type Stack } from './support.ts';
import { doctorForGateway } from '../../core/doctor/checks.ts';
import { dkimRecord } from '../../core/dkim/keys.ts';

const PUBLIC = '203.0.113.5';
const ZONE: Zone = {
  'mx.doe-family.com': { A: [PUBLIC] },
  'doe-family.com': { MX: [{ priority: 10, exchange: 'mx.doe-family.com' }], TXT: [`v=spf1 +mx ip4:${PUBLIC} -all`] },
  // No DKIM record, no DMARC record, and a PTR naming someone else.
  '5.113.0.203.in-addr.arpa': { PTR: ['customer-203-0-113-5.isp.example'] },
};

let dns: DnsServer;
let s: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;

before(async () => {
  await ensureRenderer();
  dns = await startDnsServer(ZONE);
  // The test DNS server answers every query: a generous timeout only matters on a busy machine.
  const raw = { ...FAMILY, publicAddress: PUBLIC, dns: { servers: [dns.address], timeoutMs: 5000 } };
  // The API's doctor() is the real check of this very gateway.
  s = await startStack(raw, { api: { doctor: () => doctorForGateway(s.t.gw) } });
  browser = await launchBrowser();
  ({ context, page } = await openDashboard(browser, s.dash, { hash: '#/setup' }));
});
after(async () => {
  await context?.close();
  await browser?.close();
  await s?.stop();
  await dns?.close();
});

async function statuses(): Promise<Record<string, string>> {
  const items = page.getByTestId('check');
  await items.first().waitFor({ timeout: 15_000 });
  const out: Record<string, string> = {};
  for (const text of await items.allInnerTexts()) {
    const status = /\b(OK|Warning|Problem)\b/.exec(text)?.[1] ?? '?';
    const title =
      text.split('\n').find((l) => /Listeners|Host name|MX|SPF|DKIM|DMARC|Reverse DNS|TLS|Outbound|Internal networks|Open-relay/.test(l)) ??
      text.split('\n')[1];
    out[title.trim()] = status;
  }
  return out;
}

test('a half-done set-up: each check with its status, and the fix for what is missing', async () => {
  const st = await statuses();
  const text = (await page.getByTestId('check').allInnerTexts()).join('\n');
  // What is right is ok…
  assert.match(text, /OK[\s\S]*MX records/);
  assert.match(text, /OK[\s\S]*Open-relay self-test/);
  // …what is missing says exactly what to publish.
  assert.match(text, /Problem[\s\S]*DKIM record[\s\S]*postern\._domainkey\.doe-family\.com\. TXT "v=DKIM1; k=rsa; p=/);
  assert.match(text, /Warning[\s\S]*DMARC record[\s\S]*_dmarc\.doe-family\.com\. TXT "v=DMARC1; p=none; rua=mailto:postmaster@doe-family\.com"/);
  assert.match(text, /Reverse DNS[\s\S]*customer-203-0-113-5\.isp\.example/);
  assert.ok(Object.values(st).includes('OK') && Object.values(st).includes('Warning') && Object.values(st).includes('Problem'), JSON.stringify(st));
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: screenshotPath(`setup-check-${scheme}`), fullPage: true });
  }
});

test('"Check again" sees the DKIM record once it is published', async () => {
  const key = s.t.gw.dkim.get('doe-family.com', 'postern');
  const value = dkimRecord(key);
  dns.setZone({ ...ZONE, 'postern._domainkey.doe-family.com': { TXT: [[value.slice(0, 255), value.slice(255)]] } });
  await page.getByRole('button', { name: 'Check again' }).click();
  await page.locator('.check-item.s-ok').filter({ hasText: 'DKIM record' }).waitFor({ timeout: 15_000 });
  const dkim = await page.getByTestId('check').filter({ hasText: 'DKIM record' }).innerText();
  assert.doesNotMatch(dkim, /Problem/);
  assert.doesNotMatch(dkim, /_domainkey\.doe-family\.com\. TXT/, 'no fix shown once it is right');
});
