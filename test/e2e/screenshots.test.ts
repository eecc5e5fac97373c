// Screenshots of the dashboard in light and dark (test-artifacts/screenshots/*.png),
// after real SMTP traffic of every kind, plus checks that the theme follows
// prefers-color-scheme and that verdict colours keep WCAG AA contrast.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { ensureRenderer, launchBrowser, openDashboard, rows, screenshotPath, startStack, type PageWindow, type Stack } from './support.ts';
import { FAMILY, INTERNET } from '../support/gateway.ts';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { detectNetworks } from '../../core/net/detect.ts';
import { createSpfHelper } from '../../core/spf/record.ts';

let s: Stack;
let browser: Browser;

const ZONE: Record<string, Record<string, unknown>> = {
  'doe-family.com': { TXT: [['v=spf1 +mx -all']], MX: [{ exchange: 'mx.doe-family.com', priority: 10 }] },
  'mx.doe-family.com': { A: ['203.0.113.25'] },
};
const resolver = async (name: string, type: string): Promise<unknown> => {
  const v = ZONE[name.toLowerCase()]?.[type];
  if (!v) throw Object.assign(new Error(`${type} ENODATA ${name}`), { code: ZONE[name.toLowerCase()] ? 'ENODATA' : 'ENOTFOUND' });
  return v;
};

/** A morning at the Does': every kind of row the log shows. */
async function traffic(port: number): Promise<void> {
  const lan = await RawSmtp.connect({ port, localAddress: '127.0.0.1' });
  await lan.cmd('EHLO laptop.doe-family.com');
  await transaction(lan, 'jane.doe@doe-family.com', ['john.doe@doe-family.com'], 'Subject: Dinner\n\nSeven?');
  await transaction(lan, 'jane.doe@doe-family.com', ['grandma@example.org'], 'Subject: Photos\n\nAttached.');
  await lan.quit();

  const net = await RawSmtp.connect({ port, localAddress: INTERNET });
  await net.cmd('EHLO mail.example.org');
  await transaction(net, 'newsletter@example.org', ['john.doe@doe-family.com'], 'Subject: News\n\nHello');
  await net.cmd('RSET');
  await transaction(net, 'spam@example.net', ['victim@example.com']);
  await net.cmd('RSET');
  await transaction(net, 'spam@example.net', ['nobody@doe-family.com']);
  await net.cmd('RSET');
  await transaction(net, 'fake@doe-family.com', ['john.doe@doe-family.com']);
  await net.cmd('AUTH PLAIN AGpvaG4Ad3Jvbmc=');
  // A second connection from the same Internet client while the first is open: deferred.
  const second = await RawSmtp.connect({ port, localAddress: INTERNET });
  await second.quit();
  await net.quit();
}

before(async () => {
  await ensureRenderer();
  s = await startStack({ ...FAMILY, limits: { maxConnectionsPerClient: 1 } }, { api: { spf: createSpfHelper({ resolver, hostname: 'mx.doe-family.com' }) } });
  s.t.gw.networks.refreshDetected(
    detectNetworks({
      eth0: [{ address: '192.168.1.20', netmask: '255.255.255.0', family: 'IPv4', mac: '', internal: false, cidr: '192.168.1.20/24' }],
      docker0: [{ address: '172.17.0.1', netmask: '255.255.0.0', family: 'IPv4', mac: '', internal: false, cidr: '172.17.0.1/16' }],
      wg0: [{ address: '10.8.0.1', netmask: '255.255.255.0', family: 'IPv4', mac: '', internal: false, cidr: '10.8.0.1/24' }],
    } as never),
  );
  s.t.gw.setNetwork('192.168.1.0/24', true);
  await traffic(s.t.port());
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await s?.stop();
});

function luminance(rgb: string): number {
  const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((x) => {
    const c = Number(x) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

async function shoot(page: Page, name: string, fullPage = false): Promise<void> {
  const file = screenshotPath(name);
  await page.evaluate(() => (globalThis as unknown as PageWindow).scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage });
  const buf = fs.readFileSync(file);
  assert.equal(buf.subarray(1, 4).toString(), 'PNG');
  assert.ok(buf.length > 15_000, `${name}.png has content (${buf.length} bytes)`);
}

for (const scheme of ['light', 'dark'] as const) {
  describe(`${scheme} theme`, () => {
    let page: Page;
    before(async () => {
      const o = await openDashboard(browser, s.dash, { colorScheme: scheme });
      page = o.page;
    });

    test('follows prefers-color-scheme', async () => {
      const bg = await page.evaluate(() => {
        const w = globalThis as unknown as PageWindow;
        return w.getComputedStyle(w.document.body).backgroundColor;
      });
      if (scheme === 'dark') assert.ok(luminance(bg) < 0.05, `dark background ${bg}`);
      else assert.ok(luminance(bg) > 0.85, `light background ${bg}`);
    });

    test('log: every verdict has a word, an icon and AA contrast', async () => {
      await rows(page).filter({ hasText: 'Relay access denied' }).first().waitFor({ timeout: 10_000 });
      for (const v of ['accept', 'reject', 'defer', 'info']) {
        const badge = page.locator(`.log-inner .badge.v-${v}`).first();
        await badge.waitFor({ timeout: 10_000 });
        const look = await badge.evaluate((el) => {
          const w = globalThis as unknown as PageWindow;
          const cs = w.getComputedStyle(el);
          const icon = w.getComputedStyle(el, '::before');
          return {
            color: cs.color,
            bg: cs.backgroundColor,
            text: (el as unknown as { innerText: string }).innerText.trim(),
            iconMask: icon.maskImage || icon.webkitMaskImage,
            iconWidth: icon.width,
          };
        });
        assert.match(look.text, /^(Accepted|Rejected|Deferred|Info)$/);
        assert.match(look.iconMask, /^url\("data:image\/svg\+xml/, `${v} badge has an icon`);
        assert.notEqual(look.iconWidth, '0px');
        const ratio = contrast(look.color, look.bg);
        assert.ok(ratio >= 4.5, `${v} badge contrast ${ratio.toFixed(2)} (${look.color} on ${look.bg})`);
      }
      // Muted text on the log background.
      const muted = await page
        .locator('.log-inner .c-time')
        .first()
        .evaluate((el) => {
          const w = globalThis as unknown as PageWindow;
          return [w.getComputedStyle(el).color, w.getComputedStyle(el.closest('.log-scroll')).backgroundColor];
        });
      assert.ok(contrast(muted[0], muted[1]) >= 4.5, `muted text contrast ${contrast(muted[0], muted[1]).toFixed(2)}`);
      await shoot(page, `log-${scheme}`);
    });

    test('log with a session open', async () => {
      await rows(page).filter({ hasText: 'Relay access denied' }).first().click();
      await page.getByTestId('session-panel').locator('.step').nth(2).waitFor();
      await shoot(page, `log-session-${scheme}`);
      await page.keyboard.press('Escape');
    });

    test('networks', async () => {
      await page.getByRole('link', { name: 'Networks' }).click();
      await page.locator('[data-testid="network"][data-cidr="172.17.0.0/16"]').waitFor();
      await shoot(page, `networks-${scheme}`, true);
    });

    test('SPF helper', async () => {
      await page.getByRole('link', { name: 'SPF helper' }).click();
      await page.getByTestId('spf-zone-line').waitFor();
      await page.getByTestId('spf-paste').fill('v=spf1 +mx ip4:300.1.2.3 -all');
      await page.getByRole('button', { name: 'Validate' }).click();
      await page.getByTestId('spf-validation').waitFor();
      const check = page.getByRole('region', { name: 'Check the published record' });
      await check.getByLabel('Test a sending server’s IP address').fill('203.0.113.25');
      await check.getByRole('button', { name: 'Check published record' }).click();
      await check.getByTestId('spf-check').waitFor();
      await shoot(page, `spf-${scheme}`, true);
    });

    test('accounts, queue and setup', async () => {
      await page.getByRole('link', { name: 'Accounts' }).click();
      await page.getByTestId('account').first().waitFor();
      await shoot(page, `accounts-${scheme}`, true);
      await page.getByRole('link', { name: 'Queue' }).click();
      await page.getByRole('heading', { name: 'Outbound queue' }).waitFor();
      await page.waitForSelector('table, .empty-card, [data-testid="unavailable"]');
      await shoot(page, `queue-${scheme}`, true);
      await page.getByRole('link', { name: 'Setup' }).click();
      await page.getByRole('heading', { name: 'Setup check' }).waitFor();
      await page.waitForSelector('[data-testid="check"], [data-testid="unavailable"]');
      await shoot(page, `setup-${scheme}`, true);
    });
  });
}
