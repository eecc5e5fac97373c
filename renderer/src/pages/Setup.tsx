// Setup: the doctor's checks (docs/design.md §5), the gateway's on/off, and the settings
// at a glance.
import { useState } from 'react';
import type { CheckStatus } from '../api.ts';
import { useApp, useLoad, useStatus } from '../hooks.ts';
import { dateTime, num } from '../format.ts';
import { ErrorLine, Unavailable } from '../components/Notice.tsx';

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

  const again = async () => {
    setRunning(true);
    await rerun();
    setRunning(false);
  };
  const startStop = async () => {
    setError(null);
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
      {report.state === 'error' && (report.code === 'unavailable' ? <Unavailable what="The setup check" message={report.message} /> : <ErrorLine error={report} />)}
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

      <section className="card" aria-label="Gateway">
        <h2>Gateway</h2>
        {status && (
          <p>
            {status.state === 'running' ? 'Postern is running' : `Postern is ${status.state}`} as <strong>{status.hostname}</strong>
            {status.startedAt ? ` since ${dateTime(status.startedAt)}` : ''}.
            {status.tls && (
              <>
                {' '}
                TLS certificate {status.tls.subject}
                {status.tls.selfSigned ? ' (self-signed)' : ''}, valid until {dateTime(status.tls.notAfter)}.
              </>
            )}
          </p>
        )}
        <button type="button" className={status?.state === 'running' ? 'danger' : 'primary'} onClick={() => void startStop()} disabled={!status}>
          {status?.state === 'running' ? 'Stop the gateway' : 'Start the gateway'}
        </button>
        <ErrorLine error={error} />
      </section>

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
            <dd>{settings.value.outbound.mode === 'smarthost'
                ? settings.value.outbound.smarthostHost
                  ? `through ${settings.value.outbound.smarthostHost}:${settings.value.outbound.smarthostPort}`
                  : 'through a smarthost, but none is set yet'
                : 'directly to each domain’s mail server'}</dd>
            <dt>Largest message</dt>
            <dd>{num(Math.round(settings.value.limits.maxMessageBytes / 1048576))} MB</dd>
          </dl>
          <p className="hint">These are changed in the configuration file.</p>
        </section>
      )}
    </div>
  );
}
