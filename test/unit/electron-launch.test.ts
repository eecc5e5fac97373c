// `npm start` (electron/launch.ts, electron/launcher.ts): the desktop app when there
// is a display and an Electron binary, else one line and `postern serve`. The pure
// decisions, then the real script with a fake Electron binary and without one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOOPBACK_DNS } from '../support/gateway.ts';
import { decideLaunch, fallbackLine, findElectronBinary, hasDisplay, platformPath, shouldFetchElectron } from '../../electron/launcher.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = '/x/node_modules/electron/dist/electron';

test('no display → serve; binary missing → serve; otherwise the desktop app', () => {
  assert.deepEqual(decideLaunch({ platform: 'linux', env: {}, electronBinary: BIN }), {
    mode: 'serve',
    reason: 'no display here (DISPLAY and WAYLAND_DISPLAY are unset)',
  });
  assert.equal(decideLaunch({ platform: 'linux', env: { DISPLAY: ':0' }, electronBinary: null }).mode, 'serve');
  assert.match(
    (decideLaunch({ platform: 'linux', env: { DISPLAY: ':0' }, electronBinary: null }) as { reason: string }).reason,
    /Electron binary is not installed/,
  );
  assert.deepEqual(decideLaunch({ platform: 'linux', env: { DISPLAY: ':0' }, electronBinary: BIN }), { mode: 'electron', binary: BIN });
  assert.deepEqual(decideLaunch({ platform: 'linux', env: { WAYLAND_DISPLAY: 'wayland-0' }, electronBinary: BIN }), { mode: 'electron', binary: BIN });
  assert.equal(decideLaunch({ platform: 'darwin', env: {}, electronBinary: BIN }).mode, 'electron');
  assert.equal(decideLaunch({ platform: 'win32', env: {}, electronBinary: BIN }).mode, 'electron');
  assert.equal(decideLaunch({ platform: 'win32', env: {}, electronBinary: null }).mode, 'serve');
  assert.deepEqual(decideLaunch({ platform: 'darwin', env: { POSTERN_HEADLESS: '1' }, electronBinary: BIN }), {
    mode: 'serve',
    reason: 'POSTERN_HEADLESS=1 is set',
  });
  assert.equal(hasDisplay('freebsd', {}), false);
  assert.equal(hasDisplay('linux', { DISPLAY: '' }), false);
});

test('fetching the binary is tried only when it would be used', () => {
  assert.equal(shouldFetchElectron({ platform: 'linux', env: {}, electronBinary: null }), false, 'no display: never fetch');
  assert.equal(shouldFetchElectron({ platform: 'linux', env: { DISPLAY: ':0' }, electronBinary: null }), true);
  assert.equal(shouldFetchElectron({ platform: 'linux', env: { DISPLAY: ':0' }, electronBinary: BIN }), false);
  assert.equal(shouldFetchElectron({ platform: 'darwin', env: { ELECTRON_SKIP_BINARY_DOWNLOAD: '1' }, electronBinary: null }), false);
  assert.equal(shouldFetchElectron({ platform: 'darwin', env: { POSTERN_NO_FETCH: '1' }, electronBinary: null }), false);
  assert.equal(shouldFetchElectron({ platform: 'darwin', env: { POSTERN_HEADLESS: '1' }, electronBinary: null }), false);
});

test('the binary is found the way the electron package does, without downloading', () => {
  const files = new Map<string, string>();
  const io = { read: (f: string) => files.get(f) ?? null, exists: (f: string) => files.has(f) };
  const pkg = '/p/node_modules/electron';
  assert.equal(findElectronBinary(pkg, 'linux', {}, io), null, 'no path.txt: never installed');
  files.set(`${pkg}/path.txt`, 'electron');
  assert.equal(findElectronBinary(pkg, 'linux', {}, io), null, 'path.txt but no dist: half-installed');
  files.set(`${pkg}/dist/electron`, '');
  assert.equal(findElectronBinary(pkg, 'linux', {}, io), `${pkg}/dist/electron`);
  files.set(`${pkg}/path.txt`, 'Electron.app/Contents/MacOS/Electron');
  files.set(`${pkg}/dist/Electron.app/Contents/MacOS/Electron`, '');
  assert.equal(findElectronBinary(pkg, 'darwin', {}, io), `${pkg}/dist/Electron.app/Contents/MacOS/Electron`);
  // ELECTRON_OVERRIDE_DIST_PATH wins, as in electron/index.js.
  files.clear();
  files.set('/opt/e/electron', '');
  assert.equal(findElectronBinary(pkg, 'linux', { ELECTRON_OVERRIDE_DIST_PATH: '/opt/e' }, io), '/opt/e/electron');
  assert.equal(findElectronBinary(pkg, 'linux', { ELECTRON_OVERRIDE_DIST_PATH: '/nonexistent' }, io), null);
  assert.equal(platformPath('win32'), 'electron.exe');
  // This checkout: the npm package without its binary.
  const real = { read: (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : null), exists: (f: string) => fs.existsSync(f) };
  const here = findElectronBinary(path.join(root, 'node_modules', 'electron'), process.platform, {}, real);
  assert.ok(here === null || fs.existsSync(here));
});

/** Runs electron/launch.ts; resolves with its output once `until` matches (then stops it) or it exits. */
function launch(args: string[], env: NodeJS.ProcessEnv, until: RegExp | null, timeoutMs = 30_000): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const base = { ...process.env };
    delete base.DISPLAY;
    delete base.WAYLAND_DISPLAY;
    delete base.ELECTRON_OVERRIDE_DIST_PATH;
    const child = spawn(process.execPath, [path.join(root, 'electron', 'launch.ts'), ...args], {
      cwd: root,
      env: { ...base, POSTERN_LAUNCH_SKIP_BUILD: '1', POSTERN_NO_FETCH: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`launch did not finish: ${out}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (until?.test(out)) child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ out, code });
    });
  });
}

function home(): { dir: string; config: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-launch-'));
  const config = path.join(dir, 'config.json');
  // DNS on loopback: the setup check after the start must not ask this machine's resolver.
  fs.writeFileSync(
    config,
    JSON.stringify({
      hostname: 'mx.test.example',
      listeners: [{ port: 0, host: '127.0.0.1', mode: 'mx' }],
      dashboard: { host: '127.0.0.1', port: 0 },
      dns: LOOPBACK_DNS,
    }),
  );
  return { dir, config };
}

test('no display: one line, then `postern serve` with the arguments passed through (prints the dashboard URL)', async () => {
  const h = home();
  try {
    const { out } = await launch(
      ['--config', h.config, '--data-dir', path.join(h.dir, 'data')],
      { POSTERN_HOME: h.dir },
      /dashboard\s+http:\/\/127\.0\.0\.1:\d+\/\?token=/,
    );
    const lines = out.trim().split('\n');
    assert.equal(lines[0], fallbackLine('no display here (DISPLAY and WAYLAND_DISPLAY are unset)'));
    assert.match(lines[1], /^Postern running as mx\.test\.example \(config .*config\.json/);
    assert.equal(lines.filter((l) => l.startsWith('postern: ')).length, 1, 'exactly one line of our own');
    assert.ok(fs.existsSync(path.join(h.dir, 'data')), '--data-dir reached serve');
  } finally {
    fs.rmSync(h.dir, { recursive: true, force: true });
  }
});

test('a display but no Electron binary: one line, then serve', async () => {
  const h = home();
  try {
    const { out } = await launch(
      ['--config', h.config],
      { POSTERN_HOME: h.dir, DISPLAY: ':99', ELECTRON_OVERRIDE_DIST_PATH: path.join(h.dir, 'none') },
      /dashboard\s+http/,
    );
    assert.match(out.split('\n')[0], /^postern: not opening the desktop app: the Electron binary is not installed/);
  } finally {
    fs.rmSync(h.dir, { recursive: true, force: true });
  }
});

test('a display and a binary: the desktop app is started with the app folder and the arguments', { skip: process.platform === 'win32' }, async () => {
  const h = home();
  try {
    const dist = path.join(h.dir, 'electron-dist');
    fs.mkdirSync(dist);
    fs.writeFileSync(path.join(dist, 'electron'), '#!/bin/sh\necho "FAKE ELECTRON $*"\nexit 0\n', { mode: 0o755 });
    const { out, code } = await launch(['--flag'], { POSTERN_HOME: h.dir, DISPLAY: ':99', ELECTRON_OVERRIDE_DIST_PATH: dist }, null);
    assert.equal(out.trim(), `FAKE ELECTRON ${root} --flag`);
    assert.equal(code, 0);
  } finally {
    fs.rmSync(h.dir, { recursive: true, force: true });
  }
});

test('a desktop app that dies at start: one line, then serve', { skip: process.platform === 'win32' }, async () => {
  const h = home();
  try {
    const dist = path.join(h.dir, 'electron-dist');
    fs.mkdirSync(dist);
    fs.writeFileSync(path.join(dist, 'electron'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    const { out } = await launch(['--config', h.config], { POSTERN_HOME: h.dir, DISPLAY: ':99', ELECTRON_OVERRIDE_DIST_PATH: dist }, /dashboard\s+http/);
    assert.match(out.split('\n')[0], /^postern: not opening the desktop app: the desktop app exited at start \(code 3\)/);
    assert.match(out, /Postern running as mx\.test\.example/);
  } finally {
    fs.rmSync(h.dir, { recursive: true, force: true });
  }
});
