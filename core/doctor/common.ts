// What every check of the setup check (docs/design.md §5) shares: the context it runs in,
// the result shape, bounded DNS lookups that turn failures into words.
import type os from 'node:os';
import type { SystemNetInfo } from '../net/detect.ts';
import type { CheckStatus, DoctorCheck } from './types.ts';
import type { Config } from '../config/schema.ts';
import type { DnsClient, RecordData, RecordType } from '../dns/client.ts';
import type { ListenerStatus } from '../smtp/listeners.ts';

export type { CheckStatus, DoctorCheck };

/** A listener the self-test can talk to (Gateway.startSelfTestListener). */
export interface SelfTestListener {
  port: number;
  close(): Promise<void>;
}

export interface DoctorContext {
  config: Config;
  /** The data directory: the DKIM keys and the generated TLS certificate live there. */
  dataDir: string;
  /** All DNS goes through this client (dns.servers, dns.timeoutMs). */
  dns: DnsClient;
  /**
   * The listeners of a running gateway, as it bound them. Absent (or null): the check
   * probes the configured ports itself (the CLI, while `postern serve` may run elsewhere).
   */
  listeners?: ListenerStatus[] | null;
  /** Starts a self-test listener with the config's policy; absent: the relay self-test is not run. */
  relaySelfTest?: () => Promise<SelfTestListener>;
  /** This host's interfaces (default os.networkInterfaces()): public address, detected bridges. */
  interfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>;
  /** systeminformation's answer for injected interfaces (default route, virtual ones; core/net/detect.ts). */
  systemNet?: SystemNetInfo | null;
  /** Extra trusted certificate authorities (PEM), besides Node's bundled roots. */
  trustedCAs?: string[];
  /** Bound for each SMTP step (connect, greeting, reply); default 5000 ms. */
  smtpTimeoutMs?: number;
}

export const TITLES = {
  listeners: 'Listeners',
  hostname: 'Hostname',
  mx: 'MX records',
  spf: 'SPF record',
  dkim: 'DKIM record',
  dmarc: 'DMARC record',
  ptr: 'Reverse DNS (PTR)',
  tls: 'TLS certificate',
  smarthost: 'Outbound delivery',
  networks: 'Internal networks',
  disk: 'Disk space',
  'relay-self-test': 'Open-relay self-test',
} as const;

export type CheckId = keyof typeof TITLES;
export const CHECK_IDS = Object.keys(TITLES) as CheckId[];

export function check(id: CheckId, status: CheckStatus, detail: string, fix = ''): DoctorCheck {
  return { id, status, title: TITLES[id], detail, fix: status === 'ok' ? '' : fix };
}

const RANK: Record<CheckStatus, number> = { ok: 0, warn: 1, fail: 2 };

export function worst(list: CheckStatus[]): CheckStatus {
  return list.reduce<CheckStatus>((a, b) => (RANK[b] > RANK[a] ? b : a), 'ok');
}

/** One finding of a check that looks at several things (domains, addresses). */
export interface Part {
  status: CheckStatus;
  detail: string;
  /** A zone line to publish (gathered into one fix). */
  record?: string;
  /** A fix sentence, when it is not a record to publish. */
  fix?: string;
}

export const DNS_FIX = 'Check that this computer can reach its DNS servers (Settings → DNS servers), then run the check again.';

/** Folds the parts into one check: the worst status, every finding, one fix. */
export function combine(id: CheckId, parts: Part[]): DoctorCheck {
  const status = worst(parts.map((p) => p.status));
  const detail = parts.map((p) => p.detail).join('; ');
  const bad = parts.filter((p) => p.status === status && status !== 'ok');
  const records = [...new Set(bad.map((p) => p.record).filter((r): r is string => !!r))];
  const fixes = [...new Set(bad.filter((p) => !p.record && p.fix).map((p) => p.fix!))];
  let fix = '';
  if (records.length) fix = `Publish ${records.length > 1 ? 'these records' : 'this record'} at your DNS provider: ${records.join(' ; ')}`;
  if (fixes.length) fix = [fix, ...fixes].filter(Boolean).join(' ');
  return check(id, status, detail, fix);
}

export type Lookup<T> = { ok: true; value: T } | { ok: false; missing: true; nxdomain: boolean } | { ok: false; missing: false; reason: string };

function servers(dns: DnsClient): string {
  return dns.servers.map((s) => (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`)).join(', ');
}

/** Why a lookup failed, in words (the timeout and the servers asked included). */
export function dnsReason(dns: DnsClient, type: string, name: string, e: unknown): string {
  const code = (e as { code?: string }).code;
  switch (code) {
    case 'ETIMEOUT':
      return `DNS did not answer (${type} ${name}: no reply from ${servers(dns)} within ${dns.timeoutMs} ms)`;
    case 'ECONNREFUSED':
      return `DNS refused the connection (${type} ${name}, ${servers(dns)})`;
    case 'ESERVFAIL':
    case 'EREFUSED':
      return `DNS failed to answer (${type} ${name}: ${(e as { detail?: string }).detail || code})`;
    default:
      return `DNS lookup failed (${type} ${name}: ${code ?? (e as Error).message})`;
  }
}

/** A lookup that never throws: records, "there are none", or why DNS did not say. */
export async function lookup<T extends RecordType>(dns: DnsClient, name: string, type: T): Promise<Lookup<RecordData[T]>> {
  try {
    return { ok: true, value: (await dns.resolve(name, type)) as RecordData[T] };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENODATA' || code === 'ENOTFOUND') return { ok: false, missing: true, nxdomain: code === 'ENOTFOUND' };
    return { ok: false, missing: false, reason: dnsReason(dns, type, name, e) };
  }
}

/** TXT records as whole strings (the strings of one record joined, RFC 7208 §3.3). */
export async function lookupTxt(dns: DnsClient, name: string): Promise<Lookup<string[]>> {
  const r = await lookup(dns, name, 'TXT');
  return r.ok ? { ok: true, value: r.value.map((strings) => strings.join('')) } : r;
}

/** Rejects after `ms` with `message`; the timer never keeps the process alive. */
export function within<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

export function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}
