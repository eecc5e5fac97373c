// The Settings pages' core (docs/design.md §7.1, §8.2): shared addresses delivered to each
// account, one change applied live through the API (listeners rebound, host name in the
// greeting at once, the smarthost password write-only and never in an event), and the
// file's rules refusing a bad change in plain words.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { FAMILY, INTERNET, startGateway, tempDir } from '../support/gateway.ts';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { createApi } from '../../core/api-impl.ts';
import { validateConfig, ConfigError } from '../../core/config/load.ts';
import { Directory } from '../../core/policy/directory.ts';
import { parseMailbox } from '../../core/policy/address.ts';
import { checkRcpt } from '../../core/policy/relay.ts';

const SHARED = { ...FAMILY, sharedAddresses: [{ address: 'family@doe-family.com', accounts: ['john', 'jane'] }] };

describe('shared addresses', () => {
  test('the file rules: local, nobody’s own, accounts that exist', () => {
    assert.doesNotThrow(() => validateConfig(SHARED));
    const bad = (shared: unknown) => {
      try {
        validateConfig({ ...FAMILY, sharedAddresses: shared });
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.plain;
      }
      return assert.fail('accepted');
    };
    assert.match(bad([{ address: 'john.doe@doe-family.com', accounts: ['jane'] }]), /already belongs to account "john"/);
    assert.match(bad([{ address: 'family@doe-family.com', accounts: ['kid'] }]), /no account named "kid"/);
    assert.match(bad([{ address: 'family@example.org', accounts: ['john'] }]), /not in one of the family's domains/);
  });

  test('a copy for each account; each may send as it', () => {
    const dir = new Directory(validateConfig(SHARED));
    const v = checkRcpt(parseMailbox('Family@doe-family.com')!, { ip: '192.0.2.1', internal: false, user: null }, dir);
    assert.ok(v.accept && v.accounts);
    assert.deepEqual(v.accept && v.accounts, ['john', 'jane']);
    assert.ok(dir.maySendAs('jane', parseMailbox('family@doe-family.com')!));
    assert.equal(dir.accountForLogin('family@doe-family.com'), undefined, 'a shared address is no login');
  });

  test('mail from the Internet to family@ lands in both Maildirs', async () => {
    const t = await startGateway(SHARED);
    try {
      const c = await RawSmtp.connect({ port: t.port(), localAddress: INTERNET });
      await c.cmd('EHLO mail.example.org');
      const r = await transaction(c, 'grandma@example.org', ['family@doe-family.com'], 'Subject: Hello all\n\nLove, Grandma');
      await c.quit();
      assert.equal(r.end?.code, 250);
      assert.equal(t.maildirFiles('john').length, 1);
      assert.equal(t.maildirFiles('jane').length, 1);
    } finally {
      await t.stop();
    }
  });

  test('removing an account takes it out of the shared address', async () => {
    const t = await startGateway(SHARED);
    try {
      const api = createApi({ gateway: t.gw });
      await api.removeAccount({ name: 'jane' });
      assert.deepEqual(t.gw.config().sharedAddresses, [{ address: 'family@doe-family.com', accounts: ['john'] }]);
      await assert.rejects(api.addAccount({ name: 'kid', addresses: ['family@doe-family.com'], password: 'a long enough passphrase 7' }), /shared address/);
    } finally {
      await t.stop();
    }
  });
});

describe('saveSettings', () => {
  test('applied live, written to the file, password write-only, listeners rebound', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'config.json');
    const t = await startGateway(FAMILY, { configFile: file });
    try {
      const api = createApi({ gateway: t.gw });
      const port = t.port();
      let s = await api.saveSettings({
        hostname: 'mail.doe-family.com',
        outbound: { mode: 'smarthost', host: 'smtp.example.net', port: 587, user: 'doe', password: 'secret-pass-123' },
      });
      assert.equal(s.config.hostname, 'mail.doe-family.com');
      assert.equal(s.config.outbound.passwordSet, true);
      assert.ok(!JSON.stringify(s).includes('secret-pass-123'), 'the password never comes back');
      assert.ok(!t.events().some((e) => e.text.includes('secret-pass-123')), 'nor goes into an event');
      assert.ok(t.events().some((e) => e.rule === 'config' && /password changed/.test(e.text)));
      const onDisk = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.equal(onDisk.outbound.smarthost.password, 'secret-pass-123');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      // The greeting says the new name without a restart, on the same port.
      assert.equal(t.port(), port);
      const c = await RawSmtp.connect({ port });
      assert.match(c.greeting.text, /mail\.doe-family\.com/);
      await c.quit();
      // Keeping the password: not given. Removing it: "".
      s = await api.saveSettings({ outbound: { user: 'doe2' } });
      assert.equal(s.config.outbound.passwordSet, true);
      // A second listener, bound at once; the first keeps its port.
      s = await api.saveSettings({ listeners: [...s.config.listeners, { port: 0, host: '127.0.0.1', mode: 'submission' }] });
      const st = t.gw.status();
      assert.equal(st.listeners.length, 2);
      assert.ok(st.listeners.every((l) => l.ok));
      assert.equal(t.port('mx'), port);
      const sub = await RawSmtp.connect({ port: t.port('submission') });
      assert.equal(sub.greeting.code, 220);
      await sub.quit();
      // The file's rules, in plain words; nothing written.
      await assert.rejects(
        api.saveSettings({ hostname: 'not a name' }),
        (e: Error) => /^not saved: .*not a valid host name/.test(e.message) && !/\$\./.test(e.message),
      );
      assert.equal(t.gw.config().hostname, 'mail.doe-family.com');
      await assert.rejects(api.saveSettings({ domains: ['example.org'] }), /not saved/); // the accounts' addresses would leave the domains
    } finally {
      await t.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the settings of issue 13/14 (logins, DNS, dashboard, history, advanced limits, ACME) saved and applied; an outside edit rebinds listeners', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'config.json');
    const t = await startGateway(FAMILY, { configFile: file });
    try {
      const api = createApi({ gateway: t.gw });
      let s = await api.saveSettings({
        auth: { backend: 'saslauthd', saslauthd: { socket: '/run/saslauthd/mux', service: 'smtp' } },
        dns: { servers: ['127.0.0.1:5353'], timeoutMs: 2000 },
        dashboard: { host: '127.0.0.1', port: 8026 },
        history: { retentionDays: 90 },
        limits: { commandSeconds: 30, maxHeaderLines: 500, reservedInternalSlots: 5 },
      });
      assert.deepEqual(s.config.auth, { backend: 'saslauthd', saslauthd: { socket: '/run/saslauthd/mux', service: 'smtp' } });
      assert.deepEqual(s.config.dns, { servers: ['127.0.0.1:5353'], timeoutMs: 2000 });
      assert.deepEqual(
        [
          s.config.dashboard.port,
          s.config.history.retentionDays,
          s.config.limits.commandSeconds,
          s.config.limits.maxHeaderLines,
          s.config.limits.reservedInternalSlots,
        ],
        [8026, 90, 30, 500, 5],
      );
      assert.equal(t.gw.live.dns.servers[0].port, 5353, 'the DNS client follows at once');
      const onDisk = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.equal(onDisk.auth.backend, 'saslauthd');
      assert.equal(onDisk.limits.commandSeconds, 30);
      assert.ok(t.events().some((e) => e.rule === 'config' && /dashboard address 127\.0\.0\.1:8026 \(from the next start\)/.test(e.text)));
      await assert.rejects(api.saveSettings({ history: { retentionDays: 0 } }), /not saved: /);
      await assert.rejects(api.saveSettings({ dns: { servers: ['not an address'] } }), /not saved/);

      // ACME on (a directory nobody answers: the attempt fails, the gateway keeps serving); "Renew now" is an API call.
      s = await api.saveSettings({ acme: { enabled: true, directory: 'http://127.0.0.1:9/directory', email: 'jane@doe-family.com', challenge: 'dns-01' } });
      assert.deepEqual(s.config.acme, { enabled: true, directory: 'http://127.0.0.1:9/directory', email: 'jane@doe-family.com', challenge: 'dns-01' });
      const st = await api.renewCertificate();
      assert.equal(st.state, 'running');
      assert.equal(st.tls?.acme?.directory, 'http://127.0.0.1:9/directory');
      assert.match(st.tls?.acme?.lastError ?? '', /could not be reached/);
      assert.ok(t.events().some((e) => e.rule === 'acme' && /restarted with the new settings/.test(e.text)));
      await api.saveSettings({ acme: { enabled: false } });
      assert.equal(t.gw.status().tls?.acme, null);
      await assert.rejects(api.renewCertificate(), /turn them on under Settings → Certificate/);

      // An editor adds a listener to the file: bound within 2 s, without a restart, like a save.
      const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
      raw.listeners = [...raw.listeners, { port: 0, host: '127.0.0.1', mode: 'submission' }];
      fs.writeFileSync(file, JSON.stringify(raw));
      for (let i = 0; i < 40 && t.gw.status().listeners.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(t.gw.status().listeners.length, 2, 'the outside edit bound the new listener');
      const sub = await RawSmtp.connect({ port: t.port('submission') });
      assert.equal(sub.greeting.code, 220);
      await sub.quit();
    } finally {
      await t.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('DNS records without a public address say so, never a <placeholder>', async () => {
    const t = await startGateway(FAMILY);
    try {
      const r = await createApi({ gateway: t.gw }).dnsRecords();
      const types = r.records.map((x) => `${x.type} ${x.name}`);
      assert.ok(types.includes('A mx.doe-family.com'));
      assert.ok(types.includes('MX doe-family.com'));
      assert.ok(types.includes('TXT postern._domainkey.doe-family.com'));
      assert.ok(types.includes('TXT _dmarc.doe-family.com'));
      assert.equal(r.records.find((x) => x.type === 'A')!.value, null);
      assert.ok(!JSON.stringify(r).includes('<'));
    } finally {
      await t.stop();
    }
  });
});
