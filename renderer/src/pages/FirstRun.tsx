// The guided first run (docs/design.md §7.1), shown on a fresh install with no domain:
// domain → this server's name → the family's accounts → outgoing mail → the DNS records
// to publish → the setup check. Every step saves through the same API methods as the
// Settings and Accounts pages, so nothing here is special: it can be left and resumed.
import { useState, type FormEvent } from 'react';
import type { Settings, SettingsChange } from '../api.ts';
import { useApp, useLoad } from '../hooks.ts';
import { ErrorLine } from '../components/Notice.tsx';
import { DnsRecords } from '../components/DnsRecords.tsx';
import { DomainsCard, OutboundCard, ServerCard } from './Settings.tsx';
import { useSave } from './SettingsParts.tsx';

const STEPS = ['Your domain', 'This server', 'The family', 'Outgoing mail', 'DNS records', 'Setup check'] as const;

export function FirstRun() {
  const [settings, , setSettings] = useLoad('settings');
  const [step, setStep] = useState(0);
  const save = useSave(setSettings);
  const next = () => {
    setStep((n) => Math.min(n + 1, STEPS.length - 1));
    window.scrollTo(0, 0);
  };
  const saveAndNext = async (c: SettingsChange) => {
    const r = await save(c);
    if (r.ok) next();
    return r;
  };
  if (settings.state === 'loading') return <p className="page-body muted">Loading…</p>;
  if (settings.state === 'error') return <ErrorLine error={settings} />;
  const s = settings.value;
  const domain = s.config.domains[0] ?? '';
  // Step 2 suggests mx.<domain> while the name is still this computer's own.
  const suggested: Settings =
    domain && !s.config.hostname.endsWith(`.${domain}`) && s.config.hostname !== domain ? { ...s, config: { ...s.config, hostname: `mx.${domain}` } } : s;
  return (
    <div className="page-body narrow first-run">
      <h1>Welcome to Postern</h1>
      <p className="lead">Six short steps make this computer the mail server of your family’s domain. Everything can be changed later under Settings.</p>
      <ol className="steps-bar" aria-label="Steps">
        {STEPS.map((t, i) => (
          <li key={t} className={i === step ? 'current' : i < step ? 'done' : ''} aria-current={i === step ? 'step' : undefined}>
            <button type="button" className="link" onClick={() => setStep(i)} disabled={i > 0 && !domain}>
              <span className="step-n">{i < step ? '✓' : i + 1}</span> <span className="step-t">{t}</span>
            </button>
          </li>
        ))}
      </ol>
      <section aria-label={`Step ${step + 1}: ${STEPS[step]}`} data-testid="first-run-step" data-step={step + 1}>
        {step === 0 && (
          <>
            <p>Which domain should receive the family’s mail? The part after the @ in your addresses — you need to own it (bought from a domain registrar).</p>
            <DomainsCard s={s} save={saveAndNext} saveText="Save and continue" />
          </>
        )}
        {step === 1 && (
          <>
            <p>
              Other mail servers find this one by a name under your domain, usually <span className="mono">mx.{domain || 'your-domain'}</span>. If this computer
              is behind a home router, also give your public IP address (your router shows it as its WAN or Internet address).
            </p>
            <ServerCard s={suggested} save={saveAndNext} saveText="Save and continue" />
          </>
        )}
        {step === 2 && <FamilyStep domain={domain} onDone={next} />}
        {step === 3 && (
          <>
            <p>
              Mail to people outside the family leaves through your mail provider’s sending server. Its name, port, login and password are on your provider’s
              help pages (“SMTP settings”).
            </p>
            <OutboundCard s={s} save={saveAndNext} saveText="Save and continue" />
          </>
        )}
        {step === 4 && (
          <>
            <p>Publish these records at the company that manages your domain. The table shows which ones DNS already has.</p>
            <DnsRecords />
            <div className="button-row">
              <button type="button" className="primary" onClick={next}>
                Continue
              </button>
            </div>
          </>
        )}
        {step === 5 && <CheckStep />}
      </section>
    </div>
  );
}

function FamilyStep({ domain, onDone }: { domain: string; onDone: () => void }) {
  const { client } = useApp();
  const [list, , setList] = useLoad('accounts');
  const [name, setName] = useState('');
  const [address, setAddress] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const add = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setSaving(true);
    const addr = address.trim() || (name.trim() ? `${name.trim()}@${domain}` : '');
    const r = await client.call('addAccount', { name: name.trim(), addresses: addr ? addr.split(/\s+/) : [], password });
    setSaving(false);
    if (!r.ok) return setError(r.error.message);
    setList(r.value);
    setName('');
    setAddress('');
    setPassword('');
  };
  const accounts = list.state === 'ok' ? list.value : [];
  return (
    <>
      <p>One account per person: a mailbox, an address and a password their mail program uses to send.</p>
      {accounts.length > 0 && (
        <ul className="plain first-run-accounts" aria-label="Accounts">
          {accounts.map((a) => (
            <li key={a.name} data-testid="account">
              <strong>{a.name}</strong> <span className="mono">{a.addresses.join(', ')}</span>
            </li>
          ))}
        </ul>
      )}
      <form className="card" onSubmit={(e) => void add(e)} aria-label="Add a family member">
        <h2>Add a family member</h2>
        <div className="field-row">
          <label className="field">
            <span>Name (login)</span>
            <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" placeholder="jane" />
          </label>
          <label className="field grow">
            <span>Address</span>
            <input
              value={address}
              onChange={(e) => setAddress(e.target.value)}
              autoComplete="off"
              spellCheck={false}
              placeholder={name.trim() ? `${name.trim()}@${domain}` : `jane@${domain}`}
            />
          </label>
          <label className="field">
            <span>Password (10 characters or more)</span>
            <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
          </label>
        </div>
        <div className="button-row">
          <button type="submit" className="primary" disabled={saving}>
            {saving ? 'Saving…' : 'Add'}
          </button>
        </div>
        <ErrorLine error={error} />
      </form>
      <div className="button-row">
        <button type="button" className={accounts.length ? 'primary' : 'secondary'} onClick={onDone}>
          {accounts.length ? 'Continue' : 'Skip for now'}
        </button>
      </div>
    </>
  );
}

function CheckStep() {
  const [report, rerun] = useLoad('doctor');
  const [running, setRunning] = useState(false);
  return (
    <>
      <p>The setup check tries everything a mail server needs. Red items are what is left to do; DNS changes can take an hour to show.</p>
      {report.state === 'loading' && <p className="muted">Checking…</p>}
      {report.state === 'error' && <ErrorLine error={report} />}
      {report.state === 'ok' && (
        <ul className="checks" aria-label="Checks">
          {report.value.checks.map((c) => (
            <li key={c.id} className={`check-item s-${c.status}`} data-testid="check">
              <span className={`check-badge s-${c.status}`}>
                <span aria-hidden="true">{c.status === 'ok' ? '✓' : c.status === 'warn' ? '!' : '✕'}</span>{' '}
                {c.status === 'ok' ? 'OK' : c.status === 'warn' ? 'Warning' : 'Problem'}
              </span>
              <div>
                <p className="strong">{c.title}</p>
                <p>{c.detail}</p>
              </div>
            </li>
          ))}
        </ul>
      )}
      <div className="button-row">
        <button
          type="button"
          className="secondary"
          disabled={running}
          onClick={() => {
            setRunning(true);
            void rerun().finally(() => setRunning(false));
          }}
        >
          {running ? 'Checking…' : 'Check again'}
        </button>
        <a className="button primary" href="#/log">
          Finish: show the live log
        </a>
      </div>
    </>
  );
}
