// The SPF record helper (docs/design.md §6): build the record Postern recommends, show it
// as the zone line to paste, validate any record with the position of each
// problem, and check what a domain actually publishes.
import net from 'node:net';
import { spf as mailauthSpf } from 'mailauth';
import type { Config } from '../config/schema.ts';
import { isValidDomain, normalizeDomain } from '../policy/address.ts';
import { dnsClientFor, type Resolver } from '../dns/client.ts';
import type { SpfBuildResult, SpfCheckResult, SpfChoices, SpfEvaluation, SpfHelper, SpfProblem, SpfValidation } from './record-types.ts';
import { MAX_DNS_TERMS, MAX_VOID_LOOKUPS, sanitizeText } from './check.ts';

// The term grammar is mailauth's own validator (not in its typings): the helper then
// calls a record broken exactly when the check at MAIL FROM would (strict mode).
// Typed in core/types/mailauth-spf-syntax.d.ts.
import syntaxModule from 'mailauth/lib/spf/syntax.js';
const { validateTerms } = syntaxModule;

/** TXT strings are at most 255 octets (RFC 1035 §3.3.14); longer records are split (RFC 7208 §3.3). */
export const MAX_TXT_STRING = 255;
/** RFC 7208 §3.4: a reply that fits in 512 octets needs no TCP; leave room for the rest of it. */
const COMFORTABLE_RECORD_LENGTH = 450;
/** Column of `TXT` in the zone line, as in the seed: `doe-family.com.          TXT "…"`. */
const ZONE_TYPE_COLUMN = 25;
/** RFC 5737 TEST-NET-1: never a real sender, so evaluating it walks the whole record. */
const PROBE_IP = '192.0.2.1';

const DNS_MECHANISMS = new Set(['include', 'a', 'mx', 'ptr', 'exists']);
const MECHANISMS = new Set(['all', 'include', 'a', 'mx', 'ptr', 'exists', 'ip4', 'ip6']);

// ---- build -------------------------------------------------------------------------

function dedupe(list: string[]): string[] {
  return [...new Set(list.map((s) => s.trim()).filter(Boolean))];
}

/** `v=spf1 [+mx] [+a] [+ip4:…] [+ip6:…] [+include:…] -all|~all`: every directive states its qualifier, as the seed's record does. */
export function recordFor(c: SpfChoices): string {
  const terms = ['v=spf1'];
  if (c.mx) terms.push('+mx');
  if (c.a) terms.push('+a');
  for (const ip of dedupe(c.ip4)) terms.push(`+ip4:${ip}`);
  for (const ip of dedupe(c.ip6)) terms.push(`+ip6:${ip}`);
  for (const d of dedupe(c.include)) terms.push(`+include:${normalizeDomain(d)}`);
  terms.push(c.soft ? '~all' : '-all');
  return terms.join(' ');
}

/** Splits a record into TXT strings of at most 255 octets, preferably before a space. */
export function txtStrings(record: string): string[] {
  const out: string[] = [];
  let rest = record;
  while (Buffer.byteLength(rest) > MAX_TXT_STRING) {
    let cut = MAX_TXT_STRING;
    while (Buffer.byteLength(rest.slice(0, cut)) > MAX_TXT_STRING) cut--;
    const space = rest.lastIndexOf(' ', cut - 1);
    if (space > 0) cut = space; // the space starts the next string: joining adds nothing (RFC 7208 §3.3)
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  out.push(rest);
  return out;
}

/** `<domain>.<spaces>TXT "<record>"`, the strings quoted one by one when it must be split. */
export function zoneLine(domain: string, record: string): string {
  const owner = `${normalizeDomain(domain)}.`;
  const quoted = txtStrings(record).map((s) => `"${s.replace(/(["\\])/g, '\\$1')}"`);
  return `${owner}${' '.repeat(Math.max(1, ZONE_TYPE_COLUMN - owner.length))}TXT ${quoted.join(' ')}`;
}

function choiceProblems(c: SpfChoices): SpfProblem[] {
  const out: SpfProblem[] = [];
  const err = (message: string) => out.push({ position: null, message, severity: 'error' });
  if (!isValidDomain(c.domain)) err(`"${c.domain}" is not a valid domain`);
  const cidr = (s: string, family: 4 | 6) => {
    const [ip, len, extra] = s.split('/');
    const max = family === 4 ? 32 : 128;
    if (extra !== undefined || net.isIP(ip) !== family) return false;
    return len === undefined || (/^(0|[1-9]\d*)$/.test(len) && Number(len) <= max);
  };
  for (const ip of dedupe(c.ip4)) if (!cidr(ip, 4)) err(`--ip4 "${ip}" is not an IPv4 address or network (like 203.0.113.5 or 203.0.113.0/24)`);
  for (const ip of dedupe(c.ip6)) if (!cidr(ip, 6)) err(`--ip6 "${ip}" is not an IPv6 address or network (like 2001:db8::5 or 2001:db8::/48)`);
  for (const d of dedupe(c.include)) if (!isValidDomain(d)) err(`--include "${d}" is not a valid domain`);
  if (!c.mx && !c.a && !dedupe(c.ip4).length && !dedupe(c.ip6).length && !dedupe(c.include).length) {
    out.push({ position: null, message: 'no sender is allowed: with nothing but "all", every message from this domain fails SPF', severity: 'warning' });
  }
  return out;
}

export function buildRecord(c: SpfChoices): SpfBuildResult {
  const record = recordFor(c);
  const own = choiceProblems(c);
  // Problems of the choices are reported once, not again as syntax errors of the record.
  const syntax = own.some((p) => p.severity === 'error') ? [] : validateRecord(record).problems;
  return { record, zoneLine: zoneLine(c.domain, record), problems: [...own, ...syntax] };
}

/** What Postern recommends: the MX hosts, this host's public addresses, the smarthost's include, `-all`. */
export function defaultChoices(domain: string, publicAddresses: string[], smarthostInclude?: string): SpfChoices {
  const ips = publicAddresses.map((a) => a.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, ''));
  return {
    domain: normalizeDomain(domain),
    mx: true,
    a: false,
    ip4: dedupe(ips.filter((a) => net.isIPv4(a))),
    ip6: dedupe(ips.filter((a) => net.isIPv6(a))),
    include: smarthostInclude ? [normalizeDomain(smarthostInclude)] : [],
    soft: false,
  };
}

// ---- validate ------------------------------------------------------------------------

interface Term {
  text: string;
  pos: number;
}

/** Accepts a record as pasted from a zone file: `"v=spf1 …" "…"` is joined (RFC 7208 §3.3). */
function unquote(input: string): string {
  const t = input.trim();
  if (!t.startsWith('"')) return input;
  const parts = [...t.matchAll(/"((?:[^"\\]|\\.)*)"/g)];
  if (!parts.length || t.replace(/"((?:[^"\\]|\\.)*)"/g, '').trim() !== '') return input;
  return parts.map((m) => m[1].replace(/\\(.)/g, '$1')).join('');
}

/** Where in `term` the problem mailauth describes is (its messages quote the offending part). */
function locate(message: string, term: Term): number {
  const cidr = /CIDR length "(\d+)"/.exec(message);
  if (cidr) {
    const at = term.text.lastIndexOf(`/${cidr[1]}`);
    if (at >= 0) return term.pos + at + 1;
  }
  const quoted = /"([^"]+)"/.exec(message);
  if (quoted) {
    const at = term.text.indexOf(quoted[1]);
    if (at >= 0) return term.pos + at;
  }
  return term.pos;
}

function mechanismOf(term: string): { qualifier: string; name: string; value: string } | null {
  const eq = term.indexOf('=');
  const sep = term.search(/[:/]/);
  if (eq >= 0 && (sep < 0 || eq < sep)) return null; // a modifier
  const m = /^([+\-?~]?)([^:/]*)(.*)$/.exec(term)!;
  return { qualifier: m[1] || '+', name: m[2].toLowerCase(), value: m[3] };
}

export function validateRecord(input: string): SpfValidation {
  const record = unquote(input);
  const problems: SpfProblem[] = [];
  const error = (position: number | null, message: string) => problems.push({ position, message, severity: 'error' });
  const warn = (position: number | null, message: string) => problems.push({ position, message, severity: 'warning' });
  const done = (dnsTerms: number): SpfValidation => ({ record, valid: !problems.some((p) => p.severity === 'error'), problems, dnsTerms, voidLookups: null });

  if (!/^v=spf1( |$)/i.test(record)) {
    error(
      0,
      /^\s/.test(record)
        ? 'the record starts with a space: receivers will not see it as an SPF record'
        : 'an SPF record starts with "v=spf1" followed by a space',
    );
    return done(0);
  }
  const bad = /[^\x20-\x7E]/.exec(record);
  if (bad) {
    const c = bad[0];
    error(bad.index, c === '\t' ? 'a tab: terms are separated by spaces only' : `character ${JSON.stringify(c)} is not allowed (only printable ASCII)`);
  }

  const terms: Term[] = [];
  // Split on tabs too: a tab is reported above, the terms around it still deserve a look.
  for (const m of record.slice(6).matchAll(/[^ \t]+/g)) terms.push({ text: m[0], pos: m.index! + 6 });

  let dnsTerms = 0;
  let allAt: Term | null = null;
  let redirect: Term | null = null;
  const seen = new Set<string>();
  for (const term of terms) {
    if (/^v=spf1$/i.test(term.text)) {
      error(term.pos, 'a second "v=spf1": two records run together? Publish exactly one');
      continue;
    }
    if (bad && bad.index >= term.pos && bad.index < term.pos + term.text.length) continue; // reported above
    const syntax = validateTerms([term.text]);
    if (syntax) {
      error(locate(syntax, term), `${syntax} in "${term.text}"`);
      continue;
    }
    const mech = mechanismOf(term.text);
    if (!mech) {
      const name = term.text.slice(0, term.text.indexOf('=')).toLowerCase();
      if ((name === 'redirect' || name === 'exp') && seen.has(name)) error(term.pos, `a second "${name}=": at most one is allowed (RFC 7208 §6)`);
      seen.add(name);
      if (name === 'redirect') {
        redirect = term;
        dnsTerms++;
      } else if (name !== 'exp') {
        warn(term.pos, `unknown modifier "${name}": receivers ignore it (a typo?)`);
      }
      const target = term.text.slice(term.text.indexOf('=') + 1);
      if ((name === 'redirect' || name === 'exp') && !target.includes('%') && !isValidDomain(target))
        error(term.pos + name.length + 1, `"${target}" is not a valid domain name`);
      continue;
    }
    if (!MECHANISMS.has(mech.name)) continue; // validateTerms has said so
    if (allAt) warn(term.pos, `"${term.text}" comes after "all" and is never evaluated`);
    if (DNS_MECHANISMS.has(mech.name)) dnsTerms++;
    const domainSpec = mech.name.startsWith('ip') ? undefined : /^:([^/]+)/.exec(mech.value)?.[1];
    if (domainSpec && !domainSpec.includes('%') && !isValidDomain(domainSpec)) {
      error(term.pos + term.text.indexOf(domainSpec), `"${domainSpec}" is not a valid domain name`);
    }
    switch (mech.name) {
      case 'all':
        allAt ??= term;
        if (mech.qualifier === '+') warn(term.pos, '"+all" lets anyone on the Internet send as this domain');
        else if (mech.qualifier === '?') warn(term.pos, '"?all" is neutral: it protects nothing against forgery');
        break;
      case 'ptr':
        warn(term.pos, '"ptr" is slow and unreliable; RFC 7208 §5.5 says not to use it');
        break;
      case 'ip4':
      case 'ip6':
        if (/\/0$/.test(mech.value)) warn(term.pos, `"${term.text}" matches every ${mech.name === 'ip4' ? 'IPv4' : 'IPv6'} address`);
        break;
    }
  }
  if (redirect && allAt) warn(redirect.pos, '"redirect=" is ignored because the record has "all" (RFC 7208 §6.1)');
  if (!allAt && !redirect) warn(null, 'no "all" at the end: senders not listed get "neutral" instead of "fail"');
  if (dnsTerms > MAX_DNS_TERMS) error(null, `${dnsTerms} terms need DNS lookups (include, a, mx, ptr, exists, redirect); the limit is ${MAX_DNS_TERMS}`);
  const len = Buffer.byteLength(record);
  if (len > MAX_TXT_STRING) {
    warn(null, `the record is ${len} characters: over ${MAX_TXT_STRING}, it must be published as several strings in one TXT record (the zone line does that)`);
  }
  if (len > COMFORTABLE_RECORD_LENGTH) warn(null, `the record is ${len} characters: DNS answers over 512 bytes may need TCP (RFC 7208 §3.4)`);
  return done(dnsTerms);
}

// ---- compare -----------------------------------------------------------------------

/** Terms as receivers understand them: case-insensitive, `+` implied, mechanisms before `all` in any order. */
function meaning(record: string): string[] | null {
  const v = validateRecord(record);
  if (!v.valid) return null;
  const terms = record
    .slice(6)
    .trim()
    .split(/ +/)
    .filter(Boolean)
    .map((t) => t.toLowerCase().replace(/^\+/, ''));
  const allIdx = terms.findIndex((t) => /^[-~?]?all$/.test(t));
  const before = allIdx < 0 ? terms : terms.slice(0, allIdx);
  // Only same-qualifier mechanisms may be reordered without changing the result.
  const quals = new Set(before.filter((t) => !t.includes('=')).map((t) => (/^[-~?]/.test(t) ? t[0] : '+')));
  const ordered = quals.size <= 1 ? [...before].sort() : before;
  return allIdx < 0 ? ordered : [...ordered, terms[allIdx]];
}

export function sameRecord(a: string, b: string): boolean {
  const ma = meaning(a);
  const mb = meaning(b);
  return !!ma && !!mb && ma.join(' ') === mb.join(' ');
}

// ---- check what is published -------------------------------------------------------------

function dnsErrorText(domain: string, e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'ENOTFOUND') return `${domain} does not exist in DNS`;
  if (code === 'ETIMEOUT') return `no answer from DNS for ${domain} (timeout)`;
  return `DNS lookup of ${domain} failed (${code ?? (e as Error).message})`;
}

export interface SpfHelperOptions {
  resolver: Resolver;
  /** Our host name, for mailauth's `mta` (it would default to os.hostname()). */
  hostname: string;
}

async function evaluate(domain: string, ip: string, o: SpfHelperOptions) {
  const r = await mailauthSpf({
    sender: `postmaster@${domain}`,
    ip,
    helo: domain,
    mta: o.hostname,
    resolver: o.resolver,
    maxResolveCount: MAX_DNS_TERMS,
    maxVoidCount: MAX_VOID_LOOKUPS,
    strict: true,
  });
  const prefix = `${o.hostname}: `;
  const comment = r.status.comment ?? '';
  return {
    result: r.status.result as SpfEvaluation['result'],
    explanation: sanitizeText(comment.startsWith(prefix) ? comment.slice(prefix.length) : comment),
    lookups: r.lookups,
  };
}

export async function checkPublished(domainIn: string, opts: { ip?: string; expected?: SpfChoices }, o: SpfHelperOptions): Promise<SpfCheckResult> {
  const domain = normalizeDomain(domainIn);
  const expected = opts.expected ? recordFor(opts.expected) : null;
  const out: SpfCheckResult = { domain, published: [], validation: null, expected, matchesExpected: null, evaluation: null, error: null };
  if (!isValidDomain(domain)) return { ...out, error: `"${domainIn}" is not a valid domain` };
  if (opts.ip !== undefined && !net.isIP(opts.ip)) return { ...out, error: `"${opts.ip}" is not an IP address` };

  let txt: string[][];
  try {
    txt = (await o.resolver(domain, 'TXT')) as string[][];
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENODATA') return { ...out, error: dnsErrorText(domain, e) };
    txt = [];
  }
  // RFC 7208 §3.3: the strings of one TXT record are joined with nothing in between.
  out.published = txt.map((strings) => strings.join('')).filter((r) => /^v=spf1( |$)/i.test(r));
  if (!out.published.length) return { ...out, error: `${domain} publishes no SPF record` };

  const v = validateRecord(out.published[0]);
  if (out.published.length > 1) {
    v.problems.unshift({
      position: null,
      message: `${out.published.length} SPF records are published: receivers treat that as a permanent error (permerror); keep exactly one`,
      severity: 'error',
    });
    v.valid = false;
  }
  out.validation = v;
  if (expected !== null) out.matchesExpected = out.published.length === 1 && sameRecord(out.published[0], expected);

  // Walk the whole record (includes too) with an address nobody sends from, to count lookups.
  try {
    const probe = await evaluate(domain, PROBE_IP, o);
    v.voidLookups = probe.lookups?.void ?? null;
    if (probe.result === 'permerror' || probe.result === 'temperror') {
      const already = v.problems.some((p) => p.severity === 'error');
      if (probe.result === 'temperror' || !already) {
        v.problems.push({
          position: null,
          message: `evaluating the record (includes too): ${probe.result}: ${probe.explanation}`,
          severity: probe.result === 'permerror' ? 'error' : 'warning',
        });
      }
      if (probe.result === 'permerror') v.valid = false;
    }
  } catch (e) {
    v.problems.push({ position: null, message: `could not evaluate the record: ${(e as Error).message}`, severity: 'warning' });
  }
  if (opts.ip) {
    const r = await evaluate(domain, opts.ip, o);
    out.evaluation = { ip: opts.ip, result: r.result, explanation: r.explanation };
  }
  return out;
}

// ---- the helper -----------------------------------------------------------------------

export function createSpfHelper(o: SpfHelperOptions): SpfHelper {
  return {
    build: buildRecord,
    validate: validateRecord,
    check: (domain, opts) => checkPublished(domain, opts, o),
    defaults: defaultChoices,
  };
}

/** The helper over the configured DNS (`dns.servers`, `dns.timeoutMs`). */
export function spfHelperFor(cfg: Config): SpfHelper {
  return createSpfHelper({ resolver: dnsClientFor(cfg).resolver, hostname: cfg.hostname });
}
