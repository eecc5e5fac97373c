// The SPF check at MAIL FROM (docs/design.md §2.6): mailauth evaluates RFC 7208 over our DNS
// client; here are the identity, the policy table, the reply and the header fields.
//
// mailauth runs in its `strict` mode: the whole record is syntax-checked before
// evaluation (RFC 7208 §4.6: any syntax error is a permerror, even after the
// matching term), void lookups are counted for the client's address family only
// (§4.6.4; the default mode forgives an A-only host queried for an IPv6 client),
// and Authentication-Results reports the checked identity as RFC 8601 §2.7.2 says.
import { spf as mailauthSpf } from 'mailauth';
import type { SPFResult } from 'mailauth';
import type { Config } from '../config/schema.ts';
import type { Mailbox } from '../policy/address.ts';
import { dnsClientFor, type Resolver } from '../dns/client.ts';
import type { MailFromCheck, SpfOutcome, SpfResult } from './types.ts';
import { foldHeader } from '../mail/header.ts';

/** RFC 7208 §4.6.4 limits, passed explicitly so a mailauth default change can't move them. */
export const MAX_DNS_TERMS = 10;
export const MAX_VOID_LOOKUPS = 2;
/** RFC 7208 §4.6.4: a limit on the whole evaluation "SHOULD be at least 20 seconds". */
export const MAX_ELAPSED_MS = 20_000;

/** What the check knows beyond SpfOutcome; authres.ts reuses it for the message's headers. */
export interface SpfDetail extends SpfOutcome {
  /** `Received-SPF: …`, folded, CRLF-terminated, whatever `spf.header` says. */
  receivedSpf: string;
  /** The `spf=…` resinfo for Authentication-Results (no `;`, unfolded). */
  authResult: string;
  /** Why, in words (mailauth's comment without the host name). */
  comment: string;
  /** The domain owner's `exp=` text for a fail (third-party text, sanitized). */
  explanation?: string;
}

export interface SpfCheckOptions {
  /** DNS for a config; default: the client `dns.servers`/`dns.timeoutMs` describe. */
  resolver?: (cfg: Config) => Resolver;
  /** Limit for one evaluation (default 20 s); past it: temperror. */
  maxElapsedMs?: number;
}

export interface SpfInput {
  /** MAIL FROM, or null for the null reverse-path `<>`. */
  sender: Mailbox | null;
  ip: string;
  helo: string;
}

// ---- the policy table ------------------------------------------------------

/** docs/design.md §2.6, RFC 7372 codes: 5.7.23 validation failed, 5.7.24 validation error. */
export function spfReply(result: SpfResult, policy: Config['spf']['policy']): { code: number; enhanced: string; what: string } | null {
  switch (result) {
    case 'fail':
      return { code: 550, enhanced: '5.7.23', what: 'SPF check failed' };
    case 'softfail':
      return policy === 'strict' ? { code: 550, enhanced: '5.7.23', what: 'SPF check failed (softfail)' } : null;
    case 'temperror':
      return { code: 451, enhanced: '4.7.24', what: 'SPF check failed temporarily, try again later' };
    case 'permerror':
      return { code: 550, enhanced: '5.7.24', what: 'SPF record error' };
    default:
      return null;
  }
}

// ---- header fields (folded by core/mail/header.ts) ----------------------------

export { foldHeader };

/** `Authentication-Results: <authserv-id>;` then one resinfo per line (RFC 8601 §2.2). */
export function authResultsHeader(authservId: string, resinfos: string[]): string {
  return foldHeader([`Authentication-Results: ${authservId};`, ...resinfos.map((r, i) => (i < resinfos.length - 1 ? `${r};` : r))]);
}

/** Printable ASCII only, one line, bounded: text from DNS must not shape our replies. */
export function sanitizeText(s: string, max = 300): string {
  const t = s
    .replace(/[^\x20-\x7E]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
}

function escapeComment(s: string): string {
  return sanitizeText(s, 500).replace(/[\\()]/g, (c) => `\\${c}`);
}

/** The header block `spf.header` asks for: Authentication-Results above Received-SPF (RFC 8601 §5). */
export function spfHeaderBlock(d: Pick<SpfDetail, 'receivedSpf' | 'authResult'>, cfg: Pick<Config, 'hostname' | 'spf'>): string {
  const mode = cfg.spf.header;
  let out = '';
  if (mode === 'auth' || mode === 'both') out += authResultsHeader(cfg.hostname, [d.authResult]);
  if (mode === 'spf' || mode === 'both') out += d.receivedSpf;
  return out;
}

// ---- the check ------------------------------------------------------------------

function detailFrom(r: SPFResult, input: SpfInput, cfg: Config): SpfDetail {
  const result = r.status.result as SpfResult;
  const identity = input.sender ? 'mailfrom' : 'helo';
  const prefix = `${cfg.hostname}: `;
  const raw = r.status.comment ?? '';
  const comment = sanitizeText(raw.startsWith(prefix) ? raw.slice(prefix.length) : raw);
  // mailauth writes client-ip, envelope-from and helo; RFC 7208 §9.1 also names the
  // identity checked and the receiver, which a reader of the message needs.
  const receivedSpf = foldHeader(`${r.header.replace(/\r?\n(?=[ \t])/g, '').replace(/;?\s*$/, ';')} identity=${identity}; receiver=${cfg.hostname};`);
  const explanation = r.explanation ? sanitizeText(r.explanation) : undefined;
  const reply = spfReply(result, cfg.spf.policy);
  const detail: SpfDetail = {
    result,
    headers: '',
    reject: reply ? { code: reply.code, text: `${reply.enhanced} ${reply.what}: ${explanation ?? comment}` } : null,
    identity,
    domain: r.domain === '-' ? '' : r.domain,
    receivedSpf,
    authResult: r.info,
    comment,
    ...(explanation ? { explanation } : {}),
  };
  detail.headers = spfHeaderBlock(detail, cfg);
  return detail;
}

/** A temperror made here (the evaluation itself failed or overran), in mailauth's formats. */
function temperror(input: SpfInput, cfg: Config, why: string): SPFResult {
  const domain = input.sender ? input.sender.domain : input.helo;
  const comment = `${cfg.hostname}: error in processing during lookup of ${input.sender ? input.sender.address : `postmaster@${input.helo}`}: ${why}`;
  return {
    domain,
    'client-ip': input.ip,
    status: { result: 'temperror', comment },
    header: `Received-SPF: temperror (${escapeComment(comment)}) client-ip=${input.ip};`,
    info: `spf=temperror (${escapeComment(comment)})`,
  };
}

/** Evaluates SPF for one MAIL FROM (or HELO, for `<>`). Never rejects; never runs past its limit. */
export async function checkSpf(input: SpfInput, cfg: Config, resolver: Resolver, maxElapsedMs = MAX_ELAPSED_MS): Promise<SpfDetail> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const evaluation = mailauthSpf({
      // RFC 7208 §2.4: for the null reverse-path, mailauth checks postmaster@<helo>.
      sender: input.sender ? input.sender.address : '',
      ip: input.ip,
      helo: input.helo,
      mta: cfg.hostname, // the default, os.hostname(), would leak into the header
      resolver,
      maxResolveCount: MAX_DNS_TERMS,
      maxVoidCount: MAX_VOID_LOOKUPS,
      maxElapsedTime: maxElapsedMs,
      strict: true,
    });
    // mailauth enforces maxElapsedTime itself; this is the belt to its braces.
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('SPF evaluation time limit exceeded')), maxElapsedMs + 1000);
    });
    return detailFrom(await Promise.race([evaluation, guard]), input, cfg);
  } catch (e) {
    return detailFrom(temperror(input, cfg, (e as Error).message), input, cfg);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The gateway's `spfFactory`: builds the MAIL FROM check for a config, or null when
 * SPF is off. One DNS client (and so one cache) per config.
 */
export function createSpfCheckFactory(opts: SpfCheckOptions = {}): (cfg: Config) => MailFromCheck | null {
  return (cfg) => {
    if (!cfg.spf.enabled) return null;
    const resolver = opts.resolver ? opts.resolver(cfg) : dnsClientFor(cfg).resolver;
    return (sender, ip, helo) => checkSpf({ sender, ip, helo }, cfg, resolver, opts.maxElapsedMs);
  };
}
