// The SPF record helper (docs/design.md §6): build a record from choices and copy its zone
// line, validate a pasted record, check the published one. Postern builds and judges
// every record; the page shows what it answers.
import { useEffect, useState, type FormEvent } from 'react';
import type { ApiErrorCode, ApiResult, SpfBuildResult, SpfCheckResult, SpfChoices, SpfProblem, SpfValidation } from '../api.ts';
import { useApp, useLoad } from '../hooks.ts';
import { CopyButton } from '../components/CopyButton.tsx';
import { ErrorLine, Unavailable } from '../components/Notice.tsx';
import { keyed } from '../keys.ts';

type Err = { code: ApiErrorCode; message: string };

const words = (s: string) => s.split(/[\s,;]+/).filter(Boolean);

function toChoices(domain: string, mx: boolean, a: boolean, ips: string, includes: string, soft: boolean): SpfChoices {
  const list = words(ips);
  return { domain: domain.trim(), mx, a, ip4: list.filter((x) => !x.includes(':')), ip6: list.filter((x) => x.includes(':')), include: words(includes), soft };
}

function Problems({ record, problems }: { record: string; problems: SpfProblem[] }) {
  if (!problems.length) return null;
  return (
    <ul className="problems" data-testid="spf-problems">
      {problems.map((p) => (
        <li key={`${p.position} ${p.message}`} className={`problem sev-${p.severity}`}>
          <span className="problem-icon" aria-hidden="true">
            {p.severity === 'error' ? '✕' : '!'}
          </span>
          <span className="problem-severity">{p.severity === 'error' ? 'Error' : 'Warning'}</span>
          {p.position !== null && <span className="problem-pos">at character {p.position + 1}</span>}
          <span className="problem-msg">{p.message}</span>
          {p.position !== null && (
            <pre className="pointer" aria-hidden="true">
              {record}
              {'\n'}
              {' '.repeat(Math.min(p.position, record.length))}^
            </pre>
          )}
        </li>
      ))}
    </ul>
  );
}

function ValidationView({ v }: { v: SpfValidation }) {
  return (
    <div className="validation" data-testid="spf-validation">
      <p className={v.valid ? 'ok-line' : 'bad-line'}>
        <span aria-hidden="true">{v.valid ? '✓ ' : '✕ '}</span>
        {v.valid ? 'This record is valid.' : 'This record has problems.'}
        <span className="muted">
          {' '}
          DNS lookups: {v.dnsTerms} of 10{v.voidLookups !== null ? ` · empty lookups: ${v.voidLookups} of 2` : ''}
        </span>
      </p>
      <Problems record={v.record} problems={v.problems} />
    </div>
  );
}

function Builder({ initial, publicAddresses }: { initial: SpfChoices; publicAddresses: string[] }) {
  const { client } = useApp();
  const [domain, setDomain] = useState(initial.domain);
  const [mx, setMx] = useState(initial.mx);
  const [a, setA] = useState(initial.a);
  const [ips, setIps] = useState([...initial.ip4, ...initial.ip6].join(' '));
  const [includes, setIncludes] = useState(initial.include.join(' '));
  const [soft, setSoft] = useState(initial.soft);
  const [built, setBuilt] = useState<{ ok: true; value: SpfBuildResult } | { ok: false; error: Err } | null>(null);
  const choices = toChoices(domain, mx, a, ips, includes, soft);
  const key = JSON.stringify(choices);

  useEffect(() => {
    let gone = false;
    const c = JSON.parse(key) as SpfChoices;
    if (!c.domain) {
      setBuilt(null);
      return;
    }
    const t = setTimeout(() => {
      void client.call('spfBuild', c).then((r: ApiResult<SpfBuildResult>) => !gone && setBuilt(r));
    }, 150);
    return () => {
      gone = true;
      clearTimeout(t);
    };
  }, [client, key]);

  const missingIps = publicAddresses.filter((p) => !words(ips).includes(p));

  return (
    <>
      <section className="card" aria-label="Build a record">
        <h2>Build your record</h2>
        <label className="field">
          <span>Domain</span>
          <input value={domain} onChange={(e) => setDomain(e.target.value)} spellCheck={false} placeholder="doe-family.com" data-testid="spf-domain" />
        </label>
        <fieldset className="choices">
          <legend>Who may send mail for this domain?</legend>
          <label className="check">
            <input type="checkbox" checked={mx} onChange={(e) => setMx(e.target.checked)} /> <code>mx</code> — the domain's mail servers (its MX records)
          </label>
          <label className="check">
            <input type="checkbox" checked={a} onChange={(e) => setA(e.target.checked)} /> <code>a</code> — the computer the domain's name points to
          </label>
          <label className="field">
            <span>These addresses (IPv4 or IPv6, separated by spaces)</span>
            <input value={ips} onChange={(e) => setIps(e.target.value)} spellCheck={false} placeholder="203.0.113.5" />
          </label>
          {missingIps.length > 0 && (
            <p className="hint">
              This server's public address:{' '}
              {missingIps.map((p) => (
                <button key={p} type="button" className="link" onClick={() => setIps((s) => `${s} ${p}`.trim())}>
                  add {p}
                </button>
              ))}
            </p>
          )}
          <label className="field">
            <span>Your smarthost provider's SPF (include:)</span>
            <input value={includes} onChange={(e) => setIncludes(e.target.value)} spellCheck={false} placeholder="_spf.provider.example" />
          </label>
        </fieldset>
        <fieldset className="choices">
          <legend>Mail from anywhere else</legend>
          <label className="check">
            <input type="radio" name="all" checked={!soft} onChange={() => setSoft(false)} /> <code>-all</code> — refuse it (recommended)
          </label>
          <label className="check">
            <input type="radio" name="all" checked={soft} onChange={() => setSoft(true)} /> <code>~all</code> — accept it but mark it suspicious
          </label>
        </fieldset>
      </section>
      <section className="card result" aria-label="Your record" data-testid="spf-result">
        <h2>Your record</h2>
        {!built && <p className="muted">Enter a domain to see its record.</p>}
        {built &&
          !built.ok &&
          (built.error.code === 'unavailable' ? <Unavailable what="The SPF helper" message={built.error.message} /> : <ErrorLine error={built.error} />)}
        {built?.ok && (
          <>
            <p className="label">Record</p>
            <div className="copy-row">
              <code className="record" data-testid="spf-record">
                {built.value.record}
              </code>
              <CopyButton text={built.value.record} label="Copy the record" />
            </div>
            <p className="label">Zone line — paste this into your DNS zone</p>
            <div className="copy-row">
              <code className="record zone" data-testid="spf-zone-line">
                {built.value.zoneLine}
              </code>
              <CopyButton text={built.value.zoneLine} label="Copy the zone line" />
            </div>
            <Problems record={built.value.record} problems={built.value.problems} />
          </>
        )}
      </section>
      <Checker choices={choices} publicAddresses={publicAddresses} />
    </>
  );
}

function Checker({ choices, publicAddresses }: { choices: SpfChoices; publicAddresses: string[] }) {
  const { client } = useApp();
  const [domain, setDomain] = useState('');
  const [ip, setIp] = useState('');
  const [busy, setBusy] = useState(false);
  const [res, setRes] = useState<ApiResult<SpfCheckResult> | null>(null);
  const check = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    const d = domain.trim() || choices.domain;
    const r = await client.call('spfCheck', { domain: d, ...(ip.trim() ? { ip: ip.trim() } : {}), ...(choices.domain === d ? { expected: choices } : {}) });
    setBusy(false);
    setRes(r);
  };
  return (
    <section className="card wide" aria-label="Check the published record">
      <h2>Check the published record</h2>
      <form className="field-row" onSubmit={check}>
        <label className="field">
          <span>Domain</span>
          <input value={domain} onChange={(e) => setDomain(e.target.value)} placeholder={choices.domain || 'doe-family.com'} spellCheck={false} />
        </label>
        <label className="field">
          <span>Test a sending server’s IP address (optional)</span>
          <input value={ip} onChange={(e) => setIp(e.target.value)} placeholder={publicAddresses[0] ?? 'this server'} spellCheck={false} />
        </label>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Check published record'}
        </button>
      </form>
      {res && !res.ok && (res.error.code === 'unavailable' ? <Unavailable what="Checking SPF" message={res.error.message} /> : <ErrorLine error={res.error} />)}
      {res?.ok && <CheckView r={res.value} />}
    </section>
  );
}

function CheckView({ r }: { r: SpfCheckResult }) {
  return (
    <div className="check-result" data-testid="spf-check">
      <ErrorLine error={r.error} />
      {r.published.length === 0 ? (
        <p className="bad-line">
          <span aria-hidden="true">✕ </span>No SPF record is published for {r.domain}.
        </p>
      ) : (
        <>
          <p className="label">Published at {r.domain}</p>
          {keyed(r.published, (p) => p).map(({ key, item: p }) => (
            <code key={key} className="record">
              {p}
            </code>
          ))}
          {r.published.length > 1 && <p className="bad-line">✕ More than one SPF record: receivers treat that as an error. Keep one.</p>}
        </>
      )}
      {r.expected !== null && (
        <div className="compare">
          <p className="label">Compared with the record you built</p>
          <code className="record">{r.expected}</code>
          <p className={r.matchesExpected ? 'ok-line' : 'bad-line'}>
            <span aria-hidden="true">{r.matchesExpected ? '✓ ' : '✕ '}</span>
            {r.matchesExpected ? 'The published record matches.' : 'The published record is different.'}
          </p>
        </div>
      )}
      {r.validation && <ValidationView v={r.validation} />}
      {r.evaluation && (
        <p className={r.evaluation.result === 'pass' ? 'ok-line' : 'bad-line'}>
          <span aria-hidden="true">{r.evaluation.result === 'pass' ? '✓ ' : '! '}</span>
          Mail from <code>{r.evaluation.ip}</code>: <strong>{r.evaluation.result}</strong> <span className="muted">{r.evaluation.explanation}</span>
        </p>
      )}
    </div>
  );
}

function Validator() {
  const { client } = useApp();
  const [record, setRecord] = useState('');
  const [res, setRes] = useState<ApiResult<SpfValidation> | null>(null);
  const validate = async (e: FormEvent) => {
    e.preventDefault();
    setRes(await client.call('spfValidate', { record: record.trim() }));
  };
  return (
    <section className="card wide" aria-label="Validate a record">
      <h2>Validate a record</h2>
      <form onSubmit={validate}>
        <label className="field">
          <span>Paste an SPF record</span>
          <textarea
            value={record}
            onChange={(e) => setRecord(e.target.value)}
            rows={2}
            spellCheck={false}
            placeholder="v=spf1 mx -all"
            data-testid="spf-paste"
          />
        </label>
        <button type="submit" className="primary" disabled={!record.trim()}>
          Validate
        </button>
      </form>
      {res &&
        !res.ok &&
        (res.error.code === 'unavailable' ? <Unavailable what="Validating SPF" message={res.error.message} /> : <ErrorLine error={res.error} />)}
      {res?.ok && <ValidationView v={res.value} />}
    </section>
  );
}

export function SpfHelper() {
  const [settings] = useLoad('settings');
  return (
    <div className="page-body">
      <h1>SPF record helper</h1>
      <p className="lead">
        SPF tells other mail servers which computers may send mail for your domain. Publish one record per domain as a TXT record at your DNS provider.
      </p>
      {settings.state === 'loading' && <p className="muted">Loading…</p>}
      {settings.state === 'error' && <ErrorLine error={settings} />}
      {settings.state === 'ok' && (
        <div className="spf-grid">
          <Builder
            initial={settings.value.spfDefaults ?? { domain: settings.value.domains[0] ?? '', mx: true, a: false, ip4: [], ip6: [], include: [], soft: false }}
            publicAddresses={settings.value.publicAddresses}
          />
          <Validator />
        </div>
      )}
    </div>
  );
}
