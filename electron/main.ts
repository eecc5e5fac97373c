// Postern's Electron main process: wiring only (docs/design.md §7.3). The gateway core runs
// here; its config is the electron-store file <userData>/config.json (store.ts),
// the same file `postern serve` uses; its data is <userData>/data. The window talks
// to it only through the typed preload bridge (preload.ts → ipc.ts), and gets live
// pushes from live.ts. Logic lives in the plain modules beside this one.
import fs from 'node:fs';
import path from 'node:path';
import { app, dialog, ipcMain, Menu, safeStorage, Tray, type BrowserWindow } from 'electron';
import ElectronStore from 'electron-store';
import type { Gateway } from '../core/gateway.ts';
import { createRuntime } from '../core/runtime.ts';
import { userDataDir } from '../core/config/paths.ts';
import { createAutostart, startedAtLogin, type Autostart } from './autostart.ts';
import { STREAM_CHANNEL } from './channels.ts';
import { registerIpc } from './ipc.ts';
import { LivePush } from './live.ts';
import { guard, showNotification, startupError, trayImage } from './desktop.ts';
import { eventNotification, Notifier, ProblemList, type NotificationModel } from './notify.ts';
import { ElectronConfigStore, type StoreClass } from './store.ts';
import { TrayService } from './tray.ts';
import type { MenuAction } from './tray-model.ts';
import { permissionOutcome, portPermissionOffer } from './port-permission.ts';
import { runningBinary } from '../core/service/ports.ts';
import { spawn } from 'node:child_process';
import { createDashboardWindow, hardenSession, registerScheme, serveRenderer } from './window.ts';

// The same folder as `postern serve` (core/config/paths.ts; POSTERN_HOME overrides), set
// before anything reads it: the single-instance lock lives there too.
app.setName('Postern');
app.setPath('userData', userDataDir());
app.setAppUserModelId('io.github.postern.Postern');
registerScheme();

// Module-level: a Tray nobody references is garbage-collected and vanishes.
let tray: TrayService | null = null;
let win: BrowserWindow | null = null;
let gateway: Gateway | null = null;
/** The runtime's stop: the gateway, then the history's held writes (core/runtime.ts). */
let stopRuntime: (() => Promise<void>) | null = null;
let live: LivePush | null = null;
let autostart: Autostart | null = null;
let quitting = false;
let stopped = false;
const notifier = new Notifier();
const problems = new ProblemList();

const resources = (...p: string[]) => (app.isPackaged ? path.join(process.resourcesPath, ...p) : path.join(app.getAppPath(), 'build', ...p));

if (!app.requestSingleInstanceLock()) {
  // Another Postern runs (and holds the SMTP ports): it shows its window instead.
  app.quit();
} else {
  app.on('second-instance', () => openDashboard());
  app.on('activate', () => openDashboard());
  app.on('window-all-closed', () => {}); // stay in the tray
  app.on('before-quit', () => (quitting = true));
  app.on('will-quit', (e) => {
    if (stopped || !stopRuntime) return;
    e.preventDefault(); // stop the gateway gracefully (close listeners, flush the event log) first
    const done = () => {
      stopped = true;
      app.quit();
    };
    Promise.race([stopRuntime(), new Promise((r) => setTimeout(r, 5000))]).then(done, done);
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => app.quit());
  app.whenReady().then(startApp).catch(fatal);
}

async function startApp(): Promise<void> {
  const userData = app.getPath('userData');
  // After 'ready': safeStorage knows only then whether a keychain is there (docs/design.md §7.3).
  const store = new ElectronConfigStore(ElectronStore as unknown as StoreClass, userData, { safeStorage: safeStorage ?? null });
  const dataDir = path.join(userData, 'data');
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const { gateway: gw, api, stop } = createRuntime(store, dataDir);
  gateway = gw;
  stopRuntime = stop;
  store.onExternalChange(() => {
    try {
      gw.reload(); // e.g. `postern user add` while the app runs
    } catch (e) {
      notify({ key: 'config', title: 'config.json has an error', body: `${(e as Error).message}. The previous settings stay in use.`, summary: '' });
    }
  });

  hardenSession();
  serveRenderer(path.join(__dirname, '..', 'renderer')); // dist/renderer, beside dist/electron (also in app.asar)
  registerIpc(ipcMain, api);
  live = new LivePush(gw, {
    canSend: () => !!win && !win.isDestroyed() && win.isVisible() && !win.webContents.isLoading(),
    send: (msg) => win?.webContents.send(STREAM_CHANNEL, msg),
  });

  autostart = createAutostart(
    { platform: process.platform, env: process.env, execPath: process.execPath, isPackaged: app.isPackaged, appPath: app.getAppPath() },
    app,
    app.isPackaged ? undefined : resources('icon.png'),
  );
  tray = new TrayService({
    createTray: (image) => new Tray(image as Electron.NativeImage),
    buildMenu: (template) => Menu.buildFromTemplate(template),
    image: (state) => trayImage(resources('tray'), state),
    onAction: guard(onAction),
  });
  tray.setOpenAtLogin(autostart.isEnabled());
  tray.setStatus(gw.status());
  tray.setNetworks(gw.listNetworks());

  // Guarded: these run inside the gateway's start/stop and the SMTP path, which a
  // tray or notification failure must never break (the bus would also drop us).
  gw.onState(
    guard((s) => {
      tray?.setStatus(s);
      tray?.setNetworks(gw.listNetworks());
      for (const n of notifier.fromStatus(s, Date.now())) notify(n);
      offerPortPermission(s);
    }),
  );
  gw.bus.subscribe(
    guard((e) => {
      const n = eventNotification(e);
      if (!n) return;
      tray?.setProblems(problems.add(n.summary));
      const admitted = notifier.fromEvent(e, Date.now());
      if (admitted) notify(admitted);
    }),
  );
  setInterval(() => tray?.setStatus(gw.status()), 2000).unref(); // counters in the tooltip

  // One click to start: the gateway runs from the first second; a login start stays in the tray.
  const atLogin = startedAtLogin(process.argv, process.platform === 'darwin' && app.getLoginItemSettings().wasOpenedAtLogin);
  if (store.created || !atLogin) openDashboard();
  await gw.start();
}

function openDashboard(): void {
  if (!app.isReady() || !gateway) return;
  tray?.setProblems(problems.clear());
  if (win && !win.isDestroyed()) {
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
    return;
  }
  win = createDashboardWindow({
    preload: path.join(__dirname, 'preload.cjs'),
    icon: process.platform === 'linux' ? resources('icon.png') : undefined,
    quitting: () => quitting,
    onShow: () => live?.resume(),
  });
}

function onAction(a: MenuAction): void {
  const gw = gateway;
  if (!gw) return;
  switch (a.kind) {
    case 'start':
    case 'stop': {
      const failed = (e: Error) => notify({ key: a.kind, title: `The gateway did not ${a.kind}`, body: e.message, summary: '' });
      return void (a.kind === 'start' ? gw.start() : gw.stop()).catch(failed);
    }
    case 'open':
      return openDashboard();
    case 'network':
      try {
        gw.setNetwork(a.cidr, a.enabled);
      } catch (e) {
        notify({ key: 'network', title: 'The network was not changed', body: (e as Error).message, summary: '' });
      }
      return;
    case 'login':
      autostart?.set(a.enabled);
      tray?.setOpenAtLogin(autostart?.isEnabled() ?? false);
      return;
    case 'ports':
      return offerPortPermission(gw.status(), true);
    case 'quit':
      return app.quit();
  }
}

/** Ports refused: offer the one-time authorisation (electron/port-permission.ts decides what), once per port per run. */
const portsAsked = new Set<number>();
function offerPortPermission(s: ReturnType<Gateway['status']>, force = false): void {
  const binary = runningBinary();
  const offer = portPermissionOffer(s, process.platform, binary, force ? new Set() : portsAsked);
  if (!offer) return;
  for (const p of offer.ports) portsAsked.add(p);
  void dialog
    .showMessageBox({ type: 'question', title: offer.title, message: offer.message, detail: offer.detail, buttons: offer.buttons, defaultId: 0, cancelId: 1 })
    .then(({ response }) => {
      if (response !== 0) return;
      const [cmd, ...args] = offer.command;
      let stderr = '';
      const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (e) => notify({ key: 'ports', title: 'Ports not allowed', body: `pkexec could not run: ${e.message}`, summary: '' }));
      child.on('close', (code) => {
        const r = permissionOutcome(code, stderr, binary);
        notify({ key: 'ports', title: r.title, body: r.body, summary: '' });
        // A file capability takes effect when the program starts again.
        if (r.ok) {
          app.relaunch();
          app.quit();
        }
      });
    });
}

function notify(n: NotificationModel): void {
  showNotification(n, openDashboard);
}

function fatal(e: unknown): void {
  const detail = startupError(e, path.join(app.getPath('userData'), 'config.json'));
  console.error(`postern: cannot start: ${detail}`);
  dialog.showErrorBox('Postern cannot start', detail);
  app.exit(1);
}
