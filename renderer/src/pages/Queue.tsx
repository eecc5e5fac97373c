// The outbound queue: messages Postern still has to hand on, with retry and delete.
import { useState } from 'react';
import type { QueueEntry } from '../api.ts';
import { useApp, useLoad, useOnLiveStage } from '../hooks.ts';
import { relative, when } from '../format.ts';
import { ErrorLine, Unavailable } from '../components/Notice.tsx';

const STATUS: Record<string, string> = { queued: '… waiting', deferred: '↻ will retry', delivered: '✓ delivered', failed: '✕ failed' };

export function Queue() {
  const { client } = useApp();
  const [list, reload, setList] = useLoad('queue');
  const [error, setError] = useState<string | null>(null);
  // Delete cannot be undone (no bounce is sent): it asks first.
  const [confirm, setConfirm] = useState<string | null>(null);
  useOnLiveStage('delivery', () => void reload());
  useOnLiveStage('queue', () => void reload());

  const act = async (kind: 'retryQueue' | 'deleteQueue', q: QueueEntry) => {
    setError(null);
    setConfirm(null);
    const r = await client.call(kind, { id: q.id });
    if (r.ok) setList(r.value);
    else setError(r.error.message);
  };

  return (
    <div className="page-body">
      <h1>Outbound queue</h1>
      <p className="lead">Mail from the family to other domains waits here until the next server takes it. Postern retries for up to five days.</p>
      <ErrorLine error={error} />
      {list.state === 'loading' && <p className="muted">Loading…</p>}
      {list.state === 'error' && (list.code === 'unavailable' ? <Unavailable what="The outbound queue" message={list.message} /> : <ErrorLine error={list} />)}
      {list.state === 'ok' &&
        (list.value.length === 0 ? (
          <p className="empty-card">Nothing is waiting to be sent.</p>
        ) : (
          <table className="table" aria-label="Queued messages">
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">From</th>
                <th scope="col">Recipients</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.value.map((q) => (
                <tr key={q.id}>
                  <td>
                    <span title={new Date(q.received).toLocaleString()}>{when(q.received)}</span>
                    <div className="muted mono">{q.id}</div>
                  </td>
                  <td className="mono">
                    {q.from || '<>'}
                    <div className="muted">from {q.client}</div>
                  </td>
                  <td>
                    <ul className="plain">
                      {q.recipients.map((r) => (
                        <li key={r.address}>
                          <span className="mono">{r.address}</span> — {STATUS[r.status] ?? r.status}
                          {r.attempts ? <span className="muted"> · {r.attempts} attempt(s)</span> : null}
                          {r.lastError ? <div className="muted">{r.lastError}</div> : null}
                          {r.nextAttempt && r.status !== 'delivered' && r.status !== 'failed' ? (
                            <div className="muted" title={new Date(r.nextAttempt).toLocaleString()}>
                              next try {relative(r.nextAttempt)}
                            </div>
                          ) : null}
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td className="actions">
                    <button type="button" className="secondary small" onClick={() => void act('retryQueue', q)}>
                      Retry now
                    </button>
                    {confirm === q.id ? (
                      <span className="inline-confirm" role="alertdialog" aria-label={`Delete ${q.id}?`}>
                        <span>Delete it? It will not be sent, and the sender is not told.</span>
                        <button type="button" className="danger small" onClick={() => void act('deleteQueue', q)}>
                          Delete
                        </button>
                        <button type="button" className="secondary small" onClick={() => setConfirm(null)}>
                          Keep
                        </button>
                      </span>
                    ) : (
                      <button type="button" className="danger small" onClick={() => setConfirm(q.id)} aria-label={`Delete ${q.id}`}>
                        Delete…
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </div>
  );
}
