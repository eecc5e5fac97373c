// The running SMTP listeners (docs/design.md §2, §7.1): bound at start with the
// fallback for a privileged port, rebound after a settings change without a restart,
// given a new certificate, and closed at stop. The gateway owns one.
import os from 'node:os';
import type { Config, Listener } from '../config/schema.ts';
import { EventBus } from '../events/bus.ts';
import type { EventVerdict } from '../events/types.ts';
import { NetworkSet, unmapIPv4 } from '../net/cidr.ts';
import { defaultFallbackPort } from '../service/ports.ts';
import type { PosternServer } from './connection.ts';
import { SmtpHooks, type HookContext } from './hooks.ts';
import { closeServer, createServer, listen, type ListenerStatus } from './listeners.ts';
import { TLS_OPTIONS, type TlsMaterial } from './tls.ts';

export interface ListenerSetDeps {
  bus: EventBus;
  config(): Config;
  /** The PROXY v1 senders (shared list, changed in place on a config change). */
  proxies: string[];
  isInternal(ip: string): boolean;
  isTrustedProxy(ip: string): boolean;
  /** The certificate to serve (null before TLS is ready). */
  tls(): TlsMaterial | null;
  hookContext(): HookContext;
  /** A `listeners` event. */
  say(text: string, verdict: EventVerdict): void;
}

const LOOPBACK = new NetworkSet(['127.0.0.0/8', '::1/128']);
const key = (l: Listener) => JSON.stringify([l.mode, l.host, l.port, l.fallbackPort ?? null]);

export class ListenerSet {
  private servers: { listener: Listener; server: PosternServer }[] = [];
  private statuses: ListenerStatus[] = [];
  private readonly d: ListenerSetDeps;

  constructor(d: ListenerSetDeps) {
    this.d = d;
  }

  status(): ListenerStatus[] {
    return this.statuses.map((l) => ({ ...l }));
  }

  get bound(): number {
    return this.statuses.filter((s) => s.ok).length;
  }

  /** Binds every listener of the config (a port that fails is a status, not an error). */
  async start(): Promise<ListenerStatus[]> {
    this.statuses = [];
    const ctx = this.d.hookContext();
    for (const l of this.d.config().listeners) this.statuses.push(await this.bind(l, ctx));
    return this.status();
  }

  /** Stops accepting, lets sessions finish for `graceMs`, then closes the rest. */
  async stop(graceMs = 5000): Promise<void> {
    const servers = this.servers;
    this.servers = [];
    this.statuses = [];
    await Promise.all(servers.map((s) => closeServer(s.server, graceMs)));
  }

  /** Is ip:port one of our own listeners? (Delivering there would be a mail loop.) */
  isSelf(ip: string, port: number): boolean {
    const bound = this.statuses.filter((l) => l.ok && l.boundPort === port);
    if (!bound.length) return false;
    const addr = unmapIPv4(ip);
    if (addr === '0.0.0.0' || addr === '::' || addr === this.d.config().publicAddress) return true;
    if (LOOPBACK.has(addr)) return true;
    if (bound.some((l) => unmapIPv4(l.host) === addr)) return true;
    return Object.values(os.networkInterfaces()).some((list) => (list ?? []).some((a) => unmapIPv4(a.address) === addr));
  }

  /** Sessions open on every listener, and sockets still in their handshake. */
  openCount(): number {
    return this.servers.reduce((n, s) => n + s.server.openCount(), 0);
  }

  /** Serves a new certificate on every listener (new handshakes). */
  serveCertificate(m: TlsMaterial): void {
    for (const s of this.servers) s.server.updateSecureContext({ key: m.key, cert: m.cert, ...TLS_OPTIONS });
  }

  private async bind(l: Listener, ctx: HookContext): Promise<ListenerStatus> {
    const hooks = new SmtpHooks(ctx, l);
    const d = this.d;
    const server = createServer({
      cfg: d.config(),
      listener: l,
      hooks,
      tls: d.tls(),
      proxies: d.proxies,
      authDeadline: hooks.authDeadline,
      policy: {
        isTrusted: (ip) => d.isInternal(ip) || d.isTrustedProxy(ip),
        onReply: (conn, code, text) => hooks.onReply(conn, code, text),
        onUntrustedProxy: (conn, code, text) => hooks.onUntrustedProxy(conn, code, text),
      },
    });
    // One bad client must never take the process down (docs/design.md §10).
    server.on('error', (e: Error & { code?: string; remote?: string }) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.code === 'ETIMEDOUT') return;
      d.bus.emit({ stage: 'connect', verdict: 'info', rule: 'smtp error', listener: hooks.listenerName, client: e.remote ?? '', text: e.message });
    });
    let status = await listen(server, l);
    // A port below 1024 refused for lack of privileges: listen on its fallback port
    // meanwhile (docs/design.md §2), and say so; the fix stays in the status.
    const fallback = l.fallbackPort ?? defaultFallbackPort(l.port);
    if (!status.ok && (status.code === 'EACCES' || status.code === 'EPERM') && fallback) {
      const second = await listen(server, { ...l, port: fallback });
      if (second.ok) {
        d.say(`cannot listen on ${l.host}:${l.port} (${l.mode}): ${status.error}; listening on ${fallback} instead. ${status.fix}`, 'defer');
        status = { ...second, port: l.port, fallbackFrom: l.port, error: status.error, fix: status.fix };
      } else status = { ...status, error: `${status.error}; the fallback port ${fallback} failed too: ${second.error}` };
    }
    if (status.ok) this.servers.push({ listener: l, server });
    else d.say(`cannot listen on ${l.host}:${l.port} (${l.mode}): ${status.error}. ${status.fix}`, 'reject');
    return status;
  }

  /**
   * Brings the running listeners in line with the config without a restart: a listener
   * whose settings are unchanged keeps its socket and sessions (port 0 keeps the port it
   * got); a removed or changed one stops accepting and lets its sessions finish; a new one
   * is bound. The host name and limits are updated in place on every server.
   */
  async rebind(): Promise<ListenerStatus[]> {
    const cfg = this.d.config();
    const wanted = new Map(cfg.listeners.map((l) => [key(l), l]));
    const keep: { listener: Listener; server: PosternServer }[] = [];
    const closing: Promise<void>[] = [];
    for (const s of this.servers) {
      if (wanted.has(key(s.listener)) && !keep.some((k) => key(k.listener) === key(s.listener))) keep.push(s);
      else closing.push(closeServer(s.server, 5000));
    }
    // Closing stops accepting at once (the port is free); sessions finish in the background.
    await new Promise((r) => setImmediate(r));
    const old = this.statuses;
    this.servers = keep;
    this.refreshOptions();
    const ctx = this.d.hookContext();
    const next: ListenerStatus[] = [];
    for (const l of cfg.listeners) {
      const kept = keep.find((k) => key(k.listener) === key(l));
      const before = kept && old.find((x) => x.ok && x.mode === l.mode && x.host === l.host && x.port === l.port);
      if (kept && before) next.push(before);
      else next.push(await this.bind(l, ctx));
    }
    this.statuses = next;
    this.d.say(
      `listeners now: ${next.map((x) => (x.ok ? `${x.mode} on ${x.host}:${x.boundPort}` : `${x.mode} on port ${x.port} FAILED`)).join(', ') || 'none'}`,
      this.bound === next.length ? 'info' : 'reject',
    );
    void Promise.all(closing);
    return this.status();
  }

  /** Host name and limits of the running servers, changed in place (smtp-server reads them per connection). */
  refreshOptions(): void {
    const cfg = this.d.config();
    for (const s of this.servers)
      s.server.setLiveOptions({
        name: cfg.hostname,
        size: cfg.limits.maxMessageBytes,
        maxRecipients: cfg.limits.maxRecipients,
        socketTimeout: cfg.limits.idleTimeoutSeconds * 1000,
      });
  }

  /**
   * An extra mx listener on 127.0.0.1 (port chosen by the OS) with the same hooks and
   * relay policy as the real ones, which takes a PROXY header from 127.0.0.1 only: the
   * doctor connects to it as an Internet address and tries to relay (docs/design.md §5).
   * No SPF (no DNS for the made-up senders), no STARTTLS (so no AUTH), no DATA, and its
   * events go to a bus of its own: the live log and counters are the family's mail.
   */
  async startRelayProbe(): Promise<{ port: number; close(): Promise<void> }> {
    const listener: Listener = { port: 0, host: '127.0.0.1', mode: 'mx' };
    const ctx: HookContext = {
      ...this.d.hookContext(),
      spf: null,
      bus: new EventBus(1000),
      onMessageQueued: undefined,
      checkTls: undefined,
      disk: undefined,
      inbound: undefined,
    };
    const hooks = new SmtpHooks(ctx, listener);
    const server = createServer({
      cfg: this.d.config(),
      listener,
      hooks,
      tls: null,
      proxies: ['127.0.0.1'],
      relayProbeOnly: true,
      policy: { isTrusted: (ip) => this.d.isInternal(ip), onReply: (conn, code, text) => hooks.onReply(conn, code, text) },
    });
    server.on('error', () => {});
    const status = await listen(server, listener);
    if (!status.ok) throw new Error(`the relay self-test could not listen: ${status.error}`);
    return { port: status.boundPort!, close: () => closeServer(server, 1000) };
  }
}
