// The Networks page in real Chromium: a toggle in the page changes the SMTP verdict
// of the very next transaction; detected networks are offered untrusted and
// labelled; custom CIDRs are checked by the server.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { ensureRenderer, launchBrowser, openDashboard, startStack, type Stack } from './support.ts';
import { INTERNET } from '../support/gateway.ts';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { detectNetworks } from '../../core/net/detect.ts';
import { createApi } from '../../core/api-impl.ts';

let s: Stack;
let browser: Browser;
let page: Page;

/** Interfaces as os.networkInterfaces() reports them on a typical home server. */
const IFACES = {
  eth0: [{ address: '192.168.1.20', netmask: '255.255.255.0', family: 'IPv4', mac: '00:11:22:33:44:55', internal: false, cidr: '192.168.1.20/24' }],
  docker0: [{ address: '172.17.0.1', netmask: '255.255.0.0', family: 'IPv4', mac: '02:42:00:00:00:01', internal: false, cidr: '172.17.0.1/16' }],
  wg0: [{ address: '10.8.0.1', netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: '10.8.0.1/24' }],
  eth1: [{ address: '169.254.10.5', netmask: '255.255.0.0', family: 'IPv4', mac: '00:11:22:33:44:56', internal: false, cidr: '169.254.10.5/16' }],
} as const;

before(async () => {
  await ensureRenderer();
  s = await startStack();
  // systeminformation's answer, injected too: eth0 carries the default route through 192.168.1.1.
  s.t.gw.networks.refreshDetected(detectNetworks(IFACES as never, { defaultIface: 'eth0', gateway: '192.168.1.1', virtual: ['docker0'] }));
  browser = await launchBrowser();
  page = (await openDashboard(browser, s.dash, { hash: '#/networks' })).page;
  await page.getByRole('heading', { name: 'Internal networks' }).waitFor();
});
after(async () => {
  await browser?.close();
  await s?.stop();
});

const row = (cidr: string) => page.locator(`[data-testid="network"][data-cidr="${cidr}"]`);

describe('detected networks', () => {
  test('each is listed, untrusted until enabled, with its kind', async () => {
    const expected: [string, string, RegExp][] = [
      ['192.168.1.0/24', 'LAN', /Local network \(eth0\)/],
      ['172.17.0.0/16', 'Container bridge', /docker0/],
      ['10.8.0.0/24', 'VPN', /wg0/],
      ['169.254.0.0/16', 'Link-local', /eth1/],
    ];
    for (const [cidr, kind, label] of expected) {
      const r = row(cidr);
      await r.waitFor();
      const text = (await r.innerText()).replace(/\s+/g, ' ');
      assert.match(text, label);
      assert.match(text, new RegExp(`\\b${kind.replace('/', '\\/')}\\b`));
      assert.match(text, /detected/);
      assert.equal(await r.getByRole('switch').isChecked(), false);
      // Container bridges and VPNs are never offered as the home network: disabled, with why.
      if (kind === 'Container bridge' || kind === 'VPN') {
        assert.match(text, kind === 'VPN' ? /Not offered: A VPN tunnel, not your home network/ : /Not offered: A container bridge .*not your home network/);
        assert.equal(await r.getByRole('switch').isDisabled(), true, `${cidr} cannot be switched on`);
      } else {
        assert.match(text, /Not trusted until you enable it/);
        assert.equal(await r.getByRole('switch').isDisabled(), false);
      }
    }
    assert.match(await row('192.168.1.0/24').innerText(), /default route · router 192\.168\.1\.1/);
    assert.doesNotMatch(await row('10.8.0.0/24').innerText(), /default route/);
    // The gateway agrees: none of them is trusted.
    for (const ip of ['192.168.1.50', '172.17.0.2', '10.8.0.7', '169.254.1.1']) assert.equal(s.t.gw.networks.isInternal(ip), false, ip);
    // The configured test network is on.
    assert.equal(await row('127.0.0.1/32').getByRole('switch').isChecked(), true);
  });
});

describe('a toggle changes the next transaction', () => {
  test('127.0.0.2: relay denied → add 127.0.0.2/32 in the page → relay accepted on the same connection → off → denied again', async () => {
    const c = await RawSmtp.connect({ port: s.t.port(), localAddress: INTERNET });
    await c.cmd('EHLO laptop.example');
    const first = await transaction(c, 'laptop@example.net', ['friend@example.com']);
    assert.equal(first.mail.code, 250);
    assert.equal(first.rcpts[0].code, 554, first.rcpts[0].lines.join(' '));
    await c.cmd('RSET');

    await page.getByLabel('Network (CIDR)').fill('127.0.0.2/32');
    await page.getByLabel('Name (optional)').fill('Laptop');
    await page.getByRole('button', { name: 'Add and trust' }).click();
    await row('127.0.0.2/32').waitFor({ timeout: 10_000 });
    assert.equal(await row('127.0.0.2/32').getByRole('switch').isChecked(), true);
    assert.match(await row('127.0.0.2/32').innerText(), /Laptop/);

    const second = await transaction(c, 'laptop@example.net', ['friend@example.com']);
    assert.equal(second.rcpts[0].code, 250, `after enabling: ${second.rcpts[0].lines.join(' ')}`);
    await c.cmd('RSET');

    // Off again with the switch.
    await row('127.0.0.2/32').locator('.switch').click();
    await row('127.0.0.2/32').getByText('Not trusted.').waitFor({ timeout: 10_000 });
    assert.equal(await row('127.0.0.2/32').getByRole('switch').isChecked(), false);
    const third = await transaction(c, 'laptop@example.net', ['friend@example.com']);
    assert.equal(third.rcpts[0].code, 554, `after disabling: ${third.rcpts[0].lines.join(' ')}`);
    await c.quit();

    // Each change is an event in the log, and saved in the config.
    const changes = s.t.events().filter((e) => e.stage === 'network' && e.text.includes('127.0.0.2/32'));
    assert.equal(changes.length, 2);
    assert.deepEqual(
      s.t.gw.config().internalNetworks.find((n) => n.cidr === '127.0.0.2/32'),
      { cidr: '127.0.0.2/32', label: 'Laptop', enabled: false },
    );
  });

  test('enabling a detected network trusts it, and the page and gateway agree', async () => {
    await row('192.168.1.0/24').locator('.switch').click();
    await row('192.168.1.0/24').getByText('Trusted: devices here may send mail').waitFor({ timeout: 10_000 });
    assert.equal(s.t.gw.networks.isInternal('192.168.1.77'), true);
    await row('192.168.1.0/24').locator('.switch').click();
    await row('192.168.1.0/24').getByText('Not trusted until you enable it').waitFor({ timeout: 10_000 });
    assert.equal(s.t.gw.networks.isInternal('192.168.1.77'), false);
  });
});

describe('custom networks', () => {
  test('a bad CIDR shows the server’s message and changes nothing', async () => {
    const api = createApi({ gateway: s.t.gw });
    const before = JSON.stringify(s.t.gw.config().internalNetworks);
    for (const bad of ['10.0.0.0/33', '192.168.1', 'not a network', '::g/64']) {
      const expected = await api.setNetwork({ cidr: bad, enabled: true }).then(
        () => null,
        (e: Error) => e.message,
      );
      assert.ok(expected, `the server refuses ${bad}`);
      await page.getByLabel('Network (CIDR)').fill(bad);
      await page.getByRole('button', { name: 'Add and trust' }).click();
      const alert = page.getByRole('form', { name: 'Add a network' }).getByRole('alert');
      await alert.filter({ hasText: expected }).waitFor({ timeout: 10_000 });
    }
    assert.equal(JSON.stringify(s.t.gw.config().internalNetworks), before);
  });

  test('a custom network can be removed', async () => {
    await page.getByLabel('Network (CIDR)').fill('198.51.100.0/24');
    await page.getByRole('button', { name: 'Add and trust' }).click();
    await row('198.51.100.0/24').waitFor({ timeout: 10_000 });
    assert.equal(s.t.gw.networks.isInternal('198.51.100.9'), true);
    await row('198.51.100.0/24').getByRole('button', { name: 'Remove 198.51.100.0/24' }).click();
    await row('198.51.100.0/24').waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(s.t.gw.networks.isInternal('198.51.100.9'), false);
    assert.equal(
      s.t.gw.config().internalNetworks.some((n) => n.cidr === '198.51.100.0/24'),
      false,
    );
  });

  test('a change made elsewhere (another window, the tray) shows up without a reload', async () => {
    s.t.gw.setNetwork('203.0.113.0/24', true, 'Office VPN');
    await row('203.0.113.0/24').waitFor({ timeout: 10_000 });
    assert.match(await row('203.0.113.0/24').innerText(), /Office VPN/);
  });
});
