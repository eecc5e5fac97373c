// GatewayApi implemented over a Gateway. Transports call validateInput() first; the
// methods here assume well-formed input and check meaning (a CIDR that parses, an
// account that exists).
import fs from 'node:fs';
import { ApiError, type ApiErrorCode, type EventPage, type EventQuery, type GatewayApi, type QueueEntry, type Settings, type DoctorReport } from './api.ts';
import type { Gateway } from './gateway.ts';
import type { GatewayEvent } from './events/types.ts';
import { parseCidr } from './net/cidr.ts';
import { cidrInputProblem } from './net/trust.ts';
import { AccountError, AccountsService, type AccountErrorCode } from './accounts/service.ts';
import type { SpfHelper } from './spf/record-types.ts';
import { spfHelperFor } from './spf/record.ts';
import type { Config } from './config/schema.ts';
import { SearchError, type HistoryIndex } from './history/index.ts';
import { exportFile } from './history/export.ts';
import { findStored } from './history/stored.ts';
import { viewMessage } from './mail/view.ts';
import { dnsRecords, editableSettings, saveSettings, testSmarthost } from './settings.ts';

export type { SpfHelper };

/** Outbound queue control (core/delivery/outbound.ts provides it). */
export interface QueueControl {
  list(): QueueEntry[];
  retry(id: string): boolean;
  remove(id: string): boolean;
}

export interface ApiDeps {
  gateway: Gateway;
  spf?: SpfHelper;
  queue?: QueueControl;
  doctor?: () => Promise<DoctorReport>;
  publicAddresses?: () => string[];
  /** The history index (docs/design.md §4.4); without it, events come from the in-memory ring. */
  history?: HistoryIndex;
  /** Makes a new dashboard access link (`postern serve`, docs/design.md §7.2); absent in the desktop app. */
  renewDashboardToken?: () => { token: string; url: string };
}

/** A search the user typed wrong is their input, not our error. */
function searching<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SearchError) throw new ApiError('invalid-input', e.message);
    throw e;
  }
}

function matches(e: GatewayEvent, q: EventQuery, text: string | undefined): boolean {
  if (q.verdict && !q.verdict.includes(e.verdict)) return false;
  if (q.stage && !q.stage.includes(e.stage)) return false;
  if (q.rule && e.rule !== q.rule) return false;
  if (q.session && e.session !== q.session) return false;
  if (q.beforeId !== undefined && e.id >= q.beforeId) return false;
  if (text) {
    const hay =
      `${e.text}\u0000${e.from ?? ''}\u0000${e.to ?? ''}\u0000${e.client}\u0000${e.user ?? ''}\u0000${e.reason ?? ''}\u0000${e.queueId ?? ''}`.toLowerCase();
    if (!hay.includes(text)) return false;
  }
  return true;
}

/** The accounts service's refusals as API errors: not-found stays not-found (404 over HTTP). */
function accountError(e: unknown): never {
  if (e instanceof AccountError) throw new ApiError(API_CODE_OF[e.code], e.message);
  throw e;
}

const API_CODE_OF: Record<AccountErrorCode, ApiErrorCode> = {
  'invalid-name': 'invalid-input',
  'invalid-password': 'invalid-input',
  'invalid-address': 'invalid-input',
  'address-taken': 'invalid-input',
  'no-address': 'invalid-input',
  'invalid-config': 'invalid-input',
  'not-found': 'not-found',
};

export function createApi(deps: ApiDeps): GatewayApi {
  const gw = deps.gateway;
  const queueControl: QueueControl | undefined = deps.queue ?? gw.outbound;
  // The SPF helper follows the config (its DNS servers): rebuilt when the config object changes.
  let spfFor: { cfg: Config; helper: SpfHelper } | null = null;
  const spfHelper = (): SpfHelper => {
    if (deps.spf) return deps.spf;
    const cfg = gw.config();
    if (spfFor?.cfg !== cfg) spfFor = { cfg, helper: spfHelperFor(cfg) };
    return spfFor.helper;
  };
  const need = <T>(x: T | undefined, what: string): T => {
    if (!x) throw new ApiError('unavailable', `${what} is not available in this build`);
    return x;
  };
  // The history with every event so far written (its writer thread may be mid-batch).
  const settledHistory = async (): Promise<HistoryIndex> => {
    const h = need(deps.history, 'the history');
    await h.settled();
    return h;
  };
  // Through the gateway, so that a change is saved, applied live and announced at once.
  const accounts = new AccountsService({ load: () => gw.config(), update: (mutate, what) => gw.updateConfig(mutate, what) });
  const cidr = (c: string): string => {
    const problem = cidrInputProblem(c);
    if (problem) throw new ApiError('invalid-input', problem);
    return parseCidr(c).cidr;
  };

  const settingsView = (): Settings => {
    const c = gw.config();
    const publicAddresses = deps.publicAddresses?.() ?? (c.publicAddress ? [c.publicAddress] : []);
    return {
      hostname: c.hostname,
      domains: [...c.domains],
      authBackend: c.auth.backend,
      spf: { ...c.spf },
      outbound: { mode: c.outbound.mode, smarthostHost: c.outbound.smarthost.host, smarthostPort: c.outbound.smarthost.port },
      limits: { maxMessageBytes: c.limits.maxMessageBytes, maxRecipients: c.limits.maxRecipients, maxClients: c.limits.maxClients },
      spfDefaults: c.domains[0] ? spfHelper().defaults(c.domains[0], publicAddresses) : null,
      publicAddresses,
      config: editableSettings(c),
      firstRun: c.domains.length === 0,
    };
  };

  return {
    async status() {
      return gw.status();
    },
    async start() {
      return gw.start();
    },
    async stop() {
      await gw.stop();
      return gw.status();
    },
    async events(q): Promise<EventPage> {
      if (deps.history) {
        await deps.history.settled(); // what has happened is in the answer (the writer thread, docs/design.md §4.4)
        return { events: deps.history.events(q), lastId: gw.bus.lastId };
      }
      const limit = q.limit ?? 500;
      const text = q.text?.toLowerCase();
      const all = gw.bus.recent(q.afterId ?? 0);
      const out: GatewayEvent[] = [];
      // Newest first until the page is full, then back to oldest-first order.
      for (let i = all.length - 1; i >= 0 && out.length < limit; i--) if (matches(all[i], q, text)) out.push(all[i]);
      return { events: out.reverse(), lastId: gw.bus.lastId };
    },
    async networks() {
      return gw.listNetworks();
    },
    async setNetwork(a) {
      return gw.setNetwork(cidr(a.cidr), a.enabled, a.label, { confirmPublic: a.confirmPublic === true });
    },
    async removeNetwork(a) {
      const c = cidr(a.cidr);
      if (!gw.listNetworks().some((n) => n.cidr === c && n.configured)) throw new ApiError('not-found', `${c} is not in the list`);
      return gw.removeNetwork(c);
    },
    async spfBuild(c) {
      return spfHelper().build(c);
    },
    async spfValidate(a) {
      return spfHelper().validate(a.record);
    },
    async spfCheck(a) {
      return spfHelper().check(a.domain, { ip: a.ip, expected: a.expected });
    },
    async accounts() {
      return accounts.list();
    },
    async addAccount(a) {
      await accounts.add(a).catch(accountError);
      return accounts.list();
    },
    async removeAccount(a) {
      try {
        accounts.remove(a.name);
      } catch (e) {
        accountError(e);
      }
      return accounts.list();
    },
    async queue() {
      return need(queueControl, 'the outbound queue').list();
    },
    async retryQueue(a) {
      const q = need(queueControl, 'the outbound queue');
      if (!q.retry(a.id)) throw new ApiError('not-found', `no queued message ${a.id}`);
      return q.list();
    },
    async deleteQueue(a) {
      const q = need(queueControl, 'the outbound queue');
      if (!q.remove(a.id)) throw new ApiError('not-found', `no queued message ${a.id}`);
      return q.list();
    },
    async settings(): Promise<Settings> {
      return settingsView();
    },
    // The Settings pages and the first run (docs/design.md §7.1): core/settings.ts.
    async saveSettings(a) {
      await saveSettings(gw, a);
      return settingsView();
    },
    async testSmarthost(a) {
      return testSmarthost(gw, a);
    },
    async dnsRecords() {
      return dnsRecords(gw);
    },
    async setPassword(a) {
      await accounts.setPassword(a.name, a.password).catch(accountError);
      return accounts.list();
    },
    async setAddresses(a) {
      try {
        accounts.setAddresses(a.name, a.addresses);
      } catch (e) {
        accountError(e);
      }
      return accounts.list();
    },
    async doctor() {
      return need(deps.doctor, 'the setup check')();
    },
    async messages(q) {
      const h = await settledHistory();
      return searching(() => h.messages(q));
    },
    async message(a) {
      const d = (await settledHistory()).message(a.id);
      if (!d) throw new ApiError('not-found', `no message ${a.id} in the history`);
      const stored = d.message.queueId ? findStored(gw.dataDir, d.message.queueId) : null;
      return { ...d, stored: stored?.kind ?? null };
    },
    async messageContent(a) {
      const d = (await settledHistory()).message(a.id);
      if (!d) throw new ApiError('not-found', `no message ${a.id} in the history`);
      const stored = d.message.queueId ? findStored(gw.dataDir, d.message.queueId) : null;
      if (!stored) throw new ApiError('not-found', 'no stored copy of this message: it was refused, or delivered onwards and not kept here');
      const view = await viewMessage(await fs.promises.readFile(stored.file));
      return { id: a.id, stored: stored.kind, ...view };
    },
    async exportMessages(a) {
      const h = await settledHistory();
      return exportFile(
        searching(() => h.allMessages(a.q ?? '')),
        a.format,
      );
    },
    async traffic() {
      return (await settledHistory()).traffic();
    },
    async bans() {
      return gw.listBans();
    },
    async rateLimits() {
      return gw.inbound.limitedAccounts();
    },
    async liftRateLimit(a) {
      if (!gw.liftRateLimit(a.account)) throw new ApiError('not-found', `${a.account} is not held by a sending limit (any more)`);
      return gw.inbound.limitedAccounts();
    },
    async blockAccount(a) {
      if (!gw.config().accounts.some((x) => x.name === a.account)) throw new ApiError('not-found', `there is no account ${a.account}`);
      try {
        gw.blockAccount(a.account, a.blocked);
      } catch (e) {
        throw new ApiError('conflict', `not saved: ${(e as Error).message}`);
      }
      return gw.inbound.limitedAccounts();
    },
    async liftBan(a) {
      if (!gw.liftBan(a.address.trim())) throw new ApiError('not-found', `${a.address} is not blocked (any more)`);
      return gw.listBans();
    },
    async newDashboardToken() {
      return need(deps.renewDashboardToken, 'a new dashboard link')();
    },
    async renewCertificate() {
      if (!gw.config().acme.enabled) throw new ApiError('conflict', 'Built-in certificates are off: turn them on under Settings → Certificate first.');
      await gw.renewCertificate();
      return gw.status();
    },
  };
}
