// The listeners check (docs/design.md §5). With a running gateway: what it bound, and why
// not. Standalone (`postern doctor` while `postern serve` may run elsewhere): knock on
// each configured port and read the greeting — Postern's, another program's, or
// nobody's; when nobody answers, try to bind the port to learn whether Postern could.
import net from 'node:net';
import tls from 'node:tls';
import type { DoctorCheck } from './types.ts';
import type { Listener } from '../config/schema.ts';
import { describeListenError, type ListenerStatus } from '../smtp/listeners.ts';
import { check, combine, type DoctorContext, type Part } from './common.ts';

const hostPort = (host: string, port: number | null) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

function fromStatuses(list: ListenerStatus[]): DoctorCheck {
  if (!list.length)
    return check(
      'listeners',
      'fail',
      'no listeners are configured: Postern receives no mail',
      'Add a listener under Settings → Listeners, for example incoming mail on port 25.',
    );
  return combine(
    'listeners',
    list.map((s): Part => {
      if (!s.ok)
        return { status: 'fail', detail: `${s.mode} NOT listening: ${s.error ?? 'not bound'}`, fix: s.fix ?? 'Check the listener under Settings → Listeners.' };
      // On the fallback port (docs/design.md §2): mail from the Internet needs the real one, or a router forwarding to it.
      if (s.fallbackFrom)
        return {
          status: 'warn',
          detail: `${s.mode} listening on ${hostPort(s.host, s.boundPort)} instead of ${s.fallbackFrom} (${s.error ?? 'needs permission'})`,
          fix: s.fix ?? '',
        };
      return { status: 'ok', detail: `${s.mode} listening on ${hostPort(s.host, s.boundPort)}` };
    }),
  );
}

type Knock = { kind: 'greeting'; line: string } | { kind: 'silent' } | { kind: 'refused' } | { kind: 'error'; code: string; message: string };

/** Where to knock: a wildcard listener answers on loopback. */
function probeHost(host: string): string {
  if (host === '::' || host === '0.0.0.0' || host === '') return '127.0.0.1';
  return host;
}

function knock(l: Listener, timeoutMs: number): Promise<Knock> {
  return new Promise((resolve) => {
    let buf = '';
    let done = false;
    const opts = { host: probeHost(l.host), port: l.port };
    const sock: net.Socket = l.mode === 'submissions' ? tls.connect({ ...opts, rejectUnauthorized: false, servername: undefined }) : net.connect(opts);
    const finish = (k: Knock) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(k);
    };
    const timer = setTimeout(() => finish(buf ? { kind: 'greeting', line: buf.split('\r\n')[0] } : { kind: 'silent' }), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      const end = buf.indexOf('\n');
      if (end >= 0) {
        if (/^220 /.test(buf)) sock.write('QUIT\r\n');
        finish({ kind: 'greeting', line: buf.slice(0, end).replace(/\r$/, '') });
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) =>
      finish(e.code === 'ECONNREFUSED' ? { kind: 'refused' } : { kind: 'error', code: e.code ?? '', message: e.message }),
    );
    sock.on('close', () => finish(buf ? { kind: 'greeting', line: buf.split('\r\n')[0] } : { kind: 'silent' }));
  });
}

/** Could this process bind the port? null: yes (it was free); else the error. */
function tryBind(l: Listener): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e));
    s.listen({ port: l.port, host: l.host, ipv6Only: false, exclusive: true }, () => s.close(() => resolve(null)));
  });
}

async function probe(l: Listener, timeoutMs: number): Promise<Part> {
  const where = `${l.mode} on ${hostPort(l.host, l.port)}`;
  if (l.port === 0)
    return {
      status: 'warn',
      detail: `${where}: port 0 is chosen when Postern starts and can only be checked in the running app`,
      fix: 'Give the listener a fixed port under Settings → Listeners.',
    };
  const k = await knock(l, timeoutMs);
  if (k.kind === 'greeting') {
    if (/^220 \S+ ESMTP Postern\b/.test(k.line)) return { status: 'ok', detail: `${where}: Postern answers ("${k.line}")` };
    return {
      status: 'fail',
      detail: `${where}: port ${l.port} is used by another program, which greets "${k.line.slice(0, 120)}"`,
      fix: `Stop the other mail server on port ${l.port} (e.g. \`sudo systemctl disable --now postfix exim4\`), or give Postern another port under Settings → Listeners.`,
    };
  }
  if (k.kind === 'silent') {
    return {
      status: 'fail',
      detail: `${where}: port ${l.port} is used by a program that sent no SMTP greeting within ${timeoutMs} ms`,
      fix: `Find the program on port ${l.port} (\`sudo ss -ltnp 'sport = :${l.port}'\`) and stop it, or give Postern another port under Settings → Listeners.`,
    };
  }
  if (k.kind === 'error' && k.code !== 'ECONNRESET') {
    if (l.mode === 'submissions' && /SSL|TLS|EPROTO/i.test(`${k.code} ${k.message}`)) {
      return {
        status: 'fail',
        detail: `${where}: port ${l.port} is used by a program that does not speak TLS (${k.message})`,
        fix: `Stop the other program on port ${l.port}, or give Postern another port under Settings → Listeners.`,
      };
    }
  }
  // Nobody answered: could Postern bind it?
  const e = await tryBind(l);
  if (!e) return { status: 'warn', detail: `${where}: Postern is not running (the port is free)`, fix: 'Start Postern (`postern serve`, or the Postern app).' };
  const { error, fix } = describeListenError(l, e);
  return { status: 'fail', detail: `${where}: ${error}`, fix };
}

export async function listenersCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  if (ctx.listeners) return fromStatuses(ctx.listeners);
  const list = ctx.config.listeners;
  if (!list.length) return fromStatuses([]);
  const timeoutMs = ctx.smtpTimeoutMs ?? 5000;
  return combine('listeners', await Promise.all(list.map((l) => probe(l, timeoutMs))));
}
