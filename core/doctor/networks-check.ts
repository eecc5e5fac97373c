// Internal networks sanity (docs/design.md §5): everyone in an enabled network may relay,
// so none may reach into the public Internet (0.0.0.0/0, ::/0, any public range), and
// a Docker/VM bridge or VPN trusted is worth a second look.
import type { DoctorCheck } from './types.ts';
import { detectNetworks } from '../net/detect.ts';
import { Networks } from '../net/networks.ts';
import { parseCidr } from '../net/cidr.ts';
import { coversPublicSpace } from './addresses.ts';
import { combine, type DoctorContext, type Part } from './common.ts';

export function networksCheck(ctx: DoctorContext): DoctorCheck {
  const nets = new Networks(ctx.config.internalNetworks);
  // Injected interfaces (tests) come with their own systeminformation answer, or none (docs/design.md §2.2).
  nets.refreshDetected(detectNetworks(ctx.interfaces, ctx.interfaces ? (ctx.systemNet ?? null) : undefined));
  const enabled = nets.list().filter((n) => n.enabled && n.configured);
  if (!enabled.length) return combine('networks', [{ status: 'ok', detail: 'no network is trusted: only logged-in family members may send mail out' }]);
  const parts: Part[] = [];
  const name = (n: { cidr: string; label: string }) => (n.label ? `${n.cidr} ("${n.label}")` : n.cidr);
  for (const n of enabled) {
    if (parseCidr(n.cidr).prefix === 0) {
      parts.push({
        status: 'fail',
        detail: `${name(n)} is trusted: that is every ${n.cidr.includes(':') ? 'IPv6' : 'IPv4'} address, so anyone on the Internet may relay through Postern`,
        fix: `Turn off ${n.cidr} in Internal networks now.`,
      });
    } else if (coversPublicSpace(n.cidr)) {
      parts.push({
        status: 'fail',
        detail: `${name(n)} is trusted and covers public Internet addresses: anyone there may relay through Postern`,
        fix: `Turn off ${n.cidr} in Internal networks (trust only your own LAN, e.g. 192.168.1.0/24).`,
      });
    } else if (n.kind === 'container' || n.kind === 'vpn') {
      const what = n.kind === 'container' ? 'Docker/VM bridge' : 'VPN';
      parts.push({
        status: 'warn',
        detail: `${name(n)} is a ${what} and is trusted: anyone on that ${n.kind === 'container' ? 'bridge' : 'VPN'} may relay`,
        fix: `Turn off ${n.cidr} in Internal networks unless everyone on that ${what} may send mail through Postern.`,
      });
    } else {
      parts.push({ status: 'ok', detail: `${name(n)} trusted` });
    }
  }
  return combine('networks', parts);
}
