// CIDR parsing and family-correct matching.
//
// ip-cidr validates and normalises what a person types; matching uses Node's
// net.BlockList, because ip-cidr compares bit strings across address families
// (`c0a8::1` "is in" 192.168.0.0/16, docs/design.md §10.2).
import net from 'node:net';
import IPCIDR from 'ip-cidr';

export type Family = 'ipv4' | 'ipv6';

export interface ParsedCidr {
  /** Normalised form: the network address and prefix, e.g. `192.168.1.0/24`. */
  cidr: string;
  family: Family;
  address: string;
  prefix: number;
}

/** `::ffff:192.168.1.5` → `192.168.1.5`; anything else unchanged (lower-cased). */
export function unmapIPv4(ip: string): string {
  const lower = ip.trim().toLowerCase();
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return m ? m[1] : lower;
}

/**
 * The unit a per-client limit counts: an IPv4 address, or an IPv6 /64 (one host or
 * household usually has a whole /64 and could rotate through it).
 */
export function clientKey(ip: string): string {
  const addr = unmapIPv4(ip);
  if (!net.isIPv6(addr)) return addr;
  try {
    return parseCidr(`${addr}/64`).cidr;
  } catch {
    return addr;
  }
}

/**
 * The network a per-network limit counts (docs/design.md §2.8): the IPv4 /24 or the
 * IPv6 /48 (one site's allocation), e.g. `192.0.2.0/24`.
 */
export function networkKey(ip: string): string {
  const addr = unmapIPv4(ip);
  // Asked once per Internet connection: an IPv4 /24 by hand (ip-cidr's BigInteger parse
  // cost ~35 µs, a tenth of a connection's CPU under load — docs/benchmarks.md).
  if (net.isIPv4(addr)) return `${addr.slice(0, addr.lastIndexOf('.'))}.0/24`;
  try {
    return parseCidr(`${addr}/${net.isIPv6(addr) ? 48 : 24}`).cidr;
  } catch {
    return addr;
  }
}

export function ipFamily(ip: string): Family | null {
  const v = net.isIP(unmapIPv4(ip));
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : null;
}

/**
 * Parses a CIDR (or a bare address, taken as a single host). Throws an Error whose
 * message says what is wrong, for the person who typed it.
 */
export function parseCidr(input: string): ParsedCidr {
  const text = String(input ?? '').trim();
  if (!text) throw new Error('empty network');
  const withPrefix = text.includes('/') ? text : `${text}/${net.isIPv6(text) ? 128 : 32}`;
  const [addr, prefixText] = withPrefix.split('/');
  const family = ipFamily(addr);
  if (!family) throw new Error(`"${text}" is not an IP address or network`);
  if (family === 'ipv4' && addr.includes(':')) throw new Error(`"${text}": write IPv4-mapped networks as plain IPv4`);
  const prefix = Number(prefixText);
  const max = family === 'ipv4' ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || prefix > max) {
    throw new Error(`"${text}": the prefix length must be 0–${max}`);
  }
  if (!IPCIDR.isValidCIDR(withPrefix)) throw new Error(`"${text}" is not a valid network`);
  const start = new IPCIDR(withPrefix).start<string>();
  const address = family === 'ipv6' ? compressIPv6(start) : start;
  return { cidr: `${address}/${prefix}`, family, address, prefix };
}

export function isValidCidr(input: string): boolean {
  try {
    parseCidr(input);
    return true;
  } catch {
    return false;
  }
}

function compressIPv6(ip: string): string {
  // Round-trip through the URL parser: it prints RFC 5952 canonical form.
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

/**
 * A set of networks that answers "is this client inside?", family-correctly. One
 * BlockList per family: a single BlockList checks an IPv4 address against IPv6
 * subnets too (as ::ffff:a.b.c.d), so `::/0` would "contain" every IPv4 client.
 */
export class NetworkSet {
  private readonly v4 = new net.BlockList();
  private readonly v6 = new net.BlockList();
  readonly size: number;

  constructor(cidrs: Iterable<string>) {
    let n = 0;
    for (const c of cidrs) {
      const p = parseCidr(c);
      (p.family === 'ipv4' ? this.v4 : this.v6).addSubnet(p.address, p.prefix, p.family);
      n++;
    }
    this.size = n;
  }

  has(ip: string): boolean {
    const addr = unmapIPv4(ip);
    const family = ipFamily(addr);
    if (!family || this.size === 0) return false;
    return family === 'ipv4' ? this.v4.check(addr, 'ipv4') : this.v6.check(addr, 'ipv6');
  }
}
