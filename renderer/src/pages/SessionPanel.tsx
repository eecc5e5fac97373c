// The side panel of the live log: the whole SMTP session of the clicked row, via
// `events({session})`, kept up to date while the session goes on.
import { useEffect, useState } from 'react';
import type { GatewayEvent } from '../api.ts';
import { useApp, useEscape, useEventsVersion } from '../hooks.ts';
import { StepHead } from '../components/Step.tsx';
import { dateTime, route } from '../format.ts';

export function SessionPanel({ event, onClose }: { event: GatewayEvent; onClose: () => void }) {
  const { client, live } = useApp();
  useEventsVersion();
  const [fetched, setFetched] = useState<{ session: string; events: GatewayEvent[]; error?: string } | null>(null);
  const session = event.session;

  useEffect(() => {
    let gone = false;
    if (!session) return;
    void client.call('events', { session, limit: 5000 }).then((r) => {
      if (gone) return;
      setFetched(r.ok ? { session, events: r.value.events } : { session, events: [], error: r.error.message });
    });
    return () => {
      gone = true;
    };
  }, [client, session]);

  useEscape(onClose);

  let steps: GatewayEvent[];
  if (!session) steps = [event];
  else if (!fetched || fetched.session !== session) steps = [];
  else {
    // Events of this session that arrived live after the fetch.
    const last = fetched.events.at(-1)?.id ?? 0;
    const more: GatewayEvent[] = [];
    const ev = live.events;
    for (let i = ev.length - 1; i >= 0 && ev[i].id > last; i--) if (ev[i].session === session) more.push(ev[i]);
    steps = fetched.events.concat(more.reverse());
  }
  const first = steps[0] ?? event;
  const outcome = steps.find((s) => s.stage === 'data' && s.queueId);

  return (
    <aside className="panel" aria-label="SMTP session" data-testid="session-panel">
      <header className="panel-head">
        <div>
          <h2>{session ? 'SMTP session' : 'Event'}</h2>
          <p className="muted mono">{session || `#${event.id}`}</p>
        </div>
        <button type="button" className="icon-button" onClick={onClose} aria-label="Close the session panel" title="Close (Esc)">
          ✕
        </button>
      </header>
      <dl className="facts">
        <dt>Client</dt>
        <dd className="mono">{first.client || '—'}</dd>
        <dt>Listener</dt>
        <dd className="mono">{first.listener || '—'}</dd>
        <dt>Started</dt>
        <dd>{dateTime(first.time)}</dd>
        {outcome && (
          <>
            <dt>Queued as</dt>
            <dd className="mono">{outcome.queueId}</dd>
          </>
        )}
      </dl>
      {fetched?.error && <p className="error">{fetched.error}</p>}
      {session && !fetched && <p className="muted">Loading the session…</p>}
      {session && fetched && steps.length === 0 && !fetched.error && <p className="muted">This session is no longer in memory.</p>}
      <ol className="steps">
        {steps.map((s) => (
          <li key={s.id} className={`step v-${s.verdict}${s.id === event.id ? ' current' : ''}`}>
            <StepHead step={s} />
            {(s.reason || s.from !== undefined || s.to || s.user || s.spf || s.queueId) && (
              <p className="step-more">
                {s.reason && <span>{s.reason}</span>}
                {(s.from !== undefined || s.to) && <span className="mono">{route(s.from, s.to)}</span>}
                {s.user && <span>login: {s.user}</span>}
                {s.spf && <span>SPF: {s.spf}</span>}
                {s.queueId && <span className="mono">queue id {s.queueId}</span>}
              </p>
            )}
          </li>
        ))}
      </ol>
    </aside>
  );
}
