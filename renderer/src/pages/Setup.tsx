// Setup: the doctor's checks (docs/design.md §5), the gateway's on/off, and the settings
// at a glance. Stopping asks first; a new dashboard link can be made here (docs/design.md §7.2).
import { useState } from 'react';
import type { CheckStatus } from '../api.ts';
import { useApp, useLoad, useStatus } from '../hooks.ts';
import { dateTime, num } from '../format.ts';
import { ErrorLine, Unavailable } from '../components/Notice.tsx';
import { DnsRecords } from '../components/DnsRecords.tsx';
import { CertificateCard } from '../components/CertificateCard.tsx';

const CHECK: Record<CheckStatus, { icon: string; text: string }> = {
  ok: { icon: '✓', text: 'OK' },
  warn: { icon: '!', text: 'Warning' },
  fail: { icon: '✕', text: 'Problem' },
};

export function Setup() {
  const { client } = useApp();
  const status = useStatus();
  const [report, rerun] = useLoad('doctor');
  const [settings] = useLoad('settings');
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [confirmStop, setConfirmStop] = useState(false);

  const again = async () => {
    setRunning(true);
    await rerun();
    setRunning(false);
  };
  const startStop = async () => {
    setError(null);
    setConfirmStop(false);
    const r = status?.state === 'running' ? await client.call('stop') : await client.call('start');
    if (!r.ok) setError(r.error.message);
  };

  return (
    <div className="page-body narrow">
      <h1>Setup check</h1>
      <p className="lead">Everything a home mail server needs, checked one by one, with what to do when something is wrong.</p>
      <div className="button-row">
        <button type="button" className="primary" onClick={() => void again()} disabled={running}>
          {running ? 'Checking…' : 'Check again'}
        </button>
      </div>
      {report.state === 'loading' && <p className="muted">Checking…</p>}
      {report.state === 'error' &&
        (report.code === 'unavailable' ? <Unavailable what="The setup check" message={report.message} /> : <ErrorLine error={report} />)}
      {report.state === 'ok' && (
        <>
          <ul className="checks" aria-label="Checks">
            {report.value.checks.map((c) => (
              <li key={c.id} className={`check-item s-${c.status}`} data-testid="check">
                <span className={`check-badge s-${c.status}`}>
                  <span aria-hidden="true">{CHECK[c.status].icon}</span> {CHECK[c.status].text}
                </span>
                <div>
                  <p className="strong">{c.title}</p>
                  <p>{c.detail}</p>
                  {c.status !== 'ok' && c.fix && <p className="fix">{c.fix}</p>}
                </div>
              </li>
            ))}
          </ul>
          <p className="muted">Checked {dateTime(report.value.ranAt)}</p>
        </>
      )}

      {settings.state === 'ok' && settings.value.domains.length > 0 && <DnsRecords />}

      <CertificateCard status={status} />

      <section className="card" aria-label="Gateway">
        <h2>Gateway</h2>
        {status && (
          <p>
            {status.state === 'running' ? 'Postern is running' : `Postern is ${status.state}`} as <strong>{status.hostname}</strong>
            {status.startedAt ? ` since ${dateTime(status.startedAt)}` : ''}.
          </p>
        )}
        {status?.state === 'running' && confirmStop ? (
          <div className="confirm-box" role="alertdialog" aria-label="Stop the gateway?">
            <p>
              <strong>Stop the gateway?</strong> While it is stopped no mail is received (senders try again later) and the family cannot send.
            </p>
            <div className="button-row">
              <button type="button" className="danger" onClick={() => void startStop()}>
                Yes, stop it
              </button>
              <button type="button" className="secondary" onClick={() => setConfirmStop(false)}>
                Keep it running
              </button>
            </div>
          </div>
        ) : (
          <button
            type="button"
            className={status?.state === 'running' ? 'danger' : 'primary'}
            onClick={() => (status?.state === 'running' ? setConfirmStop(true) : void startStop())}
            disabled={!status}
          >
            {status?.state === 'running' ? 'Stop the gateway…' : 'Start the gateway'}
          </button>
        )}
        <ErrorLine error={error} />
      </section>
      {client.kind === 'http' && <NewLink />}

      {settings.state === 'ok' && (
        <section className="card" aria-label="Settings">
          <h2>Settings</h2>
          <dl className="facts">
            <dt>Host name</dt>
            <dd className="mono">{settings.value.hostname}</dd>
            <dt>Domains</dt>
            <dd className="mono">{settings.value.domains.join(', ') || '—'}</dd>
            <dt>Logins checked by</dt>
            <dd>{settings.value.authBackend === 'builtin' ? 'Postern (passwords set here)' : 'the system (saslauthd)'}</dd>
            <dt>SPF check</dt>
            <dd>{settings.value.spf.enabled ? `on, ${settings.value.spf.policy}` : 'off'}</dd>
            <dt>Outgoing mail</dt>
            <dd>
              {settings.value.outbound.mode === 'smarthost'
                ? settings.value.outbound.smarthostHost
                  ? `through ${settings.value.outbound.smarthostHost}:${settings.value.outbound.smarthostPort}`
                  : 'through a smarthost, but none is set yet'
                : 'directly to each domain’s mail server'}
            </dd>
            <dt>Largest message</dt>
            <dd>{num(Math.round(settings.value.limits.maxMessageBytes / 1048576))} MB</dd>
          </dl>
          <p className="hint">
            Change them under <a href="#/settings">Settings</a>.
          </p>
        </section>
      )}
    </div>
  );
}

/**
 * The headless dashboard's access link is kept across restarts; a new one can be made
 * here (a link that was shared by mistake). The old link stops working at once, this
 * page moves to the new one.
 */
function NewLink() {
  const { client } = useApp();
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const renew = async () => {
    setError(null);
    const r = await client.call('newDashboardToken');
    setAsking(false);
    if (!r.ok) return setError(r.error.message);
    location.replace(`${location.pathname}?token=${encodeURIComponent(r.value.token)}${location.hash}`);
  };
  return (
    <section className="card" aria-label="Dashboard link">
      <h2>Dashboard link</h2>
      <p>
        The address of this dashboard stays the same when Postern restarts; <code>postern dashboard</code> prints it.
      </p>
      {asking ? (
        <div className="confirm-box" role="alertdialog" aria-label="Make a new link?">
          <p>
            <strong>Make a new link?</strong> The current link stops working at once — in every browser that has it. This page moves to the new one.
          </p>
          <div className="button-row">
            <button type="button" className="danger" onClick={() => void renew()}>
              Make a new link
            </button>
            <button type="button" className="secondary" onClick={() => setAsking(false)}>
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <button type="button" className="secondary" onClick={() => setAsking(true)}>
          Make a new link…
        </button>
      )}
      <ErrorLine error={error} />
    </section>
  );
}
