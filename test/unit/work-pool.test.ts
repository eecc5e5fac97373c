// core/work/pool.ts (docs/design.md §2.8): DKIM/DMARC verification and DKIM signing in
// worker threads with a real deadline — a message whose header parsing would take
// minutes is stopped (the worker terminated) while the event loop stays free — from
// source and from the desktop app's own worker bundle (electron/build.ts), run in a
// folder with no node_modules, as in the packaged app.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WorkerPool, signInWorker, verifyInWorker } from '../../core/work/pool.ts';
import { DkimKeys } from '../../core/dkim/keys.ts';
import { buildElectron } from '../../electron/build.ts';
import { FAMILY, LOOPBACK_DNS } from '../support/gateway.ts';
import { validateConfig } from '../../core/config/load.ts';

const cfg = validateConfig({ ...FAMILY, dns: LOOPBACK_DNS });
const ctx = { spf: null, ip: '198.51.100.7', helo: 'x.example', sender: 'a@x.example', cfg };
const plain = { head: Buffer.from('From: a@x.example\r\nSubject: hi\r\n\r\n'), bodyFile: null };

test('a header bomb is stopped at the deadline: the worker is terminated, the event loop stays free, the next task runs', async () => {
  const pool = new WorkerPool({ size: 1 });
  try {
    // 120,000 continuation lines: mailauth's header parser needs ~30 s of CPU for it.
    const bomb = { head: Buffer.from(`From: a@x.example\r\nX-Long: a\r\n${' b\r\n'.repeat(120_000)}\r\n`), bodyFile: null };
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    const t0 = Date.now();
    await assert.rejects(pool.run({ kind: 'verify', head: bomb.head, bodyFile: null, ctx }, 1500), /^Error: timeout$/);
    h.disable();
    const took = Date.now() - t0;
    assert.ok(took < 3000, `${took} ms`);
    assert.equal(pool.terminated, 1);
    assert.ok(h.percentile(99) / 1e6 < 100, `event-loop delay p99 ${h.percentile(99) / 1e6} ms`);
    const headers = await verifyInWorker(plain, ctx, pool);
    assert.match(headers, /^Authentication-Results: mx\.doe-family\.com;/);
  } finally {
    await pool.close();
  }
});

test('the desktop bundle: postern-worker.cjs verifies and signs on its own (no node_modules), main.cjs runs it as code', { timeout: 120_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-worker-'));
  try {
    const out = path.join(tmp, 'build');
    await buildElectron(out);
    const main = fs.readFileSync(path.join(out, 'main.cjs'), 'utf8');
    assert.match(main, /postern-worker\.cjs/, 'main.cjs finds the worker bundle beside it');
    const alone = path.join(tmp, 'alone');
    fs.mkdirSync(alone);
    fs.copyFileSync(path.join(out, 'postern-worker.cjs'), path.join(alone, 'postern-worker.cjs'));
    const code = fs.readFileSync(path.join(alone, 'postern-worker.cjs'), 'utf8');
    const pool = new WorkerPool({ size: 1, source: () => ({ code }) });
    try {
      assert.match(await verifyInWorker(plain, ctx, pool), /dkim=none/);
      const key = new DkimKeys(path.join(tmp, 'data')).get('doe-family.com', 'postern');
      const signed = await signInWorker(Buffer.from('From: john.doe@doe-family.com\r\nSubject: hi\r\n\r\nhello\r\n'), key, pool);
      assert.equal(signed.error, null);
      assert.match(signed.header, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=doe-family\.com;/);
    } finally {
      await pool.close();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
