// DKIM and DMARC results for an accepted Internet message, written with the SPF
// result into one Authentication-Results field (RFC 8601). Informational: nothing
// is refused here.
//
// mailauth's authenticate() would run SPF again (it has no way to take a result
// already computed), and its verdict could differ from the one the MAIL FROM reply
// was based on. So this composes its parts the way authenticate() does —
// dkimVerify(), then evaluateDmarc() fed with the SPF result we have — and skips
// ARC and BIMI (BIMI would fetch logos over HTTPS). Strict mode, as for SPF: a body
// changed in transit is dkim=fail (RFC 8601 §2.7.1), not mailauth's lenient neutral.
import fs from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { dkimVerify } from 'mailauth';
import type { DKIMVerifyResult } from 'mailauth';
import { evaluateDmarc } from 'mailauth/lib/dmarc/index.js';
import type { Config } from '../config/schema.ts';
import { type DnsClient, dnsClientFor, type Resolver } from '../dns/client.ts';
import type { SpfOutcome } from './types.ts';
import { foldHeader } from '../mail/header.ts';
import { authResultsHeader, sanitizeText, type SpfDetail } from './check.ts';
import { dmarcVerdictOf, type DmarcVerdict } from '../inbound/dmarc.ts';

export interface MessageAuthContext {
  /** The MAIL FROM check's outcome (null: SPF was not checked). */
  spf: SpfOutcome | null;
  ip: string;
  helo: string;
  /** MAIL FROM address ('' for `<>`). */
  sender: string;
  cfg: Config;
}

// One DNS client (and cache) per config object: a reload brings a new one.
const clients = new WeakMap<Config, DnsClient>();
function resolverFor(cfg: Config): Resolver {
  let c = clients.get(cfg);
  if (!c) {
    c = dnsClientFor(cfg);
    clients.set(cfg, c);
  }
  return c.resolver;
}

function escapeComment(s: string): string {
  return sanitizeText(s).replace(/[\\()]/g, (c) => `\\${c}`);
}

function spfResinfo(spf: SpfOutcome): string {
  const d = spf as Partial<SpfDetail>;
  if (d.authResult) return d.authResult;
  return `spf=${spf.result} smtp.${spf.identity}=${spf.domain || 'unknown'}`;
}

function receivedSpf(spf: SpfOutcome, ctx: MessageAuthContext): string {
  const d = spf as Partial<SpfDetail>;
  if (d.receivedSpf) return d.receivedSpf;
  return foldHeader(`Received-SPF: ${spf.result} client-ip=${ctx.ip}; identity=${spf.identity}; receiver=${ctx.cfg.hostname};`);
}

/**
 * The header block to prepend to an accepted message, in place of `spf.headers`:
 * Authentication-Results (spf=, dkim= per signature, dmarc=) and Received-SPF, as
 * `spf.header` selects (RFC 8601 §5: Authentication-Results on top). `message` is the
 * message as received, CRLF line ends, without our own trace fields.
 * Bounded by the DNS timeout; never rejects.
 */
/** Signatures verified per message: each costs DNS lookups, and the client waits for them. */
export const MAX_DKIM_SIGNATURES = 5;

/**
 * The message with only the first `max` DKIM-Signature fields, for verification only
 * (mailauth verifies every signature one after another, each with its own lookups: a
 * sender could otherwise hold the session for as long as it likes).
 */
export function firstSignatures(message: Buffer, max = MAX_DKIM_SIGNATURES): { message: Buffer; dropped: number } {
  const end = message.indexOf('\r\n\r\n');
  const head = (end < 0 ? message : message.subarray(0, end)).toString('latin1');
  const fields = head.split(/\r\n(?![ \t])/);
  let seen = 0;
  const kept = fields.filter((f) => !/^DKIM-Signature:/i.test(f) || ++seen <= max);
  const dropped = fields.length - kept.length;
  if (!dropped) return { message, dropped: 0 };
  return { message: Buffer.concat([Buffer.from(kept.join('\r\n'), 'latin1'), end < 0 ? Buffer.alloc(0) : message.subarray(end)]), dropped };
}

/**
 * A message as the DATA path keeps it (docs/design.md §2.8): the header section in
 * memory (bounded), the body in memory while it is small (`body`), else in its spool
 * file (`bodyFile`; neither: no body).
 */
export interface SpooledMessage {
  head: Buffer;
  bodyFile: string | null;
  body?: Uint8Array;
}

/** The message to verify, first `max` DKIM signatures only; a spooled body is streamed from its file. */
function verifyInput(message: Buffer | SpooledMessage): { input: Buffer | Readable; dropped: number } {
  if (Buffer.isBuffer(message)) {
    const { message: m, dropped } = firstSignatures(message);
    return { input: m, dropped };
  }
  const { message: head, dropped } = firstSignatures(message.head);
  if (message.body) return { input: Buffer.concat([head, message.body]), dropped };
  if (!message.bodyFile) return { input: head, dropped };
  const out = new PassThrough();
  out.write(head);
  const body = fs.createReadStream(message.bodyFile);
  body.on('error', (e) => out.destroy(e));
  body.pipe(out);
  return { input: out, dropped };
}

export async function messageAuthHeaders(message: Buffer | SpooledMessage, ctx: MessageAuthContext, opts: { resolver?: Resolver } = {}): Promise<string> {
  return (await messageAuth(message, ctx, opts)).headers;
}

/** The trace headers and the DMARC verdict as data, for enforcement (docs/design.md §2.10). */
export interface MessageAuth {
  headers: string;
  /** Null when DMARC was not evaluated (no author domain, DKIM failed to run, past the deadline). */
  dmarc: DmarcVerdict | null;
}

/**
 * `messageAuthHeaders` with the DMARC verdict as data. DKIM and DMARC are evaluated when
 * `spf.header` writes Authentication-Results, or when `evaluate` asks for it (DMARC
 * enforced while the header is off).
 */
export async function messageAuth(
  message: Buffer | SpooledMessage,
  ctx: MessageAuthContext,
  opts: { resolver?: Resolver; evaluate?: boolean } = {},
): Promise<MessageAuth> {
  const mode = ctx.cfg.spf.header;
  const out: string[] = [];
  const writeAuth = mode === 'auth' || mode === 'both';
  let dmarc: DmarcVerdict | null = null;
  if (writeAuth || opts.evaluate) {
    const resolver = opts.resolver ?? resolverFor(ctx.cfg);
    const resinfos: string[] = [];
    if (ctx.spf) resinfos.push(spfResinfo(ctx.spf));
    // The whole DKIM + DMARC evaluation is bounded too: the client is waiting for its 250.
    const deadline = 3 * ctx.cfg.dns.timeoutMs;
    const evaluated = await Promise.race([
      dkimAndDmarc(message, ctx, resolver),
      new Promise<{ resinfos: string[]; dmarc: null }>((resolve) =>
        setTimeout(() => resolve({ resinfos: [`dkim=temperror (not evaluated within ${deadline / 1000} s)`], dmarc: null }), deadline).unref(),
      ),
    ]);
    resinfos.push(...evaluated.resinfos);
    dmarc = evaluated.dmarc;
    if (writeAuth) out.push(authResultsHeader(ctx.cfg.hostname, resinfos));
  }
  if (ctx.spf && (mode === 'spf' || mode === 'both')) out.push(receivedSpf(ctx.spf, ctx));
  return { headers: out.join(''), dmarc };
}

async function dkimAndDmarc(
  full: Buffer | SpooledMessage,
  ctx: MessageAuthContext,
  resolver: Resolver,
): Promise<{ resinfos: string[]; dmarc: DmarcVerdict | null }> {
  const resinfos: string[] = [];
  let dmarc: DmarcVerdict | null = null;
  const { input: message, dropped } = verifyInput(full);
  {
    let dkim: DKIMVerifyResult | null = null;
    try {
      dkim = await dkimVerify(message, { resolver, sender: ctx.sender || undefined, strict: true });
      for (const r of dkim.results) resinfos.push(r.info ?? `dkim=${r.status.result}`);
      if (dropped) resinfos.push(`dkim=neutral (${dropped} more signature(s) not verified)`);
    } catch (e) {
      resinfos.push(`dkim=temperror (${escapeComment((e as Error).message)})`);
    }

    if (dkim) {
      try {
        const spfPass = ctx.spf?.result === 'pass' && ctx.spf.domain ? [ctx.spf.domain] : [];
        const { response, reason } = await evaluateDmarc({
          headerFrom: dkim.headerFrom,
          fromFields: dkim.fromFields,
          spfDomains: spfPass,
          dkimDomains: dkim.results
            .filter((r) => r.status.result === 'pass' && r.signingDomain)
            .map((r) => ({ id: r.id, domain: r.signingDomain!, aligned: r.status.aligned, underSized: r.status.underSized })),
          resolver,
          strict: true,
        });
        if (response) {
          resinfos.push(response.info);
          // The applied record is a hidden property of the response (pct= is read from it).
          dmarc = dmarcVerdictOf(response, (response as { record?: Record<string, unknown> }).record ?? null);
        }
        // No single author domain (RFC 9989 §5.3.1): DMARC can't be evaluated.
        else resinfos.push(`dmarc=permerror (${escapeComment(reason ?? 'no author domain')})`);
      } catch (e) {
        resinfos.push(`dmarc=temperror (${escapeComment((e as Error).message)})`);
      }
    }
  }
  return { resinfos, dmarc };
}

/**
 * The authserv-id of an Authentication-Results field value (RFC 8601 §2.2:
 * `[CFWS] authserv-id …`, authserv-id = value = token / quoted-string, RFC 2045),
 * lower-cased, one trailing dot removed; null when the value cannot be parsed.
 * Comments nest and may hold quoted-pairs (RFC 5322 §3.2.2); folding is unfolded first.
 */
export function authservIdOf(value: string): string | null {
  const s = value.replace(/\r?\n(?=[ \t])/g, '');
  let i = 0;
  // [CFWS]: whitespace and (nested) comments, in any order.
  for (;;) {
    while (i < s.length && /[ \t\r\n]/.test(s[i])) i++;
    if (s[i] !== '(') break;
    let depth = 0;
    for (; i < s.length; i++) {
      const c = s[i];
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) break;
    }
    if (depth !== 0) return null; // an unterminated comment
    i++;
  }
  let id = '';
  if (s[i] === '"') {
    for (i++; i < s.length && s[i] !== '"'; i++) {
      if (s[i] === '\\') i++;
      id += s[i] ?? '';
    }
    if (i >= s.length) return null; // an unterminated quoted string
  } else {
    // token: any CHAR except SPACE, CTLs and tspecials (RFC 2045 §5.1)
    const m = /^[^\x00-\x20\x7f()<>@,;:\\"/[\]?=]+/.exec(s.slice(i));
    if (!m) return null;
    id = m[0];
  }
  id = id.trim().toLowerCase();
  if (id.endsWith('.')) id = id.slice(0, -1);
  return id || null;
}

/**
 * The message without Authentication-Results fields that carry our authserv-id:
 * from the Internet they can only be forgeries, and a mail reader would trust them
 * (RFC 8601 §5, docs/design.md §2.7). The authserv-id is parsed as RFC 8601 writes
 * it (comments, nested comments, quoted string, trailing dot, any case); a field whose
 * authserv-id cannot be parsed is removed when it names our id anywhere. Other fields
 * and the body are left byte for byte.
 */
export function withoutForgedAuthResults(message: Buffer, authservId: string): Buffer {
  const text = message.toString('latin1');
  const blank = /\r?\n(\r?\n)/.exec(text);
  const headEnd = blank ? blank.index + blank[0].length - blank[1].length : text.length;
  const head = text.slice(0, headEnd);
  let ours = authservId.trim().toLowerCase();
  if (ours.endsWith('.')) ours = ours.slice(0, -1);
  const fields = head.match(/[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*(?:\r?\n|$)/g) ?? [];
  let changed = false;
  const kept = fields.filter((f) => {
    const m = /^authentication-results[ \t]*:/i.exec(f);
    if (!m) return true;
    const value = f.slice(m[0].length);
    const id = authservIdOf(value);
    const forged = id === null ? value.toLowerCase().includes(ours) : id === ours;
    if (forged) changed = true;
    return !forged;
  });
  if (!changed) return message;
  return Buffer.from(kept.join('') + text.slice(headEnd), 'latin1');
}
