// Networks this host sits on (docs/design.md §2.2), offered to the user *disabled*: a laptop
// on café Wi-Fi must not trust the café.
//
// The addresses come from Node's os.networkInterfaces(): every address with its CIDR at
// once. systeminformation (docs/design.md §10.3) adds what Node cannot say — which
// interface carries the default route and through which gateway, and which interfaces
// are virtual — read asynchronously (never in an SMTP path: it runs programs) at start
// and when the Networks page asks, and kept here. Docker bridges (docker0, br-*, veth*),
// other virtual interfaces and VPNs (tun*, wg*, tailscale*, zt*) are never offered as
// the home network: they are listed as "container bridge" or "VPN", disabled, with why.
// Tests inject both answers (the os.networkInterfaces() shape and a SystemNetInfo).
import os from 'node:os';
import si from 'systeminformation';
import { NetworkSet, parseCidr } from './cidr.ts';

/** What systeminformation says about this host's interfaces (docs/design.md §10.3). */
export interface SystemNetInfo {
  /** The interface of the default route (si.networkInterfaceDefault), or null. */
  defaultIface: string | null;
  /** The default gateway's address (si.networkGatewayDefault), or null. */
  gateway: string | null;
  /** Interfaces systeminformation marks as virtual (si.networkInterfaces()[].virtual). */
  virtual: string[];
}

/** The part of systeminformation used here (tests pass a fake). */
export interface SystemInfoSource {
  networkInterfaces(): Promise<{ iface: string; virtual: boolean }[] | { iface: string; virtual: boolean }>;
  networkInterfaceDefault(): Promise<string>;
  networkGatewayDefault(): Promise<string>;
}

let systemInfo: SystemNetInfo | null = null;

/** The last answer of readSystemNetInfo (null before the first). */
export function lastSystemNetInfo(): SystemNetInfo | null {
  return systemInfo;
}

/** Asks systeminformation (asynchronously) and keeps the answer for detectNetworks; never throws. */
export async function readSystemNetInfo(source: SystemInfoSource = si as unknown as SystemInfoSource): Promise<SystemNetInfo> {
  const [list, def, gw] = await Promise.all([
    source.networkInterfaces().catch(() => []),
    source.networkInterfaceDefault().catch(() => ''),
    source.networkGatewayDefault().catch(() => ''),
  ]);
  const all = Array.isArray(list) ? list : [list];
  systemInfo = { defaultIface: def || null, gateway: gw || null, virtual: all.filter((i) => i.virtual).map((i) => i.iface) };
  return systemInfo;
}

export type NetworkKind = 'lan' | 'link-local' | 'container' | 'vpn' | 'loopback';

export interface DetectedNetwork {
  cidr: string;
  iface: string;
  kind: NetworkKind;
  label: string;
  /** The interface of the default route (systeminformation). */
  isDefault?: boolean;
  /** The default gateway, when it lies in this network. */
  gateway?: string | null;
  /** Why this network is not offered as the home network (container bridges, VPNs), or null. */
  notOffered?: string | null;
}

const CONTAINER = /^(docker|br-|veth|virbr|vEthernet|lxc|lxd|cni|flannel|podman|vmnet|vboxnet)/i;
const VPN = /^(tun|tap|wg|utun|ppp|ipsec|tailscale|zt|nordlynx|proton)/i;

/** The kind of a network; `virtual`: systeminformation marks the interface virtual (then a bridge unless it is a VPN). */
export function classify(iface: string, cidr: string, virtual = false): NetworkKind {
  const p = parseCidr(cidr);
  if ((p.family === 'ipv4' && p.address.startsWith('127.')) || p.cidr === '::1/128') return 'loopback';
  if ((p.family === 'ipv4' && p.address.startsWith('169.254.')) || /^fe[89ab]/i.test(p.address)) return 'link-local';
  if (VPN.test(iface)) return 'vpn';
  if (CONTAINER.test(iface) || virtual) return 'container';
  return 'lan';
}

/** Why a container bridge or VPN is never offered as the home network (the Networks page shows it). */
export function notOfferedReason(kind: NetworkKind): string | null {
  if (kind === 'container')
    return 'A container bridge (Docker or a virtual machine) on this computer, not your home network: anything running in a container could send mail.';
  if (kind === 'vpn') return 'A VPN tunnel, not your home network: every device that can reach the VPN could send mail.';
  return null;
}

const KIND_LABEL: Record<NetworkKind, string> = {
  lan: 'Local network',
  'link-local': 'Link-local (self-assigned)',
  container: 'Docker/VM bridge',
  vpn: 'VPN tunnel',
  loopback: 'This computer',
};

export function labelFor(kind: NetworkKind, iface: string): string {
  return `${KIND_LABEL[kind]} (${iface})`;
}

export function detectNetworks(
  ifaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces(),
  sys: SystemNetInfo | null = systemInfo,
): DetectedNetwork[] {
  const out = new Map<string, DetectedNetwork>();
  const virtual = new Set(sys?.virtual ?? []);
  for (const [iface, addrs] of Object.entries(ifaces)) {
    for (const a of addrs ?? []) {
      if (a.internal || !a.cidr) continue;
      let cidr: string;
      try {
        cidr = parseCidr(a.cidr).cidr;
      } catch {
        continue;
      }
      const kind = classify(iface, cidr, virtual.has(iface));
      if (kind === 'loopback' || out.has(cidr)) continue;
      const d: DetectedNetwork = { cidr, iface, kind, label: labelFor(kind, iface), notOffered: notOfferedReason(kind) };
      if (sys) {
        d.isDefault = sys.defaultIface === iface;
        d.gateway = sys.gateway && safeHas(cidr, sys.gateway) ? sys.gateway : null;
      }
      out.set(cidr, d);
    }
  }
  return [...out.values()];
}

function safeHas(cidr: string, ip: string): boolean {
  try {
    return new NetworkSet([cidr]).has(ip);
  } catch {
    return false;
  }
}
