// The TLS certificate check (docs/design.md §5): the configured certificate, else the one
// Postern generates into the data dir; valid for the hostname (SAN, or CN without SANs;
// wildcards for one label), in date and not expiring within 14 days, matching its key,
// and issued by a known authority (a self-signed one works, but is a warning). With
// built-in ACME (§2.5) the certificate in <data>/acme/ is checked, and the state the
// gateway last wrote (issuer, expiry, next renewal, last error, a TXT record to publish)
// is part of the check: a failed issuing or renewal is a failure.
import crypto, { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { DoctorCheck } from './types.ts';
import { ensureSelfSigned, loadTls, type TlsFiles, type TlsMaterial } from '../smtp/tls.ts';
import { check, type DoctorContext } from './common.ts';
import { directoryUrl } from '../acme/manager.ts';
import { acmePaths, readCert, readState, type AcmeStatus } from '../acme/files.ts';
import type { Config } from '../config/schema.ts';

export const EXPIRY_WARNING_DAYS = 14;
const DAY = 86_400_000;

let bundled: X509Certificate[] | null = null;
function bundledRoots(): X509Certificate[] {
  bundled ??= tls.rootCertificates.flatMap((pem) => {
    try {
      return [new X509Certificate(pem)];
    } catch {
      return [];
    }
  });
  return bundled;
}

function pemCertificates(text: string): X509Certificate[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].flatMap((m) => {
    try {
      return [new X509Certificate(m[0])];
    } catch {
      return [];
    }
  });
}

/** `*.doe-family.com` covers `mx.doe-family.com`, not `doe-family.com` nor `a.mx.doe-family.com`. */
export function nameMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = host.toLowerCase().replace(/\.$/, '');
  if (p === h) return true;
  if (!p.startsWith('*.')) return false;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}

/** DNS names the certificate is valid for: its SANs, or its CN when it has none. */
function certNames(m: TlsMaterial, x: X509Certificate): string[] {
  if (m.names.length) return m.names;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

type Trust = { trusted: true; root: string } | { trusted: false; selfSigned: boolean; issuer: string };

function chainTrust(leaf: X509Certificate, extra: X509Certificate[], anchors: X509Certificate[]): Trust {
  let current = leaf;
  const used = new Set<string>();
  for (let depth = 0; depth < 8; depth++) {
    const anchor = anchors.find((a) => current.checkIssued(a) && current.verify(a.publicKey));
    if (anchor) return { trusted: true, root: anchor.subject.replace(/\n/g, ', ') };
    if (current.checkIssued(current) && current.verify(current.publicKey)) {
      return { trusted: false, selfSigned: depth === 0, issuer: current.subject.replace(/\n/g, ', ') };
    }
    const next = extra.find((c) => !used.has(c.fingerprint256) && current.checkIssued(c) && current.verify(c.publicKey));
    if (!next) break;
    used.add(next.fingerprint256);
    current = next;
  }
  return { trusted: false, selfSigned: false, issuer: current.issuer.replace(/\n/g, ', ') };
}

/** What to do about a failed ACME attempt, by challenge. */
function acmeFix(cfg: Config, st: AcmeStatus | null): string {
  if (st?.dnsRecord)
    return `Publish this record at your DNS provider: ${st.dnsRecord.name}. 3600 IN TXT "${st.dnsRecord.value}" — Postern checks for it and continues by itself.`;
  if (cfg.acme.challenge === 'http-01') {
    return `Let the CA reach port 80 of ${cfg.hostname} while Postern renews (forward port 80 on the router to this computer, port ${cfg.acme.httpPort} here), or choose “A DNS record I publish by hand” under Settings → Certificate and publish the TXT record Postern shows.`;
  }
  return `Check the certificate authority under Settings → Certificate (${directoryUrl(cfg.acme.directory)}) and that this computer reaches it; Postern tries again by itself.`;
}

/** The ACME state in words, for the detail. */
function acmeSummary(st: AcmeStatus | null): string {
  if (!st) return 'built-in ACME: no attempt recorded yet';
  const parts = [`built-in ACME (${st.directory}, ${st.challenge})`];
  if (st.issuer) parts.push(`issued by ${st.issuer}`);
  if (st.notAfter) parts.push(`expires ${st.notAfter}`);
  if (st.nextRenewal) parts.push(`next renewal ${st.nextRenewal}`);
  if (st.lastError) parts.push(`last error ${st.lastErrorAt ?? ''}: ${st.lastError}`);
  return parts.join(', ');
}

export async function tlsCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  const cfg = ctx.config;
  const host = cfg.hostname;
  const letsEncrypt = cfg.acme.enabled
    ? `Let Postern get the certificate: see Settings → Certificate and the README's "TLS certificates".`
    : `Turn on “Get and renew the certificate automatically” under Settings → Certificate: Postern gets a free Let's Encrypt certificate for ${host} and renews it.`;
  let files: TlsFiles;
  let m: TlsMaterial;
  const acme = cfg.acme.enabled ? readState(ctx.dataDir) : null;
  const acmeFailed =
    cfg.acme.enabled && acme?.lastError
      ? {
          status: 'fail' as const,
          detail: `${acme.notAfter ? 'certificate renewal' : 'certificate issuing'} failed: ${acme.lastError}`,
          fix: acmeFix(cfg, acme),
        }
      : null;
  if (cfg.acme.enabled) {
    const paths = acmePaths(ctx.dataDir);
    const c = readCert(paths.cert);
    if (!c?.names.includes(host.toLowerCase())) {
      // Nothing issued yet: the gateway serves its self-signed certificate meanwhile.
      if (acme?.dnsRecord) return check('tls', 'fail', `waiting for the DNS record ${acme.dnsRecord.name} (${acmeSummary(acme)})`, acmeFix(cfg, acme));
      if (acmeFailed)
        return check('tls', 'fail', `${acmeFailed.detail}; Postern serves a self-signed certificate meanwhile (${acmeSummary(acme)})`, acmeFailed.fix);
      return check(
        'tls',
        'warn',
        `no certificate from ${directoryUrl(cfg.acme.directory)} yet: Postern requests one when the gateway runs (${acmeSummary(acme)})`,
        'Start the gateway (postern serve or the desktop app) and run the check again in a minute.',
      );
    }
  }
  try {
    const acmeFiles = cfg.acme.enabled ? { certFile: acmePaths(ctx.dataDir).cert, keyFile: acmePaths(ctx.dataDir).key, generated: false } : null;
    files =
      acmeFiles ??
      (cfg.tls.certFile && cfg.tls.keyFile
        ? { certFile: cfg.tls.certFile, keyFile: cfg.tls.keyFile, generated: false }
        : await ensureSelfSigned(ctx.dataDir, host));
    m = await loadTls(files);
  } catch (e) {
    // The Node/OpenSSL text goes to the log only; the page gets a sentence (docs/design.md §5, §8.2).
    console.error(`postern: setup check: the certificate cannot be loaded: ${(e as Error).message}`);
    return check(
      'tls',
      'fail',
      cfg.tls.certFile && !cfg.acme.enabled
        ? `the certificate files ${cfg.tls.certFile} and ${cfg.tls.keyFile} cannot be used: Postern could not read them as a certificate and its private key`
        : 'the certificate Postern keeps in its data folder cannot be read',
      cfg.tls.certFile && !cfg.acme.enabled
        ? 'Under Settings → Certificate files, choose readable PEM files: the certificate with its chain (fullchain.pem) and its private key (privkey.pem). The log has the details.'
        : 'Check that the data folder is readable by Postern; the log has the details.',
    );
  }
  const chain = pemCertificates(m.cert);
  const leaf = chain[0] ?? new X509Certificate(m.cert);
  const what = files.generated ? "Postern's generated certificate" : files.certFile;
  const problems: { status: 'fail' | 'warn'; detail: string; fix: string }[] = acmeFailed ? [acmeFailed] : [];
  const renew = cfg.acme.enabled
    ? 'Postern renews it by itself; see the ACME state below.'
    : 'Renew the certificate (e.g. `certbot renew`); Postern picks up the new file without a restart.';

  try {
    if (!leaf.checkPrivateKey(crypto.createPrivateKey(m.key))) {
      problems.push({
        status: 'fail',
        detail: `${files.keyFile} is not the private key of ${files.certFile}`,
        fix: 'Under Settings → Certificate files, choose the private key that belongs to the certificate.',
      });
    }
  } catch (e) {
    console.error(`postern: setup check: the private key cannot be read: ${(e as Error).message}`);
    problems.push({
      status: 'fail',
      detail: 'the private key cannot be read as a key (the log has the details)',
      fix: 'Under Settings → Certificate files, choose the private key (PEM) that belongs to the certificate.',
    });
  }

  const names = certNames(m, leaf);
  if (!names.some((n) => nameMatches(n, host))) {
    problems.push({
      status: 'fail',
      detail: `the certificate is for ${names.join(', ') || 'no name'}, not for ${host}`,
      fix: files.generated
        ? `Delete ${files.certFile} and ${files.keyFile} so that Postern generates one for ${host} at the next start, or better: ${letsEncrypt}`
        : letsEncrypt,
    });
  }

  const now = Date.now();
  const notBefore = new Date(leaf.validFrom).getTime();
  const left = m.notAfter.getTime() - now;
  const until = m.notAfter.toISOString().slice(0, 10);
  if (left <= 0) problems.push({ status: 'fail', detail: `the certificate expired on ${until}`, fix: files.generated ? letsEncrypt : renew });
  else if (notBefore > now)
    problems.push({
      status: 'fail',
      detail: `the certificate is not valid before ${new Date(notBefore).toISOString()}`,
      fix: "Check this computer's clock, or the certificate's dates.",
    });
  else if (left < EXPIRY_WARNING_DAYS * DAY) {
    problems.push({
      status: 'warn',
      detail: `the certificate expires in ${Math.ceil(left / DAY)} day(s), on ${until}`,
      fix: files.generated ? letsEncrypt : renew,
    });
  }

  const anchors = [...bundledRoots(), ...(ctx.trustedCAs ?? []).flatMap(pemCertificates)];
  const trust = chainTrust(leaf, chain.slice(1), anchors);
  if (!trust.trusted) {
    if (files.generated || trust.selfSigned) {
      problems.push({
        status: 'warn',
        detail: `${files.generated ? what : 'the certificate'} is self-signed: senders that check certificates will not trust it (most still deliver)`,
        fix: letsEncrypt,
      });
    } else if (cfg.acme.enabled) {
      problems.push({
        status: 'warn',
        detail: `the certificate is issued by ${trust.issuer}, which phones do not trust (a staging or test CA)`,
        fix: 'When issuing works, choose “Let’s Encrypt — the real, trusted certificate” under Settings → Certificate; Postern gets a trusted certificate at once.',
      });
    } else {
      problems.push({
        status: 'warn',
        detail: `the certificate is issued by ${trust.issuer}, which is not a known certificate authority (or the file lacks the intermediate certificate)`,
        fix: `Choose the full chain (fullchain.pem) as the certificate file under Settings → Certificate files, or ${letsEncrypt[0].toLowerCase()}${letsEncrypt.slice(1)}`,
      });
    }
  }

  const summary = `${what}: valid for ${names.join(', ')} until ${until}${cfg.acme.enabled ? `; ${acmeSummary(acme)}` : ''}`;
  if (!problems.length) return check('tls', 'ok', `${summary}, issued by ${leaf.issuer.replace(/\n/g, ', ')} (trusted)`);
  const status = problems.some((p) => p.status === 'fail') ? 'fail' : 'warn';
  const first = problems.find((p) => p.status === status)!;
  return check('tls', status, `${problems.map((p) => p.detail).join('; ')} (${summary})`, first.fix);
}
