// The gateway: starts and stops the mail service and says how it is. The parts are
// modules of their own — LiveConfig (the configuration in force), the listeners
// (smtp/listeners.ts), the hooks (smtp/hooks.ts), the spool, the outbound queue and
// the counters; this file wires them. Knows nothing of windows or HTTP: the desktop
// app and `postern serve` both drive it through GatewayApi (api.ts).
import path from 'node:path';
import type { Config } from './config/schema.ts';
import type { ConfigStore } from './config/store.ts';
import { watchFile, type FileWatch } from './config/watch.ts';
import { EventBus } from './events/bus.ts';
import { EventLog } from './events/log.ts';
import type { EventVerdict, GatewayEvent, Rule } from './events/types.ts';
import type { Directory } from './policy/directory.ts';
import type { Networks, NetworkView } from './net/networks.ts';
import { readSystemNetInfo } from './net/detect.ts';
import { MessageStore } from './spool/store.ts';
import { BanEvents } from './auth/ban-events.ts';
import { BanList, banViews, type BanView } from './auth/bans.ts';
import { AuthThrottle } from './auth/throttle.ts';
import { HashUpgrades } from './auth/hash-upgrade.ts';
import { holdWorkPool } from './work/pool.ts';
import type { HookContext } from './smtp/hooks.ts';
import { InboundChecks } from './inbound/checks.ts';
import type { ListenerStatus } from './smtp/listeners.ts';
import { ListenerSet } from './smtp/listener-set.ts';
import { ServedCertificate } from './smtp/served-certificate.ts';
import type { MailFromCheck } from './spf/types.ts';
import { OutboundQueue } from './delivery/outbound.ts';
import { SmtpCourier } from './delivery/courier.ts';
import { DkimKeys } from './dkim/keys.ts';
import { LiveConfig, type SetNetworkOptions } from './live-config.ts';
import { relaySelfTestCheck } from './doctor/relay-self-test.ts';
import { RelayWatch, relayStatus } from './relay-watch.ts';
import type { GatewayState, GatewayStatus, SetupReport, SetupSummary } from './status.ts';
import { count, emptyCounters } from './counters.ts';
import { CertificateManager, type AcmeTuning } from './acme/manager.ts';
import { DiskGauge, diskChange, type DiskReading, type DiskStatus } from './disk/gauge.ts';

export { describeListenError, type ListenerStatus } from './smtp/listeners.ts';
export type { Counters } from './counters.ts';

export type { GatewayState, GatewayStatus, RelayStatus, SetupReport, SetupSummary } from './status.ts';
export type { BanView } from './auth/bans.ts';

export interface GatewayOptions {
  store: ConfigStore;
  dataDir: string;
  /** Builds the SPF check for a config (null: no SPF). Injected so tests can point DNS at loopback. */
  spfFactory?: (cfg: Config) => MailFromCheck | null;
  eventCapacity?: number;
  /** Outbound retry schedule (ms); tests shorten it. */
  outboundRetryMs?: number[];
  /** ACME's clock and waits; tests shorten them. */
  acme?: AcmeTuning;
  /** How often the free space of the data dir is read (ms, default 5000); tests shorten it. */
  diskCheckMs?: number;
}

export class Gateway {
  readonly bus: EventBus;
  readonly store: MessageStore;
  readonly bans: BanList;
  /** Per-account delay and the bound on password checks at once (docs/design.md §2.4). */
  readonly throttle = new AuthThrottle();
  readonly dataDir: string;
  readonly outbound: OutboundQueue;
  readonly dkim: DkimKeys;
  readonly live: LiveConfig;
  readonly certificates: CertificateManager;
  private readonly listeners: ListenerSet;
  private state: GatewayState = 'stopped';
  private startedAt: Date | null = null;
  private log: EventLog | null = null;
  private readonly served: ServedCertificate;
  private readonly perClient = new Map<string, number>();
  /** DNSBL, rate limits, DMARC enforced, rspamd (docs/design.md §2.10–§2.13). */
  readonly inbound = new InboundChecks({
    config: () => this.live.config,
    dns: () => this.live.dns,
    changed: () => this.emitState(),
    dataDir: () => this.dataDir,
  });
  private readonly banEvents: BanEvents;
  private setup: SetupSummary | null = null;
  /** The relay self-test after a change of trust (docs/design.md §5). */
  private readonly relayWatch = new RelayWatch({
    run: () =>
      relaySelfTestCheck({
        config: this.live.config,
        dataDir: this.dataDir,
        dns: this.live.dns,
        relaySelfTest: () => this.startSelfTestListener(),
        smtpTimeoutMs: 3000,
      }),
    say: (text, ok) => this.system(text, ok ? 'info' : 'reject', 'setup check'),
    changed: () => this.emitState(),
  });
  private watches: FileWatch[] = [];
  /** Lets go of the shared worker pool (taken at start, docs/design.md §2.8). */
  private releasePool: (() => Promise<void>) | null = null;
  /** Password-hash upgrades after a login (§2.4): a stop waits for them. */
  private readonly hashUpgrades = new HashUpgrades({
    config: () => this.live.config,
    update: (mutate, what) => this.live.update(mutate, what),
    failed: (text) => this.system(text, 'reject', 'config'),
  });
  private readonly counters = emptyCounters();
  private countersSince: string | null = null;
  /** Free space of the data dir's file system (docs/design.md §3.6). */
  readonly disk: DiskGauge;
  private readonly stateListeners = new Set<(s: GatewayStatus) => void>();

  constructor(opts: GatewayOptions) {
    this.dataDir = path.resolve(opts.dataDir);
    this.bus = new EventBus(opts.eventCapacity ?? 100_000);
    this.store = new MessageStore(this.dataDir);
    const first = opts.store.load();
    this.bans = new BanList(this.dataDir, first.auth.maxFailures, first.auth.banSeconds);
    this.banEvents = new BanEvents(this.bans, (e) => this.bus.emit(e));
    this.live = new LiveConfig({
      store: opts.store,
      bus: this.bus,
      spool: this.store,
      bans: this.bans,
      spfFactory: opts.spfFactory,
      changed: () => this.emitState(),
      trustChanged: () => this.relayCheckSoon(),
    });
    this.listeners = new ListenerSet({
      bus: this.bus,
      config: () => this.live.config,
      proxies: this.live.proxyList,
      isInternal: (ip) => this.live.networks.isInternal(ip),
      isTrustedProxy: (ip) => this.live.isTrustedProxy(ip),
      tls: () => this.served.material(),
      hookContext: () => this.hookContext(),
      say: (text, verdict) => this.system(text, verdict, 'listeners'),
    });
    this.bans.configure(first.auth.maxFailures, first.auth.banSeconds, first.auth.maxNetworkFailures);
    // Per-network bans spare the family's own networks and addresses a family member logged in from.
    this.bans.exempt = (ip) => this.live.networks.isInternal(ip) || this.throttle.isGoodAddress(ip);
    this.dkim = new DkimKeys(this.dataDir);
    this.disk = new DiskGauge({
      dir: this.dataDir,
      minFreeBytes: () => this.live.config.limits.minFreeBytes,
      intervalMs: opts.diskCheckMs,
      onChange: (r, before) => this.diskChanged(r, before),
    });
    this.outbound = new OutboundQueue({
      store: this.store,
      bus: this.bus,
      config: () => this.live.config,
      directory: () => this.live.directory,
      dkim: this.dkim,
      retryMs: opts.outboundRetryMs,
      courier: new SmtpCourier({ config: () => this.live.config, dns: () => this.live.dns, isSelf: (ip, port) => this.isSelf(ip, port) }),
    });
    this.certificates = new CertificateManager({
      dataDir: this.dataDir,
      config: () => this.live.config,
      emit: (e) => this.bus.emit(e),
      installed: () => this.served.installed(),
      changed: () => this.emitState(),
      tuning: opts.acme,
    });
    this.served = new ServedCertificate({
      dataDir: this.dataDir,
      config: () => this.live.config,
      acme: this.certificates,
      serve: (m) => this.listeners.serveCertificate(m),
      say: (text, verdict, rule) => this.system(text, verdict, rule),
      running: () => this.state === 'running',
      changed: () => this.emitState(),
    });
    this.bus.subscribe((e) => count(this.counters, e));
  }

  get networks(): Networks {
    return this.live.networks;
  }

  config(): Config {
    return this.live.config;
  }

  directory(): Directory {
    return this.live.directory;
  }

  /** SMTP sessions open now, with sockets still in their handshake (a stop, a test, waits for 0). */
  openSessions(): number {
    return this.listeners.openCount();
  }

  /** Is ip:port one of our own listeners? (Delivering there would be a mail loop.) */
  isSelf(ip: string, port: number): boolean {
    return this.listeners.isSelf(ip, port);
  }

  private hookContext(): HookContext {
    const live = this.live;
    return {
      config: () => live.config,
      directory: () => live.directory,
      networks: live.networks,
      bus: this.bus,
      store: this.store,
      bans: this.bans,
      throttle: this.throttle,
      upgradePasswordHash: (account, stale, password) => this.hashUpgrades.upgrade(account, stale, password),
      // a getter: the SPF check is rebuilt when the config changes
      get spf() {
        return live.spf;
      },
      onMessageQueued: (id, remote) => {
        if (remote) this.outbound.enqueued(id);
      },
      checkTls: () => this.served.check(),
      disk: () => this.disk.reading(),
      inbound: this.inbound,
      perClient: this.perClient,
      isTrustedProxy: (ip) => live.isTrustedProxy(ip),
    };
  }

  private system(text: string, verdict: EventVerdict, rule: Rule): void {
    this.bus.emit({ stage: 'system', verdict, rule, text });
  }

  async start(): Promise<GatewayStatus> {
    if (this.state === 'running' || this.state === 'starting') return this.status();
    this.state = 'starting';
    const cfg = this.live.config;
    this.log = new EventLog(path.join(this.dataDir, 'log'));
    this.bus.attachLog(this.log, this.log.lastId());
    const recovered = this.store.recover();
    this.outbound.load(recovered.outbound);
    for (const a of cfg.accounts) this.store.ensureMaildir(a.name);
    this.live.networks.refreshDetected();
    // Default route, gateway and virtual interfaces (docs/design.md §2.2): asked asynchronously, then the list again.
    void readSystemNetInfo().then(() => {
      if (this.live.networks.autoDetected) {
        this.live.networks.refreshDetected();
        this.emitState();
      }
    });
    try {
      await this.served.load();
    } catch (e) {
      this.state = 'error';
      this.system(`TLS certificate could not be loaded: ${(e as Error).message}`, 'reject', 'tls');
      this.emitState();
      return this.status();
    }
    const statuses = await this.listeners.start();
    const bound = this.listeners.bound;
    this.state = bound > 0 ? 'running' : 'error';
    this.startedAt = new Date();
    this.releasePool ??= holdWorkPool();
    this.outbound.start();
    this.certificates.start();
    this.disk.start();
    this.banEvents.start();
    this.watchFiles();
    this.system(
      `Postern started: ${statuses.map((s) => (s.ok ? `${s.mode} on ${s.host}:${s.boundPort}${s.fallbackFrom ? ` (instead of ${s.fallbackFrom}: needs permission)` : ''}` : `${s.mode} on port ${s.port} FAILED`)).join(', ')}` +
        (recovered.outbound.length ? `; ${recovered.outbound.length} queued message(s) recovered` : ''),
      bound === cfg.listeners.length ? 'info' : 'reject',
      'start',
    );
    this.emitState();
    return this.status();
  }

  // ---- settings changed in the app (docs/design.md §7.1 saveSettings, §8.2) ------------

  /** Rebinds the listeners to the config without a restart (ListenerSet.rebind). */
  async rebindListeners(): Promise<ListenerStatus[]> {
    if (this.state !== 'running' && this.state !== 'error') return this.status().listeners;
    await this.listeners.rebind();
    this.state = this.listeners.bound > 0 ? 'running' : 'error';
    this.emitState();
    return this.status().listeners;
  }

  /** After a change of the host name or limits: every running server takes them (no rebind needed). */
  refreshListenerOptions(): void {
    this.listeners.refreshOptions();
  }

  /** After a change of the certificate files: served without a restart (ServedCertificate.reload). */
  reloadCertificate(): Promise<void> {
    return this.served.reload();
  }

  async stop(): Promise<void> {
    await this.relayWatch.settled();
    if (this.state === 'stopped') return;
    this.banEvents.stop();
    this.disk.stop();
    for (const w of this.watches) w.close();
    this.watches = [];
    await this.outbound.stop();
    await this.certificates.stop();
    await this.listeners.stop(5000);
    // What the sessions started: hash upgrades, and the worker threads (docs/design.md §2.8) —
    // a stopped gateway leaves nothing running.
    await this.hashUpgrades.settled();
    await this.inbound.flush(); // greylist.json (docs/design.md §2.14)
    await this.store.settled(); // the incoming names of the last messages
    await this.releasePool?.();
    this.releasePool = null;
    this.state = 'stopped';
    this.system('Postern stopped', 'info', 'stop');
    await this.log?.close();
    this.bus.attachLog(null);
    this.log = null;
    this.emitState();
  }

  /**
   * The counters continue from the history (docs/design.md §4.4): the events of the last
   * day before this start, counted as they were, so a restart does not zero the strip.
   */
  seedCounters(events: Iterable<GatewayEvent>, since: string): void {
    for (const e of events) count(this.counters, e);
    this.countersSince = since;
  }

  status(): GatewayStatus {
    return {
      state: this.state,
      hostname: this.live.config.hostname,
      startedAt: this.startedAt?.toISOString() ?? null,
      listeners: this.listeners.status(),
      counters: { ...this.counters },
      countersSince: this.countersSince,
      tls: this.served.status(),
      queue: { outbound: this.outbound.size },
      setup: this.setup,
      relay: this.relayWatch.last,
      configError: this.live.problem,
      disk: this.diskStatus(),
      rateLimited: this.inbound.limitedAccounts(),
    };
  }

  /** Records the result of a setup check (run after every start, and on demand). */
  setSetupReport(r: SetupReport): void {
    const failing = r.checks.filter((c) => c.status === 'fail');
    const warns = r.checks.filter((c) => c.status === 'warn').length;
    this.setup = { ranAt: r.ranAt, fails: failing.length, warns, failing: failing.map((c) => c.title) };
    const relay = r.checks.find((c) => c.id === 'relay-self-test');
    if (relay) this.relayWatch.last = relayStatus(relay, r.ranAt);
    this.system(
      failing.length
        ? `setup check: ${failing.length} problem(s) — ${failing.map((c) => c.title).join('; ')}`
        : `setup check: nothing failed${warns ? ` (${warns} warning(s))` : ''}`,
      failing.length ? 'reject' : 'info',
      'setup check',
    );
    this.emitState();
  }

  private diskStatus(): DiskStatus | null {
    const r = this.state === 'stopped' ? null : this.disk.reading();
    return r ? { freeBytes: r.freeBytes, ok: r.ok } : null;
  }

  /** The free space crossed the bound (docs/design.md §3.6): an event, and the tray and dashboard say why. */
  private diskChanged(r: DiskReading, before: DiskReading | null): void {
    const said = diskChange(r, before);
    if (said) this.system(said.text, said.verdict, 'disk');
    this.emitState();
  }

  onState(fn: (s: GatewayStatus) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  private emitState(): void {
    const s = this.status();
    for (const fn of this.stateListeners) fn(s);
  }

  // ---- configuration: LiveConfig's, kept here for the API and the desktop app --------

  listNetworks(): NetworkView[] {
    return this.live.networks.list();
  }
  setNetwork(cidr: string, enabled: boolean, label?: string, opts?: SetNetworkOptions): NetworkView[] {
    return this.live.setNetwork(cidr, enabled, label, opts);
  }
  removeNetwork(cidr: string): NetworkView[] {
    return this.live.removeNetwork(cidr);
  }
  updateConfig(mutate: (raw: Record<string, unknown>) => void, what?: string): Config {
    return this.live.update(mutate, what);
  }
  /**
   * Applies the config file after an outside edit (or records why not, for the banner); true
   * when something changed. Listeners, certificate files and ACME settings changed by an
   * editor are applied as saveSettings applies them (docs/design.md §8.2, §7.1).
   */
  reload(): boolean {
    const before = this.live.config;
    const changed = this.live.reload();
    if (changed) void this.applyRunning(before, this.live.config).catch(() => {});
    return changed;
  }

  /**
   * After a change of the config (saveSettings or an outside edit, docs/design.md §7.1): the
   * running parts that read it once follow — listeners rebound, host name and limits set
   * on the servers, certificate files reloaded, the certificate manager restarted when
   * the ACME settings or the host name changed (the gateway keeps running). A certificate
   * that does not load throws after the rest is applied (the old one keeps serving).
   */
  async applyRunning(before: Config, after: Config): Promise<void> {
    if (this.state !== 'running' && this.state !== 'error') return;
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    if (!same(before.listeners, after.listeners)) await this.rebindListeners();
    else if (before.hostname !== after.hostname || !same(before.limits, after.limits)) this.refreshListenerOptions();
    const acmeChanged = !same(before.acme, after.acme) || (after.acme.enabled && before.hostname !== after.hostname);
    if (acmeChanged) await this.served.restartAcme();
    else if (!same(before.tls, after.tls)) await this.served.reload();
  }

  /** "Renew now" (docs/design.md §2.5): an attempt at once; the outcome is in status().tls.acme. */
  async renewCertificate(): Promise<void> {
    if (!this.live.config.acme.enabled) throw new Error('built-in ACME is off');
    await this.certificates.renewNow();
  }

  // ---- outside edits: the config file and the ban file (docs/design.md §8.2, §2.4) ------

  /**
   * While running: the config file (when the store has one) is re-read after an edit from
   * outside and applied, or refused with a banner (LiveConfig.reload); the ban file is
   * re-read so that `postern bans lift` reaches this process.
   */
  private watchFiles(): void {
    const file = (this.live.store as { file?: string }).file;
    if (file) this.watches.push(watchFile(file, () => this.reload()));
    this.watches.push(watchFile(path.join(this.dataDir, 'auth-bans.json'), () => this.reloadBans()));
  }

  /** Re-reads the ban file; each ban lifted there is an event (rule `auth ban`). */
  reloadBans(): void {
    this.banEvents.reloadFromFile();
  }

  /** Bans in force, soonest to end first (docs/design.md §2.4). */
  listBans(): BanView[] {
    return banViews(this.bans);
  }

  /** Lifts an account's hourly sending limit (docs/design.md §2.13): its counters start again at zero. */
  liftRateLimit(account: string): boolean {
    const ok = this.inbound.lift(account);
    if (ok) this.bus.emit({ stage: 'system', verdict: 'info', rule: 'rate limits', user: account, text: `${account}'s sending limit lifted by hand` });
    this.emitState();
    return ok;
  }

  /** Blocks an account from sending, or unblocks it (`accounts[].blocked`, docs/design.md §2.13). */
  blockAccount(account: string, blocked: boolean): void {
    this.live.update(
      (raw) => {
        const a = (Array.isArray(raw.accounts) ? (raw.accounts as { name: string; blocked?: boolean }[]) : []).find((x) => x.name === account);
        if (!a) throw new Error(`no account ${account}`);
        if (blocked) a.blocked = true;
        else delete a.blocked;
      },
      `account ${account} ${blocked ? 'blocked from sending' : 'may send again'}`,
    );
    this.inbound.lift(account);
    this.bus.emit({
      stage: 'system',
      verdict: 'info',
      rule: 'rate limits',
      user: account,
      text: blocked ? `${account}'s account blocked from sending` : `${account}'s account may send again`,
    });
    this.emitState();
  }

  /** Lifts a ban (an address, an IPv6 /64 or a network as listBans shows it); false if there was none. */
  liftBan(address: string): boolean {
    return this.banEvents.lift(address);
  }

  /** Runs the open-relay self-test now (RelayWatch.checkSoon). */
  relayCheckSoon(): Promise<void> {
    return this.relayWatch.checkSoon();
  }

  // ---- open-relay self-test (docs/design.md §5; used by core/doctor) ------------

  /** A listener the doctor tries to relay through as an Internet client (ListenerSet.startRelayProbe). */
  startSelfTestListener(): Promise<{ port: number; close(): Promise<void> }> {
    return this.listeners.startRelayProbe();
  }
}
