// Words and symbols the pages share. Verdicts never rely on colour alone: each has
// an icon and a word too.
import type { EventVerdict, NetworkView, Stage } from './api.ts';

export const VERDICTS: readonly EventVerdict[] = ['accept', 'reject', 'defer', 'info'];
export const STAGES: readonly Stage[] = ['connect', 'tls', 'auth', 'mail', 'rcpt', 'data', 'queue', 'delivery', 'network', 'system'];

export const VERDICT_LABEL: Record<EventVerdict, string> = { accept: 'Accepted', reject: 'Rejected', defer: 'Deferred', info: 'Info' };

export const STAGE_LABEL: Record<Stage, string> = {
  connect: 'Connect',
  tls: 'TLS',
  auth: 'Login',
  mail: 'Sender',
  rcpt: 'Recipient',
  data: 'Message',
  queue: 'Queue',
  delivery: 'Delivery',
  network: 'Networks',
  system: 'System',
};

export const KIND_LABEL: Record<NetworkView['kind'], string> = {
  loopback: 'This computer',
  lan: 'LAN',
  vpn: 'VPN',
  container: 'Docker/VM bridge',
  'link-local': 'Link-local',
};

export const KIND_HINT: Record<NetworkView['kind'], string> = {
  loopback: 'Programs on this computer.',
  lan: 'Devices on this local network (home Wi-Fi or cable).',
  vpn: 'Every device that can reach this VPN tunnel.',
  container: 'Containers and virtual machines on this computer; anything running in them could send mail.',
  'link-local': 'Self-assigned addresses, used when a network has no router.',
};

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `14:03:07.123` in local time. */
export function clock(iso: string): string {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** `2026-11-24 14:03:07` in local time. */
export function dateTime(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export const num = (n: number) => n.toLocaleString('en-US');

/** `from → to`, empty when neither. */
export function route(from?: string, to?: string): string {
  if (!from && !to) return '';
  return `${from === undefined ? '' : from || '<>'} → ${to ?? ''}`.trim();
}
