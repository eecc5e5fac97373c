// Ports 25, 587 and 465 without privileges (docs/design.md §2, §8.4): `postern serve`
// run as an unprivileged user (setpriv, as nobody) is refused those ports with EACCES,
// listens on its fallback ports instead and says so — in its output, in the status
// and in the live log — and every fix names the binary that really runs Postern, not
// `which node`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { FAMILY, LOOPBACK_DNS, tempDir } from '../support/gateway.ts';
import { startServe, type ServeProcess } from '../support/serve-process.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { requireTools } from '../support/tools.ts';
import { waitFor } from '../support/wait.ts';

/** A port nothing listens on right now (the OS's choice). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const PRIVILEGED = [
  { port: 25, mode: 'mx' },
  { port: 587, mode: 'submission' },
  { port: 465, mode: 'submissions' },
] as const;

let dir: string;
let serve: ServeProcess | null = null;
let fallback: Record<string, number>;
let dataDir: string;

before(async () => {
  requireTools('setpriv');
  assert.equal(process.getuid?.(), 0, 'this test starts Postern as nobody, which needs root (npm test runs as root)');
  dir = tempDir('postern-ports-');
  // nobody must reach the config and the data dir, and may write both (the config's dir too).
  fs.chmodSync(dir, 0o755);
  fs.chownSync(dir, 65534, 65534);
  dataDir = path.join(dir, 'data');
  fallback = {};
  for (const l of PRIVILEGED) fallback[l.mode] = await freePort();
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      ...FAMILY,
      dns: LOOPBACK_DNS,
      listeners: PRIVILEGED.map((l) => ({ port: l.port, host: '127.0.0.1', mode: l.mode, fallbackPort: fallback[l.mode] })),
      dashboard: { host: '127.0.0.1', port: 0 },
    }),
  );
  fs.chownSync(configFile, 65534, 65534);
  serve = await startServe(configFile, dataDir, [], 30_000, ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--']);
});

after(async () => {
  if (serve) {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('refused 25/587/465 with EACCES, Postern listens on the fallback ports and says so', async () => {
  const out = serve!.output();
  assert.match(out, /Postern running/);
  for (const l of PRIVILEGED) {
    const fb = fallback[l.mode];
    assert.match(out, new RegExp(`^\\s+${l.mode}\\s+listening on 127\\.0\\.0\\.1:${fb}$`, 'm'), out);
    assert.match(out, new RegExp(`instead of ${l.port} \\(needs permission\\): port ${l.port} needs administrator privileges`), out);
  }
  // Mail really flows on the fallback port: an SMTP greeting from Postern.
  const c = await RawSmtp.connect({ port: fallback.mx });
  assert.match(c.greeting.text, /ESMTP Postern/);
  await c.quit();
  // The live log says which port each listener uses instead, and why.
  const log = path.join(dataDir, 'log', 'events.jsonl');
  await waitFor(() => fs.existsSync(log) && /listening on \d+ instead/.test(fs.readFileSync(log, 'utf8')), 10_000, 'the listeners events');
  const events = fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { rule: string; text: string });
  const start = events.find((e) => e.rule === 'start');
  assert.ok(start, 'a start event');
  for (const l of PRIVILEGED) assert.ok(start.text.includes(`127.0.0.1:${fallback[l.mode]} (instead of ${l.port}: needs permission)`), start.text);
  assert.equal(events.filter((e) => e.rule === 'listeners' && /instead/.test(e.text)).length, 3);
});

test('the fix names the binary that runs Postern (its real path), not `which node`', () => {
  const out = serve!.output();
  const real = fs.realpathSync(process.execPath);
  assert.equal(real, fs.realpathSync(path.resolve('node_modules/node/bin/node')), 'the test runs on the Node 24 of node_modules');
  assert.ok(out.includes(`sudo setcap cap_net_bind_service=+ep ${real}`), out);
  assert.ok(!out.includes('which node'), out);
  assert.ok(out.includes('sudo postern service install'), out);
});

test('the Postern process really runs as nobody (the test proves nothing otherwise)', () => {
  const status = fs.readFileSync(`/proc/${serve!.child.pid}/status`, 'utf8');
  assert.match(status, /^Uid:\s+65534\s+65534/m);
});
