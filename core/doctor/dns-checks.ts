// The DNS part of the setup check (docs/design.md §5): hostname, MX, SPF, DKIM, DMARC and
// reverse DNS. Records are compared with what Postern itself would publish — the SPF
// helper's default record, the DKIM key outbound mail is signed with — so a fix is
// always the exact zone line to paste.
import net from 'node:net';
import type { DoctorCheck } from './types.ts';
import { unmapIPv4 } from '../net/cidr.ts';
import { checkPublished, defaultChoices, recordFor, zoneLine } from '../spf/record.ts';
import type { SpfCheckResult, SpfChoices } from '../spf/record-types.ts';
import { DkimKeys, dkimZoneLine } from '../dkim/keys.ts';
import { interfacePublicAddresses, isPublicAddress, reverseName } from './addresses.ts';
import { check, combine, DNS_FIX, lookup, lookupTxt, sameName, type DoctorContext, type Part } from './common.ts';

// ---- public addresses ---------------------------------------------------------------

export interface PublicAddresses {
  addresses: string[];
  /** Where they came from, for details. */
  source: 'config' | 'interfaces' | 'none';
}

/** `publicAddress` from the config, else the public addresses on this host's interfaces; never a guess. */
export function publicAddresses(ctx: DoctorContext): PublicAddresses {
  if (ctx.config.publicAddress) return { addresses: [unmapIPv4(ctx.config.publicAddress)], source: 'config' };
  const found = interfacePublicAddresses(ctx.interfaces);
  return { addresses: found, source: found.length ? 'interfaces' : 'none' };
}

const NO_PUBLIC_FIX =
  "Type this server's Internet address under Settings → This server → Public IP address (your router shows it as its WAN address), then run the check again.";

function addressRecord(host: string, ip: string | undefined): string {
  if (!ip) return `${host}. A <this server's public IPv4 address>`;
  return `${host}. ${net.isIPv6(ip) ? 'AAAA' : 'A'} ${ip}`;
}

function suggestedHostname(ctx: DoctorContext): string {
  return ctx.config.domains[0] ? `mx.${ctx.config.domains[0]}` : 'mx.your-domain.example';
}

// ---- hostname --------------------------------------------------------------------------

export async function hostnameCheck(ctx: DoctorContext, pub: PublicAddresses): Promise<DoctorCheck> {
  const host = ctx.config.hostname;
  if (host === 'localhost' || !host.includes('.')) {
    return check(
      'hostname',
      'fail',
      `the hostname is "${host}", which the Internet cannot find`,
      `Type this server's public name under Settings → This server → Server name, for example ${suggestedHostname(ctx)}, and publish an A record for it.`,
    );
  }
  const [a, aaaa] = await Promise.all([lookup(ctx.dns, host, 'A'), lookup(ctx.dns, host, 'AAAA')]);
  const v4 = a.ok ? a.value : [];
  const v6 = aaaa.ok ? aaaa.value : [];
  const failed = [a, aaaa].find((r) => !r.ok && !r.missing);
  const record = addressRecord(host, pub.addresses[0]);
  if (!v4.length && !v6.length) {
    if (failed && !failed.ok && !failed.missing) return check('hostname', 'warn', `could not check ${host}: ${failed.reason}`, DNS_FIX);
    return combine('hostname', [{ status: 'fail', detail: `${host} has no A or AAAA record`, record }]);
  }
  const found = [...v4, ...v6];
  // Compared per address family: a host may know only its IPv6 while the name has only IPv4.
  const ours4 = pub.addresses.filter((x) => net.isIPv4(x));
  const ours6 = pub.addresses.filter((x) => net.isIPv6(x));
  const mismatch = (ours: string[], theirs: string[]) => ours.length > 0 && theirs.length > 0 && !ours.some((o) => theirs.includes(o));
  if (mismatch(ours4, v4) || mismatch(ours6, v6)) {
    const ip = mismatch(ours4, v4) ? ours4[0] : ours6[0];
    return combine('hostname', [
      {
        status: 'fail',
        detail: `${host} resolves to ${found.join(', ')}, not to this server's public address ${pub.addresses.join(', ')}`,
        record: addressRecord(host, ip),
      },
    ]);
  }
  const compared = pub.addresses.some((x) => found.includes(x));
  return check(
    'hostname',
    'ok',
    `${host} resolves to ${found.join(', ')}${compared ? ", this server's public address" : pub.source === 'none' ? ' (no public address known to compare with)' : ''}`,
  );
}

// ---- MX --------------------------------------------------------------------------------------

function noDomains(id: 'mx' | 'spf' | 'dkim' | 'dmarc'): DoctorCheck {
  return check(id, 'warn', 'no local domains configured', 'Add your domain under Settings → Domains, for example doe-family.com.');
}

async function mxFor(ctx: DoctorContext, domain: string): Promise<Part> {
  const host = ctx.config.hostname;
  const record = `${domain}. MX 10 ${host}.`;
  const r = await lookup(ctx.dns, domain, 'MX');
  if (!r.ok && !r.missing) return { status: 'warn', detail: `could not check ${domain}: ${r.reason}`, fix: DNS_FIX };
  if (!r.ok) return { status: 'fail', detail: r.nxdomain ? `${domain} does not exist in DNS` : `${domain} has no MX record`, record };
  const mx = [...r.value].sort((x, y) => x.priority - y.priority);
  if (mx.length === 1 && (mx[0].exchange === '' || mx[0].exchange === '.')) {
    return { status: 'fail', detail: `${domain} publishes a null MX: it accepts no mail at all`, record };
  }
  const list = mx.map((m) => `MX ${m.priority} ${m.exchange.replace(/\.$/, '')}`).join(', ');
  if (mx.some((m) => sameName(m.exchange, host))) return { status: 'ok', detail: `${domain}: ${list}` };
  const others = mx.map((m) => m.exchange.replace(/\.$/, '')).join(', ');
  return { status: 'fail', detail: `${domain}'s MX points at ${others}, not at ${host}`, record };
}

export async function mxCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  if (!ctx.config.domains.length) return noDomains('mx');
  return combine('mx', await Promise.all(ctx.config.domains.map((d) => mxFor(ctx, d))));
}

// ---- SPF ---------------------------------------------------------------------------------------

/** The smarthost's public addresses (an IP literal, or its A/AAAA records); none if unknown. */
export async function smarthostAddresses(ctx: DoctorContext): Promise<string[]> {
  const host = ctx.config.outbound.smarthost.host;
  if (ctx.config.outbound.mode !== 'smarthost' || !host) return [];
  if (net.isIP(host)) return isPublicAddress(host) ? [unmapIPv4(host)] : [];
  const [a, aaaa] = await Promise.all([lookup(ctx.dns, host, 'A'), lookup(ctx.dns, host, 'AAAA')]);
  return [...(a.ok ? a.value : []), ...(aaaa.ok ? aaaa.value : [])].filter(isPublicAddress);
}

const PROVIDER_INCLUDE = 'include:<SPF domain of your smarthost provider>';

async function evaluateAll(domain: string, ips: string[], ctx: DoctorContext): Promise<{ ip: string; result: string; explanation: string }[]> {
  const o = { resolver: ctx.dns.resolver, hostname: ctx.config.hostname };
  return Promise.all(
    ips.map(async (ip) => {
      try {
        const r = await checkPublished(domain, { ip }, o);
        return { ip, result: r.evaluation?.result ?? 'temperror', explanation: r.evaluation?.explanation ?? r.error ?? '' };
      } catch (e) {
        return { ip, result: 'temperror', explanation: (e as Error).message };
      }
    }),
  );
}

async function spfFor(ctx: DoctorContext, domain: string, pub: PublicAddresses, smarthostIps: string[]): Promise<Part> {
  const cfg = ctx.config;
  const choices: SpfChoices = defaultChoices(domain, pub.addresses);
  const expected = recordFor(choices);
  const record = zoneLine(domain, expected);
  const txt = await lookupTxt(ctx.dns, domain);
  if (!txt.ok && !txt.missing) return { status: 'warn', detail: `could not check ${domain}: ${txt.reason}`, fix: DNS_FIX };
  const published = txt.ok ? txt.value.filter((r) => /^v=spf1( |$)/i.test(r)) : [];
  if (!published.length) return { status: 'fail', detail: `${domain} publishes no SPF record`, record };

  let r: SpfCheckResult;
  try {
    r = await checkPublished(domain, { expected: choices }, { resolver: ctx.dns.resolver, hostname: cfg.hostname });
  } catch (e) {
    return { status: 'warn', detail: `could not evaluate the SPF record of ${domain}: ${(e as Error).message}`, fix: DNS_FIX };
  }
  const v = r.validation;
  if (!v) return { status: 'warn', detail: `could not check ${domain}: ${r.error ?? 'no answer'}`, fix: DNS_FIX };
  const errors = v.problems.filter((p) => p.severity === 'error').map((p) => p.message);
  const warnings = v.problems.filter((p) => p.severity === 'warning').map((p) => p.message);
  const shown = published.length > 1 ? published.map((p) => `"${p}"`).join(' and ') : `"${published[0]}"`;
  if (!v.valid) return { status: 'fail', detail: `${domain}'s SPF record ${shown} is not valid: ${errors.join('; ')}`, record };

  const smarthost = cfg.outbound.smarthost.host;
  const viaSmarthost = cfg.outbound.mode === 'smarthost' && !!smarthost;
  const differs = r.matchesExpected === false ? ` (Postern would publish "${expected}")` : '';
  const notes = warnings.length ? `; warnings: ${warnings.join('; ')}` : '';
  const okOrWarn = (detail: string): Part =>
    warnings.length ? { status: 'warn', detail: detail + notes, record } : { status: 'ok', detail: detail + differs };

  if (viaSmarthost && smarthostIps.length) {
    const evals = await evaluateAll(domain, smarthostIps, ctx);
    const temp = evals.find((e) => e.result === 'temperror');
    if (temp) return { status: 'warn', detail: `could not evaluate ${domain}'s SPF record for ${temp.ip}: ${temp.explanation}`, fix: DNS_FIX };
    const bad = evals.filter((e) => e.result !== 'pass');
    if (!bad.length) return okOrWarn(`${domain}: "${published[0]}" covers the smarthost ${smarthost} (${smarthostIps.join(', ')})`);
    const withInclude = expected.replace(/ ([-~]all)$/, ` +${PROVIDER_INCLUDE} $1`);
    return {
      status: 'fail',
      detail: `${domain}: "${published[0]}" does not cover the smarthost ${smarthost} (${bad.map((b) => `${b.ip}: ${b.result}`).join(', ')}): mail sent through it fails SPF`,
      fix: `Publish ${zoneLine(domain, withInclude)} with the include: your smarthost provider documents.`,
    };
  }
  if (!pub.addresses.length) {
    return {
      status: 'warn',
      detail: `${domain}: "${published[0]}" is valid, but no public address of this server is known to test it with${viaSmarthost ? `; make sure it includes your smarthost provider's record (${smarthost})` : ''}`,
      fix: NO_PUBLIC_FIX,
    };
  }
  const evals = await evaluateAll(domain, pub.addresses, ctx);
  const temp = evals.find((e) => e.result === 'temperror');
  if (temp) return { status: 'warn', detail: `could not evaluate ${domain}'s SPF record for ${temp.ip}: ${temp.explanation}`, fix: DNS_FIX };
  const bad = evals.filter((e) => e.result !== 'pass');
  if (bad.length) {
    return { status: 'fail', detail: `${domain}: "${published[0]}" does not cover this server (${bad.map((b) => `${b.ip}: ${b.result}`).join(', ')})`, record };
  }
  const smarthostNote = viaSmarthost
    ? `; mail leaves through the smarthost ${smarthost}, whose sending addresses could not be checked from here: the record needs your provider's include: too`
    : '';
  return okOrWarn(`${domain}: "${published[0]}" covers this server (${pub.addresses.join(', ')})${smarthostNote}`);
}

export async function spfCheck(ctx: DoctorContext, pub: PublicAddresses): Promise<DoctorCheck> {
  if (!ctx.config.domains.length) return noDomains('spf');
  const smarthostIps = await smarthostAddresses(ctx);
  return combine('spf', await Promise.all(ctx.config.domains.map((d) => spfFor(ctx, d, pub, smarthostIps))));
}

// ---- DKIM --------------------------------------------------------------------------------------

function dkimTags(record: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of record.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return tags;
}

const tail = (p: string) => (p.length > 12 ? `…${p.slice(-12)}` : p || '(empty)');

async function dkimFor(ctx: DoctorContext, keys: DkimKeys, domain: string): Promise<Part> {
  const key = keys.get(domain, ctx.config.dkim.selector);
  const name = `${key.selector}._domainkey.${domain}`;
  const record = dkimZoneLine(key);
  const txt = await lookupTxt(ctx.dns, name);
  if (!txt.ok && !txt.missing) return { status: 'warn', detail: `could not check ${name}: ${txt.reason}`, fix: DNS_FIX };
  const recs = (txt.ok ? txt.value : []).filter((r) => /^\s*v\s*=\s*DKIM1\b/i.test(r) || dkimTags(r).has('p'));
  if (!recs.length) return { status: 'fail', detail: `no DKIM record at ${name}: receivers cannot verify the signature on mail from ${domain}`, record };
  const keysFound = recs.map((r) => dkimTags(r).get('p') ?? '');
  if (keysFound.includes(key.publicKey)) {
    if (recs.length > 1) return { status: 'warn', detail: `${name} has ${recs.length} DKIM records; receivers may pick the wrong one`, record };
    return { status: 'ok', detail: `${name} publishes the key Postern signs with` };
  }
  return {
    status: 'fail',
    detail: `the key published at ${name} (p=${keysFound.map(tail).join(', p=')}) is not the key Postern signs with (p=${tail(key.publicKey)}): signatures fail`,
    record,
  };
}

export async function dkimCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  if (!ctx.config.domains.length) return noDomains('dkim');
  const keys = new DkimKeys(ctx.dataDir);
  return combine('dkim', await Promise.all(ctx.config.domains.map((d) => dkimFor(ctx, keys, d))));
}

// ---- DMARC -------------------------------------------------------------------------------------

export function dmarcRecord(domain: string): string {
  return `_dmarc.${domain}. TXT "v=DMARC1; p=none; rua=mailto:postmaster@${domain}"`;
}

async function dmarcFor(ctx: DoctorContext, domain: string): Promise<Part> {
  const name = `_dmarc.${domain}`;
  const record = dmarcRecord(domain);
  const txt = await lookupTxt(ctx.dns, name);
  if (!txt.ok && !txt.missing) return { status: 'warn', detail: `could not check ${name}: ${txt.reason}`, fix: DNS_FIX };
  const recs = (txt.ok ? txt.value : []).filter((r) => /^v=DMARC1\s*(;|$)/i.test(r.trim()));
  if (!recs.length)
    return { status: 'warn', detail: `${domain} publishes no DMARC record (at ${name}): large providers file its mail as suspicious more readily`, record };
  if (recs.length > 1) return { status: 'warn', detail: `${name} has ${recs.length} DMARC records: receivers ignore them all (RFC 7489 §6.6.3)`, record };
  return { status: 'ok', detail: `${name}: "${recs[0]}"` };
}

export async function dmarcCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  if (!ctx.config.domains.length) return noDomains('dmarc');
  return combine('dmarc', await Promise.all(ctx.config.domains.map((d) => dmarcFor(ctx, d))));
}

// ---- reverse DNS ---------------------------------------------------------------------------------

async function ptrFor(ctx: DoctorContext, ip: string): Promise<Part> {
  const host = ctx.config.hostname;
  const direct = ctx.config.outbound.mode === 'mx';
  const bad = direct ? 'fail' : 'warn';
  const why = direct ? '' : ' (it matters only for direct delivery: through a smarthost, receivers see the smarthost)';
  const rev = reverseName(ip);
  const askIsp = `Ask your Internet provider (or VPS host) to set the reverse DNS of ${ip} to ${host} (${rev}. PTR ${host}.).`;
  const r = await lookup(ctx.dns, rev, 'PTR');
  if (!r.ok && !r.missing) return { status: 'warn', detail: `could not check the reverse DNS of ${ip}: ${r.reason}`, fix: DNS_FIX };
  if (!r.ok) return { status: bad, detail: `${ip} has no reverse DNS (PTR)${why}`, fix: askIsp };
  const names = r.value.map((n) => n.replace(/\.$/, ''));
  if (!names.some((n) => sameName(n, host))) return { status: bad, detail: `the reverse DNS of ${ip} is ${names.join(', ')}, not ${host}${why}`, fix: askIsp };
  const fwd = await lookup(ctx.dns, host, net.isIPv6(ip) ? 'AAAA' : 'A');
  if (!fwd.ok && !fwd.missing) return { status: 'warn', detail: `could not check that ${host} resolves back to ${ip}: ${fwd.reason}`, fix: DNS_FIX };
  const back = fwd.ok ? fwd.value : [];
  if (!back.includes(ip)) {
    return {
      status: bad,
      detail: `${ip} → ${host}, but ${host} does not resolve back to ${ip}${back.length ? ` (it resolves to ${back.join(', ')})` : ''}${why}`,
      record: addressRecord(host, ip),
    };
  }
  return { status: 'ok', detail: `${ip} → ${host} → ${ip}` };
}

export async function ptrCheck(ctx: DoctorContext, pub: PublicAddresses): Promise<DoctorCheck> {
  if (!pub.addresses.length) {
    return check(
      'ptr',
      'warn',
      "this server's public address is not known (its addresses are all private: it is behind NAT), so its reverse DNS cannot be checked",
      NO_PUBLIC_FIX,
    );
  }
  return combine('ptr', await Promise.all(pub.addresses.map((ip) => ptrFor(ctx, ip))));
}
