// Family accounts: who receives mail, and who may log in to send it.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { AccountView } from '../api.ts';
import { useApp, useLoad } from '../hooks.ts';
import { ErrorLine } from '../components/Notice.tsx';

export function Accounts() {
  const { client } = useApp();
  const [list, , setList] = useLoad('accounts');
  const [settings] = useLoad('settings');
  const system = settings.state === 'ok' && settings.value.authBackend === 'saslauthd';
  const [confirm, setConfirm] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [addresses, setAddresses] = useState('');
  const [password, setPassword] = useState('');
  const [addError, setAddError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [editing, setEditing] = useState<{ name: string; what: 'password' | 'addresses' } | null>(null);

  const remove = async (a: AccountView) => {
    setError(null);
    const r = await client.call('removeAccount', { name: a.name });
    setConfirm(null);
    if (r.ok) setList(r.value);
    else setError(r.error.message);
  };
  const add = async (e: FormEvent) => {
    e.preventDefault();
    setAddError(null);
    setSaving(true);
    const r = await client.call('addAccount', { name: name.trim(), addresses: addresses.split(/[\s,;]+/).filter(Boolean), password });
    setSaving(false);
    if (!r.ok) return setAddError(r.error.message);
    setList(r.value);
    setName('');
    setAddresses('');
    setPassword('');
  };

  return (
    <div className="page-body narrow">
      <h1>Accounts</h1>
      <p className="lead">
        Each account gets its own mailbox. Its addresses receive mail; with its password, its mail program can send through Postern from anywhere.
      </p>
      {list.state === 'loading' && <p className="muted">Loading…</p>}
      {list.state === 'error' && <ErrorLine error={list} />}
      <ErrorLine error={error} />
      {list.state === 'ok' &&
        (list.value.length === 0 ? (
          <p className="empty-card">No accounts yet. Add the first one below.</p>
        ) : (
          <table className="table accounts-table" aria-label="Accounts">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Addresses</th>
                <th scope="col">Password</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.value.map((a) => (
                <tr key={a.name} data-testid="account">
                  <td className="strong">{a.name}</td>
                  <td className="mono">{a.addresses.join(', ') || <span className="muted">none</span>}</td>
                  <td>
                    {a.hasPassword ? (
                      '✓ set'
                    ) : (
                      <span className="muted">{system ? 'the system password (saslauthd)' : 'not set: cannot send from outside'}</span>
                    )}
                  </td>
                  <td className="actions">
                    {editing?.name === a.name ? null : confirm === a.name ? (
                      <>
                        <span>Remove {a.name}? The mailbox stays on disk.</span>
                        <button type="button" className="danger small" onClick={() => void remove(a)}>
                          Remove
                        </button>
                        <button type="button" className="secondary small" onClick={() => setConfirm(null)}>
                          Keep
                        </button>
                      </>
                    ) : (
                      <>
                        {!system && (
                          <button
                            type="button"
                            className="secondary small"
                            onClick={() => setEditing({ name: a.name, what: 'password' })}
                            aria-label={`Set the password of ${a.name}`}
                          >
                            {a.hasPassword ? 'Reset password…' : 'Set password…'}
                          </button>
                        )}
                        <button
                          type="button"
                          className="secondary small"
                          onClick={() => setEditing({ name: a.name, what: 'addresses' })}
                          aria-label={`Change the addresses of ${a.name}`}
                        >
                          Addresses…
                        </button>
                        <button type="button" className="secondary small" onClick={() => setConfirm(a.name)} aria-label={`Remove ${a.name}`}>
                          Remove…
                        </button>
                      </>
                    )}
                    {editing?.name === a.name && (
                      <AccountEdit
                        account={a}
                        what={editing.what}
                        onDone={(v) => {
                          setEditing(null);
                          if (v) setList(v);
                        }}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
      <form className="card" onSubmit={add} aria-label="Add an account">
        <h2>Add an account</h2>
        <div className="field-row">
          <label className="field">
            <span>Name (login)</span>
            <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" placeholder="jane" required />
          </label>
          <label className="field grow">
            <span>Addresses</span>
            <input
              value={addresses}
              onChange={(e) => setAddresses(e.target.value)}
              autoComplete="off"
              spellCheck={false}
              placeholder="jane.doe@doe-family.com"
            />
          </label>
          <label className="field">
            <span>Password</span>
            <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" required />
          </label>
          <button type="submit" className="primary" disabled={saving}>
            {saving ? 'Saving…' : 'Add account'}
          </button>
        </div>
        <p className="hint">Several addresses: separate them with spaces. Adding an existing name sets its password and adds the addresses.</p>
        <ErrorLine error={addError} />
      </form>
    </div>
  );
}

/** Sets or resets a password, or replaces the addresses, of one account (docs/design.md §7.1 setPassword, setAddresses). */
function AccountEdit({ account, what, onDone }: { account: AccountView; what: 'password' | 'addresses'; onDone: (list: AccountView[] | null) => void }) {
  const { client } = useApp();
  const [value, setValue] = useState(what === 'addresses' ? account.addresses.join(' ') : '');
  const [error, setError] = useState<string | null>(null);
  // The field the person just asked to edit takes the focus when it opens.
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const [saving, setSaving] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSaving(true);
    setError(null);
    const r =
      what === 'password'
        ? await client.call('setPassword', { name: account.name, password: value })
        : await client.call('setAddresses', { name: account.name, addresses: value.split(/[\s,;]+/).filter(Boolean) });
    setSaving(false);
    if (!r.ok) return setError(r.error.message);
    onDone(r.value);
  };
  return (
    <form
      className="account-edit"
      onSubmit={(e) => void submit(e)}
      aria-label={what === 'password' ? `New password for ${account.name}` : `Addresses of ${account.name}`}
    >
      <label className="field">
        <span>{what === 'password' ? `New password for ${account.name} (10 characters or more)` : `Addresses of ${account.name} (separated by spaces)`}</span>
        <input
          type={what === 'password' ? 'password' : 'text'}
          value={value}
          onChange={(e) => setValue(e.target.value)}
          autoComplete={what === 'password' ? 'new-password' : 'off'}
          spellCheck={false}
          ref={input}
        />
      </label>
      <div className="button-row">
        <button type="submit" className="primary small" disabled={saving}>
          {saving ? 'Saving…' : 'Save'}
        </button>
        <button type="button" className="secondary small" onClick={() => onDone(null)}>
          Cancel
        </button>
      </div>
      <ErrorLine error={error} />
    </form>
  );
}
