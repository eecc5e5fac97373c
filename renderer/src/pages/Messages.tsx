// The Messages view (docs/design.md §7.4): one row per SMTP transaction from the history
// index — time, client, sender, recipients, subject, size, verdict, what happened — with
// the search language, the search kept in the address, CSV/JSON export, and a panel
// with the transaction's SMTP events and delivery attempts. Follows the live stream.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { MessageDetail, MessageRow } from '../api.ts';
import { useApp, useEscape } from '../hooks.ts';
import { bytes, route, when } from '../format.ts';
import { hashParams, setHashParams } from '../url-state.ts';
import { MessageVerdictBadge, outcomeText } from '../components/MessageWords.tsx';
import { MessageViewer } from './MessageViewer.tsx';
import { StepHead } from '../components/Step.tsx';
import '../history.css';

const PAGE = 200;
/** Stages whose events change a row: reload (at most every second) when they arrive. */
const ROW_STAGES = new Set(['mail', 'rcpt', 'data', 'queue', 'delivery']);

function useHashParams(): URLSearchParams {
  const [p, setP] = useState(hashParams);
  useEffect(() => {
    const on = () => setP(hashParams());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return p;
}

export function Messages() {
  const { client, live } = useApp();
  const params = useHashParams();
  const q = params.get('q') ?? '';
  const open = Number(params.get('open')) || null;
  const viewing = params.get('view') === '1';
  const [input, setInput] = useState(q);
  const [rows, setRows] = useState<MessageRow[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const shown = useRef(PAGE);

  useEffect(() => setInput(q), [q]);

  const load = useCallback(async () => {
    const r = await client.call('messages', { ...(q ? { q } : {}), limit: Math.min(5000, shown.current) });
    if (!r.ok) {
      setError(r.error.message);
      setRows((old) => old ?? []);
      return;
    }
    setError(null);
    setRows(r.value.messages);
    setMore(r.value.more);
  }, [client, q]);

  useEffect(() => {
    shown.current = PAGE;
    setRows(null);
    void load();
  }, [load]);

  // Live: a new transaction or a delivery reloads the rows (coalesced).
  useEffect(() => {
    let seen = live.lastId;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const off = live.subscribe(() => {
      if (live.lastId === seen) return;
      const ev = live.events;
      let hit = false;
      for (let i = ev.length - 1; i >= 0 && ev[i].id > seen; i--) if (ROW_STAGES.has(ev[i].stage)) hit = true;
      seen = live.lastId;
      if (hit && !timer)
        timer = setTimeout(() => {
          timer = null;
          void load();
        }, 700);
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [live, load]);

  const older = async () => {
    const last = rows?.at(-1);
    if (!last) return;
    const r = await client.call('messages', { ...(q ? { q } : {}), beforeId: last.id, limit: PAGE });
    if (!r.ok) return setError(r.error.message);
    shown.current += r.value.messages.length;
    setRows((old) => [...(old ?? []), ...r.value.messages]);
    setMore(r.value.more);
  };

  const download = async (format: 'csv' | 'json') => {
    const r = await client.call('exportMessages', { ...(q ? { q } : {}), format });
    if (!r.ok) return setError(r.error.message);
    const url = URL.createObjectURL(new Blob([r.value.body], { type: r.value.mime }));
    const a = document.createElement('a');
    a.href = url;
    a.download = r.value.filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  return (
    <div className={open ? 'messages-layout with-panel' : 'messages-layout'}>
      <section className="messages-main" aria-label="Messages">
        <form
          className="toolbar messages-toolbar"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setHashParams({ q: input.trim(), open: null, view: null });
          }}
        >
          <input
            className="search grow"
            type="search"
            value={input}
            onChange={(e) => setInput(e.target.value)}
            placeholder="Search: from:grandma to:john subject:&quot;sunday lunch&quot; ip:203.0.113. rule:spf verdict:refused after:2d"
            aria-label="Search messages"
            data-testid="message-search"
          />
          <button type="submit" className="primary">
            Search
          </button>
          {q && (
            <button type="button" onClick={() => setHashParams({ q: null, open: null, view: null })}>
              Clear
            </button>
          )}
          <span className="spacer" />
          <button type="button" onClick={() => void download('csv')} data-testid="export-csv" title="Download the matching messages as CSV">
            ⤓ CSV
          </button>
          <button type="button" onClick={() => void download('json')} data-testid="export-json" title="Download the matching messages as JSON">
            ⤓ JSON
          </button>
        </form>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {rows === null ? (
          <p className="muted pad">Loading the history…</p>
        ) : rows.length === 0 ? (
          <p className="empty-card">
            {q ? 'No message matches this search.' : 'No messages yet. Each message Postern accepts, refuses or defers appears here.'}
          </p>
        ) : (
          <div className="messages-scroll">
            <table className="table messages-table" aria-label="Messages list">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col" className="col-client">
                    Client
                  </th>
                  <th scope="col">From</th>
                  <th scope="col">To</th>
                  <th scope="col">Subject</th>
                  <th scope="col" className="num col-size">
                    Size
                  </th>
                  <th scope="col">Verdict</th>
                  <th scope="col">What happened</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((m) => (
                  <tr
                    key={m.id}
                    data-testid="message-row"
                    data-id={m.id}
                    className={m.id === open ? 'selected' : undefined}
                    tabIndex={0}
                    onClick={() => setHashParams({ open: m.id, view: null })}
                    onKeyDown={(e) => {
                      if (e.key === 'Enter') setHashParams({ open: m.id, view: null });
                    }}
                  >
                    <td className="nowrap">
                      <time dateTime={m.time} title={new Date(m.time).toLocaleString()}>
                        {when(m.time)}
                      </time>
                    </td>
                    <td className="mono nowrap col-client">
                      {m.client}
                      {m.user && <div className="muted">login {m.user}</div>}
                    </td>
                    <td className="mono clip">{m.from || '<>'}</td>
                    <td className="mono clip">{m.to.join(', ')}</td>
                    <td className="clip subject">{m.subject || <span className="muted">—</span>}</td>
                    <td className="num nowrap col-size">{m.size ? bytes(m.size) : ''}</td>
                    <td>
                      <MessageVerdictBadge verdict={m.verdict} />
                    </td>
                    <td className="clip outcome">{outcomeText(m)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {more && (
              <p className="pad">
                <button type="button" onClick={() => void older()}>
                  Older messages
                </button>
              </p>
            )}
          </div>
        )}
      </section>
      {open && <MessagePanel id={open} onClose={() => setHashParams({ open: null, view: null })} />}
      {open && viewing && <MessageViewer id={open} onClose={() => setHashParams({ view: null })} />}
    </div>
  );
}

function MessagePanel({ id, onClose }: { id: number; onClose: () => void }) {
  const { client, live } = useApp();
  const [detail, setDetail] = useState<MessageDetail | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const r = await client.call('message', { id });
    if (r.ok) {
      setDetail(r.value);
      setError(null);
    } else setError(r.error.message);
  }, [client, id]);

  useEffect(() => {
    setDetail(null);
    void load();
  }, [load]);

  // Delivery attempts arrive later: follow them.
  useEffect(() => {
    let seen = live.lastId;
    return live.subscribe(() => {
      if (live.lastId === seen) return;
      seen = live.lastId;
      if (detail?.message.queueId && live.events.at(-1)?.queueId === detail.message.queueId) void load();
    });
  }, [live, load, detail]);

  useEscape(onClose);

  const m = detail?.message;
  return (
    <aside className="panel" aria-label="Message" data-testid="message-panel">
      <header className="panel-head">
        <div>
          <h2>{m ? m.subject || '(no subject)' : 'Message'}</h2>
          {m && <p className="muted mono">{m.queueId || `session ${m.session}`}</p>}
        </div>
        <button type="button" className="icon-button" onClick={onClose} aria-label="Close the message panel" title="Close (Esc)">
          ✕
        </button>
      </header>
      {error && <p className="error">{error}</p>}
      {!detail && !error && <p className="muted">Loading…</p>}
      {m && detail && (
        <>
          <dl className="facts">
            <dt>Time</dt>
            <dd>{new Date(m.time).toLocaleString()}</dd>
            <dt>Client</dt>
            <dd className="mono">
              {m.client} ({m.listener})
            </dd>
            {m.user && (
              <>
                <dt>Login</dt>
                <dd>{m.user}</dd>
              </>
            )}
            <dt>From</dt>
            <dd className="mono">{m.from || '<>'}</dd>
            <dt>To</dt>
            <dd className="mono">{m.to.join(', ') || '—'}</dd>
            <dt>Verdict</dt>
            <dd>
              <MessageVerdictBadge verdict={m.verdict} /> {outcomeText(m)}
            </dd>
          </dl>
          {detail.stored && (
            <p>
              <button type="button" className="primary" onClick={() => setHashParams({ view: 1 })} data-testid="open-message">
                Open message
              </button>{' '}
              <span className="muted">{detail.stored === 'maildir' ? 'stored in the Maildir' : 'waiting in the outbound queue'}</span>
            </p>
          )}
          <h3 className="panel-sub">SMTP and delivery</h3>
          <ol className="steps">
            {detail.events.map((s) => (
              <li key={s.id} className={`step v-${s.verdict}`} data-testid="message-step">
                <StepHead step={s} title={new Date(s.time).toLocaleString()} />
                {(s.reason || s.from !== undefined || s.to) && (
                  <p className="step-more">
                    {s.reason && <span>{s.reason}</span>}
                    {(s.from !== undefined || s.to) && <span className="mono">{route(s.from, s.to)}</span>}
                  </p>
                )}
              </li>
            ))}
          </ol>
        </>
      )}
    </aside>
  );
}
