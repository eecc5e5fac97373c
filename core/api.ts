// GatewayApi: everything a dashboard can see and do (docs/design.md §7.1). One contract, two
// transports: Electron IPC through the preload (electron/ipc.ts) and HTTP + Server-
// Sent Events for the headless dashboard (core/http/). Both derive their channel and
// route names from API_METHODS (core/api-methods.ts) and validate every input with
// validateInput() before it reaches the gateway. The renderer imports this file's
// types and, of values, only that list.
import type { GatewayEvent, EventVerdict, Stage } from './events/types.ts';
import type { BanView } from './auth/bans.ts';
import type { GatewayStatus } from './status.ts';
import type { NetworkView } from './net/networks.ts';
import type { SpfBuildResult, SpfCheckResult, SpfChoices, SpfValidation } from './spf/record-types.ts';
import type { OutboundRecipient } from './spool/store.ts';
import type { QueueEntry } from './delivery/queue-entry.ts';
import type { AccountView } from './accounts/types.ts';
import type { Config } from './config/schema.ts';
import type { EventQuery } from './history/types.ts';

export type {
  GatewayEvent,
  EventVerdict,
  Stage,
  GatewayStatus,
  NetworkView,
  SpfBuildResult,
  SpfCheckResult,
  SpfChoices,
  SpfValidation,
  OutboundRecipient,
  QueueEntry,
  AccountView,
};
export type { ListenerStatus, Counters, GatewayState, RelayStatus } from './gateway.ts';
export type { BanView };
export type { RateLimitedAccount } from './inbound/checks.ts';
import type { RateLimitedAccount } from './inbound/checks.ts';
export type { SpfProblem, SpfEvaluation } from './spf/record-types.ts';

export type { EventQuery };

export interface EventPage {
  events: GatewayEvent[];
  /** The newest event id overall (matched or not). */
  lastId: number;
}

export interface Settings {
  hostname: string;
  domains: string[];
  authBackend: 'builtin' | 'saslauthd';
  spf: { enabled: boolean; header: 'spf' | 'auth' | 'both' | 'none'; policy: 'soft' | 'strict' };
  outbound: { mode: 'smarthost' | 'mx'; smarthostHost: string; smarthostPort: number };
  limits: { maxMessageBytes: number; maxRecipients: number; maxClients: number };
  /** The record Postern would publish for the first domain (SPF helper default). */
  spfDefaults: SpfChoices | null;
  /** This server's public addresses as far as it can tell. */
  publicAddresses: string[];
  /** Everything the Settings pages edit (docs/design.md §7.1); secrets only as "set". */
  config: EditableSettings;
  /** A fresh install: no domain yet, so the dashboard offers the guided first run. */
  firstRun: boolean;
}

/** A listener as the Settings page edits it (docs/design.md §8.2 `listeners[]`). */
export interface ListenerSetting {
  port: number;
  host: string;
  mode: 'mx' | 'submission' | 'submissions';
  fallbackPort?: number;
}

export interface OutboundSettings {
  mode: 'smarthost' | 'mx';
  host: string;
  port: number;
  secure: boolean;
  requireTLS: boolean;
  user: string;
}

/** Every limit of the config but the submission AUTH deadline, which is not edited in the app (docs/design.md §2.8, §8.2). */
export type LimitSettings = Omit<Config['limits'], 'submissionAuthSeconds'>;

/** Built-in ACME as the Settings page edits it (docs/design.md §2.5, §8.2 `acme`). */
export type AcmeSettings = Pick<Config['acme'], 'enabled' | 'directory' | 'email' | 'challenge'>;

/** How logins are checked (docs/design.md §2.4, §8.2 `auth`). */
export interface AuthSettings {
  backend: 'builtin' | 'saslauthd';
  saslauthd: { socket: string; service: string };
}

/** The settings a family edits in the app, as read (docs/design.md §7.1). */
export interface EditableSettings {
  hostname: string;
  publicAddress: string | null;
  domains: string[];
  sharedAddresses: { address: string; accounts: string[] }[];
  trustedProxies: string[];
  /** The smarthost password is never returned: only whether one is set. */
  outbound: OutboundSettings & { passwordSet: boolean };
  listeners: ListenerSetting[];
  spf: { enabled: boolean; policy: 'soft' | 'strict' };
  dkim: { selector: string };
  limits: LimitSettings;
  tls: { certFile: string | null; keyFile: string | null };
  acme: AcmeSettings;
  auth: AuthSettings;
  /** DNS servers (`ip`, `ip:port`, `[v6]:port`; empty: the system's) and the time-out per lookup. */
  dns: { servers: string[]; timeoutMs: number };
  /** The headless dashboard's address: used from the next start (docs/design.md §7.2). */
  dashboard: { host: string; port: number };
  history: { retentionDays: number };
  /** Inbound protection (docs/design.md §2.10–§2.14). */
  inbound: InboundSettings;
}

/** DMARC, DNS blocklists, rspamd, rate limits and greylisting as the Settings page edits them (docs/design.md §2.10–§2.14, §8.2): the config's own groups. */
export type InboundSettings = Pick<Config, 'dmarc' | 'dnsbl' | 'rspamd' | 'rateLimits' | 'greylist'>;

/**
 * One change from a Settings page: only the groups given are changed (docs/design.md §7.1).
 * `outbound.password`: absent keeps the stored one, "" removes it (write-only).
 */
export interface SettingsChange {
  hostname?: string;
  publicAddress?: string | null;
  domains?: string[];
  sharedAddresses?: { address: string; accounts: string[] }[];
  trustedProxies?: string[];
  outbound?: Partial<OutboundSettings> & { password?: string };
  listeners?: ListenerSetting[];
  spf?: { enabled?: boolean; policy?: 'soft' | 'strict' };
  dkim?: { selector: string };
  limits?: Partial<LimitSettings>;
  tls?: { certFile: string | null; keyFile: string | null };
  acme?: Partial<AcmeSettings>;
  auth?: { backend?: AuthSettings['backend']; saslauthd?: Partial<AuthSettings['saslauthd']> };
  dns?: { servers?: string[]; timeoutMs?: number };
  dashboard?: { host?: string; port?: number };
  history?: { retentionDays?: number };
  /** Each group replaced as given (docs/design.md §2.10–§2.14). */
  dmarc?: InboundSettings['dmarc'];
  dnsbl?: Partial<InboundSettings['dnsbl']>;
  rspamd?: Partial<InboundSettings['rspamd']>;
  rateLimits?: Partial<InboundSettings['rateLimits']>;
  greylist?: Partial<InboundSettings['greylist']>;
}

/** The smarthost connection test (docs/design.md §5 `smarthost`), with the settings on the page. */
export interface SmarthostTest {
  ok: boolean;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix: string;
}

/** One DNS record to publish, and what DNS says now (docs/design.md §7.1 dnsRecords). */
export interface DnsRecordRow {
  /** The owner name, fully qualified without the trailing dot. */
  name: string;
  type: 'MX' | 'A' | 'AAAA' | 'TXT';
  /** What to publish; null when Postern cannot know it (the A record without a public address). */
  value: string | null;
  /** In words, what the record is for. */
  purpose: string;
  /** `published`: DNS has it; `missing`: not yet; `different`: DNS has something else; `unknown`: could not be asked. */
  state: 'published' | 'missing' | 'different' | 'unknown';
  /** What DNS answered (for `different`), or why it could not be asked. */
  found: string[];
}

export interface DnsRecords {
  domains: string[];
  hostname: string;
  records: DnsRecordRow[];
  checkedAt: string;
}

export type { CheckStatus, DoctorCheck, DoctorReport } from './doctor/types.ts';
import type { DoctorReport } from './doctor/types.ts';
import type { ExportFile, ExportFormat, MessageContent, MessageDetail, MessagePage, MessageQuery, TrafficReport } from './history/types.ts';
export type {
  ExportFile,
  ExportFormat,
  MessageContent,
  MessageDetail,
  MessageOutcome,
  MessagePage,
  MessageQuery,
  MessageRow,
  MessageVerdict,
  TrafficBucket,
  TrafficReport,
} from './history/types.ts';

/** The request/response contract. Every method takes at most one plain-object argument. */
export interface GatewayApi {
  status(): Promise<GatewayStatus>;
  start(): Promise<GatewayStatus>;
  stop(): Promise<GatewayStatus>;
  events(q: EventQuery): Promise<EventPage>;
  networks(): Promise<NetworkView[]>;
  /** Trusting a range with public addresses needs `confirmPublic` (else error 'needs-confirmation', docs/design.md §2.2). */
  setNetwork(a: { cidr: string; enabled: boolean; label?: string; confirmPublic?: boolean }): Promise<NetworkView[]>;
  removeNetwork(a: { cidr: string }): Promise<NetworkView[]>;
  spfBuild(a: SpfChoices): Promise<SpfBuildResult>;
  spfValidate(a: { record: string }): Promise<SpfValidation>;
  spfCheck(a: { domain: string; ip?: string; expected?: SpfChoices }): Promise<SpfCheckResult>;
  accounts(): Promise<AccountView[]>;
  addAccount(a: { name: string; addresses: string[]; password: string }): Promise<AccountView[]>;
  removeAccount(a: { name: string }): Promise<AccountView[]>;
  queue(): Promise<QueueEntry[]>;
  retryQueue(a: { id: string }): Promise<QueueEntry[]>;
  deleteQueue(a: { id: string }): Promise<QueueEntry[]>;
  settings(): Promise<Settings>;
  /** Changes settings (validated by the config file's rules, written, applied live; docs/design.md §7.1). */
  saveSettings(a: SettingsChange): Promise<Settings>;
  /** Tries the smarthost with the saved settings, or those given (a password not given: the stored one). */
  testSmarthost(a: Partial<OutboundSettings> & { password?: string }): Promise<SmarthostTest>;
  /** The DNS records to publish for every domain, each checked live. */
  dnsRecords(): Promise<DnsRecords>;
  /** Sets or resets an account's password. */
  setPassword(a: { name: string; password: string }): Promise<AccountView[]>;
  /** Replaces an account's addresses (at least one). */
  setAddresses(a: { name: string; addresses: string[] }): Promise<AccountView[]>;
  doctor(): Promise<DoctorReport>;
  /** Transactions from the history, newest first, with the search language (docs/design.md §4.4). */
  messages(q: MessageQuery): Promise<MessagePage>;
  /** One transaction with its SMTP events and delivery attempts. */
  message(a: { id: number }): Promise<MessageDetail>;
  /** The stored copy (Maildir or outbound queue) of a transaction, parsed for reading. */
  messageContent(a: { id: number }): Promise<MessageContent>;
  /** Every transaction matching the search, as CSV or JSON. */
  exportMessages(a: { q?: string; format: ExportFormat }): Promise<ExportFile>;
  /** Accepted, refused and deferred per hour and per day, and the top refusal reasons. */
  traffic(): Promise<TrafficReport>;
  /** Addresses blocked after failed logins, with why and until when (docs/design.md §2.4). */
  bans(): Promise<BanView[]>;
  /** Lifts a block (an address, IPv6 /64 or network as bans() lists it). */
  liftBan(a: { address: string }): Promise<BanView[]>;
  /** Accounts stopped by their hourly sending limits (docs/design.md §2.13). */
  rateLimits(): Promise<RateLimitedAccount[]>;
  /** Lifts an account's hourly limit: its counters start again at zero. */
  liftRateLimit(a: { account: string }): Promise<RateLimitedAccount[]>;
  /** Blocks an account from sending (a leaked password), or lets it send again (`accounts[].blocked`). */
  blockAccount(a: { account: string; blocked: boolean }): Promise<RateLimitedAccount[]>;
  /** A new dashboard access link (headless dashboard only); the old link stops working (docs/design.md §7.2). */
  newDashboardToken(): Promise<{ token: string; url: string }>;
  /** Built-in ACME's "Renew now" (docs/design.md §2.5): one attempt at once; the status after it. */
  renewCertificate(): Promise<GatewayStatus>;
}

export type ApiMethod = keyof GatewayApi;

/** Live pushes, the same on both transports: batches of new events, and status changes. */
export interface ApiStream {
  onEvents(batch: GatewayEvent[]): void;
  onStatus(status: GatewayStatus): void;
}

export { ApiError, type ApiErrorCode } from './api-error.ts';
import { ApiError, type ApiErrorCode } from './api-error.ts';

export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: { code: ApiErrorCode; message: string } };

export function toResult<T>(p: Promise<T>): Promise<ApiResult<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (e: unknown) => ({
      ok: false as const,
      error: e instanceof ApiError ? { code: e.code, message: e.message } : { code: 'internal' as const, message: (e as Error)?.message ?? String(e) },
    }),
  );
}
