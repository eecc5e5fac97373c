// `postern serve` on a config whose smarthost password the desktop app sealed with its
// keychain (docs/design.md §8.2): it starts, says once that the password must be entered
// again (a line, an event, the setup check's warning), never shows the sealed value, and a
// password typed in its dashboard replaces it (kept as typed, mode 0600).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GatewayEvent } from '../../core/events/types.ts';
import { SEALED_PASSWORD_PROBLEM } from '../../core/config/secrets.ts';
import { LOOPBACK_DNS } from '../support/gateway.ts';
import { startServe } from '../support/serve-process.ts';

const SEALED = 'djEx3q2+7w/Lm3Mx2mQ=';

test('serve with a sealed smarthost password: starts, reports it once, and takes a new one', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-sealed-'));
  const configFile = path.join(dir, 'config.json');
  const dataDir = path.join(dir, 'data');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      hostname: 'mx.doe-family.com',
      domains: ['doe-family.com'],
      listeners: [{ port: 0, host: '127.0.0.1', mode: 'mx' }],
      dns: LOOPBACK_DNS,
      dashboard: { host: '127.0.0.1', port: 0 },
      outbound: { smarthost: { host: '127.0.0.1', port: 9, user: 'doe', password: { safeStorage: SEALED } } },
    }),
    { mode: 0o600 },
  );
  const s = await startServe(configFile, dataDir);
  try {
    const out = s.output();
    assert.match(out, /Postern running/);
    assert.equal(out.split(SEALED_PASSWORD_PROBLEM).length - 1, 1, out);
    assert.ok(!out.includes(SEALED));
    // The event log is written in batches: wait for the config event to be on disk.
    const logFile = path.join(dataDir, 'log', 'events.jsonl');
    const events = async (): Promise<GatewayEvent[]> => {
      for (let i = 0; i < 100; i++) {
        const all = fs.existsSync(logFile)
          ? fs
              .readFileSync(logFile, 'utf8')
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l) as GatewayEvent)
          : [];
        if (all.some((e) => e.rule === 'config')) return all;
        await new Promise((r) => setTimeout(r, 50));
      }
      return [];
    };
    const said = (await events()).filter((e) => e.rule === 'config' && e.text.includes("stored by the desktop app's keychain"));
    assert.equal(said.length, 1, JSON.stringify(await events()));

    assert.ok(s.dashboardUrl, out);
    const url = new URL(s.dashboardUrl!);
    const call = async (method: string, body?: unknown) => {
      const r = await fetch(new URL(`/api/${method}`, url), {
        method: 'POST',
        headers: { authorization: `Bearer ${url.searchParams.get('token')}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      assert.ok(!text.includes(SEALED), `${method} shows the sealed value`);
      return JSON.parse(text) as { ok: boolean; value: Record<string, unknown> & { outbound?: { passwordSet: boolean } } };
    };
    const settings = await call('settings');
    assert.equal(settings.ok, true);
    assert.equal(JSON.stringify(settings.value).includes('"passwordSet":false'), true);
    const doctor = (await call('doctor')).value as unknown as { checks: { id: string; status: string; detail: string }[] };
    const sh = doctor.checks.find((c) => c.id === 'smarthost');
    assert.deepEqual([sh?.status, sh?.detail], ['warn', SEALED_PASSWORD_PROBLEM]);

    // Entered again here: kept as typed in the 0600 file, and the warning is gone.
    const saved = await call('saveSettings', { outbound: { password: 'Tr0ub4dor&3-horse' } });
    assert.equal(saved.ok, true, JSON.stringify(saved));
    const file = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { outbound: { smarthost: { password: unknown } } };
    assert.equal(file.outbound.smarthost.password, 'Tr0ub4dor&3-horse');
    assert.equal(fs.statSync(configFile).mode & 0o777, 0o600);
    const after = (await call('doctor')).value as unknown as { checks: { id: string; detail: string }[] };
    assert.notEqual(after.checks.find((c) => c.id === 'smarthost')?.detail, SEALED_PASSWORD_PROBLEM);
    assert.ok(!JSON.stringify(await call('settings')).includes('Tr0ub4dor'), 'the API never returns the password');
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
