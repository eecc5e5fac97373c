// What the gateway says about itself (docs/design.md §7.1): the status the dashboard,
// the tray and `postern serve` show, and the views of the setup check and the bans.
import type { AcmeStatus } from './acme/manager.ts';
import type { Counters } from './counters.ts';
import type { DiskStatus } from './disk/gauge.ts';
import type { RateLimitedAccount } from './inbound/checks.ts';
import type { ConfigProblemStatus } from './live-config.ts';
import type { RelayStatus } from './relay-watch.ts';
import type { ListenerStatus } from './smtp/listeners.ts';

export type { RelayStatus } from './relay-watch.ts';

export type GatewayState = 'stopped' | 'starting' | 'running' | 'error';

/** The last setup check (docs/design.md §5), in short, for the status strip and the tray. */
export interface SetupSummary {
  ranAt: string;
  fails: number;
  warns: number;
  /** Titles of the failing checks. */
  failing: string[];
}

/** What setSetupReport needs of a setup check's report. */
export interface SetupReport {
  ranAt: string;
  checks: { id?: string; status: string; title: string; detail?: string; fix?: string }[];
}

export interface GatewayStatus {
  state: GatewayState;
  hostname: string;
  startedAt: string | null;
  listeners: ListenerStatus[];
  counters: Counters;
  /** Where the counters start: the history's last 24 hours before this start (docs/design.md §4.4), or null: this start. */
  countersSince?: string | null;
  /** The certificate served; `acme`: the built-in ACME's state when enabled (docs/design.md §2.5). */
  tls: { subject: string; notAfter: string; selfSigned: boolean; acme?: AcmeStatus | null } | null;
  queue: { outbound: number };
  setup: SetupSummary | null;
  /** The last relay self-test (null: not run yet). */
  relay?: RelayStatus | null;
  /** The config file changed from outside and was refused: the running config stays (the dashboard's banner). */
  configError?: ConfigProblemStatus | null;
  /** Free space where mail is stored; `ok` false: MAIL FROM gets 452 4.3.1 (docs/design.md §3.6). null before the first reading. */
  disk?: DiskStatus | null;
  /** Accounts stopped by their hourly sending limits: the dashboard's banner (docs/design.md §2.13). */
  rateLimited?: RateLimitedAccount[];
}

/** A ban as the dashboard and `postern bans list` show it. */
