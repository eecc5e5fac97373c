// `postern serve`: the gateway (and, with it, the dashboard) without a display.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileConfigStore } from './config/store.ts';
import { writeConfigFile } from './config/load.ts';
import type { Gateway } from './gateway.ts';
import { createRuntime } from './runtime.ts';
import { startDashboard, type Dashboard } from './http/server.ts';
import { dashboardToken, renewDashboardToken as renewToken } from './http/token.ts';
import { ApiError } from './api.ts';
import { startLoopStats } from './loop-stats.ts';
import { sealedSecretNotice } from './config/secrets.ts';

export interface ServeOptions {
  configFile: string;
  dataDir: string;
  /** Where to print (tests pass their own). */
  out?: (line: string) => void;
}

/** A first config: safe defaults (only this computer trusted) for this host's name. */
export function starterConfig(): Record<string, unknown> {
  const host = os.hostname().toLowerCase();
  return { hostname: /^[a-z0-9.-]+$/.test(host) ? host : 'localhost', domains: [], accounts: [] };
}

export async function serve(opts: ServeOptions): Promise<Gateway> {
  const out = opts.out ?? ((l: string) => console.log(l));
  if (!fs.existsSync(opts.configFile)) {
    writeConfigFile(opts.configFile, starterConfig());
    out(`Created ${opts.configFile} with safe defaults; edit it to add your domain and accounts.`);
  }
  const store = new FileConfigStore(opts.configFile);
  store.load(); // refuse a bad file before touching anything
  fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  // The dashboard link survives restarts (docs/design.md §7.2): its token is kept in the data dir.
  let dashboard: Dashboard | null = null;
  const renewDashboardToken = () => {
    if (!dashboard) throw new ApiError('unavailable', 'the dashboard is not running');
    dashboard.setToken(renewToken(opts.dataDir));
    out(`  ${'dashboard'.padEnd(12)} ${dashboard.url}  (a new link: the old one no longer works)`);
    return { token: dashboard.token, url: dashboard.url };
  };
  // Event-loop delay for attack tests (core/loop-stats.ts).
  if (process.env.POSTERN_LOOP_STATS) startLoopStats(process.env.POSTERN_LOOP_STATS);
  const { gateway, api, stop: stopRuntime } = createRuntime(store, opts.dataDir, { renewDashboardToken });
  const status = await gateway.start();
  out(`Postern ${status.state} as ${status.hostname} (config ${opts.configFile}, data ${path.resolve(opts.dataDir)})`);
  for (const l of status.listeners) {
    const host = l.host.includes(':') ? `[${l.host}]` : l.host;
    out(l.ok ? `  ${l.mode.padEnd(12)} listening on ${host}:${l.boundPort}` : `  ${l.mode.padEnd(12)} NOT listening on port ${l.port}: ${l.error}. ${l.fix}`);
    // On its fallback port (docs/design.md §2): a line of its own, so the one above keeps its shape.
    if (l.ok && l.fallbackFrom) out(`  ${''.padEnd(12)} instead of ${l.fallbackFrom} (needs permission): ${l.error}. ${l.fix}`);
  }
  // A smarthost password sealed by the desktop app's keychain: not set here, said once (docs/design.md §8.2).
  const sealed = sealedSecretNotice(gateway.config());
  if (sealed) {
    out(`  ${'smarthost'.padEnd(12)} ${sealed}`);
    gateway.bus.emit({
      stage: 'system',
      verdict: 'info',
      rule: 'config',
      text: `${sealed.charAt(0).toUpperCase()}${sealed.slice(1)} (Settings → Outgoing mail)`,
    });
  }
  // The dashboard (docs/design.md §7.2): loopback, token in the printed URL. A dashboard that
  // cannot start (port taken) is reported; the gateway keeps running without it.
  try {
    const { host, port } = gateway.config().dashboard;
    dashboard = await startDashboard({ api, gateway, host, port, token: dashboardToken(opts.dataDir) });
    out(`  ${'dashboard'.padEnd(12)} ${dashboard.url}`);
    if (!dashboard.uiBuilt) out(`  ${''.padEnd(12)} (the dashboard page is not built: run \`npm run build:renderer\`; the API works)`);
  } catch (e) {
    out(`  ${'dashboard'.padEnd(12)} NOT started: ${(e as Error).message}`);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    out(`${signal}: stopping`);
    await dashboard?.close();
    await stopRuntime();
    process.exit(0);
  };
  // `on`, not `once`: a signal to the whole process group (systemd's stop, Ctrl-C) can
  // arrive twice — directly and forwarded by bin/postern.js — and a second one must not
  // kill the stop half-way (the stop event and the in-flight delivery are recorded).
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  return gateway;
}
