// The Settings pages and the guided first run, on the core side (docs/design.md §7.1, §8.2):
// what the pages show (secrets only as "set"), one change applied through the gateway's
// updateConfig (validated by the file's rules, written atomically, applied live — the
// listeners rebound and the certificate reloaded when those change), the smarthost
// connection test, and the DNS records to publish, each checked live.
import net from 'node:net';
import { ApiError, type DnsRecordRow, type DnsRecords, type EditableSettings, type SettingsChange, type SmarthostTest } from './api.ts';
import type { Config } from './config/schema.ts';
import { ConfigError } from './config/load.ts';
import type { Gateway } from './gateway.ts';
import { smarthostCheck } from './doctor/smarthost.ts';
import { lookup, lookupTxt } from './doctor/common.ts';
import { publicAddresses } from './doctor/dns-checks.ts';
import { defaultChoices, recordFor } from './spf/record.ts';
import { dkimRecord } from './dkim/keys.ts';
import { unmapIPv4 } from './net/cidr.ts';

export function editableSettings(c: Config): EditableSettings {
  const sh = c.outbound.smarthost;
  return {
    hostname: c.hostname,
    publicAddress: c.publicAddress,
    domains: [...c.domains],
    sharedAddresses: c.sharedAddresses.map((s) => ({ address: s.address, accounts: [...s.accounts] })),
    trustedProxies: [...c.trustedProxies],
    outbound: {
      mode: c.outbound.mode,
      host: sh.host,
      port: sh.port,
      secure: sh.secure,
      requireTLS: sh.requireTLS,
      user: sh.user,
      passwordSet: sh.password !== '',
    },
    listeners: c.listeners.map((l) => ({ port: l.port, host: l.host, mode: l.mode, ...(l.fallbackPort ? { fallbackPort: l.fallbackPort } : {}) })),
    spf: { enabled: c.spf.enabled, policy: c.spf.policy },
    dkim: { selector: c.dkim.selector },
    limits: {
      maxMessageBytes: c.limits.maxMessageBytes,
      maxRecipients: c.limits.maxRecipients,
      maxClients: c.limits.maxClients,
      maxConnectionsPerClient: c.limits.maxConnectionsPerClient,
      idleTimeoutSeconds: c.limits.idleTimeoutSeconds,
      minFreeBytes: c.limits.minFreeBytes,
      maxHeaderLines: c.limits.maxHeaderLines,
      maxHeaderBytes: c.limits.maxHeaderBytes,
      maxSubmissionClients: c.limits.maxSubmissionClients,
      reservedInternalSlots: c.limits.reservedInternalSlots,
      maxConnectionsPerNetwork: c.limits.maxConnectionsPerNetwork,
      commandSeconds: c.limits.commandSeconds,
      sessionSeconds: c.limits.sessionSeconds,
      minDataRate: c.limits.minDataRate,
      dataRateWindowSeconds: c.limits.dataRateWindowSeconds,
      maxUnknownRecipients: c.limits.maxUnknownRecipients,
    },
    tls: { certFile: c.tls.certFile, keyFile: c.tls.keyFile },
    acme: { enabled: c.acme.enabled, directory: c.acme.directory, email: c.acme.email, challenge: c.acme.challenge },
    auth: { backend: c.auth.backend, saslauthd: { socket: c.auth.saslauthd.socket, service: c.auth.saslauthd.service } },
    dns: { servers: [...c.dns.servers], timeoutMs: c.dns.timeoutMs },
    dashboard: { host: c.dashboard.host, port: c.dashboard.port },
    history: { retentionDays: c.history.retentionDays },
    inbound: {
      dmarc: { enforce: c.dmarc.enforce },
      dnsbl: {
        zones: c.dnsbl.zones.map((z) => ({ zone: z.zone, weight: z.weight })),
        threshold: c.dnsbl.threshold,
        allow: [...c.dnsbl.allow],
        allowAddresses: [...c.dnsbl.allowAddresses],
      },
      rspamd: { enabled: c.rspamd.enabled, url: c.rspamd.url, timeoutMs: c.rspamd.timeoutMs, onUnreachable: c.rspamd.onUnreachable },
      rateLimits: { ...c.rateLimits },
      greylist: { enabled: c.greylist.enabled, delayMinutes: c.greylist.delayMinutes, expireDays: c.greylist.expireDays },
    },
  };
}

type Raw = Record<string, unknown>;
const group = (raw: Raw, key: string): Raw => {
  const v = raw[key];
  if (v && typeof v === 'object' && !Array.isArray(v)) return v as Raw;
  const fresh: Raw = {};
  raw[key] = fresh;
  return fresh;
};

/** What changed, in words for the `config` event — never a secret (docs/design.md §4.1). */
export function describeChange(ch: SettingsChange): string {
  const parts: string[] = [];
  if (ch.hostname !== undefined) parts.push(`host name ${ch.hostname}`);
  if (ch.publicAddress !== undefined) parts.push(`public address ${ch.publicAddress ?? 'none'}`);
  if (ch.domains) parts.push(`domains ${ch.domains.join(', ') || 'none'}`);
  if (ch.sharedAddresses) parts.push(`shared addresses ${ch.sharedAddresses.map((s) => `${s.address} → ${s.accounts.join(', ')}`).join('; ') || 'none'}`);
  if (ch.trustedProxies) parts.push(`trusted proxies ${ch.trustedProxies.join(', ') || 'none'}`);
  if (ch.outbound) {
    const o = ch.outbound;
    const bits = [
      o.mode === 'mx' ? 'direct delivery' : o.mode === 'smarthost' ? 'through a smarthost' : '',
      o.host !== undefined ? `host ${o.host || '(none)'}` : '',
      o.port !== undefined ? `port ${o.port}` : '',
    ]
      .concat(
        o.secure !== undefined ? [`TLS from the start ${o.secure ? 'on' : 'off'}`] : [],
        o.requireTLS !== undefined ? [`STARTTLS required ${o.requireTLS ? 'yes' : 'no'}`] : [],
      )
      .concat(
        o.user !== undefined ? [`login ${o.user || '(none)'}`] : [],
        o.password !== undefined ? [o.password ? 'password changed' : 'password removed'] : [],
      );
    parts.push(`outgoing mail: ${bits.filter(Boolean).join(', ')}`);
  }
  if (ch.listeners) parts.push(`listeners ${ch.listeners.map((l) => `${l.mode} ${l.host}:${l.port}`).join(', ')}`);
  if (ch.spf) parts.push(`SPF ${ch.spf.enabled === false ? 'off' : 'on'}${ch.spf.policy ? `, ${ch.spf.policy}` : ''}`);
  if (ch.dkim) parts.push(`DKIM selector ${ch.dkim.selector}`);
  if (ch.limits)
    parts.push(
      `limits ${Object.entries(ch.limits)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  if (ch.tls) parts.push(ch.tls.certFile ? `certificate ${ch.tls.certFile}` : 'certificate: the generated one');
  if (ch.acme) {
    const a = ch.acme;
    const bits = [
      a.enabled !== undefined ? (a.enabled ? 'on' : 'off') : '',
      a.directory ? `directory ${a.directory}` : '',
      a.email !== undefined ? `contact ${a.email || '(none)'}` : '',
      a.challenge ? `challenge ${a.challenge}` : '',
    ];
    parts.push(`built-in certificates: ${bits.filter(Boolean).join(', ')}`);
  }
  if (ch.auth)
    parts.push(
      `logins checked by ${ch.auth.backend ?? 'the same'}${ch.auth.saslauthd ? ` (saslauthd ${[ch.auth.saslauthd.socket, ch.auth.saslauthd.service].filter(Boolean).join(', ')})` : ''}`,
    );
  if (ch.dns)
    parts.push(
      `DNS ${ch.dns.servers ? `servers ${ch.dns.servers.join(', ') || 'the system’s'}` : ''}${ch.dns.timeoutMs !== undefined ? ` time-out ${ch.dns.timeoutMs} ms` : ''}`.trim(),
    );
  if (ch.dashboard)
    parts.push(`dashboard address ${ch.dashboard.host ?? ''}${ch.dashboard.port !== undefined ? `:${ch.dashboard.port}` : ''} (from the next start)`);
  if (ch.history) parts.push(`history kept ${ch.history.retentionDays} days`);
  if (ch.dmarc) parts.push(`DMARC ${ch.dmarc.enforce ? 'enforced' : 'report only'}`);
  if (ch.dnsbl) {
    const d = ch.dnsbl;
    const bits = [
      d.zones ? `lists ${d.zones.map((z) => `${z.zone} (weight ${z.weight})`).join(', ') || 'none'}` : '',
      d.threshold !== undefined ? `threshold ${d.threshold}` : '',
      d.allow ? `allow-lists ${d.allow.join(', ') || 'none'}` : '',
      d.allowAddresses ? `trusted addresses ${d.allowAddresses.join(', ') || 'none'}` : '',
    ];
    parts.push(`DNS blocklists: ${bits.filter(Boolean).join(', ')}`);
  }
  if (ch.rspamd) {
    const r = ch.rspamd;
    const bits = [
      r.enabled !== undefined ? (r.enabled ? 'on' : 'off') : '',
      r.url ? `at ${r.url}` : '',
      r.timeoutMs !== undefined ? `time-out ${r.timeoutMs} ms` : '',
      r.onUnreachable ? `when unreachable ${r.onUnreachable}` : '',
    ];
    parts.push(`spam filter (rspamd): ${bits.filter(Boolean).join(', ')}`);
  }
  if (ch.rateLimits)
    parts.push(
      `rate limits ${Object.entries(ch.rateLimits)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  if (ch.greylist) {
    const g = ch.greylist;
    const bits = [
      g.enabled !== undefined ? (g.enabled ? 'on' : 'off') : '',
      g.delayMinutes !== undefined ? `delay ${g.delayMinutes} min` : '',
      g.expireDays !== undefined ? `forgotten after ${g.expireDays} days` : '',
    ];
    parts.push(`greylisting ${bits.filter(Boolean).join(', ')}`);
  }
  return `settings changed: ${parts.join('; ')}`;
}

/** The change applied to the stored form (only the keys given; the rest stays as written). */
export function applyChange(raw: Raw, ch: SettingsChange): void {
  if (ch.hostname !== undefined) raw.hostname = ch.hostname.trim();
  if (ch.publicAddress !== undefined) raw.publicAddress = ch.publicAddress?.trim() || null;
  if (ch.domains) raw.domains = ch.domains.map((d) => d.trim()).filter(Boolean);
  if (ch.sharedAddresses) raw.sharedAddresses = ch.sharedAddresses.map((s) => ({ address: s.address.trim(), accounts: s.accounts }));
  if (ch.trustedProxies) raw.trustedProxies = ch.trustedProxies.map((p) => p.trim()).filter(Boolean);
  if (ch.outbound) {
    const out = group(raw, 'outbound');
    const { mode, password, ...sh } = ch.outbound;
    if (mode) out.mode = mode;
    const smart = group(out, 'smarthost');
    for (const [k, v] of Object.entries(sh)) if (v !== undefined) smart[k] = typeof v === 'string' ? v.trim() : v;
    if (password !== undefined) smart.password = password;
  }
  if (ch.listeners)
    raw.listeners = ch.listeners.map((l) => ({ port: l.port, host: l.host.trim(), mode: l.mode, ...(l.fallbackPort ? { fallbackPort: l.fallbackPort } : {}) }));
  if (ch.spf) Object.assign(group(raw, 'spf'), ch.spf);
  if (ch.dkim) group(raw, 'dkim').selector = ch.dkim.selector.trim();
  if (ch.limits) Object.assign(group(raw, 'limits'), ch.limits);
  if (ch.tls) {
    const tls = group(raw, 'tls');
    tls.certFile = ch.tls.certFile?.trim() || null;
    tls.keyFile = ch.tls.keyFile?.trim() || null;
  }
  if (ch.acme) {
    const acme = group(raw, 'acme');
    for (const [k, v] of Object.entries(ch.acme)) if (v !== undefined) acme[k] = typeof v === 'string' ? v.trim() : v;
  }
  if (ch.auth) {
    const auth = group(raw, 'auth');
    if (ch.auth.backend) auth.backend = ch.auth.backend;
    if (ch.auth.saslauthd) {
      const sasl = group(auth, 'saslauthd');
      for (const [k, v] of Object.entries(ch.auth.saslauthd)) if (v !== undefined) sasl[k] = v.trim();
    }
  }
  if (ch.dns) {
    const dns = group(raw, 'dns');
    if (ch.dns.servers) dns.servers = ch.dns.servers.map((x) => x.trim()).filter(Boolean);
    if (ch.dns.timeoutMs !== undefined) dns.timeoutMs = ch.dns.timeoutMs;
  }
  if (ch.dashboard) {
    const d = group(raw, 'dashboard');
    if (ch.dashboard.host !== undefined) d.host = ch.dashboard.host.trim();
    if (ch.dashboard.port !== undefined) d.port = ch.dashboard.port;
  }
  if (ch.history?.retentionDays !== undefined) group(raw, 'history').retentionDays = ch.history.retentionDays;
  // Inbound protection (docs/design.md §2.10–§2.14): the keys given, lists trimmed.
  if (ch.dmarc) group(raw, 'dmarc').enforce = ch.dmarc.enforce;
  if (ch.dnsbl) {
    const d = group(raw, 'dnsbl');
    if (ch.dnsbl.zones) d.zones = ch.dnsbl.zones.map((z) => ({ zone: z.zone.trim(), weight: z.weight })).filter((z) => z.zone);
    if (ch.dnsbl.threshold !== undefined) d.threshold = ch.dnsbl.threshold;
    if (ch.dnsbl.allow) d.allow = ch.dnsbl.allow.map((x) => x.trim()).filter(Boolean);
    if (ch.dnsbl.allowAddresses) d.allowAddresses = ch.dnsbl.allowAddresses.map((x) => x.trim()).filter(Boolean);
  }
  if (ch.rspamd) {
    const r = group(raw, 'rspamd');
    for (const [k, v] of Object.entries(ch.rspamd)) if (v !== undefined) r[k] = typeof v === 'string' ? v.trim() : v;
  }
  if (ch.rateLimits) Object.assign(group(raw, 'rateLimits'), ch.rateLimits);
  if (ch.greylist) {
    const g = group(raw, 'greylist');
    for (const [k, v] of Object.entries(ch.greylist)) if (v !== undefined) g[k] = v;
  }
}

/**
 * Saves one change through the gateway (docs/design.md §7.1): refused whole in plain words
 * when the file's rules say no, else written and applied; then the listeners are
 * rebound and the certificate reloaded when those changed. The smarthost password is
 * stored in the config file (mode 0600, docs/design.md §8.2) and never read back.
 */
export async function saveSettings(gw: Gateway, ch: SettingsChange): Promise<void> {
  const before = gw.config();
  try {
    gw.updateConfig((raw) => applyChange(raw, ch), describeChange(ch));
  } catch (e) {
    if (e instanceof ConfigError) throw new ApiError('invalid-input', `not saved: ${e.plain}`);
    throw e;
  }
  try {
    await gw.applyRunning(before, gw.config());
  } catch (e) {
    console.error(`postern: certificate not loaded: ${(e as Error).message}`);
    throw new ApiError(
      'invalid-input',
      'saved, but the certificate could not be loaded, so the old one is still served: check that both files are readable PEM files (the certificate with its chain, and its private key). The log has the details.',
    );
  }
}

/** The smarthost check of the setup check (core/doctor/smarthost.ts) with the page's values over the saved ones. */
export async function testSmarthost(gw: Gateway, o: SettingsChange['outbound'] & object): Promise<SmarthostTest> {
  const cfg = structuredClone(gw.config());
  const sh = cfg.outbound.smarthost;
  cfg.outbound.mode = 'smarthost';
  if (o.host !== undefined) sh.host = o.host.trim();
  if (o.port !== undefined) sh.port = o.port;
  if (o.secure !== undefined) sh.secure = o.secure;
  if (o.requireTLS !== undefined) sh.requireTLS = o.requireTLS;
  if (o.user !== undefined) sh.user = o.user.trim();
  if (o.password !== undefined && o.password !== '') sh.password = o.password;
  if (!sh.host)
    return {
      ok: false,
      status: 'fail',
      detail: 'no smarthost name is filled in',
      fix: 'Type the host name your mail provider gives for sending (for example smtp.example.com).',
    };
  const c = await smarthostCheck({ config: cfg, dataDir: gw.dataDir, dns: gw.live.dns, smtpTimeoutMs: 5000 });
  return { ok: c.status !== 'fail', status: c.status, detail: c.detail, fix: c.fix };
}

const txtValue = (s: string) => s.replace(/\s+/g, ' ').trim();

/**
 * MX, A/AAAA, SPF, DKIM and DMARC for every domain (docs/design.md §7.1 dnsRecords), each
 * asked of DNS through the gateway's DNS settings: published, not yet, or different.
 */
export async function dnsRecords(gw: Gateway): Promise<DnsRecords> {
  const cfg = gw.config();
  const dns = gw.live.dns;
  const host = cfg.hostname;
  const pub = publicAddresses({ config: cfg, dataDir: gw.dataDir, dns }).addresses.map(unmapIPv4);
  const rows: Promise<DnsRecordRow>[] = [];
  const row = async (r: Omit<DnsRecordRow, 'state' | 'found'>, ask: () => Promise<{ state: DnsRecordRow['state']; found: string[] }>) => ({
    ...r,
    ...(await ask()),
  });
  const txtRow = (name: string, value: string, purpose: string, match: RegExp, same: (found: string) => boolean) =>
    row({ name, type: 'TXT', value, purpose }, async () => {
      const r = await lookupTxt(dns, name);
      if (!r.ok) return r.missing ? { state: 'missing', found: [] } : { state: 'unknown', found: [r.reason] };
      const relevant = r.value.filter((v) => match.test(v.trim()));
      if (!relevant.length) return { state: 'missing', found: [] };
      return relevant.some(same) ? { state: 'published', found: relevant } : { state: 'different', found: relevant };
    });

  // This server's name first: every domain's MX points at it.
  const ip4 = pub.filter((a) => net.isIPv4(a));
  const ip6 = pub.filter((a) => net.isIPv6(a));
  const addressRow = (type: 'A' | 'AAAA', value: string | null) =>
    row({ name: host, type, value, purpose: `this server's address, so that ${host} can be found` }, async () => {
      const r = await lookup(dns, host, type);
      if (!r.ok) return r.missing ? { state: 'missing', found: [] } : { state: 'unknown', found: [r.reason] };
      if (!value) return { state: 'published', found: r.value };
      return r.value.includes(value) ? { state: 'published', found: r.value } : { state: 'different', found: r.value };
    });
  if (ip4.length || !ip6.length) rows.push(addressRow('A', ip4[0] ?? null));
  if (ip6.length) rows.push(addressRow('AAAA', ip6[0]));

  for (const domain of cfg.domains) {
    rows.push(
      row({ name: domain, type: 'MX', value: `10 ${host}.`, purpose: `mail for @${domain} comes to this server` }, async () => {
        const r = await lookup(dns, domain, 'MX');
        if (!r.ok) return r.missing ? { state: 'missing', found: [] } : { state: 'unknown', found: [r.reason] };
        const found = r.value.map((m) => `${m.priority} ${m.exchange.replace(/\.$/, '')}.`);
        return r.value.some((m) => m.exchange.replace(/\.$/, '').toLowerCase() === host) ? { state: 'published', found } : { state: 'different', found };
      }),
    );
    const spf = recordFor(defaultChoices(domain, pub));
    rows.push(txtRow(domain, spf, `SPF: which servers may send mail from @${domain}`, /^v=spf1( |$)/i, (f) => txtValue(f).toLowerCase() === spf.toLowerCase()));
    let dkim: string | null = null;
    try {
      dkim = dkimRecord(gw.dkim.get(domain, cfg.dkim.selector));
    } catch {
      // not a domain a key can be made for (the file's rules make this rare)
    }
    if (dkim) {
      const p = /p=([A-Za-z0-9+/=]+)/.exec(dkim)?.[1] ?? '';
      rows.push(
        txtRow(
          `${cfg.dkim.selector}._domainkey.${domain}`,
          dkim,
          `DKIM: the key Postern signs mail from @${domain} with`,
          /(^|;)\s*(v\s*=\s*DKIM1|p\s*=)/i,
          (f) => f.replace(/\s+/g, '').includes(`p=${p}`),
        ),
      );
    }
    const dmarc = `v=DMARC1; p=none; rua=mailto:postmaster@${domain}`;
    rows.push(txtRow(`_dmarc.${domain}`, dmarc, 'DMARC: what receivers do with mail that fails SPF and DKIM', /^v=DMARC1\s*(;|$)/i, () => true));
  }
  return { domains: [...cfg.domains], hostname: host, records: await Promise.all(rows), checkedAt: new Date().toISOString() };
}
