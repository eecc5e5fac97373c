// The dashboard end to end: a real gateway and the headless dashboard in this
// process, the built renderer, and real Chromium (Debian's, through playwright-core).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createApi, type ApiDeps } from '../../core/api-impl.ts';
import { startDashboard, type Dashboard, type DashboardOptions } from '../../core/http/server.ts';
import { ApiError, type GatewayApi } from '../../core/api.ts';
import { FAMILY, startGateway, type TestGateway } from '../support/gateway.ts';
import { requireTools } from '../support/tools.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = path.join(ROOT, 'dist', 'renderer');
export const SCREENSHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Builds the renderer when dist/renderer is missing (a clean checkout) or older than
 * its sources. Built into a temporary folder and renamed, so test files running in
 * parallel never see half a build.
 */
export async function ensureRenderer(): Promise<void> {
  const index = path.join(DIST, 'index.html');
  const src = path.join(ROOT, 'renderer');
  if (fs.existsSync(index) && fs.statSync(index).mtimeMs >= newestMtime(src)) return;
  const { build } = await import('vite');
  const tmp = path.join(ROOT, 'dist', `.renderer-${process.pid}-${Date.now()}`);
  await build({ configFile: path.join(ROOT, 'renderer', 'vite.config.ts'), logLevel: 'warn', build: { outDir: tmp, emptyOutDir: true } });
  const old = `${tmp}-old`;
  try {
    if (fs.existsSync(DIST)) fs.renameSync(DIST, old);
    fs.renameSync(tmp, DIST);
  } catch {
    // another test file put its build in place first: the same sources, the same build
  }
  fs.rmSync(old, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
  if (!fs.existsSync(index)) throw new Error('the renderer build did not produce dist/renderer/index.html');
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchBrowser(): Promise<Browser> {
  requireTools('chromium');
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

export interface Stack {
  t: TestGateway;
  dash: Dashboard;
  stop(): Promise<void>;
}

/** A gateway (the family config of test/support/gateway.ts) and its dashboard on an ephemeral loopback port. */
export async function startStack(
  raw: Record<string, unknown> = FAMILY,
  opts: { api?: Omit<ApiDeps, 'gateway'>; override?: Partial<GatewayApi>; dashboard?: Partial<DashboardOptions> } = {},
): Promise<Stack> {
  const t = await startGateway(raw);
  const api = { ...createApi({ gateway: t.gw, ...opts.api }), ...opts.override };
  const dash = await startDashboard({ api, gateway: t.gw, host: '127.0.0.1', port: 0, staticDir: DIST, ...opts.dashboard });
  const stack: Stack = {
    t,
    dash,
    async stop() {
      await stack.dash.close();
      await t.stop();
    },
  };
  return stack;
}

/** API methods that answer 'unavailable', as in a build without that part. */
export function unavailable<M extends keyof GatewayApi>(what: string, ...methods: M[]): Pick<GatewayApi, M> {
  const out = {} as Record<M, () => Promise<never>>;
  for (const m of methods) out[m] = async () => Promise.reject(new ApiError('unavailable', `${what} is not available in this build`));
  return out as unknown as Pick<GatewayApi, M>;
}

export interface OpenOptions {
  colorScheme?: 'light' | 'dark';
  url?: string;
  hash?: string;
}

/** Opens the dashboard in a fresh context and waits until the live stream is up. */
export async function openDashboard(
  browser: Browser,
  dash: Dashboard,
  o: OpenOptions = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: o.colorScheme ?? 'light', deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  const url = o.url ?? dash.url;
  await page.goto(url + (o.hash ?? ''));
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });
  return { context, page, errors };
}

/** The log rows currently rendered (the virtualiser renders only what is near the view). */
export function rows(page: Page) {
  return page.locator('.log-inner [role="row"]');
}

export function screenshotPath(name: string): string {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return path.join(SCREENSHOTS, `${name}.png`);
}

/**
 * Browser globals for code passed to page.evaluate() and friends: the root
 * tsconfig has no DOM lib, on purpose (core/ must not touch the DOM), so the tests
 * reach them as `globalThis as unknown as PageWindow`.
 */
export interface PageWindow {
  // Loosely typed: this code runs in Chromium, and the assertions check what it returns.
  // biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not in this tsconfig (see above)
  document: any;
  getComputedStyle(el: unknown, pseudo?: string): Record<string, string>;
  requestAnimationFrame(cb: (t: number) => void): number;
  scrollTo(x: number, y: number): void;
  navigator: { clipboard: { readText(): Promise<string> } };
  performance: { getEntriesByType(type: string): unknown[]; now(): number };
  // biome-ignore lint/suspicious/noExplicitAny: constructors and globals of the page (HTMLElement, MutationObserver, the app's test hooks)
  [name: string]: any;
}
