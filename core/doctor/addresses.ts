// Address facts the setup check needs: which addresses are on the public Internet,
// this host's public addresses, reverse-DNS names, and whether a trusted network
// reaches into public address space.
import net from 'node:net';
import os from 'node:os';
import { NetworkSet, parseCidr, unmapIPv4, type ParsedCidr } from '../net/cidr.ts';

/**
 * Special-purpose ranges (RFC 6890 and friends): never a public host. Documentation
 * ranges are here too: no real host has them, so they are never "found" as public.
 */
const NON_PUBLIC_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10', // carrier-grade NAT (RFC 6598), also Tailscale
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
];
const NON_PUBLIC_V6 = [
  '::/128',
  '::1/128',
  // Not ::ffff:0:0/96: net.BlockList matches IPv4 addresses against IPv4-mapped subnets, so
  // in this set it would swallow every IPv4 address (and trusted, it trusts them all).
  '100::/64',
  '2001:db8::/32',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
];

const RANGES: ParsedCidr[] = [...NON_PUBLIC_V4, ...NON_PUBLIC_V6].map(parseCidr);
const NON_PUBLIC = new NetworkSet(RANGES.map((r) => r.cidr));

/** An address that can be a host on the public Internet. */
export function isPublicAddress(ip: string): boolean {
  const a = unmapIPv4(ip);
  return net.isIP(a) !== 0 && !NON_PUBLIC.has(a);
}

/** Does the network include any public Internet address (it is not inside one special-purpose range)? */
export function coversPublicSpace(cidr: string): boolean {
  const p = parseCidr(cidr);
  return !RANGES.some((r) => r.family === p.family && r.prefix <= p.prefix && new NetworkSet([r.cidr]).has(p.address));
}

/** This host's public addresses as its interfaces show them (none behind NAT). */
export function interfacePublicAddresses(ifaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string[] {
  const out = new Set<string>();
  for (const addrs of Object.values(ifaces)) {
    for (const a of addrs ?? []) {
      if (!a.internal && isPublicAddress(a.address)) out.add(unmapIPv4(a.address));
    }
  }
  // IPv4 first: it is what most receivers see and what most home set-ups have.
  return [...out].sort((x, y) => net.isIP(x) - net.isIP(y));
}

/** The 8 groups of an IPv6 address, as 4-digit hex. */
function expandIPv6(ip: string): string[] {
  let text = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1].split('.').map(Number);
    text = `${text.slice(0, -v4[1].length)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0'));
}

/** `203.0.113.5` → `5.113.0.203.in-addr.arpa`; IPv6 → the nibbles under ip6.arpa. */
export function reverseName(ipIn: string): string {
  const ip = unmapIPv4(ipIn);
  if (net.isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  return `${expandIPv6(ip).join('').split('').reverse().join('.')}.ip6.arpa`;
}
