// Internal networks (docs/design.md §2.2): a toggle each; detected networks are offered
// untrusted; custom CIDRs are added here and checked by Postern (the page only
// shows what the server answers). Trust is explicit (docs/design.md §2.2): a range with
// public addresses is trusted only after the server's sentence was shown and "Trust it
// anyway" clicked; a change that could not be saved shows "not saved: …" and the list
// as it really is.
import { useState, type FormEvent } from 'react';
import type { NetworkView } from '../api.ts';
import { useApp, useLoad, useOnLiveStage } from '../hooks.ts';
import { KIND_HINT, KIND_LABEL } from '../format.ts';
import { ErrorLine } from '../components/Notice.tsx';
import { Bans } from '../components/Bans.tsx';

interface Pending {
  cidr: string;
  label?: string;
  message: string;
  /** Came from the add form (clear it once trusted). */
  fromForm: boolean;
}

const DEFAULTS = new Set(['127.0.0.0/8', '::1/128']);

function NetworkRow({
  n,
  busy,
  onToggle,
  onRemove,
}: {
  n: NetworkView;
  busy: boolean;
  onToggle: (n: NetworkView) => void;
  onRemove: (n: NetworkView) => void;
}) {
  const removable = n.configured && !n.detected && !(n.builtin && DEFAULTS.has(n.cidr));
  const id = `net-${n.cidr.replace(/[^0-9a-z]/gi, '-')}`;
  return (
    <li className={`net${n.enabled ? ' trusted' : ''}`} data-cidr={n.cidr} data-testid="network">
      <label className="switch" htmlFor={id}>
        <input
          id={id}
          type="checkbox"
          role="switch"
          aria-checked={n.enabled}
          checked={n.enabled}
          disabled={busy || (!!n.notOffered && !n.enabled)}
          onChange={() => onToggle(n)}
          aria-describedby={`${id}-state`}
        />
        <span className="switch-track" aria-hidden="true">
          <span className="switch-thumb" />
        </span>
        <span className="sr-only">Trust {n.label || n.cidr}</span>
      </label>
      <div className="net-main">
        <div className="net-title">
          <span className="net-label">{n.label || 'Network'}</span>
          <code className="net-cidr">{n.cidr}</code>
          <span className={`kind kind-${n.kind}`} title={KIND_HINT[n.kind]}>
            {KIND_LABEL[n.kind]}
          </span>
          {n.detected && <span className="tag">detected</span>}
          {n.isDefault && (
            <span className="tag tag-default" title="The network this computer reaches the Internet through">
              default route{n.gateway ? ` · router ${n.gateway}` : ''}
            </span>
          )}
          {!n.detected && !n.builtin && <span className="tag">custom</span>}
        </div>
        <p id={`${id}-state`} className={n.enabled ? 'net-state on' : 'net-state off'}>
          {n.enabled ? (
            <>
              <span aria-hidden="true">✓ </span>Trusted: devices here may send mail anywhere through Postern.
            </>
          ) : n.notOffered ? (
            <>
              <span aria-hidden="true">⊘ </span>Not offered: {n.notOffered}
            </>
          ) : n.detected ? (
            <>
              <span aria-hidden="true">○ </span>Not trusted until you enable it. {KIND_HINT[n.kind]}
            </>
          ) : (
            <>
              <span aria-hidden="true">○ </span>Not trusted.
            </>
          )}
        </p>
      </div>
      {removable && (
        <button type="button" className="secondary small" disabled={busy} onClick={() => onRemove(n)} aria-label={`Remove ${n.cidr}`}>
          Remove
        </button>
      )}
    </li>
  );
}

export function Networks() {
  const { client } = useApp();
  const [list, reload, setList] = useLoad('networks');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [cidr, setCidr] = useState('');
  const [label, setLabel] = useState('');
  const [addError, setAddError] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  // Another window (or the tray) changed a network: show it.
  useOnLiveStage('network', () => void reload());

  const toggle = async (n: NetworkView) => {
    setBusy(n.cidr);
    setError(null);
    setPending(null);
    const r = await client.call('setNetwork', { cidr: n.cidr, enabled: !n.enabled });
    setBusy(null);
    if (r.ok) return setList(r.value);
    if (r.error.code === 'needs-confirmation') return setPending({ cidr: n.cidr, message: r.error.message, fromForm: false });
    setError(r.error.message);
    void reload(); // show what is really in force
  };
  const confirm = async (p: Pending) => {
    setBusy(p.cidr);
    const r = await client.call('setNetwork', { cidr: p.cidr, enabled: true, ...(p.label ? { label: p.label } : {}), confirmPublic: true });
    setBusy(null);
    setPending(null);
    if (!r.ok) {
      (p.fromForm ? setAddError : setError)(r.error.message);
      return void reload();
    }
    setList(r.value);
    if (p.fromForm) {
      setCidr('');
      setLabel('');
    }
  };
  const remove = async (n: NetworkView) => {
    setBusy(n.cidr);
    setError(null);
    const r = await client.call('removeNetwork', { cidr: n.cidr });
    setBusy(null);
    if (r.ok) setList(r.value);
    else setError(r.error.message);
  };
  const add = async (ev: FormEvent) => {
    ev.preventDefault();
    setAddError(null);
    setPending(null);
    const r = await client.call('setNetwork', { cidr: cidr.trim(), enabled: true, ...(label.trim() ? { label: label.trim() } : {}) });
    if (!r.ok && r.error.code === 'needs-confirmation')
      return setPending({ cidr: cidr.trim(), label: label.trim() || undefined, message: r.error.message, fromForm: true });
    if (!r.ok) {
      setAddError(r.error.message);
      return void reload();
    }
    setList(r.value);
    setCidr('');
    setLabel('');
  };

  return (
    <div className="page-body narrow">
      <h1>Internal networks</h1>
      <p className="lead">
        Devices on a <strong>trusted</strong> network may send mail to anyone through Postern without a password. Trust only networks you control. A change
        applies to the next message at once.
      </p>
      {list.state === 'loading' && <p className="muted">Loading…</p>}
      {list.state === 'error' && <ErrorLine error={list} />}
      <ErrorLine error={error} />
      {pending && !pending.fromForm && <ConfirmTrust p={pending} busy={busy === pending.cidr} onYes={confirm} onNo={() => setPending(null)} />}
      {list.state === 'ok' && (
        <ul className="nets" aria-label="Networks">
          {list.value.map((n) => (
            <NetworkRow key={n.cidr} n={n} busy={busy === n.cidr} onToggle={toggle} onRemove={remove} />
          ))}
        </ul>
      )}
      <form className="card add-net" onSubmit={add} aria-label="Add a network">
        <h2>Add a network</h2>
        <div className="field-row">
          <label className="field">
            <span>Network (CIDR)</span>
            <input
              name="cidr"
              value={cidr}
              onChange={(e) => setCidr(e.target.value)}
              placeholder="192.168.1.0/24"
              spellCheck={false}
              autoComplete="off"
              required
            />
          </label>
          <label className="field">
            <span>Name (optional)</span>
            <input name="label" value={label} onChange={(e) => setLabel(e.target.value)} placeholder="Home Wi-Fi" autoComplete="off" />
          </label>
          <button type="submit" className="primary">
            Add and trust
          </button>
        </div>
        {pending?.fromForm && <ConfirmTrust p={pending} busy={busy === pending.cidr} onYes={confirm} onNo={() => setPending(null)} />}
        <ErrorLine error={addError} />
        <p className="hint">A single address (192.168.1.20) means that one device.</p>
      </form>
      <Bans />
    </div>
  );
}

/** The server's sentence about a range with public addresses, and the explicit "yes". */
function ConfirmTrust({ p, busy, onYes, onNo }: { p: Pending; busy: boolean; onYes: (p: Pending) => void; onNo: () => void }) {
  return (
    <div className="confirm-box" role="alertdialog" aria-label={`Trust ${p.cidr}?`} data-testid="confirm-trust">
      <p>
        <strong>Trust {p.cidr}?</strong> {p.message}
      </p>
      <div className="button-row">
        <button type="button" className="danger" disabled={busy} onClick={() => onYes(p)}>
          Trust it anyway
        </button>
        <button type="button" className="secondary" disabled={busy} onClick={onNo}>
          Cancel
        </button>
      </div>
    </div>
  );
}
