// DNS blocklists (docs/design.md §2.11), RFC 5782: the client's address, reversed
// (IPv4 octets, IPv6 nibbles), prepended to each zone and looked up as an A record.
// Pure apart from the resolver passed in; a lookup that fails or times out counts as
// "not listed" — a broken list never blocks mail.
import net from 'node:net';
import { isValidCidr, NetworkSet } from '../net/cidr.ts';

/** `1.2.3.4` → `4.3.2.1`; `2001:db8::1` → 32 nibbles reversed; null for anything else. */
export function reversedName(ip: string): string | null {
  let a = ip.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) a = mapped[1];
  if (net.isIPv4(a)) return a.split('.').reverse().join('.');
  if (!net.isIPv6(a)) return null;
  // Expand to 8 groups of 4 hex digits.
  const [head, tail] = a.includes('::') ? a.split('::') : [a, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  if (t.length && net.isIPv4(t[t.length - 1])) {
    const v4 = t.pop()!.split('.').map(Number);
    t.push(((v4[0] << 8) | v4[1]).toString(16), ((v4[2] << 8) | v4[3]).toString(16));
  }
  const groups = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t].map((g) => g.padStart(4, '0'));
  return groups.join('').split('').reverse().join('.');
}

export type AnswerMeaning = 'listed' | 'error' | 'ignored';

/**
 * What one A record in a list's answer means. 127.0.0.2–127.255.255.x: listed (RFC 5782
 * §2.1; the last octets are the list's reasons); 127.0.0.1 and 127.255.255.0/24 are the
 * lists' own error codes — "query refused", "via a public resolver", "too many queries"
 * (Spamhaus 127.255.255.252/254/255, SURBL, Abusix) — not a listing; anything outside
 * 127/8 is a wildcard or a hijacked resolver and is ignored.
 */
export function answerMeaning(a: string): AnswerMeaning {
  if (!net.isIPv4(a)) return 'ignored';
  const o = a.split('.').map(Number);
  if (o[0] !== 127) return 'ignored';
  if (a === '127.0.0.1') return 'error';
  if (o[1] === 255 && o[2] === 255) return 'error';
  return 'listed';
}

/** For DNSWL allow-lists (list.dnswl.org): 127.0.x.y; 127.0.0.255 is its "too many queries". */
function allowMeaning(a: string): AnswerMeaning {
  if (a === '127.0.0.255') return 'error';
  return answerMeaning(a);
}

export interface ZoneResult {
  zone: string;
  weight: number;
  /** The A records that mean "listed". */
  codes: string[];
  /** A lookup error, a timeout or an error code: not a listing. */
  error?: string;
}

export interface DnsblResult {
  /** Skipped: `allowAddresses` holds the client, or a DNSWL zone lists it. */
  allowedBy?: string;
  score: number;
  threshold: number;
  listed: ZoneResult[];
  errors: ZoneResult[];
  /** Refuse: score ≥ threshold. */
  blocked: boolean;
  /** The list named in the refusal: the heaviest that listed the client. */
  zone?: string;
}

export interface DnsblConfig {
  zones: { zone: string; weight: number }[];
  threshold: number;
  allow: string[];
  allowAddresses: string[];
}

type A = (name: string) => Promise<string[]>;

async function query(lookup: A, rev: string, zone: string, meaning: (a: string) => AnswerMeaning): Promise<{ codes: string[]; error?: string }> {
  const name = `${rev}.${zone.replace(/^\.+|\.+$/g, '')}`;
  try {
    const answers = await lookup(name);
    const codes = answers.filter((a) => meaning(a) === 'listed');
    const errs = answers.filter((a) => meaning(a) === 'error');
    if (!codes.length && errs.length) return { codes, error: `the list answered ${errs.join(', ')} (an error code, not a listing)` };
    return { codes };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return { codes: [] };
    return { codes: [], error: (e as Error).message };
  }
}

const allowSets = new Map<string, NetworkSet>();
function allowSet(list: string[]): NetworkSet {
  const key = list.join(',');
  let s = allowSets.get(key);
  if (!s) {
    s = new NetworkSet(list.filter(isValidCidr));
    if (allowSets.size > 16) allowSets.clear();
    allowSets.set(key, s);
  }
  return s;
}

/**
 * Looks the client up in every zone at once (and in the DNSWL zones); `lookup` resolves
 * A records (Postern's DNS client, bounded by dns.timeoutMs).
 */
export async function checkDnsbl(ip: string, cfg: DnsblConfig, lookup: A): Promise<DnsblResult> {
  const base: DnsblResult = { score: 0, threshold: cfg.threshold, listed: [], errors: [], blocked: false };
  if (cfg.allowAddresses.length && allowSet(cfg.allowAddresses).has(ip)) return { ...base, allowedBy: 'dnsbl.allowAddresses' };
  const rev = reversedName(ip);
  if (!rev || !cfg.zones.length) return base;
  const [allowed, results] = await Promise.all([
    Promise.all(cfg.allow.map(async (zone) => ({ zone, ...(await query(lookup, rev, zone, allowMeaning)) }))),
    Promise.all(cfg.zones.map(async (z) => ({ zone: z.zone, weight: z.weight ?? 1, ...(await query(lookup, rev, z.zone, answerMeaning)) }))),
  ]);
  const ok = allowed.find((a) => a.codes.length);
  if (ok) return { ...base, allowedBy: ok.zone };
  const listed = results.filter((r) => r.codes.length);
  const errors = results.filter((r) => r.error);
  const score = listed.reduce((s, r) => s + r.weight, 0);
  const heaviest = [...listed].sort((a, b) => b.weight - a.weight)[0];
  return { ...base, score, listed, errors, blocked: score >= cfg.threshold && listed.length > 0, zone: heaviest?.zone };
}

export function dnsblRefusalText(ip: string, zone: string): string {
  return `5.7.1 Service unavailable; client [${ip}] blocked using ${zone}`;
}
