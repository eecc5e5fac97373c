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
  container: 'Container bridge',
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

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * A time in the viewer's local time zone: `14:03` today, `Mon 24 Nov 14:03` on another
 * day of this year, `24 Nov 2025 14:03` before that.
 */
export function when(iso: string, now: Date = new Date()): string {
  const d = new Date(iso);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === now.toDateString()) return hm;
  const day = `${d.getDate()} ${MONTHS[d.getMonth()]}`;
  if (d.getFullYear() === now.getFullYear()) return `${d.toLocaleDateString('en-GB', { weekday: 'short' })} ${day} ${hm}`;
  return `${day} ${d.getFullYear()} ${hm}`;
}

/** `in 4 min`, `in 2 h`, `3 min ago`, `now` — for retries and ages. */
export function relative(iso: string, now: number = Date.now()): string {
  const ms = new Date(iso).getTime() - now;
  const abs = Math.abs(ms);
  if (abs < 45_000) return 'now';
  const n = abs < 3_600_000 ? `${Math.round(abs / 60_000)} min` : abs < 86_400_000 ? `${Math.round(abs / 3_600_000)} h` : `${Math.round(abs / 86_400_000)} d`;
  return ms > 0 ? `in ${n}` : `${n} ago`;
}

/** `1.2 MB`, `340 KB`, `512 B`. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
