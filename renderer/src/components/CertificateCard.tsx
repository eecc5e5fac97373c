// The certificate on the Setup page (docs/design.md §2.5): what is served, and with built-in
// ACME its state from status.tls.acme — issuer, expiry, next renewal, the last error —,
// the DNS-01 TXT record to publish by hand (copy button, "checked: published / not
// yet") and a "Renew now" button (API renewCertificate). Live: the status pushes.
import { useState } from 'react';
import type { GatewayStatus } from '../api.ts';
import { dateTime } from '../format.ts';
import { useApp } from '../hooks.ts';
import { CopyButton } from './CopyButton.tsx';
import { ErrorLine } from './Notice.tsx';

type Acme = NonNullable<NonNullable<GatewayStatus['tls']>['acme']>;

const STATE_TEXT: Record<Acme['state'], string> = {
  idle: 'Up to date',
  issuing: 'Asking for a certificate…',
  'waiting-dns': 'Waiting for the DNS record below',
  failed: 'The last attempt failed',
};

/** Which CA, in words: the two Let's Encrypt directories by name, anything else as its URL. */
export function directoryName(url: string): string {
  if (url.includes('acme-staging-v02.api.letsencrypt.org')) return 'Let’s Encrypt — staging (test certificates, not trusted by phones)';
  if (url.includes('acme-v02.api.letsencrypt.org')) return 'Let’s Encrypt';
  return url;
}

export function CertificateCard({ status }: { status: GatewayStatus | null }) {
  const { client } = useApp();
  const [renewing, setRenewing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const tls = status?.tls ?? null;
  const acme = tls?.acme ?? null;
  const renew = async () => {
    setError(null);
    setRenewing(true);
    const r = await client.call('renewCertificate');
    setRenewing(false);
    if (!r.ok) setError(r.error.message);
  };
  const busy = renewing || acme?.state === 'issuing' || acme?.state === 'waiting-dns';
  return (
    <section className="card certificate-card" aria-label="Certificate" data-testid="certificate-card">
      <h2>Certificate</h2>
      {!tls && <p className="muted">Shown while the gateway runs.</p>}
      {tls && (
        <p>
          Served now: <span className="mono">{tls.subject.replace(/\n/g, ', ')}</span>
          {tls.selfSigned ? ' (made by Postern itself: phones warn about it)' : ''}, valid until {dateTime(tls.notAfter)}.
        </p>
      )}
      {tls && !acme && (
        <p className="hint">
          Postern can get a free certificate that phones trust, and renew it by itself: turn on built-in certificates under{' '}
          <a href="#/settings">Settings → Certificate</a>.
        </p>
      )}
      {acme && (
        <>
          <dl className="facts" data-testid="acme-state">
            <dt>Built-in certificates</dt>
            <dd className={acme.state === 'failed' ? 'bad-line' : undefined}>
              <span aria-hidden="true">{acme.state === 'failed' ? '✕ ' : acme.state === 'idle' ? '✓ ' : '… '}</span>
              {STATE_TEXT[acme.state]}
            </dd>
            <dt>From</dt>
            <dd>{directoryName(acme.directory)}</dd>
            <dt>Issued by</dt>
            <dd>{acme.issuer ?? 'no certificate yet'}</dd>
            <dt>Valid until</dt>
            <dd>{acme.notAfter ? dateTime(acme.notAfter) : '—'}</dd>
            <dt>Next renewal</dt>
            <dd>{acme.nextRenewal ? dateTime(acme.nextRenewal) : '—'}</dd>
            <dt>Proved by</dt>
            <dd>{acme.challenge === 'http-01' ? 'a web request to port 80 (HTTP-01)' : 'a DNS record you publish (DNS-01)'}</dd>
            {acme.lastSuccess && (
              <>
                <dt>Last success</dt>
                <dd>{dateTime(acme.lastSuccess)}</dd>
              </>
            )}
          </dl>
          {acme.lastError && (
            <div className="smarthost-test s-fail" role="alert" data-testid="acme-error">
              <p className="bad-line">
                <span aria-hidden="true">✕ </span>
                {acme.notAfter ? 'Renewal failed' : 'Getting a certificate failed'}
                {acme.lastErrorAt ? ` (${dateTime(acme.lastErrorAt)}${acme.failures > 1 ? `, ${acme.failures} times in a row` : ''})` : ''}: {acme.lastError}
              </p>
              <p className="fix">
                {acme.notAfter ? 'The current certificate keeps serving meanwhile. ' : ''}
                Postern tries again by itself{acme.nextRenewal ? ` at ${dateTime(acme.nextRenewal)}` : ''}.{' '}
                {acme.challenge === 'http-01'
                  ? 'The certificate authority must reach port 80 of this server: forward port 80 on the router to this computer, or choose “a DNS record” under Settings → Certificate.'
                  : 'Check that the TXT record is published as shown.'}
              </p>
            </div>
          )}
          {acme.dnsRecord && (
            <div className="acme-dns" data-testid="acme-dns">
              <p>
                <strong>Publish this record at your DNS provider</strong> — Postern looks for it every few seconds and continues by itself:
              </p>
              <table className="table dns-table" aria-label="DNS record for the certificate">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Type</th>
                    <th scope="col">Value</th>
                  </tr>
                </thead>
                <tbody>
                  <tr>
                    <td className="mono dns-name" data-label="Name">
                      {acme.dnsRecord.name}
                    </td>
                    <td className="mono" data-label="Type">
                      TXT
                    </td>
                    <td data-label="Value">
                      <div className="copy-row">
                        <code className="record dns-value">{acme.dnsRecord.value}</code>
                        <CopyButton text={acme.dnsRecord.value} label={`Copy the TXT value for ${acme.dnsRecord.name}`} />
                      </div>
                    </td>
                  </tr>
                </tbody>
              </table>
              <p className={acme.dnsRecord.published ? 'ok-line' : 'muted'} data-testid="acme-dns-checked">
                {acme.dnsRecord.checkedAt
                  ? `Checked ${dateTime(acme.dnsRecord.checkedAt)}: ${acme.dnsRecord.published ? 'published' : 'not yet'}`
                  : 'Not checked yet'}
              </p>
            </div>
          )}
          <div className="button-row">
            <button type="button" className="secondary" onClick={() => void renew()} disabled={busy || status?.state !== 'running'}>
              {acme.state === 'waiting-dns' ? 'Waiting for the DNS record…' : busy ? 'Renewing…' : 'Renew now'}
            </button>
          </div>
          <ErrorLine error={error} />
        </>
      )}
    </section>
  );
}
