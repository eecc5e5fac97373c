// Envelope addresses as an SMTP client writes them (RFC 5321 §4.1.2), parsed by us
// rather than smtp-server: its parser silently drops source routes and refuses quoted
// local parts, and the relay policy must see both (docs/design.md §2.1, RCPT rule 1).
import net from 'node:net';
import { domainToASCII } from 'node:url';

export interface Mailbox {
  /** Local part as it matters for delivery: quotes removed when they were unnecessary. */
  local: string;
  /** ASCII (punycode), lower-case, trailing dot removed; `[1.2.3.4]` for literals; '' if none. */
  domain: string;
  /** `local@domain` (or `local` without a domain), canonical for comparisons of the domain. */
  address: string;
  /** Why this address carries sender-specified routing, or null. */
  routing: string | null;
  /** The domain is an address literal. */
  literal: boolean;
}

// RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets.
const MAX_PATH = 254;
const ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uFFFF-]+$/;
const CONTROL = /[\x00-\x1F\x7F]/;

// What a domain may be written with: letters (any script, for IDNs), digits, '.', '-'
// and '_'. Anything else must fail before domainToASCII, which parses a URL host: it
// would cut "x.com/../y" at the '/', percent-decode "%2d", and so on.
const DOMAIN_CHARS = /^[\p{L}\p{M}\p{N}._-]+$/u;

export function normalizeDomain(d: string): string {
  let s = d.trim();
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (s.startsWith('[')) return s.toLowerCase();
  // Not a domain: returned as is (lower-cased), so it can equal no configured domain.
  if (!DOMAIN_CHARS.test(s)) return s.toLowerCase();
  const ascii = domainToASCII(s);
  return (ascii || s).toLowerCase();
}

export function isValidDomain(d: string): boolean {
  let raw = d.trim();
  if (raw.endsWith('.')) raw = raw.slice(0, -1);
  if (!DOMAIN_CHARS.test(raw)) return false;
  const s = normalizeDomain(d);
  if (!s || s.length > 253) return false;
  return s.split('.').every((label) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label) || /^xn--[a-z0-9-]+$/.test(label));
}

function parseLiteral(d: string): boolean {
  const inner = d.slice(1, -1);
  if (/^ipv6:/i.test(inner)) return net.isIPv6(inner.slice(5));
  return net.isIPv4(inner);
}

/**
 * Parses the inside of `<…>` (without the brackets). Returns null for syntax that no
 * mail system could route. Addresses that *could* be routed by someone else — the
 * open-relay tricks — parse, with `routing` saying why.
 */
export function parseMailbox(input: string): Mailbox | null {
  let text = String(input ?? '');
  if (!text || text.length > MAX_PATH || CONTROL.test(text)) return null;
  let routing: string | null = null;

  // A-d-l ":" Mailbox — a source route (RFC 5321 Appendix C).
  if (text.startsWith('@')) {
    const colon = text.indexOf(':');
    if (colon < 0) return null;
    const route = text.slice(0, colon);
    if (!route.split(',').every((hop) => /^@\S+$/.test(hop))) return null;
    routing = 'source route';
    text = text.slice(colon + 1);
    if (!text) return null;
  }

  let local: string;
  let rest: string;
  if (text.startsWith('"')) {
    let i = 1;
    let content = '';
    for (; i < text.length; i++) {
      const c = text[i];
      if (c === '\\') {
        if (i + 1 >= text.length) return null;
        content += text[++i];
      } else if (c === '"') break;
      else content += c;
    }
    if (i >= text.length) return null; // unterminated quote
    // Legal inside quotes, used by nobody, and refused by the SMTP client we relay with.
    if (/[<>]/.test(content)) return null;
    rest = text.slice(i + 1);
    if (rest && !rest.startsWith('@')) return null;
    if (/[@%]/.test(content)) routing ??= 'quoted local part with "@" or "%"';
    // "john.doe" is the same mailbox as john.doe: keep the quotes only where needed.
    local = isDotString(content) ? content : quote(content);
    rest = rest.slice(1);
    if (rest.includes('@')) routing ??= 'second "@"';
    if (!rest && text.slice(i + 1).startsWith('@')) return null;
  } else {
    const at = text.lastIndexOf('@');
    local = at < 0 ? text : text.slice(0, at);
    rest = at < 0 ? '' : text.slice(at + 1);
    if (at === 0 || (at > 0 && !rest)) return null;
    if (local.includes('@')) {
      routing ??= 'second "@"';
      if (!local.split('@').every((p) => p.length > 0)) return null;
    } else if (!isDotString(local) && !/^[^\s"<>()[\]\\,;:]+$/.test(local)) {
      return null;
    }
    if (local.includes('%')) routing ??= 'percent hack "%"';
    if (local.includes('!')) routing ??= 'bang path "!"';
  }

  let domain = '';
  let literal = false;
  if (rest) {
    if (rest.startsWith('[')) {
      if (!rest.endsWith(']') || !parseLiteral(rest)) return null;
      literal = true;
      routing ??= 'domain literal';
      domain = rest.toLowerCase();
    } else {
      if (!isValidDomain(rest)) return null;
      domain = normalizeDomain(rest);
    }
  }
  if (!local) return null;
  return { local, domain, address: domain ? `${local}@${domain}` : local, routing, literal };
}

function isDotString(s: string): boolean {
  return s.length > 0 && s.split('.').every((atom) => ATOM.test(atom));
}

function quote(s: string): string {
  return `"${s.replace(/(["\\])/g, '\\$1')}"`;
}

/** Key for comparing mailboxes: local part case-insensitive (docs/design.md §2.1). */
export function mailboxKey(m: Pick<Mailbox, 'local' | 'domain'>): string {
  return `${m.local.toLowerCase()}@${m.domain}`;
}
