// The smtp-server hooks: gather facts, ask policy, and answer with a Decision
// (decision.ts). `answer` is the one place where a decision becomes an event and a
// reply; the reply tap (`onReply`) only records replies the library writes by itself
// (the greeting, syntax errors, timeouts, limits).
import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { Config, Listener } from '../config/schema.ts';
import type { EventBus } from '../events/bus.ts';
import type { Stage } from '../events/types.ts';
import type { Directory } from '../policy/directory.ts';
import type { Networks } from '../net/networks.ts';
import type { MessageStore, LocalRecipient } from '../spool/store.ts';
import { newQueueId } from '../spool/store.ts';
import { checkMailFrom, checkRcpt, type ClientFacts, type Verdict } from '../policy/relay.ts';
import { checkFromHeader } from '../policy/from-header.ts';
import { refuseRenegotiation } from './tls.ts';
import { authenticate } from '../auth/authenticator.ts';
import { guessNetwork, type BanList } from '../auth/bans.ts';
import type { AuthThrottle } from '../auth/throttle.ts';
import { clientKey, networkKey, NetworkSet } from '../net/cidr.ts';
import { deliveredToLoop, LineEndings, receivedHeader, withoutReturnPath } from './message.ts';
import { LIBRARY_OK, type ParsedPath, type PeerSession, type PosternConnection } from './connection.ts';
import { REPLY, smtpError, verdictOf, type Decision } from './decision.ts';
import type { MailFromCheck, SpfOutcome } from '../spf/types.ts';
import { withoutForgedAuthResults } from '../spf/authres.ts';
import { HeaderLimits } from './header-limits.ts';
import { authInWorker } from '../work/pool.ts';
import type { MessageAuth } from '../spf/authres.ts';
import type { InboundChecks, Judgement } from '../inbound/checks.ts';
import type { IncomingPart } from '../spool/store.ts';
import type { Rule } from '../events/types.ts';
import { subjectOf } from '../mail/subject.ts';
import { insufficientStorage, type DiskReading } from '../disk/gauge.ts';

/** What the hooks need from the gateway. */
export interface HookContext {
  config(): Config;
  directory(): Directory;
  networks: Networks;
  bus: EventBus;
  store: MessageStore;
  bans: BanList;
  /** Per-account delay and the global bound on password checks (docs/design.md §2.4). */
  throttle?: AuthThrottle;
  /** In the background: hashes `password` at today's cost and rewrites the account's passwordHash, if it is still `stale` (§2.4). */
  upgradePasswordHash?(account: string, stale: string, password: string): void;
  spf: MailFromCheck | null;
  onMessageQueued?(queueId: string, remote: boolean): void;
  /**
   * Open connections per client (IPv4 address or IPv6 /64), across listeners; also
   * per network (`net:<IPv4 /24 or IPv6 /48>`) and per budget (`pool:mx`, `pool:submission`).
   */
  perClient: Map<string, number>;
  isTrustedProxy(ip: string): boolean;
  checkTls?(): Promise<void>;
  /** Free space where mail is stored (docs/design.md §3.6); absent: not checked. */
  disk?(): DiskReading | null;
  /** DNSBL, rate limits, DMARC enforced, rspamd (docs/design.md §2.10–§2.13); absent: none. */
  inbound?: InboundChecks;
}

/** Postern's state on an smtp-server session. */
export interface SessionState {
  listener: Listener;
  listenerName: string;
  /** The next reply is a decision's, already recorded by `answer`: the tap skips it. */
  answered: boolean;
  /** Counted in HookContext.perClient (released on close). */
  counted: boolean;
  /** The keys of HookContext.perClient this session holds a slot in (docs/design.md §2.8). */
  slots?: string[];
  /** 550 5.1.1 answers so far in this session (directory harvest, §2.1). */
  unknownRcpts?: number;
  /** When the session took its slots (ms), for the submission login deadline (§2.8). */
  since?: number;
}

export type PSession = SMTPServerSession & { p?: SessionState; user?: { account: string } };

/** Facts stored on the accepted MAIL FROM (and so reset with the envelope). */
interface MailFacts extends ClientFacts {
  spf: SpfOutcome | null;
}

type PParsed = ParsedPath & { facts?: MailFacts; verdict?: Verdict };

/** "This computer": a client a trusted proxy names here is refused (docs/design.md §2.3). */
const LOOPBACK = new NetworkSet(['127.0.0.0/8', '::1/128']);

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
  return (`\r\n${head}`.match(/\r\nReceived:/gi) ?? []).length;
}

const CONTEXT_STAGE: Record<string, Stage> = { MAIL: 'mail', RCPT: 'rcpt', DATA: 'data', AUTH: 'auth', STARTTLS: 'tls', EHLO: 'connect', HELO: 'connect' };

type Done = (err?: Error | null) => void;

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

  // ---- the one place a decision becomes an event and a reply ----------------

  /**
   * Records `d` (and any decisions that led to it, such as the failed login before a
   * ban) as events, then lets smtp-server send the reply: `reply(err)` for a refusal,
   * `reply(null)` (or `accept()`, for hooks whose success carries a value) for success.
   * The library writes that reply next, so the tap is told to skip it.
   */
  private answer(session: PSession, d: Decision, reply: Done, accept?: () => void, before: Decision[] = []): void {
    for (const x of [...before, d]) this.record(session, x);
    const st = session.p;
    if (st) st.answered = true;
    if (d.code >= 400) reply(smtpError(d.code, d.text));
    else if (accept) accept();
    else reply(null);
  }

  private record(session: PSession, d: Decision): void {
    this.ctx.bus.emit({ session: session.id, client: session.remoteAddress, listener: this.listenerName, ...d, verdict: verdictOf(d) });
  }

  // ---- the reply tap: replies the library writes by itself ------------------

  onReply(conn: PosternConnection, code: number, text: string): void {
    const session = conn.session as PSession;
    const st = session.p;
    if (st?.answered) {
      st.answered = false;
      return;
    }
    const base = { session: session.id, client: conn.remoteAddress, listener: this.listenerName, code, text };
    if (code === 220 && !session.secure && text.includes('ESMTP')) {
      this.ctx.bus.emit({ ...base, stage: 'connect', verdict: 'accept', rule: 'connect' });
      return;
    }
    if (code >= 400) {
      // Syntax errors, timeouts, limits.
      const stage = CONTEXT_STAGE[conn.lastCommand] ?? 'connect';
      this.ctx.bus.emit({
        ...base,
        stage,
        verdict: code < 500 ? 'defer' : 'reject',
        rule: 'smtp protocol',
        reason: conn.lastCommand ? `after ${conn.lastCommand}` : undefined,
      });
    }
  }

  /** The connection refuses a PROXY header from a peer that is not a trusted proxy. */
  onUntrustedProxy(conn: PosternConnection, code: number, text: string): void {
    const session = conn.session as PSession;
    this.record(session, { stage: 'connect', rule: 'trusted proxies', reason: 'PROXY header from an untrusted peer', verdict: 'reject', code, text });
    if (session.p) session.p.answered = true;
  }

  /** A refusal the connection makes itself (deadlines, unsupported parameters: §2.8, §2.9). */
  onRefusal = (conn: PosternConnection, d: Decision): void => {
    const session = conn.session as PSession;
    this.record(session, d);
    if (session.p) session.p.answered = true;
  };

  // ---- hooks ---------------------------------------------------------------

  onConnect = (session: PSession, cb: Done): void => {
    session.p = { listener: this.listener, listenerName: this.listenerName, answered: false, counted: false };
    const d = this.decideConnect(session);
    if (d) return this.answer(session, d, cb);
    const tls = this.ctx.checkTls?.();
    if (tls)
      tls.then(
        () => cb(),
        () => cb(),
      );
    else cb();
  };

  /** A refusal at connect, or null: the greeting follows. */
  private decideConnect(session: PSession): Decision | null {
    const ip = session.remoteAddress;
    const ban = this.ctx.bans.banned(ip);
    if (ban) return { stage: 'connect', rule: 'auth ban', reason: `banned until ${new Date(ban.until).toISOString()}`, code: 421, text: REPLY.banned(ip) };
    // A trusted proxy must name the client; a header without one ("PROXY UNKNOWN", a
    // health check) would make the proxy itself — often an internal address — the client.
    if (this.ctx.isTrustedProxy(ip)) {
      return {
        stage: 'connect',
        rule: 'trusted proxies',
        reason: 'PROXY header without a client address',
        code: 421,
        text: '4.7.0 The PROXY header named no client address',
      };
    }
    // A proxied client on loopback would be "this computer" (internal); no Internet client
    // is, so the header is refused (§2.3).
    const peer = (session as PeerSession).peerAddress ?? ip;
    if (peer !== ip && this.ctx.isTrustedProxy(peer) && LOOPBACK.has(ip)) {
      return {
        stage: 'connect',
        rule: 'trusted proxies',
        reason: `PROXY header from ${peer} names a loopback client`,
        verdict: 'reject',
        code: 421,
        text: '4.7.0 The PROXY header named a loopback address',
      };
    }
    // Connections per minute; DNSBL lookups start (docs/design.md §2.11, §2.13).
    const limited = this.ctx.inbound?.connect({
      session: session.id,
      ip,
      internal: this.ctx.networks.isInternal(ip),
      user: null,
      mx: this.listener.mode === 'mx',
    });
    if (limited) return limited;
    return this.takeSlots(session, ip);
  }

  /**
   * Slots (§2.8): a budget per listener kind (mx; submission and submissions together),
   * whose last `reservedInternalSlots` only internal clients may take; and, internal
   * networks exempt, a bound per client key (IPv4 address, IPv6 /64) and per network
   * (IPv4 /24, IPv6 /48). Null when the session holds its slots (released on close).
   */
  private takeSlots(session: PSession, ip: string): Decision | null {
    const limits = this.ctx.config().limits;
    const counts = this.ctx.perClient;
    const internal = this.ctx.networks.isInternal(ip);
    const pool = this.listener.mode === 'mx' ? 'mx' : 'submission';
    const budget = pool === 'mx' ? limits.maxClients : limits.maxSubmissionClients;
    const poolKey = `pool:${pool}`;
    const inPool = counts.get(poolKey) ?? 0;
    const forInternet = Math.max(0, budget - limits.reservedInternalSlots);
    // On submission the kept slots are also for a place a family member logged in from
    // in the last 30 days (§2.4 known-good): the clients known to authenticate.
    const kept = internal || (pool === 'submission' && !!this.ctx.throttle?.isGoodAddress(ip));
    if (inPool >= budget || (!kept && inPool >= forInternet)) {
      const reason = `${inPool} of ${budget} ${pool} slots taken${kept ? '' : ` (${budget - forInternet} kept for internal networks${pool === 'submission' ? ' and known logins' : ''})`}`;
      return { stage: 'connect', rule: 'connection slots', reason, code: 421, text: '4.7.0 Too many connected clients, try again in a moment' };
    }
    const key = clientKey(ip);
    if (internal) {
      session.p!.slots = [poolKey, key];
    } else {
      const net = `net:${networkKey(ip)}`;
      const open = counts.get(key) ?? 0;
      if (open >= limits.maxConnectionsPerClient) {
        return {
          stage: 'connect',
          rule: 'client limits',
          reason: `${open} connections already open from ${key}`,
          code: 421,
          text: `4.7.0 Too many connections from ${ip}; try again later`,
        };
      }
      const inNet = counts.get(net) ?? 0;
      if (inNet >= limits.maxConnectionsPerNetwork) {
        return {
          stage: 'connect',
          rule: 'client limits',
          reason: `${inNet} connections already open from ${net.slice(4)}`,
          code: 421,
          text: `4.7.0 Too many connections from ${net.slice(4)}; try again later`,
        };
      }
      session.p!.slots = [poolKey, key, net];
    }
    for (const k of session.p!.slots) counts.set(k, (counts.get(k) ?? 0) + 1);
    session.p!.counted = true;
    session.p!.since = Date.now();
    return null;
  }

  /**
   * The submission login deadline (§2.8), asked about each open session every second:
   * a session on a submission port that has not logged in `limits.submissionAuthSeconds`
   * after connecting, from outside the internal networks, is closed with 421 4.7.0 while
   * the submission budget's Internet share is at least 80 % taken — so strangers idling
   * there cannot hold the slots a family member needs. Null: leave it.
   */
  authDeadline = (session: PSession, now = Date.now()): Decision | null => {
    const st = session.p;
    if (this.listener.mode === 'mx' || !st?.counted || st.since === undefined || session.user) return null;
    const limits = this.ctx.config().limits;
    if (now - st.since < limits.submissionAuthSeconds * 1000) return null;
    if (this.ctx.networks.isInternal(session.remoteAddress)) return null;
    const forInternet = Math.max(1, limits.maxSubmissionClients - limits.reservedInternalSlots);
    const inPool = this.ctx.perClient.get('pool:submission') ?? 0;
    if (inPool < Math.ceil(0.8 * forInternet)) return null;
    return {
      stage: 'connect',
      rule: 'connection slots',
      reason: `no login ${Math.round((now - st.since) / 1000)} s after connecting while ${inPool} of ${limits.maxSubmissionClients} submission slots are taken (limit ${limits.submissionAuthSeconds} s)`,
      code: 421,
      text: '4.7.0 Log in within the time allowed: submission slots are kept for clients that authenticate',
    };
  };

  onSecure = (socket: { getProtocol?: () => string | null }, session: PSession, cb: Done): void => {
    refuseRenegotiation(socket); // §2.5: no client-initiated renegotiation
    const proto = socket.getProtocol?.() ?? '';
    const cipher = session.tlsOptions ? session.tlsOptions.name : '';
    // Not a reply: the handshake is over, nothing is sent.
    this.record(session, { stage: 'tls', verdict: 'info', rule: 'tls', code: 0, text: `${proto} ${cipher}`.trim() });
    cb();
  };

  onAuth = (
    auth: SMTPServerAuthentication,
    session: PSession,
    cb: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
  ): void => {
    const login = auth.username ?? '';
    this.decideAuth(auth, session).then(({ d, before, account }) =>
      this.answer(session, { ...d, user: d.user ?? login }, cb, account ? () => cb(null, { user: { account } }) : undefined, before),
    );
  };

  private async decideAuth(auth: SMTPServerAuthentication, session: PSession): Promise<{ d: Decision; before?: Decision[]; account?: string }> {
    const ip = session.remoteAddress;
    const login = auth.username ?? '';
    const cfg = this.ctx.config();
    const refuse = (rule: 'auth' | 'auth ban' | 'auth throttle', reason: string, code: number, text: string, verdict: Decision['verdict']): Decision => ({
      stage: 'auth',
      rule,
      reason,
      user: login,
      code,
      text,
      verdict,
    });
    // A ban (of the address or of its network) applies to connections that were already
    // open too: no more guesses, and no answer that would tell whether a password is right.
    if (this.ctx.bans.banned(ip)) return { d: refuse('auth ban', 'banned', 421, REPLY.banned(ip), 'reject') };
    // RFC 4616 proxy authorization ("log in as A, act as B") is not offered.
    if (auth.authzid && auth.authcid && auth.authzid !== auth.authcid) {
      return { d: refuse('auth', 'authorization identity differs from the login', 535, REPLY.badCredentials, 'reject') };
    }
    const dir = this.ctx.directory();
    const throttle = this.ctx.throttle;
    // The account the login names: its failures are answered late (§2.4). An unknown
    // login is counted under its own name, so that a delay tells nothing about existence.
    const claimed = (cfg.auth.backend === 'saslauthd' ? dir.account(login) : dir.accountForLogin(login))?.name;
    const accountKey = claimed ?? `login:${login.toLowerCase().slice(0, 320)}`;
    const knownGood = this.ctx.networks.isInternal(ip) || (!!claimed && !!throttle?.isKnownGood(claimed, ip));
    // The global bound: scrypt is CPU- and memory-heavy; over the cap answer at once, unhashed.
    const leave = throttle ? throttle.enter(knownGood) : () => {};
    if (!leave) {
      const throttled = refuse('auth throttle', `${throttle!.checking} password checks already running`, 454, REPLY.authTempFail, 'defer');
      // Unchecked attempts count toward the network's bound: a flood from one /24 ends in a ban.
      const netBan = this.ctx.bans.throttled(ip);
      if (!netBan) return { d: throttled };
      return {
        before: [throttled],
        d: refuse(
          'auth ban',
          `${netBan.failures} failed or unchecked logins from network ${netBan.ip} within 15 minutes`,
          421,
          `4.7.0 Too many failed logins from network ${netBan.ip}: blocked for ${cfg.auth.banSeconds} seconds`,
          'reject',
        ),
      };
    }
    // Passwords and AUTH payloads never reach an event: only the login does.
    let r: Awaited<ReturnType<typeof authenticate>>;
    try {
      r = await authenticate(login, auth.password ?? '', cfg, dir);
    } catch (e) {
      return { d: refuse('auth', `backend error: ${(e as Error).message}`, 454, REPLY.authTempFail, 'defer') };
    } finally {
      leave();
    }
    if (r.ok) {
      throttle?.success(r.account, ip);
      if (r.staleHash) this.ctx.upgradePasswordHash?.(r.account, r.staleHash, auth.password ?? '');
      return {
        d: {
          stage: 'auth',
          rule: 'auth',
          reason: `${auth.method} as ${login}`,
          user: r.account,
          code: LIBRARY_OK.auth.code,
          text: LIBRARY_OK.auth.text,
          verdict: 'accept',
        },
        account: r.account,
      };
    }
    if (r.temporary) return { d: refuse('auth', r.reason, 454, REPLY.authTempFail, 'defer') };
    const { count, networkCount, ban, network } = this.ctx.bans.fail(ip);
    const slow = throttle?.fail(accountKey, knownGood) ?? { delayMs: 0, failures: 0 };
    const counts = [`failure ${count} of ${cfg.auth.maxFailures}`];
    if (networkCount) counts.push(`${networkCount} of ${cfg.auth.maxNetworkFailures} from ${guessNetwork(ip)}`);
    if (slow.delayMs) counts.push(`answered after ${slow.delayMs / 1000} s: ${slow.failures} failed logins for this account within 15 minutes`);
    const failed = refuse('auth', `${r.reason} (${counts.join('; ')})`, 535, REPLY.badCredentials, 'reject');
    if (!ban) {
      // unref'd: a late answer never holds a stopped gateway's process (the listeners hold a running one)
      if (slow.delayMs) await new Promise((resolve) => setTimeout(resolve, slow.delayMs).unref());
      return { d: failed };
    }
    // The failure that triggers the ban is recorded as such, and answered with 421,
    // which closes the session.
    const who = network ? `network ${ban.ip}` : ip;
    return {
      before: [failed],
      d: refuse(
        'auth ban',
        `${ban.failures} failed logins from ${network ? `network ${ban.ip}` : 'this address'} within 15 minutes`,
        421,
        `4.7.0 Too many failed logins from ${who}: blocked for ${cfg.auth.banSeconds} seconds`,
        'reject',
      ),
    };
  }

  private facts(session: PSession): ClientFacts {
    return {
      ip: session.remoteAddress,
      internal: this.ctx.networks.isInternal(session.remoteAddress),
      user: session.user?.account ?? null,
    };
  }

  onMailFrom = (address: PParsed, session: PSession, cb: Done): void => {
    this.decideMailFrom(address, session).then((d) => this.answer(session, d, cb));
  };

  private async decideMailFrom(address: PParsed, session: PSession): Promise<Decision> {
    const facts = this.facts(session);
    const from = address.address;
    const user = facts.user ?? undefined;
    const full = insufficientStorage(this.ctx.disk?.() ?? null, from, user);
    if (full) return full;
    if (this.ctx.bans.banned(facts.ip)) return { stage: 'mail', rule: 'auth ban', reason: 'banned', from, user, code: 421, text: REPLY.banned(facts.ip) };
    if (this.listener.mode === 'submission' && !session.secure && !facts.internal) {
      return { stage: 'mail', rule: 'submission', reason: 'STARTTLS required', from, user, code: 530, text: '5.7.0 Must issue a STARTTLS command first' };
    }
    const v = checkMailFrom(address.mailbox, facts, this.ctx.directory());
    if (!v.accept) return { stage: 'mail', rule: v.rule, reason: v.reason, from, user, code: v.code, text: v.text };
    const limited = this.ctx.inbound?.mailFrom({ session: session.id, ...facts, mx: this.listener.mode === 'mx' }, from); // §2.13
    if (limited) return limited;
    const ok = (spf: SpfOutcome | null): Decision => {
      address.facts = { ...facts, spf };
      return {
        stage: 'mail',
        rule: spf ? 'check spf' : v.rule,
        reason: v.reason,
        from,
        user,
        spf: spf?.result,
        code: LIBRARY_OK.mail.code,
        text: LIBRARY_OK.mail.text,
      };
    };
    const spfCheck = this.ctx.spf;
    if (!spfCheck || facts.internal || facts.user) return ok(null);
    try {
      const spf = await spfCheck(address.mailbox, facts.ip, session.hostNameAppearsAs || '');
      if (spf.reject)
        return { stage: 'mail', rule: 'check spf', reason: `spf=${spf.result}`, from, user, spf: spf.result, code: spf.reject.code, text: spf.reject.text };
      return ok(spf);
    } catch (e) {
      return {
        stage: 'mail',
        rule: 'check spf',
        reason: `error: ${(e as Error).message}`,
        from,
        user,
        spf: 'temperror',
        code: 451,
        text: '4.7.24 SPF check failed temporarily',
      };
    }
  }

  /**
   * An authenticated family member's message must carry a From header of their own
   * (docs/design.md §2.1, rule `from header`); null when it does, or when no one logged in.
   * `head` is the message as received (only its header section is read).
   */
  private decideFromHeader(head: Buffer, facts: ClientFacts, d: { from: string; to: string; queueId: string }): Decision | null {
    if (!facts.user) return null;
    const v = checkFromHeader(head, facts.user, this.ctx.directory());
    if (v.accept) return null;
    return { stage: 'data', rule: 'from header', reason: v.reason, ...d, user: facts.user, code: v.code, text: v.text };
  }

  onRcptTo = (address: PParsed, session: PSession, cb: Done): void => {
    const mailFrom = (session.envelope.mailFrom || undefined) as PParsed | undefined;
    const facts = mailFrom?.facts || this.facts(session);
    const v = checkRcpt(address.mailbox!, facts, this.ctx.directory());
    if (v.accept) address.verdict = v;
    const reply = v.accept ? LIBRARY_OK.rcpt : { code: v.code, text: v.text };
    const d: Decision = {
      stage: 'rcpt',
      rule: v.rule,
      reason: v.reason,
      from: mailFrom ? mailFrom.address : undefined,
      to: address.address,
      user: facts.user ?? undefined,
      ...reply,
    };
    const inbound = v.accept ? this.ctx.inbound : undefined;
    if (!inbound) return this.answer(session, this.harvestCut(session, d) ?? d, cb);
    // DNSBL for Internet clients, recipients per hour for accounts (docs/design.md §2.11, §2.13).
    inbound.rcpt({ session: session.id, ...facts, mx: this.listener.mode === 'mx' }, d.from, address.address).then(
      (refused) => {
        if (refused) address.verdict = undefined;
        this.answer(session, refused ?? d, cb);
      },
      () => this.answer(session, d, cb),
    );
  };

  /**
   * Directory harvest (§2.1): after `maxUnknownRecipients` answers of 550 5.1.1 in one
   * session (RSET and new transactions included), the next unknown recipient ends it.
   */
  private harvestCut(session: PSession, d: Decision): Decision | null {
    const st = session.p;
    if (!st || d.code !== 550 || d.reason !== 'unknown local user') return null;
    const max = this.ctx.config().limits.maxUnknownRecipients;
    const seen = st.unknownRcpts ?? 0;
    if (seen < max) {
      st.unknownRcpts = seen + 1;
      return null;
    }
    return {
      ...d,
      rule: 'directory harvest',
      reason: `${seen} unknown recipients in this session, limit ${max}`,
      code: 421,
      text: '4.7.0 Too many unknown recipients',
    };
  }

  onData = (stream: SMTPServerDataStream, session: PSession, cb: (err?: Error | null, message?: string) => void): void => {
    const cfg = this.ctx.config();
    const mailFrom = session.envelope.mailFrom as PParsed;
    const facts = mailFrom.facts!;
    const rcpts = session.envelope.rcptTo as PParsed[];
    const queueId = newQueueId();
    const lines = new LineEndings();
    // The header section is counted as it arrives and kept (it is bounded: §2.8,
    // header-limits.ts); the body goes to a spool file as it arrives, so a connection's
    // memory does not grow with its message. Both are needed whole before the 250: DKIM
    // and DMARC results go into the trace headers written in front of the message.
    const header = new HeaderLimits(cfg.limits);
    const part = this.ctx.store.incomingPart(queueId);
    let ended = false;
    const from = mailFrom.address;
    const to = rcpts.map((r) => r.address).join(', ');
    const decide = (code: number, text: string, reason: string, rule: Rule = 'data'): void => {
      const d: Decision = {
        stage: 'data',
        rule,
        reason,
        from,
        to,
        user: facts.user ?? undefined,
        spf: facts.spf?.result,
        queueId,
        subject: subjectOf(header.head()),
        code,
        text,
      };
      this.answer(session, d, cb, code < 400 ? () => cb(null, text) : undefined);
    };
    const refuse = (code: number, text: string, reason: string, rule: Rule = 'data'): void => {
      void part.discard();
      decide(code, text, reason, rule);
    };
    const take = (chunk: Buffer): void => {
      const body = header.push(chunk);
      // The spool file's back-pressure reaches the socket: smtp-server waits for 'drain'.
      if (body.length && !part.write(body)) {
        stream.pause();
        part.onDrain(() => stream.resume());
      }
    };

    stream.on('data', (chunk: Buffer) => {
      if (stream.sizeExceeded || (header.over && header.done)) return; // keep reading, stop keeping
      take(lines.push(chunk)); // over the header limits: still counted (for the reply), not kept
    });
    stream.once('error', (e: Error) => refuse(451, '4.3.0 Error while receiving the message', `stream error: ${e.message}`));
    // The client went away mid-DATA: nothing of it stays.
    stream.once('close', () => ended || void part.discard());
    stream.on('end', () => {
      ended = true;
      if (stream.sizeExceeded) {
        return refuse(
          552,
          `5.3.4 Message size exceeds the limit of ${cfg.limits.maxMessageBytes} bytes`,
          `over the size limit of ${cfg.limits.maxMessageBytes} bytes`,
        );
      }
      if (!header.over) take(lines.end());
      if (header.over) {
        const r = header.refusal();
        return refuse(552, r.text, r.reason, 'header limits');
      }
      if (lines.bare && !facts.internal && !facts.user) {
        // Postfix's smtpd_forbid_bare_newline: from the Internet a bare CR or LF is a
        // protocol violation (and the raw material of SMTP smuggling).
        return refuse(550, '5.5.2 Message contains bare CR or LF line endings: use CRLF', 'bare CR or LF in the message');
      }
      let head = header.head();
      const hops = countReceived([head]);
      if (hops > MAX_HOPS) {
        // RFC 5321 §6.3: a message that has been around this many times is looping.
        return refuse(554, `5.4.6 Too many hops (${hops} Received headers): mail loop`, `${hops} Received headers: mail loop`);
      }
      const local: LocalRecipient[] = [];
      const remote: string[] = [];
      for (const r of rcpts) {
        // A shared address delivers a copy to each of its accounts (docs/design.md §8.2).
        if (r.verdict?.accept && r.verdict.account)
          for (const account of r.verdict.accounts ?? [r.verdict.account]) local.push({ account, address: r.address });
        else remote.push(r.address);
      }
      // Delivered-To naming one of our recipients: it was delivered here before (RFC 9228 §4).
      const looped = deliveredToLoop(
        head,
        local.map((l) => l.address),
      );
      if (looped) return refuse(554, `5.4.6 Mail forwarding loop for <${looped}>`, `Delivered-To <${looped}> already in the message: mail forwarding loop`);
      // The final delivery writes the Return-Path (RFC 5321 §4.4); a message's own is dropped (§2.8).
      head = withoutReturnPath(head);
      const internet = !facts.internal && !facts.user;
      const fromRefused = this.decideFromHeader(head, facts, { from, to, queueId }); // §2.1 From header
      if (fromRefused) {
        void part.discard();
        return this.answer(session, fromRefused, cb);
      }
      // Authentication-Results claiming to be ours can only be forged (RFC 8601 §5).
      if (internet) head = withoutForgedAuthResults(head, cfg.hostname);
      // DKIM/DMARC in a worker thread with a deadline (§2.7, §2.8), fed from the spool file;
      // evaluated for enforcement (§2.10) even when no Authentication-Results is written.
      const enforce = internet && cfg.dmarc.enforce;
      const authHeaders: Promise<MessageAuth> =
        internet && (this.ctx.spf || enforce)
          ? part
              .source()
              .then((body) =>
                authInWorker(
                  { head, ...body },
                  { spf: facts.spf, ip: session.remoteAddress, helo: session.hostNameAppearsAs || '', sender: from, cfg },
                  enforce,
                ),
              )
          : Promise.resolve({ headers: facts.spf?.headers ?? '', dmarc: null });
      const commit = (auth: string, authError?: Error, j?: Judgement) => {
        // DMARC quarantine / spam: into each account's Junk folder (§2.10, §2.12).
        const into = j && !j.refuse && j.folder ? local.map((l) => ({ ...l, folder: j.folder })) : local;
        const extra = j && !j.refuse ? j.headers : '';
        return this.commitMessage(session, { queueId, from, local: into, remote, head, part, auth: auth + extra, rcpts, cfg }, authError)
          .finally(() => part.discard())
          .then(({ code, text, reason }) =>
            decide(code, text, j && !j.refuse && j.reason ? `${reason}; ${j.reason}` : reason, code < 400 && j && !j.refuse && j.rule ? j.rule : 'data'),
          );
      };
      // The inbound content checks (§2.10, §2.12) see the DMARC verdict; a refusal stores nothing.
      const judge = (auth: MessageAuth, authError?: Error): void => {
        const inbound = this.ctx.inbound;
        if (!inbound || !internet) return void commit(auth.headers, authError);
        part
          .source()
          .then((body) =>
            inbound.message({
              session: session.id,
              ...facts,
              mx: this.listener.mode === 'mx',
              helo: session.hostNameAppearsAs || '',
              from,
              rcpts: rcpts.map((r) => r.address),
              queueId,
              dmarc: auth.dmarc,
              head,
              ...body,
              bodyBytes: part.bytes,
            }),
          )
          .then(
            (j) => (j.refuse ? refuse(j.refuse.code, j.refuse.text, j.refuse.reason, j.refuse.rule) : commit(auth.headers, authError, j)),
            (e: Error) => commit(auth.headers, authError ?? e),
          );
      };
      authHeaders.then(
        // With the SPF check off (spf.enabled false) no Authentication-Results is written (§2.6).
        (auth) => judge(this.ctx.spf ? auth : { headers: facts.spf?.headers ?? '', dmarc: auth.dmarc }),
        (e: Error) => judge({ headers: facts.spf?.headers ?? '', dmarc: null }, e),
      );
    });
  };

  /** Prepends the trace headers and commits; the 250 comes only once the message is on disk. */
  private async commitMessage(
    session: PSession,
    m: {
      queueId: string;
      from: string;
      local: LocalRecipient[];
      remote: string[];
      head: Buffer;
      part: IncomingPart;
      auth: string;
      rcpts: PParsed[];
      cfg: Config;
    },
    authError?: Error,
  ): Promise<{ code: number; text: string; reason: string }> {
    const { queueId, from, local, remote, cfg } = m;
    // Return-Path and Delivered-To go on each local copy only (MessageStore.commit, §3.1).
    const headers: string[] = [];
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
    // Trace headers and the header section; the body is copied from its spool file.
    const data = Buffer.concat([Buffer.from(headers.join('')), m.head]);
    try {
      await this.ctx.store.commit({ id: queueId, from, client: session.remoteAddress, local, remote, data, body: m.part });
    } catch (e) {
      return {
        code: 451,
        text: '4.3.0 Local error in processing: the message was not stored, try again later',
        reason: `could not store the message: ${(e as Error).message}`,
      };
    }
    this.ctx.onMessageQueued?.(queueId, remote.length > 0);
    return {
      code: 250,
      text: `2.0.0 OK: queued as ${queueId}`,
      reason: `${local.length} local, ${remote.length} remote, ${data.length + m.part.bytes} bytes${authError ? `; DKIM/DMARC not evaluated: ${authError.message}` : ''}`,
    };
  }

  onClose = (session: PSession): void => {
    this.ctx.inbound?.close(session.id);
    if (!session.p?.counted) return;
    session.p.counted = false;
    for (const key of session.p.slots ?? [clientKey(session.remoteAddress)]) {
      const n = (this.ctx.perClient.get(key) ?? 1) - 1;
      if (n > 0) this.ctx.perClient.set(key, n);
      else this.ctx.perClient.delete(key);
    }
  };
}
