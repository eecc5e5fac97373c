// The smtp-server hooks: gather facts, ask policy, reply, record the decision.
// Every decision becomes an event carrying the reply that was actually sent: a hook
// leaves a "pending" note on the session and the connection's send() turns note +
// reply into the event (PosternConnection.send → onReply).
import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { Config, Listener } from '../config/schema.ts';
import type { EventBus } from '../events/bus.ts';
import type { Stage, EventVerdict } from '../events/types.ts';
import type { Directory } from '../policy/directory.ts';
import type { Networks } from '../net/networks.ts';
import type { MessageStore, LocalRecipient } from '../spool/store.ts';
import { newQueueId } from '../spool/store.ts';
import { checkMailFrom, checkRcpt, type ClientFacts, type Verdict } from '../policy/relay.ts';
import { authenticate } from '../auth/authenticator.ts';
import type { BanList } from '../auth/bans.ts';
import { clientKey } from '../net/cidr.ts';
import { LineEndings, receivedHeader } from './message.ts';
import type { ParsedPath, PosternConnection } from './connection.ts';
import type { MailFromCheck, SpfOutcome } from '../spf/types.ts';
import { messageAuthHeaders, withoutForgedAuthResults } from '../spf/authres.ts';

/** What the hooks need from the gateway. */
export interface HookContext {
  config(): Config;
  directory(): Directory;
  networks: Networks;
  bus: EventBus;
  store: MessageStore;
  bans: BanList;
  spf: MailFromCheck | null;
  onMessageQueued?(queueId: string, remote: boolean): void;
  /** Open connections per client (IPv4 address or IPv6 /64), across listeners. */
  perClient: Map<string, number>;
  isTrustedProxy(ip: string): boolean;
  checkTls?(): Promise<void>;
}

interface Pending {
  stage: Stage;
  rule: string;
  reason?: string;
  verdict?: EventVerdict;
  from?: string;
  to?: string;
  user?: string;
  spf?: string;
  queueId?: string;
}

/** Postern's state on an smtp-server session. */
export interface SessionState {
  listener: Listener;
  listenerName: string;
  pending: Pending | null;
  /** Counted in HookContext.perClient (released on close). */
  counted: boolean;
}

export type PSession = SMTPServerSession & { p?: SessionState; user?: { account: string } };

/** Facts stored on the accepted MAIL FROM (and so reset with the envelope). */
interface MailFacts extends ClientFacts {
  spf: SpfOutcome | null;
}

type PParsed = ParsedPath & { facts?: MailFacts; verdict?: Verdict };

/** Postfix's hopcount_limit: more Received headers than this is a loop. */
export const MAX_HOPS = 50;

/** Counts Received: fields in the header section (which is in the first chunks). */
export function countReceived(chunks: Buffer[]): number {
  let head = '';
  for (const c of chunks) {
    head += c.toString('latin1');
    const end = head.indexOf('\r\n\r\n');
    if (end >= 0) {
      head = head.slice(0, end);
      break;
    }
    if (head.length > 1024 * 1024) break;
  }
  return (('\r\n' + head).match(/\r\nReceived:/gi) ?? []).length;
}

function smtpError(code: number, text: string): Error & { responseCode: number } {
  const e = new Error(text) as Error & { responseCode: number };
  e.responseCode = code;
  return e;
}

function state(session: PSession): SessionState {
  return session.p!;
}

function setPending(session: PSession, p: Pending): void {
  state(session).pending = p;
}

const CONTEXT_STAGE: Record<string, Stage> = { MAIL: 'mail', RCPT: 'rcpt', DATA: 'data', AUTH: 'auth', STARTTLS: 'tls', EHLO: 'connect', HELO: 'connect' };

export class SmtpHooks {
  private readonly ctx: HookContext;
  readonly listener: Listener;
  constructor(ctx: HookContext, listener: Listener) {
    this.ctx = ctx;
    this.listener = listener;
  }

  get listenerName(): string {
    return `${this.listener.mode}:${this.listener.port}`;
  }

  // ---- the reply tap -----------------------------------------------------

  /** Turns a pending decision + the reply sent into one event. */
  onReply(conn: PosternConnection, code: number, text: string): void {
    const session = conn.session as PSession;
    const st = session.p;
    const pending = st?.pending ?? null;
    if (st) st.pending = null;
    const base = { session: session.id, client: conn.remoteAddress, listener: this.listenerName, code, text };
    if (pending) {
      const verdict = pending.verdict ?? (code < 400 ? 'accept' : code < 500 ? 'defer' : 'reject');
      this.ctx.bus.emit({ ...base, ...pending, verdict });
      return;
    }
    if (code === 220 && !session.secure && text.includes('ESMTP')) {
      this.ctx.bus.emit({ ...base, stage: 'connect', verdict: 'accept', rule: 'connect' });
      return;
    }
    if (code >= 400) {
      // Replies the library made on its own: syntax errors, timeouts, limits.
      const stage = CONTEXT_STAGE[conn.lastCommand] ?? 'connect';
      this.ctx.bus.emit({ ...base, stage, verdict: code < 500 ? 'defer' : 'reject', rule: 'smtp protocol', reason: conn.lastCommand ? `after ${conn.lastCommand}` : undefined });
    }
  }

  onUntrustedProxy(conn: PosternConnection): void {
    setPending(conn.session as PSession, { stage: 'connect', rule: 'trusted proxies', reason: 'PROXY header from an untrusted peer', verdict: 'reject' });
  }

  // ---- hooks ---------------------------------------------------------------

  onConnect = (session: PSession, cb: (err?: Error | null) => void): void => {
    session.p = { listener: this.listener, listenerName: this.listenerName, pending: null, counted: false };
    const ip = session.remoteAddress;
    const ban = this.ctx.bans.banned(ip);
    if (ban) {
      setPending(session, { stage: 'connect', rule: 'auth ban', reason: `banned until ${new Date(ban.until).toISOString()}` });
      return cb(smtpError(421, `4.7.0 ${ip} is blocked for too many failed logins; try again later`));
    }
    // A trusted proxy must name the client; a header without one ("PROXY UNKNOWN", a
    // health check) would make the proxy itself — often an internal address — the client.
    if (this.ctx.isTrustedProxy(ip)) {
      setPending(session, { stage: 'connect', rule: 'trusted proxies', reason: 'PROXY header without a client address' });
      return cb(smtpError(421, '4.7.0 The PROXY header named no client address'));
    }
    const key = clientKey(ip);
    const open = this.ctx.perClient.get(key) ?? 0;
    const limit = this.ctx.config().limits.maxConnectionsPerClient;
    if (open >= limit && !this.ctx.networks.isInternal(ip)) {
      setPending(session, { stage: 'connect', rule: 'client limits', reason: `${open} connections already open from ${key}` });
      return cb(smtpError(421, `4.7.0 Too many connections from ${ip}; try again later`));
    }
    this.ctx.perClient.set(key, open + 1);
    session.p.counted = true;
    const tls = this.ctx.checkTls?.();
    if (tls) tls.then(() => cb(), () => cb());
    else cb();
  };

  onSecure = (socket: { getProtocol?: () => string | null }, session: PSession, cb: (err?: Error | null) => void): void => {
    const proto = socket.getProtocol?.() ?? '';
    const cipher = session.tlsOptions ? session.tlsOptions.name : '';
    this.ctx.bus.emit({
      session: session.id,
      client: session.remoteAddress,
      listener: this.listenerName,
      stage: 'tls',
      verdict: 'info',
      rule: 'tls',
      text: `${proto} ${cipher}`.trim(),
    });
    cb();
  };

  onAuth = (auth: SMTPServerAuthentication, session: PSession, cb: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void): void => {
    const ip = session.remoteAddress;
    const login = auth.username ?? '';
    const cfg = this.ctx.config();
    // A ban applies to connections that were already open too: no more guesses, and no
    // answer that would tell whether a password is right.
    if (this.ctx.bans.banned(ip)) {
      setPending(session, { stage: 'auth', rule: 'auth ban', reason: 'banned', user: login, verdict: 'reject' });
      return cb(smtpError(421, `4.7.0 ${ip} is blocked for too many failed logins; try again later`));
    }
    // RFC 4616 proxy authorization ("log in as A, act as B") is not offered.
    if (auth.authzid && auth.authcid && auth.authzid !== auth.authcid) {
      setPending(session, { stage: 'auth', rule: 'auth', reason: 'authorization identity differs from the login', user: login, verdict: 'reject' });
      return cb(smtpError(535, '5.7.8 Authentication credentials invalid'));
    }
    // Passwords and AUTH payloads never reach an event: only the login does.
    authenticate(login, auth.password ?? '', cfg, this.ctx.directory()).then(
      (r) => {
        if (r.ok) {
          setPending(session, { stage: 'auth', rule: 'auth', reason: `${auth.method} as ${login}`, user: r.account, verdict: 'accept' });
          return cb(null, { user: { account: r.account } });
        }
        if (r.temporary) {
          setPending(session, { stage: 'auth', rule: 'auth', reason: r.reason, user: login, verdict: 'defer' });
          return cb(smtpError(454, '4.7.0 Temporary authentication failure'));
        }
        const { count, ban } = this.ctx.bans.fail(ip);
        if (ban) {
          // The failure that triggers the ban is answered with 421, which closes the session.
          this.ctx.bus.emit({
            session: session.id,
            client: ip,
            listener: this.listenerName,
            stage: 'auth',
            verdict: 'reject',
            rule: 'auth',
            code: 535,
            text: '5.7.8 Authentication credentials invalid',
            user: login,
            reason: `${r.reason} (failure ${count} of ${cfg.auth.maxFailures})`,
          });
          setPending(session, { stage: 'auth', rule: 'auth ban', reason: `${ban.failures} failed logins within 15 minutes`, user: login, verdict: 'reject' });
          return cb(smtpError(421, `4.7.0 Too many failed logins from ${ip}: blocked for ${cfg.auth.banSeconds} seconds`));
        }
        setPending(session, { stage: 'auth', rule: 'auth', reason: `${r.reason} (failure ${count} of ${cfg.auth.maxFailures})`, user: login, verdict: 'reject' });
        cb(smtpError(535, '5.7.8 Authentication credentials invalid'));
      },
      (e: Error) => {
        setPending(session, { stage: 'auth', rule: 'auth', reason: `backend error: ${e.message}`, user: login, verdict: 'defer' });
        cb(smtpError(454, '4.7.0 Temporary authentication failure'));
      },
    );
  };

  private facts(session: PSession): ClientFacts {
    return {
      ip: session.remoteAddress,
      internal: this.ctx.networks.isInternal(session.remoteAddress),
      user: session.user?.account ?? null,
    };
  }

  onMailFrom = (address: PParsed, session: PSession, cb: (err?: Error | null) => void): void => {
    const facts = this.facts(session);
    const from = address.address;
    const fail = (stage: Stage, rule: string, reason: string, code: number, text: string, spf?: string) => {
      setPending(session, { stage, rule, reason, from, user: facts.user ?? undefined, spf });
      cb(smtpError(code, text));
    };
    if (this.ctx.bans.banned(facts.ip)) {
      return fail('mail', 'auth ban', 'banned', 421, `4.7.0 ${facts.ip} is blocked for too many failed logins`);
    }
    if (this.listener.mode === 'submission' && !session.secure && !facts.internal) {
      return fail('mail', 'submission', 'STARTTLS required', 530, '5.7.0 Must issue a STARTTLS command first');
    }
    const v = checkMailFrom(address.mailbox, facts, this.ctx.directory());
    if (!v.accept) return fail('mail', v.rule, v.reason, v.code, v.text);

    const finish = (spf: SpfOutcome | null) => {
      address.facts = { ...facts, spf };
      setPending(session, { stage: 'mail', rule: spf ? 'check spf' : v.rule, reason: v.reason, from, user: facts.user ?? undefined, spf: spf?.result });
      cb();
    };
    const spfCheck = this.ctx.spf;
    if (!spfCheck || facts.internal || facts.user) return finish(null);
    spfCheck(address.mailbox, facts.ip, session.hostNameAppearsAs || '').then(
      (spf) => {
        if (spf.reject) return fail('mail', 'check spf', `spf=${spf.result}`, spf.reject.code, spf.reject.text, spf.result);
        finish(spf);
      },
      (e: Error) => fail('mail', 'check spf', `error: ${e.message}`, 451, '4.7.24 SPF check failed temporarily', 'temperror'),
    );
  };

  onRcptTo = (address: PParsed, session: PSession, cb: (err?: Error | null) => void): void => {
    const mailFrom = session.envelope.mailFrom as PParsed | false;
    const facts = (mailFrom && mailFrom.facts) || this.facts(session);
    const v = checkRcpt(address.mailbox!, facts, this.ctx.directory());
    setPending(session, {
      stage: 'rcpt',
      rule: v.rule,
      reason: v.reason,
      from: mailFrom ? mailFrom.address : undefined,
      to: address.address,
      user: facts.user ?? undefined,
    });
    if (!v.accept) return cb(smtpError(v.code, v.text));
    address.verdict = v;
    cb();
  };

  onData = (stream: SMTPServerDataStream, session: PSession, cb: (err?: Error | null, message?: string) => void): void => {
    const cfg = this.ctx.config();
    const mailFrom = session.envelope.mailFrom as PParsed;
    const facts = mailFrom.facts!;
    const rcpts = session.envelope.rcptTo as PParsed[];
    const queueId = newQueueId();
    const lines = new LineEndings();
    // The message is held in memory (at most limits.maxMessageBytes): its DKIM and DMARC
    // results must be known before the trace headers are written in front of it.
    const chunks: Buffer[] = [];
    let size = 0;
    const from = mailFrom.address;
    const to = rcpts.map((r) => r.address).join(', ');
    const note = (reason: string, verdict?: EventVerdict) =>
      setPending(session, { stage: 'data', rule: 'data', reason, from, to, user: facts.user ?? undefined, spf: facts.spf?.result, queueId, verdict });

    stream.on('data', (chunk: Buffer) => {
      if (stream.sizeExceeded) return; // keep reading, stop keeping
      const out = lines.push(chunk);
      size += out.length;
      chunks.push(out);
    });
    stream.once('error', (e: Error) => {
      note(`stream error: ${e.message}`);
      cb(smtpError(451, '4.3.0 Error while receiving the message'));
    });
    stream.on('end', () => {
      if (stream.sizeExceeded) {
        note(`over the size limit of ${cfg.limits.maxMessageBytes} bytes`, 'reject');
        return cb(smtpError(552, `5.3.4 Message size exceeds the limit of ${cfg.limits.maxMessageBytes} bytes`));
      }
      chunks.push(lines.end());
      if (lines.bare && !facts.internal && !facts.user) {
        // Postfix's smtpd_forbid_bare_newline: from the Internet a bare CR or LF is a
        // protocol violation (and the raw material of SMTP smuggling).
        note('bare CR or LF in the message', 'reject');
        return cb(smtpError(550, '5.5.2 Message contains bare CR or LF line endings: use CRLF'));
      }
      const hops = countReceived(chunks);
      if (hops > MAX_HOPS) {
        // RFC 5321 §6.3: a message that has been around this many times is looping.
        note(`${hops} Received headers: mail loop`, 'reject');
        return cb(smtpError(554, `5.4.6 Too many hops (${hops} Received headers): mail loop`));
      }
      const local: LocalRecipient[] = [];
      const remote: string[] = [];
      for (const r of rcpts) {
        if (r.verdict?.accept && r.verdict.account) local.push({ account: r.verdict.account, address: r.address });
        else remote.push(r.address);
      }
      const internet = !facts.internal && !facts.user;
      let body: Buffer = Buffer.concat(chunks);
      // Authentication-Results claiming to be ours can only be forged (RFC 8601 §5).
      if (internet) body = withoutForgedAuthResults(body, cfg.hostname);
      const authHeaders: Promise<string> =
        internet && this.ctx.spf ? messageAuthHeaders(body, { spf: facts.spf, ip: session.remoteAddress, helo: session.hostNameAppearsAs || '', sender: from, cfg }) : Promise.resolve(facts.spf?.headers ?? '');
      authHeaders.then(
        (auth) => this.commitMessage(session, { queueId, from, local, remote, body, auth, rcpts, cfg, note }, cb),
        (e: Error) => this.commitMessage(session, { queueId, from, local, remote, body, auth: facts.spf?.headers ?? '', rcpts, cfg, note }, cb, e),
      );
    });
  };

  /** Prepends the trace headers and commits; replies 250 only once the message is on disk. */
  private commitMessage(
    session: PSession,
    m: { queueId: string; from: string; local: LocalRecipient[]; remote: string[]; body: Buffer; auth: string; rcpts: PParsed[]; cfg: Config; note: (reason: string, verdict?: EventVerdict) => void },
    cb: (err?: Error | null, message?: string) => void,
    authError?: Error,
  ): void {
    const { queueId, from, local, remote, cfg, note } = m;
    const headers: string[] = [];
    if (remote.length === 0) headers.push(`Return-Path: <${from}>\r\n`);
    if (m.auth) headers.push(m.auth);
    headers.push(
      receivedHeader({
        helo: session.hostNameAppearsAs || '',
        clientIp: session.remoteAddress,
        hostname: cfg.hostname,
        protocol: session.transmissionType || 'SMTP',
        queueId,
        tls: session.secure && session.tlsOptions ? `${session.tlsOptions.version ?? ''} ${session.tlsOptions.name}`.trim() : undefined,
        for: m.rcpts.length === 1 ? m.rcpts[0].address : undefined,
      }),
    );
    const data = Buffer.concat([Buffer.from(headers.join('')), m.body]);
    this.ctx.store.commit({ id: queueId, from, client: session.remoteAddress, local, remote, data }).then(
      () => {
        note(`${local.length} local, ${remote.length} remote, ${data.length} bytes${authError ? `; DKIM/DMARC not evaluated: ${authError.message}` : ''}`, 'accept');
        this.ctx.onMessageQueued?.(queueId, remote.length > 0);
        cb(null, `2.0.0 OK: queued as ${queueId}`);
      },
      (e: Error) => {
        note(`could not store the message: ${e.message}`, 'defer');
        cb(smtpError(451, '4.3.0 Local error in processing: the message was not stored, try again later'));
      },
    );
  }

  onClose = (session: PSession): void => {
    if (!session.p?.counted) return;
    session.p.counted = false;
    const key = clientKey(session.remoteAddress);
    const n = (this.ctx.perClient.get(key) ?? 1) - 1;
    if (n > 0) this.ctx.perClient.set(key, n);
    else this.ctx.perClient.delete(key);
  };
}
