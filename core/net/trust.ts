// How much trusting a network gives away (docs/design.md §2.2, "Trust is explicit"):
//   - loopback and private ranges (RFC 1918, ULA fc00::/7, link-local, CGNAT) are one click;
//   - a range that contains public Internet addresses needs a confirmation that says so;
//   - 0.0.0.0/0, ::/0 and anything wider than /8 (IPv4) or /32 (IPv6) is refused
//     everywhere — the dashboard, the API and the config file (core/config/load.ts).
// The sentences here are what the family reads: no regex, no JSON path.
import { coversPublicSpace } from '../doctor/addresses.ts';
import { parseCidr, type ParsedCidr } from './cidr.ts';

/** The widest prefix that may be trusted at all, per family. */
export const WIDEST_PREFIX = { ipv4: 8, ipv6: 32 } as const;

export type TrustVerdict =
  /** A click is enough. */
  | { kind: 'ok' }
  /** Contains public addresses: only with an explicit confirmation. */
  | { kind: 'confirm'; message: string }
  /** Never. */
  | { kind: 'refuse'; message: string };

/** Why `p` may never be trusted, or null. */
export function tooWideProblem(p: ParsedCidr): string | null {
  if (p.prefix === 0) {
    return p.family === 'ipv4'
      ? `${p.cidr} is the whole Internet: trusting it would let anyone send mail through Postern. Type your own network instead, for example 192.168.1.0/24`
      : `${p.cidr} is the whole IPv6 Internet: trusting it would let anyone send mail through Postern. Type your own network instead, for example fd00:1234::/64`;
  }
  const widest = WIDEST_PREFIX[p.family];
  if (p.prefix < widest) {
    const example = p.family === 'ipv4' ? '192.168.1.0/24' : 'fd00:1234::/64';
    return `${p.cidr} is too wide to trust (${p.family === 'ipv4' ? 'IPv4' : 'IPv6'} networks may be at most /${widest}): it would let a large part of the Internet send mail through Postern. Type a smaller network, for example ${example}`;
  }
  return null;
}

/** What trusting `cidr` means (throws the parser's sentence for something that is no network). */
export function trustVerdict(cidr: string): TrustVerdict {
  const p = parseCidr(cidr);
  const wide = tooWideProblem(p);
  if (wide) return { kind: 'refuse', message: wide };
  if (coversPublicSpace(p.cidr)) {
    return {
      kind: 'confirm',
      message:
        `${p.cidr} contains public Internet addresses, not only your home network: every computer in it could send mail anywhere through Postern without a password, ` +
        `and mail sent that way carries your server's name. Trust it only if you run every machine in that range (a server you rent, your office).`,
    };
  }
  return { kind: 'ok' };
}

/** A CIDR as a person typed it: the parser's complaint plus what to type instead. */
export function cidrInputProblem(input: string): string | null {
  try {
    parseCidr(input);
    return null;
  } catch (e) {
    const why = (e as Error).message.replace(/^empty network$/, 'the network is empty');
    return `${why} — type a network such as 192.168.1.0/24, or one address such as 192.168.1.20`;
  }
}
