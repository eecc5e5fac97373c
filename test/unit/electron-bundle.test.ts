// The built Electron bundles (electron/build.ts), and main.cjs run for real — in
// plain Node, with a fake `electron` module standing in for the binary that cannot
// be downloaded here. The bundle is copied to a folder with no node_modules but the
// fake, so this also proves it is self-contained (the packaged app ships none).
// What it shows: the gateway starts from the electron-store config; every API
// channel is registered and checks sender and input; the window is sandboxed and
// loads postern://app with the CSP; closing hides; the tray reflects state and its
// menu drives the gateway; "Start at login" writes the XDG entry; a port that
// cannot be bound is notified; Quit stops the gateway before exiting.
// Also: electron-builder.yml against electron-builder's own schema, and the icons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { API_METHODS } from '../../core/api-methods.ts';
import { LOOPBACK_DNS } from '../support/gateway.ts';
import { appManifest, buildElectron } from '../../electron/build.ts';
import { CSP } from '../../electron/protocol.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

// A stand-in for Electron's main-process API, as much as electron/main.ts and
// electron-store use, plus a driver that exercises the app once it is up and prints
// `FAKE [name, value]` lines.
const FAKE_ELECTRON = String.raw`
const { EventEmitter } = require('node:events');
const fs = require('node:fs');
const path = require('node:path');
const out = (name, value) => process.stdout.write('FAKE ' + JSON.stringify([name, value]) + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const paths = {};
const handlers = new Map();
const protocols = new Map();
const windows = [];
const trays = [];
const notes = [];
const externals = [];
const perms = {};
let ready = false;

class App extends EventEmitter {
  isPackaged = false;
  setName(n) { this.name = n; }
  getName() { return this.name; }
  getVersion() { return '0.1.0'; }
  setPath(k, v) { paths[k] = v; }
  getPath(k) { return paths[k] ?? path.join(process.env.POSTERN_HOME, 'electron-' + k); }
  setAppUserModelId() {}
  getAppPath() { return process.env.FAKE_APP_PATH; }
  requestSingleInstanceLock() { return true; }
  isReady() { return ready; }
  whenReady() { return new Promise((r) => setTimeout(() => { ready = true; this.emit('ready'); r(); setTimeout(drive, 10); }, 10)); }
  getLoginItemSettings() { return { openAtLogin: false, wasOpenedAtLogin: false }; }
  setLoginItemSettings() { throw new Error('no login items on Linux'); }
  quit() {
    setImmediate(() => {
      this.emit('before-quit', { preventDefault() {} });
      const e = { prevented: false, preventDefault() { this.prevented = true; } };
      this.emit('will-quit', e);
      if (e.prevented) return out('quit-deferred', true);
      out('exit', 0);
      process.exit(0);
    });
  }
  exit(code) { out('exit', code); process.exit(code); }
}
const app = new App();

class WebContents extends EventEmitter {
  sends = [];
  setWindowOpenHandler(fn) { this.openHandler = fn; }
  loadURL(url) { this.url = url; setTimeout(() => { this.owner.emit('ready-to-show'); this.emit('did-finish-load'); }, 5); return Promise.resolve(); }
  send(channel, msg) { this.sends.push([channel, msg]); }
  isLoading() { return false; }
  isDestroyed() { return false; }
}
class BrowserWindow extends EventEmitter {
  constructor(opts) { super(); this.opts = opts; this.visible = false; this.webContents = new WebContents(); this.webContents.owner = this; windows.push(this); }
  show() { this.visible = true; this.emit('show'); }
  hide() { this.visible = false; this.emit('hide'); }
  isVisible() { return this.visible; }
  isMinimized() { return false; }
  restore() {}
  focus() {}
  isDestroyed() { return false; }
}
class Tray extends EventEmitter {
  constructor(image) { super(); this.images = [image]; this.menus = []; trays.push(this); }
  setImage(i) { this.images.push(i); }
  setToolTip(t) { this.tooltip = t; }
  setContextMenu(m) { this.menus.push(m); }
  destroy() {}
}
class Notification extends EventEmitter {
  static isSupported() { return true; }
  constructor(o) { super(); this.o = o; }
  show() { notes.push(this.o); }
}
const session = { defaultSession: {
  setPermissionRequestHandler(fn) { perms.request = fn; },
  setPermissionCheckHandler(fn) { perms.check = fn; },
  setDevicePermissionHandler(fn) { perms.device = fn; },
} };

module.exports = {
  app, BrowserWindow, Tray, Notification, session,
  ipcMain: { handle(ch, fn) { handlers.set(ch, fn); }, removeHandler(ch) { handlers.delete(ch); }, on() {} },
  protocol: { registerSchemesAsPrivileged(s) { out('schemes', s); }, handle(scheme, fn) { protocols.set(scheme, fn); } },
  Menu: { buildFromTemplate: (t) => t },
  nativeImage: { createFromPath: (p) => ({ path: p, exists: fs.existsSync(p), setTemplateImage() {} }) },
  shell: { openExternal: (u) => { externals.push(u); return Promise.resolve(); }, openPath: () => Promise.resolve('') },
  dialog: { showErrorBox: (t, d) => out('errorBox', [t, d]) },
};

const trusted = { senderFrame: { url: 'postern://app/index.html', parent: null } };
const invoke = (ch, ev, ...args) => handlers.get(ch)(ev, ...args);
const labels = (items) => items.map((i) => (i.type === 'separator' ? '---' : i.type === 'checkbox' ? (i.checked ? '[x] ' : '[ ] ') + i.label : i.label));
const menuItem = (label) => trays[0].menus.at(-1).find((i) => i.label === label);
const evt = () => ({ prevented: false, preventDefault() { this.prevented = true; } });
async function until(fn, what) {
  for (let i = 0; i < 200; i++) { if (await fn()) return; await sleep(25); }
  out('timeout', what);
}

async function drive() {
  try {
    await until(async () => handlers.has('postern:status') && (await invoke('postern:status', trusted)).value?.state === 'running', 'gateway running');
    if (process.env.FAKE_SCENARIO === 'autostart') {
      out('windowsAtLogin', windows.length);
      app.emit('second-instance'); // the user opens Postern from the menu: the running instance shows its window
      out('windowsAfterOpen', windows.length);
      return app.quit();
    }
    out('channels', [...handlers.keys()].sort());
    out('status', await invoke('postern:status', trusted));
    out('foreign', await invoke('postern:status', { senderFrame: { url: 'https://evil.example/', parent: null } }));
    out('badInput', await invoke('postern:setNetwork', trusted, { cidr: 5, enabled: true }));
    out('setNetwork', await invoke('postern:setNetwork', trusted, { cidr: '192.168.77.0/24', enabled: true, label: 'Test LAN' }));
    const page = await protocols.get('postern')(new Request('postern://app/index.html'));
    out('page', { status: page.status, csp: page.headers.get('content-security-policy'), body: await page.text() });
    out('traversal', (await protocols.get('postern')(new Request('postern://app/..%2f..%2fpackage.json'))).status);
    const w = windows[0];
    out('window', { count: windows.length, webPreferences: w.opts.webPreferences, url: w.webContents.url, visible: w.visible, preloadExists: fs.existsSync(w.opts.webPreferences.preload) });
    out('windowOpen', [w.webContents.openHandler({ url: 'https://www.rfc-editor.org/rfc/rfc7208' }), w.webContents.openHandler({ url: 'file:///etc/passwd' }), externals]);
    const nav = evt();
    w.webContents.emit('will-navigate', nav, 'https://evil.example/');
    out('navigationBlocked', nav.prevented);
    out('permission', await new Promise((r) => perms.request(null, 'media', r)));
    const close = evt();
    w.emit('close', close);
    out('closeHides', { prevented: close.prevented, visible: w.visible });
    app.emit('second-instance');
    out('secondInstanceShows', { visible: w.visible, windows: windows.length });
    await until(() => notes.length > 0, 'a notification');
    out('notifications', notes);
    out('trayBefore', { menu: labels(trays[0].menus.at(-1)), tooltip: trays[0].tooltip, images: trays[0].images.map((i) => [path.basename(i.path), i.exists]) });
    menuItem('Stop gateway').click();
    await until(async () => (await invoke('postern:status', trusted)).value.state === 'stopped', 'stopped');
    await sleep(50);
    out('trayAfterStop', { menu: labels(trays[0].menus.at(-1)), images: trays[0].images.map((i) => path.basename(i.path)) });
    menuItem('Start gateway').click();
    await until(async () => (await invoke('postern:status', trusted)).value.state === 'running', 'running again');
    menuItem('Internal networks').submenu.find((i) => i.label.startsWith('Test LAN')).click();
    await sleep(50);
    out('networkToggled', (await invoke('postern:networks', trusted)).value.find((n) => n.cidr === '192.168.77.0/24').enabled);
    menuItem('Start at login').click();
    out('autostartFile', fs.readFileSync(path.join(process.env.XDG_CONFIG_HOME, 'autostart', 'postern.desktop'), 'utf8'));
    out('startAtLoginChecked', menuItem('Start at login').checked);
    await sleep(400);
    out('pushes', w.webContents.sends.filter((s) => s[0] === 'postern:stream').map((s) => s[1].type));
    out('otherChannels', w.webContents.sends.filter((s) => s[0] !== 'postern:stream').length);
    menuItem('Quit Postern').click();
  } catch (e) {
    out('driverError', String(e && e.stack || e));
    process.exit(3);
  }
}
`;

function pngSize(file: string): { w: number; h: number; colorType: number } {
  const b = fs.readFileSync(file);
  assert.deepEqual([...b.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], `${file} is a PNG`);
  return { w: b.readUInt32BE(16), h: b.readUInt32BE(20), colorType: b.readUInt8(25) };
}

/** Builds main.cjs into a folder with only the fake electron beside it, runs it, collects FAKE lines. */
async function runApp(tmp: string, config: unknown, args: string[], env: NodeJS.ProcessEnv = {}) {
  const appDir = path.join(tmp, 'app');
  const built = await buildElectron(path.join(appDir, 'dist', 'electron'));
  assert.deepEqual(built.map((b) => path.basename(b.file)).sort(), ['main.cjs', 'postern-worker.cjs', 'preload.cjs']);
  fs.mkdirSync(path.join(appDir, 'dist', 'renderer'), { recursive: true });
  fs.writeFileSync(path.join(appDir, 'dist', 'renderer', 'index.html'), '<!doctype html><title>Postern</title><h1>test page</h1>');
  fs.symlinkSync(path.join(root, 'build'), path.join(appDir, 'build'));
  fs.mkdirSync(path.join(appDir, 'node_modules', 'electron'), { recursive: true });
  fs.writeFileSync(path.join(appDir, 'node_modules', 'electron', 'index.js'), FAKE_ELECTRON);
  const home = path.join(tmp, 'home');
  fs.mkdirSync(home);
  fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify(config));
  const child = spawn(process.execPath, [path.join(appDir, 'dist', 'electron', 'main.cjs'), ...args], {
    cwd: tmp,
    env: { ...process.env, POSTERN_HOME: home, FAKE_APP_PATH: appDir, XDG_CONFIG_HOME: path.join(tmp, 'xdg'), NODE_PATH: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  if (process.env.POSTERN_TEST_VERBOSE) console.log(stdout, stderr);
  const got = new Map<string, unknown[]>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('FAKE ')) continue;
    const [k, v] = JSON.parse(line.slice(5)) as [string, unknown];
    got.set(k, [...(got.get(k) ?? []), v]);
  }
  const one = <T>(k: string): T => {
    assert.ok(got.has(k), `no "${k}" in:\n${stdout}\n${stderr}`);
    return got.get(k)![0] as T;
  };
  assert.equal(got.get('driverError'), undefined, String(got.get('driverError')));
  assert.equal(got.get('timeout'), undefined, `timed out waiting for ${got.get('timeout')}\n${stderr}`);
  return { got, one, code, stderr, home };
}

test('main.cjs runs the desktop app end to end against a fake Electron', { timeout: 120_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-bundle-'));
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const taken = (blocker.address() as net.AddressInfo).port;
  try {
    const { got, one, code, stderr, home } = await runApp(
      tmp,
      {
        hostname: 'mx.test.example',
        listeners: [
          { port: 0, host: '127.0.0.1', mode: 'mx' },
          { port: taken, host: '127.0.0.1', mode: 'submission' },
        ],
        // The setup check after the start asks DNS: loopback only.
        dns: LOOPBACK_DNS,
      },
      [],
    );

    // Private scheme registered before ready; every API method has its channel.
    assert.deepEqual(one<{ scheme: string; privileges: Record<string, boolean> }[]>('schemes')[0].scheme, 'postern');
    assert.deepEqual(one<string[]>('channels'), API_METHODS.map((m) => `postern:${m}`).sort());
    const status = one<{ ok: boolean; value: { state: string; listeners: { port: number; ok: boolean }[] } }>('status');
    assert.equal(status.value.state, 'running');
    assert.deepEqual(
      status.value.listeners.map((l) => [l.port === taken, l.ok]),
      [
        [false, true],
        [true, false],
      ],
    );
    assert.equal(one<{ error: { code: string } }>('foreign').error.code, 'unauthorized');
    assert.equal(one<{ error: { code: string } }>('badInput').error.code, 'invalid-input');
    assert.equal(one<{ ok: boolean }>('setNetwork').ok, true);
    // The change went to the electron-store file, which `postern serve` reads too.
    const saved = JSON.parse(fs.readFileSync(path.join(home, 'config.json'), 'utf8')) as { internalNetworks: { cidr: string }[] };
    assert.ok(saved.internalNetworks.some((n) => n.cidr === '192.168.77.0/24'));
    assert.equal(fs.statSync(path.join(home, 'config.json')).mode & 0o777, 0o600);
    assert.ok(fs.existsSync(path.join(home, 'data', 'log')), 'data in <userData>/data');

    // The window: sandboxed, isolated, no Node, our page with the CSP; no escape routes.
    const page = one<{ status: number; csp: string; body: string }>('page');
    assert.deepEqual(page, { status: 200, csp: CSP, body: '<!doctype html><title>Postern</title><h1>test page</h1>' });
    assert.equal(one<number>('traversal'), 404);
    const win = one<{ count: number; webPreferences: Record<string, unknown>; url: string; visible: boolean; preloadExists: boolean }>('window');
    assert.equal(win.count, 1, 'first start opens the dashboard');
    assert.equal(win.url, 'postern://app/index.html');
    assert.equal(win.visible, true);
    assert.equal(win.preloadExists, true);
    assert.equal(path.basename(win.webPreferences.preload as string), 'preload.cjs');
    assert.deepEqual(
      [win.webPreferences.contextIsolation, win.webPreferences.sandbox, win.webPreferences.nodeIntegration, win.webPreferences.webviewTag],
      [true, true, false, false],
    );
    assert.deepEqual(one('windowOpen'), [{ action: 'deny' }, { action: 'deny' }, ['https://www.rfc-editor.org/rfc/rfc7208']]);
    assert.equal(one('navigationBlocked'), true);
    assert.equal(one('permission'), false);
    assert.deepEqual(one('closeHides'), { prevented: true, visible: false });
    assert.deepEqual(one('secondInstanceShows'), { visible: true, windows: 1 });

    // The port that could not be bound: one notification, with the fix.
    const notes = one<{ title: string; body: string }[]>('notifications');
    assert.equal(notes.length, 1);
    assert.equal(notes[0].title, `Postern cannot receive mail on port ${taken}`);
    assert.match(notes[0].body, /already in use/);

    // The tray: attention (a port failed) with its icon file found; Stop → stopped icon and Start.
    const before = one<{ menu: string[]; tooltip: string; images: [string, boolean][] }>('trayBefore');
    assert.match(before.menu[0], /^Running on \d+; port \d+ not listening$/);
    assert.ok(before.menu.includes('Stop gateway'));
    assert.ok(before.menu.includes('[ ] Start at login'));
    assert.match(before.tooltip, /^Postern: needs attention · \d+ accepted · \d+ rejected$/);
    assert.deepEqual(before.images.at(-1), ['attention.png', true]);
    const after = one<{ menu: string[]; images: string[] }>('trayAfterStop');
    assert.equal(after.menu[0], 'Gateway stopped: no mail is received');
    assert.ok(after.menu.includes('Start gateway'));
    assert.equal(after.images.at(-1), 'stopped.png');
    assert.equal(one('networkToggled'), false, 'the network checkbox toggled it off');
    assert.match(one<string>('autostartFile'), /^Exec=.* .*app --autostart$/m);
    assert.equal(one('startAtLoginChecked'), true);

    // Live pushes reached the window on its stream channel only.
    const pushes = one<string[]>('pushes');
    assert.ok(pushes.includes('status') && pushes.includes('events'), pushes.join(','));
    assert.equal(one('otherChannels'), 0);

    // Quit: deferred until the gateway stopped, then a clean exit.
    assert.deepEqual(got.get('quit-deferred'), [true]);
    assert.deepEqual(got.get('exit'), [0]);
    assert.equal(code, 0, stderr);
    const log = fs.readFileSync(path.join(home, 'data', 'log', 'events.jsonl'), 'utf8');
    assert.match(log.trim().split('\n').at(-1)!, /"rule":"stop"/, 'the last event is the graceful stop');
  } finally {
    blocker.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('started at login: the gateway runs, the window stays closed until Postern is opened', { timeout: 120_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-bundle-'));
  try {
    const { one, got, code } = await runApp(
      tmp,
      { hostname: 'mx.test.example', listeners: [{ port: 0, host: '127.0.0.1', mode: 'mx' }], dns: LOOPBACK_DNS },
      ['--autostart'],
      { FAKE_SCENARIO: 'autostart' },
    );
    assert.equal(one('windowsAtLogin'), 0);
    assert.equal(one('windowsAfterOpen'), 1);
    assert.deepEqual(got.get('exit'), [0]);
    assert.equal(code, 0);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('the preload bundle requires nothing but electron and exposes one object', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-preload-'));
  try {
    await buildElectron(path.join(tmp, 'dist', 'electron'));
    const code = fs.readFileSync(path.join(tmp, 'dist', 'electron', 'preload.cjs'), 'utf8');
    assert.deepEqual([...new Set(code.match(/require\("[^"]+"\)/g))], ['require("electron")']);
    // Run it the way a sandboxed renderer would: a `require` that knows only electron.
    const exposed: Record<string, unknown> = {};
    const invoked: unknown[][] = [];
    const listeners = new Map<string, (e: unknown, m: unknown) => void>();
    const electron = {
      contextBridge: { exposeInMainWorld: (k: string, v: unknown) => (exposed[k] = v) },
      ipcRenderer: {
        invoke: (...a: unknown[]) => {
          invoked.push(a);
          return Promise.resolve({ ok: true, value: a[0] });
        },
        on: (ch: string, fn: (e: unknown, m: unknown) => void) => listeners.set(ch, fn),
        removeListener: (ch: string) => listeners.delete(ch),
      },
    };
    const fakeRequire = (m: string) => {
      if (m !== 'electron') throw new Error(`sandboxed preload cannot require ${m}`);
      return electron;
    };
    new Function('require', 'module', 'exports', code)(fakeRequire, { exports: {} }, {});
    assert.deepEqual(Object.keys(exposed), ['postern']);
    const bridge = exposed.postern as Record<string, (...a: unknown[]) => unknown>;
    assert.deepEqual(Object.keys(bridge).sort(), [...API_METHODS, 'subscribe'].sort());
    assert.equal('ipcRenderer' in bridge, false);
    assert.deepEqual(await bridge.setNetwork({ cidr: '10.0.0.0/8', enabled: true }), { ok: true, value: 'postern:setNetwork' });
    await bridge.status();
    assert.deepEqual(invoked, [['postern:setNetwork', { cidr: '10.0.0.0/8', enabled: true }], ['postern:status']]);
    const got: unknown[] = [];
    const off = bridge.subscribe((m: unknown) => got.push(m)) as () => void;
    listeners.get('postern:stream')!({ sender: 'the IPC event is not passed on' }, { type: 'status', status: {} });
    assert.deepEqual(got, [{ type: 'status', status: {} }]);
    off();
    assert.equal(listeners.size, 0);
    assert.throws(() => bridge.subscribe('not a function'), TypeError);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("electron-builder.yml passes electron-builder's schema and has the key fields", async () => {
  const yaml = require('js-yaml') as { load(s: string): unknown };
  // The fields asserted below, as electron-builder.yml spells them.
  type Target = { target: string[] };
  const cfg = yaml.load(fs.readFileSync(path.join(root, 'electron-builder.yml'), 'utf8')) as {
    appId: string;
    productName: string;
    directories: Record<string, string>;
    linux: Target & { maintainer: string };
    win: Target;
    mac: Target;
    beforeBuild: string;
    extraResources: { from: string; to: string }[];
    electronFuses: { runAsNode: boolean };
  };
  const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
    validateConfiguration(c: unknown, log: { isEnabled: boolean; add(): void }): Promise<void>;
  };
  await validateConfiguration(cfg, { isEnabled: false, add() {} });
  assert.equal(cfg.appId, 'io.github.postern.Postern');
  assert.equal(cfg.productName, 'Postern');
  assert.deepEqual(cfg.directories, { app: 'dist', buildResources: 'build', output: 'release' });
  assert.deepEqual(cfg.linux.target, ['AppImage', 'deb']);
  assert.match(cfg.linux.maintainer, /<.+@.+>/);
  assert.deepEqual(cfg.win.target, ['nsis']);
  assert.deepEqual(cfg.mac.target, ['dmg']);
  // No install/rebuild and no node_modules: the hook says dependencies are handled elsewhere.
  assert.equal(cfg.beforeBuild, './electron/builder-hooks.cjs');
  assert.equal(await (require(path.join(root, 'electron', 'builder-hooks.cjs')) as { beforeBuild(): Promise<boolean> }).beforeBuild(), false);
  assert.deepEqual(
    cfg.extraResources.map((r: { from: string; to: string }) => [r.from, r.to]),
    [
      ['build/tray', 'tray'],
      ['build/icon.png', 'icon.png'],
    ],
  );
  assert.equal(cfg.electronFuses.runAsNode, false);
  // The packaged app's manifest: main points at the bundle, no dependencies, deb's homepage and e-mail.
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const m = appManifest(pkg) as { main?: string; dependencies?: unknown; homepage?: string; author?: { email?: string } };
  assert.equal(m.main, 'electron/main.cjs');
  assert.equal(m.dependencies, undefined);
  assert.ok(m.homepage && m.author?.email, 'deb needs homepage and author.email');
  assert.equal(pkg.main, 'dist/electron/main.cjs');
});

test('electron-builder packs dist/ into app.asar with no node_modules, tray icons as resources', { timeout: 180_000 }, async () => {
  // A real electron-builder run of the `dir` target in a copy of the project, with a
  // fake unpacked Electron (electronDist) so nothing is downloaded; fuses are off
  // because the fake binary has no fuse sentinel.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-pack-'));
  try {
    const proj = path.join(tmp, 'proj');
    fs.mkdirSync(path.join(proj, 'electron'), { recursive: true });
    for (const f of ['package.json', 'electron-builder.yml', 'electron/builder-hooks.cjs']) fs.copyFileSync(path.join(root, f), path.join(proj, f));
    fs.cpSync(path.join(root, 'build'), path.join(proj, 'build'), { recursive: true });
    // The real dependencies, so that packing them by mistake would show.
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(proj, 'node_modules'));
    await buildElectron(path.join(proj, 'dist', 'electron'));
    fs.mkdirSync(path.join(proj, 'dist', 'renderer', 'assets'), { recursive: true });
    fs.writeFileSync(path.join(proj, 'dist', 'renderer', 'index.html'), '<!doctype html><title>Postern</title>');
    fs.writeFileSync(path.join(proj, 'dist', 'renderer', 'assets', 'app.js'), '');
    const fake = path.join(tmp, 'electron-dist');
    fs.mkdirSync(path.join(fake, 'resources'), { recursive: true });
    fs.writeFileSync(path.join(fake, 'electron'), '#!/bin/sh\n', { mode: 0o755 });
    const script = `
      const { build, Platform } = require(${JSON.stringify(require.resolve('electron-builder'))});
      build({ targets: Platform.LINUX.createTarget('dir'), projectDir: process.cwd(), publish: 'never',
              config: { electronDist: ${JSON.stringify(fake)}, electronVersion: '45.4.1', electronFuses: null,
                        directories: { app: 'dist', buildResources: 'build', output: 'release' } } })
        .then(() => process.exit(0), (e) => { console.error(e.stack || e); process.exit(1); });`;
    const res = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(process.execPath, ['-e', script], { cwd: proj, env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d));
      c.stderr.on('data', (d: Buffer) => (out += d));
      c.on('exit', (code) => resolve({ code, out }));
    });
    assert.equal(res.code, 0, res.out);
    const unpacked = path.join(proj, 'release', 'linux-unpacked');
    assert.ok(fs.existsSync(path.join(unpacked, 'postern')), 'executable named postern');
    const asar = require('@electron/asar') as { listPackage(p: string): string[]; extractFile(p: string, f: string): Buffer };
    const archive = path.join(unpacked, 'resources', 'app.asar');
    const files = asar.listPackage(archive).map((f) => f.replace(/\\/g, '/'));
    assert.deepEqual(files.filter((f) => !f.startsWith('/renderer')).sort(), [
      '/electron',
      '/electron/main.cjs',
      '/electron/postern-worker.cjs',
      '/electron/preload.cjs',
      '/package.json',
    ]);
    assert.ok(files.includes('/renderer/index.html'));
    assert.ok(!files.some((f) => f.includes('node_modules') || f.endsWith('.map')), files.join('\n'));
    assert.equal((JSON.parse(asar.extractFile(archive, 'package.json').toString()) as { main: string }).main, 'electron/main.cjs');
    const tray = fs.readdirSync(path.join(unpacked, 'resources', 'tray')).sort();
    assert.equal(tray.length, 16);
    assert.ok(tray.includes('attentionTemplate@2x.png'));
    assert.ok(fs.existsSync(path.join(unpacked, 'resources', 'icon.png')));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('icons: app icon ≥512 px and a tray icon per state, @2x and macOS template variants', () => {
  const icon = pngSize(path.join(root, 'build', 'icon.png'));
  assert.ok(icon.w >= 512 && icon.w === icon.h, `${icon.w}×${icon.h}`);
  for (const s of ['running', 'stopped', 'error', 'attention']) {
    for (const [suffix, size] of [
      ['', 16],
      ['@2x', 32],
      ['Template', 16],
      ['Template@2x', 32],
    ] as const) {
      const f = path.join(root, 'build', 'tray', `${s}${suffix}.png`);
      const p = pngSize(f);
      assert.deepEqual([p.w, p.h, p.colorType], [size, size, 6], f);
    }
  }
  // Template images are black with alpha only (macOS tints them).
  const b = fs.readFileSync(path.join(root, 'build', 'tray', 'runningTemplate.png'));
  let o = 8;
  const idat: Buffer[] = [];
  while (o < b.length) {
    const len = b.readUInt32BE(o);
    if (b.toString('latin1', o + 4, o + 8) === 'IDAT') idat.push(b.subarray(o + 8, o + 8 + len));
    o += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  for (let y = 0; y < 16; y++)
    for (let x = 0; x < 16; x++) {
      const i = y * 65 + 1 + x * 4;
      assert.deepEqual([raw[i], raw[i + 1], raw[i + 2]], [0, 0, 0]);
    }
});
