// The gateway: config, policy inputs, listeners, store and events wired together.
// Knows nothing of windows or HTTP; the desktop app and `postern serve` both drive
// it through GatewayApi (api.ts).
import net from 'node:net';
import type { Config, InternalNetwork, Listener } from './config/schema.ts';
import type { ConfigStore } from './config/store.ts';
import { EventBus } from './events/bus.ts';
import { EventLog } from './events/log.ts';
import type { GatewayEvent } from './events/types.ts';
import { Directory } from './policy/directory.ts';
import { Networks, type NetworkView } from './net/networks.ts';
import { MessageStore } from './spool/store.ts';
import { BanList } from './auth/bans.ts';
import { PosternServer } from './smtp/connection.ts';
import { SmtpHooks, type HookContext } from './smtp/hooks.ts';
import { ensureSelfSigned, TLS_OPTIONS, TlsWatcher, type TlsMaterial } from './smtp/tls.ts';
import { NetworkSet, parseCidr, unmapIPv4 } from './net/cidr.ts';
import os from 'node:os';
import type { MailFromCheck } from './spf/types.ts';
import type { DoctorReport } from './api.ts';
import { OutboundQueue } from './delivery/outbound.ts';
import { SmtpCourier } from './delivery/courier.ts';
import { DkimKeys } from './dkim/keys.ts';
import { dnsClientFor, type DnsClient } from './dns/client.ts';
import path from 'node:path';

export type GatewayState = 'stopped' | 'starting' | 'running' | 'error';

export interface ListenerStatus {
  mode: Listener['mode'];
  host: string;
  port: number;
  /** Port actually bound (differs from `port` when it was 0). */
  boundPort: number | null;
  ok: boolean;
  error?: string;
  fix?: string;
}

export interface Counters {
  connections: number;
  accepted: number;
  rejected: number;
  deferred: number;
  relayDenied: number;
  authFailures: number;
}

/** The last setup check (docs/design.md §5), in short, for the status strip and the tray. */
export interface SetupSummary {
  ranAt: string;
  fails: number;
  warns: number;
  /** Titles of the failing checks. */
  failing: string[];
}

export interface GatewayStatus {
  state: GatewayState;
  hostname: string;
  startedAt: string | null;
  listeners: ListenerStatus[];
  counters: Counters;
  tls: { subject: string; notAfter: string; selfSigned: boolean } | null;
  queue: { outbound: number };
  setup: SetupSummary | null;
}

export interface GatewayOptions {
  store: ConfigStore;
  dataDir: string;
  /** Builds the SPF check for a config (null: no SPF). Injected so tests can point DNS at loopback. */
  spfFactory?: (cfg: Config) => MailFromCheck | null;
  eventCapacity?: number;
  /** Outbound retry schedule (ms); tests shorten it. */
  outboundRetryMs?: number[];
}

export function describeListenError(l: Listener, e: NodeJS.ErrnoException): { error: string; fix: string } {
  if (e.code === 'EADDRINUSE') {
    return { error: `port ${l.port} on ${l.host} is already in use by another program`, fix: `Stop the other mail server on port ${l.port}, or give Postern another port in "listeners".` };
  }
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return {
      error: `port ${l.port} needs administrator privileges (ports below 1024 do on Linux)`,
      fix: `Run \`sudo setcap cap_net_bind_service=+ep "$(readlink -f "$(which node)")"\`, or listen on ${l.port + 2500 > 65535 ? 2525 : l.port === 25 ? 2525 : l.port + 2000} and have the router forward ${l.port} to it.`,
    };
  }
  if (e.code === 'EADDRNOTAVAIL') return { error: `address ${l.host} is not on this computer`, fix: 'Use "::" (all addresses) or an address this computer has.' };
  return { error: `${e.code ?? ''} ${e.message}`.trim(), fix: 'Check the listener settings.' };
}

/**
 * Stops accepting, lets sessions finish for `graceMs`, then says 421 and closes the
 * rest. (smtp-server's own grace timer is unref'd, so on its own a stop can hang
 * while nothing else keeps the event loop busy.)
 */
function closeServer(server: PosternServer, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      for (const c of server.connections) {
        c.send(421, '4.3.2 Postern is shutting down');
        c.close();
      }
      setTimeout(finish, 200);
    }, graceMs);
    server.close(finish);
  });
}

const LOOPBACK = new NetworkSet(['127.0.0.0/8', '::1/128']);

export class Gateway {
  readonly bus: EventBus;
  readonly store: MessageStore;
  readonly networks: Networks;
  readonly bans: BanList;
  readonly dataDir: string;
  readonly outbound: OutboundQueue;
  readonly dkim: DkimKeys;
  private dns: DnsClient;
  private cfg: Config;
  private dir: Directory;
  private proxies: NetworkSet;
  /**
   * The `useProxy` list every listener shares. Changed in place on a config change, so a
   * proxy removed from the config can no longer claim client addresses without a restart.
   */
  private readonly proxyList: string[] = [];
  private readonly configStore: ConfigStore;
  private readonly spfFactory: GatewayOptions['spfFactory'];
  private spf: MailFromCheck | null;
  private servers: { listener: Listener; server: PosternServer; hooks: SmtpHooks }[] = [];
  private listenerStatus: ListenerStatus[] = [];
  private state: GatewayState = 'stopped';
  private startedAt: Date | null = null;
  private log: EventLog | null = null;
  private tls: TlsMaterial | null = null;
  private tlsWatcher: TlsWatcher | null = null;
  private readonly perClient = new Map<string, number>();
  private banTimer: NodeJS.Timeout | null = null;
  private setup: SetupSummary | null = null;
  private readonly counters: Counters = { connections: 0, accepted: 0, rejected: 0, deferred: 0, relayDenied: 0, authFailures: 0 };
  private readonly stateListeners = new Set<(s: GatewayStatus) => void>();

  constructor(opts: GatewayOptions) {
    this.configStore = opts.store;
    this.dataDir = path.resolve(opts.dataDir);
    this.cfg = opts.store.load();
    this.dir = new Directory(this.cfg);
    this.networks = new Networks(this.cfg.internalNetworks);
    this.proxies = new NetworkSet(this.cfg.trustedProxies);
    this.proxyList.push(...this.cfg.trustedProxies);
    this.bus = new EventBus(opts.eventCapacity ?? 100_000);
    this.store = new MessageStore(this.dataDir);
    this.bans = new BanList(this.dataDir, this.cfg.auth.maxFailures, this.cfg.auth.banSeconds);
    this.spfFactory = opts.spfFactory;
    this.spf = this.spfFactory ? this.spfFactory(this.cfg) : null;
    this.dns = dnsClientFor(this.cfg);
    this.dkim = new DkimKeys(this.dataDir);
    this.outbound = new OutboundQueue({
      store: this.store,
      bus: this.bus,
      config: () => this.cfg,
      directory: () => this.dir,
      dkim: this.dkim,
      retryMs: opts.outboundRetryMs,
      courier: new SmtpCourier({ config: () => this.cfg, dns: () => this.dns, isSelf: (ip, port) => this.isSelf(ip, port) }),
    });
    this.bus.subscribe((e) => this.count(e));
  }

  config(): Config {
    return this.cfg;
  }

  /** Is ip:port one of our own listeners? (Delivering there would be a mail loop.) */
  isSelf(ip: string, port: number): boolean {
    const bound = this.listenerStatus.filter((l) => l.ok && l.boundPort === port);
    if (!bound.length) return false;
    const addr = unmapIPv4(ip);
    if (addr === '0.0.0.0' || addr === '::' || addr === this.cfg.publicAddress) return true;
    if (LOOPBACK.has(addr)) return true;
    if (bound.some((l) => unmapIPv4(l.host) === addr)) return true;
    return Object.values(os.networkInterfaces()).some((list) => (list ?? []).some((a) => unmapIPv4(a.address) === addr));
  }

  directory(): Directory {
    return this.dir;
  }

  private count(e: GatewayEvent): void {
    const c = this.counters;
    // Counters are about SMTP clients: system and network events (a listener that could
    // not bind, a toggle) are not "rejected" mail.
    if (e.stage === 'system' || e.stage === 'network') return;
    if (e.stage === 'connect' && e.rule === 'connect') c.connections++;
    if (e.stage === 'data' && e.verdict === 'accept') c.accepted++;
    if (e.verdict === 'reject') c.rejected++;
    if (e.verdict === 'defer') c.deferred++;
    if (e.stage === 'rcpt' && e.verdict === 'reject' && e.rule === 'relay rcpt' && e.reason !== 'unknown local user') c.relayDenied++;
    if (e.stage === 'auth' && e.verdict === 'reject' && e.rule === 'auth') c.authFailures++;
  }

  private hookContext(): HookContext {
    const gw = this;
    return {
      config: () => gw.cfg,
      directory: () => gw.dir,
      networks: gw.networks,
      bus: gw.bus,
      store: gw.store,
      bans: gw.bans,
      // a getter: the SPF check is rebuilt when the config is reloaded
      get spf() {
        return gw.spf;
      },
      onMessageQueued: (id, remote) => {
        if (remote) gw.outbound.enqueued(id);
      },
      checkTls: () => gw.tlsWatcher?.check() ?? Promise.resolve(),
      perClient: gw.perClient,
      isTrustedProxy: (ip) => gw.proxies.has(ip),
    };
  }

  private system(text: string, verdict: GatewayEvent['verdict'] = 'info', rule = 'system'): void {
    this.bus.emit({ stage: 'system', verdict, rule, text });
  }

  private async prepareTls(): Promise<void> {
    const files =
      this.cfg.tls.certFile && this.cfg.tls.keyFile
        ? { certFile: this.cfg.tls.certFile, keyFile: this.cfg.tls.keyFile, generated: false }
        : await ensureSelfSigned(this.dataDir, this.cfg.hostname);
    this.tlsWatcher = new TlsWatcher(
      files,
      (m) => {
        this.tls = m;
        for (const s of this.servers) s.server.updateSecureContext({ key: m.key, cert: m.cert, ...TLS_OPTIONS });
        this.system(`TLS certificate reloaded: ${m.subject.replace(/\n/g, ', ')}, valid until ${m.notAfter.toISOString()}`, 'info', 'tls');
      },
      (e) => this.system(`TLS certificate could not be reloaded: ${e.message}`, 'reject', 'tls'),
    );
    this.tls = await this.tlsWatcher.prime();
  }

  async start(): Promise<GatewayStatus> {
    if (this.state === 'running' || this.state === 'starting') return this.status();
    this.state = 'starting';
    this.log = new EventLog(path.join(this.dataDir, 'log'));
    this.bus.attachLog(this.log, this.log.lastId());
    const recovered = this.store.recover();
    this.outbound.load(recovered.outbound);
    for (const a of this.cfg.accounts) this.store.ensureMaildir(a.name);
    this.networks.refreshDetected();
    try {
      await this.prepareTls();
    } catch (e) {
      this.state = 'error';
      this.system(`TLS certificate could not be loaded: ${(e as Error).message}`, 'reject', 'tls');
      this.emitState();
      return this.status();
    }
    this.listenerStatus = [];
    const ctx = this.hookContext();
    for (const l of this.cfg.listeners) this.listenerStatus.push(await this.bind(l, ctx));
    const bound = this.listenerStatus.filter((s) => s.ok).length;
    this.state = bound === this.cfg.listeners.length && bound > 0 ? 'running' : bound > 0 ? 'running' : 'error';
    this.startedAt = new Date();
    this.outbound.start();
    // Lifted bans are events too.
    this.banTimer = setInterval(() => {
      for (const b of this.bans.expire()) this.bus.emit({ stage: 'auth', verdict: 'info', rule: 'auth ban', client: b.ip, text: `${b.ip} unbanned (ban over)` });
    }, 10_000);
    this.banTimer.unref();
    this.system(
      `Postern started: ${this.listenerStatus.map((s) => (s.ok ? `${s.mode} on ${s.host}:${s.boundPort}` : `${s.mode} on port ${s.port} FAILED`)).join(', ')}` +
        (recovered.outbound.length ? `; ${recovered.outbound.length} queued message(s) recovered` : ''),
      bound === this.cfg.listeners.length ? 'info' : 'reject',
      'start',
    );
    this.emitState();
    return this.status();
  }

  private bind(l: Listener, ctx: HookContext): Promise<ListenerStatus> {
    const hooks = new SmtpHooks(ctx, l);
    const cfg = this.cfg;
    const server = new PosternServer(
      {
        name: cfg.hostname,
        banner: 'Postern',
        secure: l.mode === 'submissions',
        key: this.tls!.key,
        cert: this.tls!.cert,
        ...TLS_OPTIONS,
        size: cfg.limits.maxMessageBytes,
        rejectOversized: true,
        maxClients: cfg.limits.maxClients,
        maxRecipients: cfg.limits.maxRecipients,
        socketTimeout: cfg.limits.idleTimeoutSeconds * 1000,
        closeTimeout: 5000,
        authOptional: true,
        authMethods: ['PLAIN', 'LOGIN'],
        disableReverseLookup: true,
        hideENHANCEDSTATUSCODES: false,
        useProxy: this.proxyList,
        logger: false,
        onConnect: hooks.onConnect,
        onSecure: hooks.onSecure as never,
        onAuth: hooks.onAuth,
        onMailFrom: hooks.onMailFrom as never,
        onRcptTo: hooks.onRcptTo as never,
        onData: hooks.onData,
        onClose: hooks.onClose,
      },
      {
        isTrusted: (ip) => this.networks.isInternal(ip) || this.proxies.has(ip),
        onReply: (conn, code, text) => hooks.onReply(conn, code, text),
        onUntrustedProxy: (conn) => hooks.onUntrustedProxy(conn),
      },
    );
    // One bad client must never take the process down (docs/design.md §10.1).
    server.on('error', (e: Error & { code?: string; remote?: string }) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.code === 'ETIMEDOUT') return;
      this.bus.emit({ stage: 'connect', verdict: 'info', rule: 'smtp error', listener: hooks.listenerName, client: e.remote ?? '', text: e.message });
    });
    return new Promise((resolve) => {
      const onError = (e: NodeJS.ErrnoException) => {
        const { error, fix } = describeListenError(l, e);
        this.system(`cannot listen on ${l.host}:${l.port} (${l.mode}): ${error}. ${fix}`, 'reject', 'listeners');
        resolve({ mode: l.mode, host: l.host, port: l.port, boundPort: null, ok: false, error, fix });
      };
      server.server.once('error', onError);
      server.server.listen({ port: l.port, host: l.host, ipv6Only: false }, () => {
        server.server.off('error', onError);
        const addr = server.server.address() as net.AddressInfo;
        this.servers.push({ listener: l, server, hooks });
        resolve({ mode: l.mode, host: l.host, port: l.port, boundPort: addr.port, ok: true });
      });
    });
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const servers = this.servers;
    this.servers = [];
    if (this.banTimer) clearInterval(this.banTimer);
    this.banTimer = null;
    await this.outbound.stop();
    await Promise.all(servers.map((s) => closeServer(s.server, 5000)));
    this.listenerStatus = [];
    this.state = 'stopped';
    this.system('Postern stopped', 'info', 'stop');
    this.log?.close();
    this.bus.attachLog(null);
    this.log = null;
    this.emitState();
  }

  status(): GatewayStatus {
    return {
      state: this.state,
      hostname: this.cfg.hostname,
      startedAt: this.startedAt?.toISOString() ?? null,
      listeners: this.listenerStatus.map((l) => ({ ...l })),
      counters: { ...this.counters },
      tls: this.tls ? { subject: this.tls.subject, notAfter: this.tls.notAfter.toISOString(), selfSigned: this.tls.files.generated } : null,
      queue: { outbound: this.outbound.size },
      setup: this.setup,
    };
  }

  /** Records the result of a setup check (run after every start, and on demand). */
  setSetupReport(r: DoctorReport): void {
    const failing = r.checks.filter((c) => c.status === 'fail');
    const warns = r.checks.filter((c) => c.status === 'warn').length;
    this.setup = { ranAt: r.ranAt, fails: failing.length, warns, failing: failing.map((c) => c.title) };
    this.system(
      failing.length ? `setup check: ${failing.length} problem(s) — ${failing.map((c) => c.title).join('; ')}` : `setup check: nothing failed${warns ? ` (${warns} warning(s))` : ''}`,
      failing.length ? 'reject' : 'info',
      'setup check',
    );
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

  // ---- internal networks (docs/design.md §2.2) --------------------------------

  listNetworks(): NetworkView[] {
    return this.networks.list();
  }

  /** Enables/disables a network (adding it if new). Applies to the next transaction; saved; logged. */
  setNetwork(cidr: string, enabled: boolean, label?: string): NetworkView[] {
    const norm = parseCidr(cidr).cidr;
    const next = this.networks.setEnabled(norm, enabled, label);
    this.saveNetworks(next);
    const entry = next.find((n) => n.cidr === norm);
    this.bus.emit({
      stage: 'network',
      verdict: 'info',
      rule: 'internal networks',
      text: `${entry?.label || norm} (${norm}) ${enabled ? 'trusted: clients there may relay' : 'no longer trusted'}`,
    });
    this.emitState();
    return this.networks.list();
  }

  removeNetwork(cidr: string): NetworkView[] {
    const next = this.networks.remove(cidr);
    this.saveNetworks(next);
    this.bus.emit({ stage: 'network', verdict: 'info', rule: 'internal networks', text: `${cidr} removed` });
    this.emitState();
    return this.networks.list();
  }

  private saveNetworks(list: InternalNetwork[]): void {
    try {
      this.cfg = this.configStore.update((raw) => {
        raw.internalNetworks = list;
      });
    } catch (e) {
      // Keep running with the in-memory change, and say that it was not saved.
      this.system(`internal networks changed but could not be saved: ${(e as Error).message}`, 'reject', 'config');
    }
  }

  /** Changes the stored config (validated; nothing is saved if invalid) and applies it. */
  updateConfig(mutate: (raw: Record<string, unknown>) => void, what = 'configuration changed'): Config {
    const cfg = this.configStore.update(mutate);
    this.apply(cfg, what);
    return cfg;
  }

  /** Re-reads the config store (after accounts or settings changed) without dropping connections. */
  reload(): void {
    this.apply(this.configStore.load(), 'configuration reloaded');
  }

  // ---- open-relay self-test (docs/design.md §5; used by core/doctor) -------

  /**
   * An extra mx listener on 127.0.0.1 (port chosen by the OS) with the same hooks and
   * relay policy as the real ones, which takes a PROXY header from 127.0.0.1 only: the
   * doctor connects to it as an Internet address and tries to relay. No SPF (no DNS for
   * the made-up senders), no STARTTLS (so no AUTH), and its events go to a bus of its
   * own: the live log and counters are the family's mail, not the self-test's.
   */
  async startSelfTestListener(): Promise<{ port: number; close(): Promise<void> }> {
    const listener: Listener = { port: 0, host: '127.0.0.1', mode: 'mx' };
    const ctx: HookContext = { ...this.hookContext(), spf: null, bus: new EventBus(1000), onMessageQueued: undefined, checkTls: undefined };
    const hooks = new SmtpHooks(ctx, listener);
    const cfg = this.cfg;
    const server = new PosternServer(
      {
        name: cfg.hostname,
        banner: 'Postern',
        // Relay attempts only: no TLS, no login, and no DATA, so nothing it accepts is ever stored.
        disabledCommands: ['STARTTLS', 'AUTH', 'DATA'],
        size: cfg.limits.maxMessageBytes,
        maxRecipients: cfg.limits.maxRecipients,
        socketTimeout: 30_000,
        closeTimeout: 1000,
        authOptional: true,
        disableReverseLookup: true,
        useProxy: ['127.0.0.1'],
        logger: false,
        onConnect: hooks.onConnect,
        onMailFrom: hooks.onMailFrom as never,
        onRcptTo: hooks.onRcptTo as never,
        onClose: hooks.onClose,
      },
      { isTrusted: (ip) => this.networks.isInternal(ip), onReply: (conn, code, text) => hooks.onReply(conn, code, text) },
    );
    server.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.server.listen({ port: 0, host: '127.0.0.1' }, () => resolve());
    });
    return { port: (server.server.address() as net.AddressInfo).port, close: () => closeServer(server, 1000) };
  }

  private apply(cfg: Config, what: string): void {
    this.cfg = cfg;
    this.dir = new Directory(cfg);
    this.networks.replace(cfg.internalNetworks);
    this.proxies = new NetworkSet(cfg.trustedProxies);
    this.proxyList.splice(0, this.proxyList.length, ...cfg.trustedProxies);
    this.bans.configure(cfg.auth.maxFailures, cfg.auth.banSeconds);
    this.spf = this.spfFactory ? this.spfFactory(cfg) : null;
    this.dns = dnsClientFor(cfg);
    for (const a of cfg.accounts) this.store.ensureMaildir(a.name);
    this.system(what, 'info', 'config');
    this.emitState();
  }
}
