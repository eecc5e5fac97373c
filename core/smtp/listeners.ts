// SMTP listeners: one options builder for every smtp-server Postern runs (the real
// listeners and the open-relay self-test), binding with errors a family can act on,
// and a stop that always ends.
import type net from 'node:net';
import type { SMTPServerOptions } from 'smtp-server';
import type { Config, Listener } from '../config/schema.ts';
import { hookOptions, PosternServer, type ConnectionPolicy, type PosternHooks } from './connection.ts';
import type { Decision } from './decision.ts';
import { TLS_OPTIONS, type TlsMaterial } from './tls.ts';
import { defaultFallbackPort, runningBinary, setcapCommand } from '../service/ports.ts';

export interface ListenerStatus {
  mode: Listener['mode'];
  host: string;
  port: number;
  /** Port actually bound (differs from `port` when it was 0). */
  boundPort: number | null;
  ok: boolean;
  error?: string;
  fix?: string;
  /**
   * The configured port that was refused (EACCES, below 1024) when this listener runs
   * on its fallback port `boundPort` instead (docs/design.md §2); `error` and `fix` say why.
   */
  fallbackFrom?: number;
  /** The system's error code of a failed bind (`EACCES`, `EADDRINUSE`, …). */
  code?: string;
}

export function describeListenError(l: Listener, e: NodeJS.ErrnoException, binary: string = runningBinary()): { error: string; fix: string } {
  if (e.code === 'EADDRINUSE') {
    return {
      error: `port ${l.port} on ${l.host} is already in use by another program`,
      fix: `Stop the other mail server on port ${l.port}, or give Postern another port under Settings → Listeners.`,
    };
  }
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return {
      error: `port ${l.port} needs administrator privileges (ports below 1024 do on Linux)`,
      // The binary that runs (docs/design.md §8.4), never `which node`: a capability on
      // the system's Node changes nothing for Postern.
      fix: `Run \`sudo ${setcapCommand(binary)}\` (or, headless, \`sudo postern service install\`), or listen on ${l.fallbackPort ?? defaultFallbackPort(l.port) ?? 2525} and have the router forward ${l.port} to it.`,
    };
  }
  if (e.code === 'EADDRNOTAVAIL')
    return {
      error: `address ${l.host} is not on this computer`,
      fix: 'Under Settings → Listeners, use the host :: (every address of this computer) or an address this computer has.',
    };
  return { error: `${e.code ?? ''} ${e.message}`.trim(), fix: 'Check the listener under Settings → Listeners.' };
}

export interface ServerSpec {
  cfg: Config;
  listener: Listener;
  hooks: PosternHooks;
  policy: ConnectionPolicy;
  /** Certificate and key; null: no TLS at all (STARTTLS and AUTH disabled). */
  tls: TlsMaterial | null;
  /** The PROXY v1 senders to accept (shared list, changed in place on a config change). */
  proxies: string[];
  /** Self-test: relay attempts only, so no DATA — nothing it accepts is ever stored. */
  relayProbeOnly?: boolean;
  /** Submission listeners: asked on each tick about each session; a Decision closes it (SmtpHooks.authDeadline, §2.8). */
  authDeadline?: (session: never, now: number) => Decision | null;
}

/** The one place smtp-server's options are chosen. */
export function createServer(spec: ServerSpec): PosternServer {
  const { cfg, listener: l, tls } = spec;
  const options: SMTPServerOptions = {
    name: cfg.hostname,
    banner: 'Postern',
    secure: l.mode === 'submissions',
    ...(tls ? { key: tls.key, cert: tls.cert, ...TLS_OPTIONS } : {}),
    size: cfg.limits.maxMessageBytes,
    rejectOversized: true,
    // Slots are counted per budget by SmtpHooks.onConnect (docs/design.md §2.8); the
    // library's per-server count is only a backstop (twice the listener's budget).
    maxClients: 2 * (l.mode === 'mx' ? cfg.limits.maxClients : cfg.limits.maxSubmissionClients),
    maxRecipients: cfg.limits.maxRecipients,
    socketTimeout: (spec.relayProbeOnly ? 30 : cfg.limits.idleTimeoutSeconds) * 1000,
    closeTimeout: spec.relayProbeOnly ? 1000 : 5000,
    authOptional: true,
    authMethods: ['PLAIN', 'LOGIN'],
    disableReverseLookup: true,
    hideENHANCEDSTATUSCODES: false,
    useProxy: spec.proxies,
    logger: false,
    ...(tls ? {} : { disabledCommands: ['STARTTLS', 'AUTH'] }),
    ...(spec.relayProbeOnly ? { disabledCommands: ['STARTTLS', 'AUTH', 'DATA'] } : {}),
    ...hookOptions(spec.hooks),
  };
  const { commandSeconds, sessionSeconds, minDataRate, dataRateWindowSeconds } = cfg.limits;
  // Submission listeners: a stranger who has not logged in in time may be closed (§2.8).
  const authDeadline = l.mode === 'mx' ? undefined : spec.authDeadline;
  const server = new PosternServer(options, spec.policy, {
    limits: { commandSeconds, sessionSeconds, minDataRate, dataRateWindowSeconds },
    onRefusal: spec.hooks.onRefusal,
    authDeadline,
  });
  return server;
}

/** Listens; resolves with the listener's status (never rejects: a port that fails is a status). */
export function listen(server: PosternServer, l: Listener): Promise<ListenerStatus> {
  return new Promise((resolve) => {
    const onError = (e: NodeJS.ErrnoException) => {
      const { error, fix } = describeListenError(l, e);
      resolve({ mode: l.mode, host: l.host, port: l.port, boundPort: null, ok: false, error, fix, ...(e.code ? { code: e.code } : {}) });
    };
    server.server.once('error', onError);
    server.server.listen({ port: l.port, host: l.host, ipv6Only: false }, () => {
      server.server.off('error', onError);
      const addr = server.server.address() as net.AddressInfo;
      resolve({ mode: l.mode, host: l.host, port: l.port, boundPort: addr.port, ok: true });
    });
  });
}

/**
 * Stops accepting, lets sessions finish for `graceMs`, then says 421 and closes the
 * rest. (smtp-server's own grace timer is unref'd, so on its own a stop can hang
 * while nothing else keeps the event loop busy.)
 */
export function closeServer(server: PosternServer, graceMs: number): Promise<void> {
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
