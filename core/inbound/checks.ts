// Inbound protection (docs/design.md §2.10–§2.13), called from the SMTP hooks
// (core/smtp/hooks.ts) at each stage; each check answers with a Decision (or null) and
// has its own rule: `dnsbl`, `rate limits`, `dmarc`, `rspamd`. The state — DNSBL lookups
// started at connect, rate counters — lives here, not in the hooks.
import type { Config } from '../config/schema.ts';
import type { DnsClient } from '../dns/client.ts';
import type { EventInput, Rule } from '../events/types.ts';
import type { Decision } from '../smtp/decision.ts';
import { clientKey, networkKey } from '../net/cidr.ts';
import { checkDnsbl, dnsblRefusalText, type DnsblResult } from './dnsbl.ts';
import { accountAlarm, RateTable, take, type LimitKind } from './rate-limits.ts';
import { dmarcAction, dmarcQuarantineHeader, dmarcRefusalText, type DmarcVerdict } from './dmarc.ts';
import { rspamdVerdict, scanWithRspamd, spamHeaders, verifiedClientName, type RspamdResult } from './rspamd.ts';
import { reversedName } from './dnsbl.ts';
import { Greylist, GreylistFile, greylistText } from './greylist.ts';

export interface InboundDeps {
  config(): Config;
  /** Postern's DNS client (dns.servers, dns.timeoutMs). */
  dns(): DnsClient;
  /** For the alarm that an account reached its hourly limit (§2.13). */
  emit?(e: EventInput): void;
  now?(): number;
  /** The pct= draw (§2.10), in [0, 1). */
  random?(): number;
  /** The list of limited accounts changed (the status, the dashboard's banner). */
  changed?(): void;
  /** Where greylist.json is kept (docs/design.md §2.14); without it the table is in memory only. */
  dataDir?(): string;
}

export interface InboundClient {
  session: string;
  ip: string;
  internal: boolean;
  /** The account logged in, or null. */
  user: string | null;
  /** On an mx listener (per-client and per-network limits apply there only). */
  mx: boolean;
}

export interface MessageFacts extends InboundClient {
  helo: string;
  from: string;
  rcpts: string[];
  queueId: string;
  /** DMARC as evaluated with DKIM (core/spf/authres.ts); null: not evaluated. */
  dmarc: DmarcVerdict | null;
  /** The header section as received, and the body: in memory while small, else its spool file. */
  head: Buffer;
  bodyFile: string | null;
  body?: Buffer;
  bodyBytes: number;
}

/** What the content checks say: refuse, or deliver (maybe into Junk) with extra headers. */
export type Judgement =
  | { refuse: { code: number; text: string; reason: string; rule: Rule } }
  | { refuse?: undefined; folder?: 'Junk'; headers: string; rule?: Rule; reason?: string };

/** An account stopped by its hourly limit, for the dashboard's banner (§2.13). */
export interface RateLimitedAccount {
  account: string;
  kind: LimitKind;
  count: number;
  limit: number;
  /** ISO time of the first refusal. */
  since: string;
  text: string;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

export class InboundChecks {
  private readonly deps: InboundDeps;
  private readonly dnsbl = new Map<string, Promise<DnsblResult | null>>();
  private readonly conns = new RateTable(MINUTE);
  private readonly msgs = new RateTable(MINUTE);
  private readonly accountMsgs = new RateTable(HOUR);
  private readonly accountRcpts = new RateTable(HOUR);
  private readonly limited = new Map<string, RateLimitedAccount>();
  private grey: { table: Greylist; file: GreylistFile | null; expired: number } | null = null;

  constructor(deps: InboundDeps) {
    this.deps = deps;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  private internet(c: InboundClient): boolean {
    return !c.internal && !c.user;
  }

  /** At connect: connections per minute (mx, Internet clients); starts the DNSBL lookups. */
  connect(c: InboundClient): Decision | null {
    if (c.internal || !c.mx) return null;
    const cfg = this.deps.config();
    const rl = cfg.rateLimits;
    const now = this.now();
    const key = clientKey(c.ip);
    const net = networkKey(c.ip);
    const one = take(this.conns.get(`c:${key}`), now, rl.connectionsPerMinute);
    if (!one.ok) return this.connRefusal(c.ip, `client ${key}`, one.count, rl.connectionsPerMinute);
    const all = take(this.conns.get(`n:${net}`), now, rl.networkConnectionsPerMinute);
    if (!all.ok) return this.connRefusal(net, `network ${net}`, all.count, rl.networkConnectionsPerMinute);
    // DNSBL: asked now, answered by the time the client names a recipient (§2.11).
    if (cfg.dnsbl.zones.length) {
      const dns = this.deps.dns();
      this.dnsbl.set(
        c.session,
        checkDnsbl(c.ip, cfg.dnsbl, (name) => dns.resolve(name, 'A')).catch(() => null),
      );
    }
    return null;
  }

  private connRefusal(who: string, scope: string, count: number, limit: number): Decision {
    // 421: the only temporary answer a greeting may be (RFC 5321 §3.1).
    return {
      stage: 'connect',
      rule: 'rate limits',
      reason: `${count} connections from ${scope} in the last minute, limit ${limit}`,
      code: 421,
      text: `4.7.1 Too many connections from ${who}; try again later`,
    };
  }

  /** At an accepted MAIL FROM: a blocked account; messages per hour (account) and per minute (client, network). */
  mailFrom(c: InboundClient, from: string): Decision | null {
    const cfg = this.deps.config();
    const rl = cfg.rateLimits;
    const now = this.now();
    const base = { stage: 'mail' as const, rule: 'rate limits' as const, from, user: c.user ?? undefined };
    if (c.user) {
      if (cfg.accounts.find((a) => a.name === c.user)?.blocked) {
        return {
          ...base,
          reason: `account ${c.user} is blocked (accounts[].blocked)`,
          code: 550,
          text: `5.7.1 Account ${c.user} is blocked from sending: ask whoever runs Postern`,
        };
      }
      const t = take(this.accountMsgs.get(c.user), now, rl.accountMessagesPerHour);
      if (!t.ok) return this.accountRefusal(c.user, 'messages', t.count, rl.accountMessagesPerHour, base);
      return null;
    }
    if (c.internal || !c.mx) return null;
    const key = clientKey(c.ip);
    const net = networkKey(c.ip);
    const one = take(this.msgs.get(`c:${key}`), now, rl.messagesPerMinute);
    if (!one.ok)
      return {
        ...base,
        reason: `${one.count} messages from client ${key} in the last minute, limit ${rl.messagesPerMinute}`,
        code: 451,
        text: `4.7.1 Too many messages from ${c.ip}; try again later`,
      };
    const all = take(this.msgs.get(`n:${net}`), now, rl.networkMessagesPerMinute);
    if (!all.ok)
      return {
        ...base,
        reason: `${all.count} messages from network ${net} in the last minute, limit ${rl.networkMessagesPerMinute}`,
        code: 451,
        text: `4.7.1 Too many messages from ${net}; try again later`,
      };
    return null;
  }

  private accountRefusal(account: string, kind: LimitKind, count: number, limit: number, base: Omit<Decision, 'code' | 'text' | 'reason'>): Decision {
    const text = accountAlarm(account, { kind, count });
    if (!this.limited.has(account)) {
      this.limited.set(account, { account, kind, count, limit, since: new Date(this.now()).toISOString(), text });
      this.deps.changed?.();
    }
    return {
      ...base,
      reason: `${text} (limit ${limit} ${kind} an hour; lift it on the dashboard)`,
      code: 451,
      text: `4.7.1 ${account} has sent too much mail in the last hour; try again later`,
    };
  }

  /**
   * At a recipient the relay rules accepted: the DNSBL verdict for an Internet client
   * (refused here, not at connect, so the client hears why: Postfix's choice); recipients
   * per hour for an account.
   */
  async rcpt(c: InboundClient, from: string | undefined, to: string): Promise<Decision | null> {
    const base = { stage: 'rcpt' as const, from, to, user: c.user ?? undefined };
    if (c.user) {
      const rl = this.deps.config().rateLimits;
      const t = take(this.accountRcpts.get(c.user), this.now(), rl.accountRecipientsPerHour);
      if (!t.ok) return this.accountRefusal(c.user, 'recipients', t.count, rl.accountRecipientsPerHour, { ...base, rule: 'rate limits' });
      return null;
    }
    if (!this.internet(c)) return null;
    const pending = this.dnsbl.get(c.session);
    const r = pending ? await pending : null;
    if (r?.blocked && r.zone) {
      const lists = r.listed.map((l) => `${l.zone} (${l.codes.join(', ')}; weight ${l.weight})`).join(', ');
      return { ...base, rule: 'dnsbl', reason: `listed by ${lists}: score ${r.score} ≥ ${r.threshold}`, code: 554, text: dnsblRefusalText(c.ip, r.zone) };
    }
    // Greylisting after the blocklists: a listed client is told why, not to come back (§2.14).
    const gl = this.deps.config().greylist;
    if (!gl?.enabled) return null;
    const v = this.greylist().check(c.ip, from ?? '', to, gl);
    if (v.pass) return null;
    return { ...base, rule: 'greylist', reason: v.reason, code: 451, text: greylistText(v.minutes) };
  }

  /** The greylist table, read from greylist.json on first use; old entries dropped hourly. */
  private greylist(): Greylist {
    const now = this.now();
    if (!this.grey) {
      const dir = this.deps.dataDir?.();
      const file = dir ? new GreylistFile(dir) : null;
      const table = file ? file.load(() => this.now()) : new Greylist({ now: () => this.now() });
      this.grey = { table, file, expired: 0 };
    }
    if (now - this.grey.expired > HOUR) {
      this.grey.expired = now;
      this.grey.table.expire(this.deps.config().greylist.expireDays);
    }
    return this.grey.table;
  }

  /** Waits for greylist.json to be written (a stopping gateway). */
  async flush(): Promise<void> {
    await this.grey?.file?.flush();
  }

  /** At the end of DATA, for an Internet message: DMARC enforced (§2.10), then rspamd (§2.12). */
  async message(m: MessageFacts): Promise<Judgement> {
    if (!this.internet(m)) return { headers: '' };
    const cfg = this.deps.config();
    const headers: string[] = [];
    let folder: 'Junk' | undefined;
    let rule: Rule | undefined;
    const reasons: string[] = [];
    const d = dmarcAction(m.dmarc, { enforce: cfg.dmarc.enforce, random: this.deps.random });
    if (d.action === 'reject' && m.dmarc) return { refuse: { code: 550, text: dmarcRefusalText(m.dmarc), reason: d.reason, rule: 'dmarc' } };
    if (d.action === 'quarantine') {
      folder = 'Junk';
      rule = 'dmarc';
      reasons.push(`into Junk: ${d.reason}`);
      headers.push(dmarcQuarantineHeader(cfg.hostname, d));
    } else if (m.dmarc?.result === 'fail' && m.dmarc.policy && m.dmarc.policy !== 'none') reasons.push(d.reason); // report only, or outside the pct sample
    if (cfg.rspamd.enabled) {
      let r: RspamdResult | null = null;
      const dns = this.deps.dns();
      const clientName = await verifiedClientName(m.ip, (n, t) => dns.resolve(n, t), reversedName);
      try {
        r = await scanWithRspamd({
          url: cfg.rspamd.url,
          timeoutMs: cfg.rspamd.timeoutMs,
          ip: m.ip,
          helo: m.helo,
          clientName,
          from: m.from,
          rcpts: m.rcpts,
          queueId: m.queueId,
          hostname: cfg.hostname,
          head: m.head,
          bodyFile: m.bodyFile,
          body: m.body,
          bodyBytes: m.bodyBytes,
        });
      } catch (e) {
        const why = `rspamd unreachable: ${(e as Error).message}`;
        if (cfg.rspamd.onUnreachable === 'defer')
          return { refuse: { code: 451, text: '4.7.1 The spam filter is not available, try again later', reason: why, rule: 'rspamd' } };
        headers.push(spamHeaders(null, false, cfg.hostname));
        reasons.push(`${why}; accepted unscanned (rspamd.onUnreachable is accept)`);
        rule ??= 'rspamd';
      }
      if (r) {
        const v = rspamdVerdict(r);
        const what = `rspamd: ${r.action}, score ${r.score.toFixed(2)}/${r.requiredScore.toFixed(2)}${r.symbols.length ? ` (${r.symbols.slice(0, 6).join(', ')})` : ''}`;
        if (v.kind === 'refuse') return { refuse: { code: v.code, text: v.text, reason: what, rule: 'rspamd' } };
        if (v.kind === 'junk') {
          folder = 'Junk';
          rule ??= 'rspamd';
          reasons.push(`into Junk: ${what}`);
        } else reasons.push(what);
        headers.push(spamHeaders(r, v.kind === 'junk', cfg.hostname));
      }
    }
    return { headers: headers.join(''), folder, rule, reason: reasons.join('; ') || undefined };
  }

  /** The session ended: its DNSBL lookup is no longer needed. */
  close(session: string): void {
    this.dnsbl.delete(session);
  }

  /** Accounts stopped by their hourly limits (the dashboard's banner). */
  limitedAccounts(): RateLimitedAccount[] {
    const now = this.now();
    for (const [account, l] of this.limited) {
      const c = (l.kind === 'recipients' ? this.accountRcpts : this.accountMsgs).peek(account);
      if (!c || c.count(now) < l.limit) this.limited.delete(account); // the hour has moved on
    }
    return [...this.limited.values()];
  }

  /** Lifts an account's limit: its hourly counters start again at zero (§2.13). */
  lift(account: string): boolean {
    const had = this.limited.delete(account);
    const a = this.accountMsgs.delete(account);
    const b = this.accountRcpts.delete(account);
    return had || a || b;
  }
}
