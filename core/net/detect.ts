// Networks this host sits on (docs/design.md §2.2), offered to the user *disabled*: a laptop
// on café Wi-Fi must not trust the café.
//
// Node's os.networkInterfaces() is used rather than systeminformation: it returns
// every address with its CIDR at once, while systeminformation keeps one address
// per interface and runs execSync (blocking the SMTP server) to find them
// (docs/design.md §10.3).
import os from 'node:os';
import { parseCidr } from './cidr.ts';

export type NetworkKind = 'lan' | 'link-local' | 'container' | 'vpn' | 'loopback';

export interface DetectedNetwork {
  cidr: string;
  iface: string;
  kind: NetworkKind;
  label: string;
}

const CONTAINER = /^(docker|br-|veth|virbr|vEthernet|lxc|lxd|cni|flannel|podman|vmnet|vboxnet)/i;
const VPN = /^(tun|tap|wg|utun|ppp|ipsec|tailscale|zt|nordlynx|proton)/i;

export function classify(iface: string, cidr: string): NetworkKind {
  const p = parseCidr(cidr);
  if ((p.family === 'ipv4' && p.address.startsWith('127.')) || p.cidr === '::1/128') return 'loopback';
  if ((p.family === 'ipv4' && p.address.startsWith('169.254.')) || /^fe[89ab]/i.test(p.address)) return 'link-local';
  if (CONTAINER.test(iface)) return 'container';
  if (VPN.test(iface)) return 'vpn';
  return 'lan';
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

export function detectNetworks(ifaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): DetectedNetwork[] {
  const out = new Map<string, DetectedNetwork>();
  for (const [iface, addrs] of Object.entries(ifaces)) {
    for (const a of addrs ?? []) {
      if (a.internal || !a.cidr) continue;
      let cidr: string;
      try {
        cidr = parseCidr(a.cidr).cidr;
      } catch {
        continue;
      }
      const kind = classify(iface, cidr);
      if (kind === 'loopback' || out.has(cidr)) continue;
      out.set(cidr, { cidr, iface, kind, label: labelFor(kind, iface) });
    }
  }
  return [...out.values()];
}
