// The setup check (docs/design.md §5): every thing a working home mail server needs, each
// with a status, what was found and the fix in one sentence. Independent checks run
// at once; every network step is bounded (dns.timeoutMs per lookup, ~5 s per SMTP
// step) and each check has an outer bound too, so the report always arrives — an
// unreachable DNS server is a warning with the reason, never a hang.
import type { DoctorCheck, DoctorReport } from './types.ts';
import { dnsClientFor } from '../dns/client.ts';
import type { GatewayStatus } from '../status.ts';
import type { Config } from '../config/schema.ts';
import { check, CHECK_IDS, within, type CheckId, type DoctorContext } from './common.ts';
import { dkimCheck, dmarcCheck, hostnameCheck, mxCheck, ptrCheck, publicAddresses, spfCheck } from './dns-checks.ts';
import { listenersCheck } from './listeners.ts';
import { networksCheck } from './networks-check.ts';
import { diskCheck } from './disk-check.ts';
import { relaySelfTestCheck } from './relay-self-test.ts';
import { smarthostCheck } from './smarthost.ts';
import { tlsCheck } from './tls-check.ts';

export type { DoctorContext, SelfTestListener, CheckId } from './common.ts';
export { CHECK_IDS, TITLES } from './common.ts';

/** The longest any one check may take: a few DNS lookups one after another, or a few SMTP steps. */
export function checkBoundMs(ctx: DoctorContext): number {
  return Math.max(4 * ctx.config.dns.timeoutMs, 6 * (ctx.smtpTimeoutMs ?? 5000)) + 1000;
}

export async function runDoctor(ctx: DoctorContext): Promise<DoctorReport> {
  const pub = publicAddresses(ctx);
  const bound = checkBoundMs(ctx);
  const run = (id: CheckId, fn: () => Promise<DoctorCheck> | DoctorCheck): Promise<DoctorCheck> =>
    within(Promise.resolve().then(fn), bound, `did not finish within ${Math.round(bound / 1000)} s`).then(
      (c) => c,
      (e: Error) => check(id, 'warn', `the check could not run: ${e.message}`, 'Run the check again; if it keeps failing, report it.'),
    );
  const all: Record<CheckId, () => Promise<DoctorCheck> | DoctorCheck> = {
    listeners: () => listenersCheck(ctx),
    hostname: () => hostnameCheck(ctx, pub),
    mx: () => mxCheck(ctx),
    spf: () => spfCheck(ctx, pub),
    dkim: () => dkimCheck(ctx),
    dmarc: () => dmarcCheck(ctx),
    ptr: () => ptrCheck(ctx, pub),
    tls: () => tlsCheck(ctx),
    smarthost: () => smarthostCheck(ctx),
    networks: () => networksCheck(ctx),
    disk: () => diskCheck(ctx),
    'relay-self-test': () => relaySelfTestCheck(ctx),
  };
  const checks = await Promise.all(CHECK_IDS.map((id) => run(id, all[id])));
  return { checks, ranAt: new Date().toISOString() };
}

/** What the setup check needs of a gateway in this process (core/gateway.ts has it). */
export interface CheckedGateway {
  readonly dataDir: string;
  config(): Config;
  status(): Pick<GatewayStatus, 'state' | 'listeners'>;
  startSelfTestListener(): Promise<{ port: number; close(): Promise<void> }>;
}

/** The setup check of a gateway in this process (the dashboard's Setup page, and after every start). */
export function doctorForGateway(
  gw: CheckedGateway,
  extra: Partial<Pick<DoctorContext, 'interfaces' | 'trustedCAs' | 'smtpTimeoutMs'>> = {},
): Promise<DoctorReport> {
  const config = gw.config();
  const status = gw.status();
  return runDoctor({
    ...extra,
    config,
    dataDir: gw.dataDir,
    dns: dnsClientFor(config),
    // Not started (or nothing bound yet): knock on the ports instead.
    listeners: status.state !== 'stopped' && status.listeners.length ? status.listeners : null,
    relaySelfTest: () => gw.startSelfTestListener(),
  });
}

/** Nothing failed (warnings allowed). */
export function passed(report: Pick<DoctorReport, 'checks'>): boolean {
  return report.checks.every((c) => c.status !== 'fail');
}
