// The dashboard window and what it may do (docs/design.md §7.3, §10.5):
// sandboxed, context-isolated, no Node; loads only postern://app (the built
// renderer) with a strict CSP; no new windows, no navigation, no webviews, no
// permissions. https links open in the user's browser. Closing hides it.
import fs from 'node:fs/promises';
import { BrowserWindow, protocol, session, shell, type Session } from 'electron';
import { APP_ORIGIN, APP_URL, SCHEME, externalUrlAllowed, resolveAppFile, responseHeaders } from './protocol.ts';

/** Before app 'ready': postern:// behaves like https (origin, relative URLs, fetch, modules). */
export function registerScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true } }]);
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Postern</title>
<h1>The dashboard is not built</h1><p>Run <code>npm run build:renderer</code>, then reopen this window. The mail gateway is running.</p>`;

/** Serves dist/renderer on postern://app. */
export function serveRenderer(rendererDir: string): void {
  protocol.handle(SCHEME, async (req) => {
    const file = resolveAppFile(req.url, rendererDir);
    if (!file || req.method !== 'GET') return new Response('not found', { status: 404 });
    try {
      return new Response(await fs.readFile(file), { headers: responseHeaders(file) });
    } catch {
      if (file.endsWith('index.html')) return new Response(NOT_BUILT, { headers: responseHeaders(file) });
      return new Response('not found', { status: 404, headers: responseHeaders(file) });
    }
  });
}

/** No camera, notifications-from-page, clipboard, serial, USB, HID: the dashboard needs none. */
export function hardenSession(ses: Session = session.defaultSession): void {
  ses.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
}

export interface WindowOptions {
  preload: string;
  icon?: string;
  /** True once Quit was chosen: then 'close' really closes. */
  quitting: () => boolean;
  onShow: () => void;
}

export function createDashboardWindow(o: WindowOptions): BrowserWindow {
  const win = new BrowserWindow({
    width: 1180,
    height: 780,
    minWidth: 720,
    minHeight: 480,
    show: false,
    title: 'Postern',
    ...(o.icon ? { icon: o.icon } : {}),
    autoHideMenuBar: true,
    webPreferences: {
      preload: o.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      navigateOnDragDrop: false,
    },
  });
  const wc = win.webContents;
  wc.setWindowOpenHandler(({ url }) => {
    if (externalUrlAllowed(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  wc.on('will-navigate', (e, url) => {
    if (!url.startsWith(`${APP_ORIGIN}/`)) e.preventDefault();
  });
  wc.on('will-redirect', (e, url) => {
    if (!url.startsWith(`${APP_ORIGIN}/`)) e.preventDefault();
  });
  wc.on('will-attach-webview', (e) => e.preventDefault());
  wc.on('render-process-gone', (_e, d) => {
    if (d.reason !== 'clean-exit' && !win.isDestroyed()) void wc.loadURL(APP_URL);
  });
  win.on('close', (e) => {
    // The gateway keeps running in the tray; Quit (menu, tray, OS logout) really quits.
    if (o.quitting()) return;
    e.preventDefault();
    win.hide();
  });
  win.on('show', o.onShow);
  wc.on('did-finish-load', o.onShow);
  win.once('ready-to-show', () => win.show());
  void wc.loadURL(APP_URL);
  return win;
}
