// The gateway as the product runs it — `postern serve` and the desktop app build it
// here, so both get the same parts: the SPF check at MAIL FROM (DNS from the config),
// the setup check after every start and on demand, and the full GatewayApi.
// (Tests build Gateways directly, with DNS on loopback.)
import path from 'node:path';
import type { ConfigStore } from './config/store.ts';
import { Gateway } from './gateway.ts';
import { createApi, type ApiDeps } from './api-impl.ts';
import type { DoctorReport, GatewayApi } from './api.ts';
import { createSpfCheckFactory } from './spf/check.ts';
import { doctorForGateway } from './doctor/checks.ts';
import { HistoryIndex } from './history/index.ts';
import { DailySummary } from './history/summary.ts';

/**
 * The history index (docs/design.md §4.4) beside the event log: caught up from
 * events.jsonl, fed every event, written when the gateway stops. Null (the dashboard
 * falls back to the in-memory ring) when the file cannot be opened or POSTERN_HISTORY=off.
 */
function openHistory(gateway: Gateway): HistoryIndex | null {
  // POSTERN_HISTORY=off: no index, the in-memory ring only (the benchmark's "without the index", docs/benchmarks.md).
  if (process.env.POSTERN_HISTORY === 'off') return null;
  try {
    const history = new HistoryIndex({ logDir: path.join(gateway.dataDir, 'log'), retentionDays: () => gateway.config().history.retentionDays });
    history.catchUp();
    // The strip's counters continue from the last 24 hours before this start (docs/design.md §4.4).
    const since = Date.now() - 86_400_000;
    gateway.seedCounters(history.eventsSince(since), new Date(since).toISOString());
    history.startRetention();
    // From here on the SQLite work runs beside the event loop, not on it (docs/design.md §4.4).
    history.writeInThread();
    gateway.bus.subscribe((e) => history.add(e));
    gateway.onState((s) => {
      if (s.state === 'stopped') history.flush();
    });
    return history;
  } catch (e) {
    console.error(`postern: the history index could not be opened, the dashboard shows this run only: ${(e as Error).message}`);
    return null;
  }
}

export function createRuntime(
  store: ConfigStore,
  dataDir: string,
  extra: Pick<ApiDeps, 'renewDashboardToken'> = {},
): { gateway: Gateway; api: GatewayApi; setupCheck: () => Promise<DoctorReport>; stop: () => Promise<void> } {
  const gateway = new Gateway({ store, dataDir, spfFactory: createSpfCheckFactory() });
  const setupCheck = async (): Promise<DoctorReport> => {
    const report = await doctorForGateway(gateway);
    gateway.setSetupReport(report);
    return report;
  };
  // After every start: a family learns what is missing before mail goes missing.
  let running = false;
  gateway.onState((s) => {
    const now = s.state === 'running';
    if (now && !running)
      setupCheck().catch((e: Error) =>
        gateway.bus.emit({ stage: 'system', verdict: 'info', rule: 'setup check', text: `setup check could not run: ${e.message}` }),
      );
    running = now;
  });
  // Last resort: a promise nobody handled is a bug to report, not a reason to stop
  // receiving the family's mail (Node's default is to exit).
  process.on('unhandledRejection', (e) => {
    const text = `internal error (please report): ${(e as Error)?.stack ?? String(e)}`;
    console.error(`postern: ${text}`);
    gateway.bus.emit({ stage: 'system', verdict: 'info', rule: 'internal error', text: text.slice(0, 2000) });
  });
  const history = openHistory(gateway);
  // The daily summary to the postmaster account (docs/design.md §4.5), when summary.daily is on.
  if (history)
    new DailySummary({
      history,
      status: () => gateway.status(),
      config: () => gateway.config(),
      directory: () => gateway.directory(),
      store: gateway.store,
      bus: gateway.bus,
    }).start();
  // A stop writes what the history's writer thread still holds (a burst's last seconds,
  // docs/design.md §4.4) before the process ends, instead of leaving it to the next start's catch-up.
  const stop = async () => {
    await gateway.stop();
    await history?.settled();
  };
  return { gateway, api: createApi({ gateway, doctor: setupCheck, ...(history ? { history } : {}), ...extra }), setupCheck, stop };
}
