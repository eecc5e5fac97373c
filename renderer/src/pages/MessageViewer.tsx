// The message viewer (docs/design.md §7.4): a stored or queued message — its text, its HTML
// in an <iframe sandbox> (no scripts, no same-origin, and a CSP that lets nothing remote
// load: `default-src 'none'; img-src data:; style-src 'unsafe-inline'`), its headers, its
// attachments (listed, never opened), the raw source, and Authentication-Results as
// plain verdicts.
import { useEffect, useState } from 'react';
import type { MessageContent } from '../api.ts';
import { useApp, useEscape } from '../hooks.ts';
import { bytes } from '../format.ts';
import { keyed } from '../keys.ts';

type Tab = 'message' | 'headers' | 'source';

const FRAME_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

/** Headless: the server sends the HTML with its own CSP (GET /api/message-html). Desktop: srcdoc. */
function frameSource(kind: 'electron' | 'http', m: MessageContent): { src?: string; srcDoc?: string } {
  const token = kind === 'http' ? sessionStorage.getItem('postern-token') : null;
  if (token) return { src: `/api/message-html?id=${m.id}&token=${encodeURIComponent(token)}` };
  return { srcDoc: `<!doctype html><meta http-equiv="Content-Security-Policy" content="${FRAME_CSP}">${m.html ?? ''}` };
}

const GOOD = new Set(['pass']);
const BAD = new Set(['fail', 'softfail', 'permerror', 'policy']);

export function MessageViewer({ id, onClose }: { id: number; onClose: () => void }) {
  const { client } = useApp();
  const [m, setM] = useState<MessageContent | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tab, setTab] = useState<Tab>('message');
  const [asText, setAsText] = useState(false);

  useEffect(() => {
    let gone = false;
    setM(null);
    void client.call('messageContent', { id }).then((r) => {
      if (gone) return;
      if (r.ok) setM(r.value);
      else setError(r.error.message);
    });
    return () => {
      gone = true;
    };
  }, [client, id]);

  useEscape(onClose);

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a click beside the dialog is a mouse shortcut; Escape and the ✕ button close it from the keyboard
    <div className="viewer-backdrop" role="presentation" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <section className="viewer" role="dialog" aria-modal="true" aria-label="Message viewer" data-testid="message-viewer">
        <header className="viewer-head">
          <div className="viewer-title">
            <h2>{m ? m.subject || '(no subject)' : 'Message'}</h2>
            {m && (
              <p className="muted">
                From <span className="mono">{m.from}</span> to <span className="mono">{m.to}</span>
                {m.date ? ` · ${new Date(m.date).toLocaleString()}` : ''} · {m.stored === 'maildir' ? 'in the Maildir' : 'in the outbound queue'}
              </p>
            )}
          </div>
          <button type="button" className="icon-button" onClick={onClose} aria-label="Close the viewer" title="Close (Esc)">
            ✕
          </button>
        </header>
        {error && <p className="error pad">{error}</p>}
        {!m && !error && <p className="muted pad">Opening the message…</p>}
        {m && (
          <>
            {m.auth.length > 0 && (
              <ul className="auth-verdicts" aria-label="Authentication results">
                {keyed(m.auth, (a) => `${a.method} ${a.result} ${a.detail}`).map(({ key, item: a }) => (
                  <li key={key} className={`badge ${GOOD.has(a.result) ? 'v-accept' : BAD.has(a.result) ? 'v-reject' : 'v-info'}`} title={a.detail}>
                    {a.method.toUpperCase()}: {a.result}
                  </li>
                ))}
              </ul>
            )}
            <nav className="viewer-tabs" aria-label="Views of the message">
              {(['message', 'headers', 'source'] as Tab[]).map((t) => (
                <button key={t} type="button" className={t === tab ? 'tab active' : 'tab'} aria-pressed={t === tab} onClick={() => setTab(t)}>
                  {t === 'message' ? 'Message' : t === 'headers' ? `Headers (${m.headers.length})` : 'Source'}
                </button>
              ))}
              {tab === 'message' && m.html !== null && (
                <label className="check viewer-astext">
                  <input type="checkbox" checked={asText} onChange={(e) => setAsText(e.target.checked)} /> Plain text
                </label>
              )}
            </nav>
            <div className="viewer-body">
              {tab === 'message' &&
                (m.html !== null && !asText ? (
                  <iframe
                    className="viewer-frame"
                    title="Message content"
                    sandbox=""
                    referrerPolicy="no-referrer"
                    data-testid="message-frame"
                    {...frameSource(client.kind, m)}
                  />
                ) : (
                  <pre className="viewer-text">{m.text || '(no text)'}</pre>
                ))}
              {tab === 'headers' && (
                <table className="table viewer-headers">
                  <tbody>
                    {keyed(m.headers, (h) => `${h.name}: ${h.value}`).map(({ key, item: h }) => (
                      <tr key={key}>
                        <th scope="row" className="mono">
                          {h.name}
                        </th>
                        <td className="mono">{h.value}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              {tab === 'source' && (
                <pre className="viewer-text" data-testid="message-source">
                  {m.raw}
                  {m.truncated ? '\n… (cut at 2 MiB)' : ''}
                </pre>
              )}
            </div>
            {m.attachments.length > 0 && (
              <footer className="viewer-attachments">
                <strong>Attachments:</strong>
                <ul>
                  {keyed(m.attachments, (a) => `${a.filename} ${a.contentType} ${a.size}`).map(({ key, item: a }) => (
                    <li key={key}>
                      📎 {a.filename}{' '}
                      <span className="muted">
                        ({a.contentType}, {bytes(a.size)})
                      </span>
                    </li>
                  ))}
                </ul>
              </footer>
            )}
          </>
        )}
      </section>
    </div>
  );
}
