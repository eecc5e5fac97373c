// Building blocks of the Settings page and the first run: a card that saves one group of
// settings through saveSettings (docs/design.md §7.1) and says what happened, and the
// form pieces each group uses.
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import type { Settings, SettingsChange } from '../api.ts';
import { useApp } from '../hooks.ts';
import { ErrorLine } from '../components/Notice.tsx';

export type SaveResult = { ok: true; value: Settings } | { ok: false; message: string };

/** What each card gets: the stored settings and the save function. */
export type CardProps = { s: Settings; save: (c: SettingsChange) => Promise<SaveResult> };

/** Local draft state that follows the stored value whenever that changes. */
export function useDraft<T>(stored: T): [T, (v: T) => void] {
  const key = JSON.stringify(stored);
  const [v, setV] = useState(stored);
  useEffect(() => setV(JSON.parse(key) as T), [key]);
  return [v, setV];
}

/** Saves one change; the page shows the answer (the new settings, or why not, in words). */
export function useSave(onSaved: (s: Settings) => void): (change: SettingsChange) => Promise<SaveResult> {
  const { client } = useApp();
  return async (change) => {
    const r = await client.call('saveSettings', change);
    if (!r.ok) return { ok: false, message: r.error.message };
    onSaved(r.value);
    return { ok: true, value: r.value };
  };
}

/**
 * A form card with one Save button: "Saving…", then "✓ Saved — in use now", or the
 * refusal (nothing was changed). `submit` returns the change to save, or a problem.
 */
export function SettingsCard({
  title,
  label,
  children,
  submit,
  save,
  hint,
  saveText = 'Save',
  savedText = '✓ Saved — in use now',
  testId,
}: {
  title: string;
  label?: string;
  children: ReactNode;
  submit: () => SettingsChange | string;
  save: (c: SettingsChange) => Promise<SaveResult>;
  hint?: ReactNode;
  saveText?: string;
  /** What a successful save says (a setting used from the next start says so). */
  savedText?: string;
  testId?: string;
}) {
  const [state, setState] = useState<{ kind: 'idle' } | { kind: 'saving' } | { kind: 'saved' } | { kind: 'error'; message: string }>({ kind: 'idle' });
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const change = submit();
    if (typeof change === 'string') return setState({ kind: 'error', message: change });
    setState({ kind: 'saving' });
    const r = await save(change);
    setState(r.ok ? { kind: 'saved' } : { kind: 'error', message: r.message });
  };
  return (
    <form className="card settings-card" onSubmit={(e) => void onSubmit(e)} aria-label={label ?? title} data-testid={testId}>
      <h2>{title}</h2>
      {hint && <p className="hint">{hint}</p>}
      {children}
      <div className="button-row">
        <button type="submit" className="primary" disabled={state.kind === 'saving'}>
          {state.kind === 'saving' ? 'Saving…' : saveText}
        </button>
        {state.kind === 'saved' && (
          <span className="ok-line saved-line" role="status">
            {savedText}
          </span>
        )}
      </div>
      {state.kind === 'error' && <ErrorLine error={state.message} />}
    </form>
  );
}

export function TextField({
  label,
  value,
  onChange,
  placeholder,
  type = 'text',
  mono = true,
  grow,
  autoComplete = 'off',
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  placeholder?: string;
  type?: string;
  mono?: boolean;
  grow?: boolean;
  autoComplete?: string;
}) {
  return (
    <label className={grow ? 'field grow' : 'field'}>
      <span>{label}</span>
      <input
        className={mono ? 'mono-input' : undefined}
        type={type}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        placeholder={placeholder}
        autoComplete={autoComplete}
        spellCheck={false}
      />
    </label>
  );
}

export function Toggle({ label, checked, onChange }: { label: ReactNode; checked: boolean; onChange: (v: boolean) => void }) {
  return (
    <label className="check">
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      <span>{label}</span>
    </label>
  );
}

/** Words separated by spaces, commas or new lines → a list (empty entries dropped). */
export function splitList(s: string): string[] {
  return s
    .split(/[\s,;]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

/** A whole number from a field, or a sentence saying what to type. */
export function wholeNumber(s: string, what: string, min = 0): number | string {
  const t = s.trim();
  if (!/^\d+$/.test(t)) return `${what}: type a whole number, for example ${Math.max(min, 25)}`;
  const n = Number(t);
  if (n < min) return `${what}: type at least ${min}`;
  return n;
}
