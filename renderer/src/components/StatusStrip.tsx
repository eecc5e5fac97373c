// The status strip: gateway state, each listener (bound, or why not), counters — and the two
// alarms that must not wait for a visit to a page (docs/design.md §5, §8.2): an open-relay
// self-test that failed after a change (red), and a config file edit that was refused;
// and a certificate renewal that failed (docs/design.md §2.5). "Spam stopped" sums the
// inbound checks; its tooltip names each (docs/design.md §2.10–§2.14).
import type { GatewayStatus } from '../api.ts';
import { useStatus } from '../hooks.ts';
import { num } from '../format.ts';
import { Icon, type IconName } from './Icon.tsx';
import { RateLimitBanner } from './RateLimitBanner.tsx';

const STATE: Record<GatewayStatus['state'], { icon: IconName; text: string }> = {
  running: { icon: 'dot', text: 'Running' },
  starting: { icon: 'clock', text: 'Starting' },
  stopped: { icon: 'pause', text: 'Stopped' },
  error: { icon: 'warn', text: 'Problem' },
};

export function StatusStrip() {
  const s = useStatus();
  if (!s) {
    return (
      <section className="strip" aria-label="Gateway status">
        <span className="muted">Loading status…</span>
      </section>
    );
  }
  const st = STATE[s.state];
  const c = s.counters;
  // Messages as the family counts them (one per transaction, docs/design.md §4.2); logins
  // and connections apart; system notices are not counted as refused mail.
  // The counters continue from the history (docs/design.md §4.4): the 24 hours before this start, and since.
  const since = s.countersSince
    ? ` since ${new Date(s.countersSince).toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' })} (the 24 hours before Postern started, from the history, and since)`
    : ' since Postern started';
  // Inbound protection (docs/design.md §2.10–§2.14, counters from core/counters.ts): the
  // messages each check refused or deferred, and those delivered into Junk, in one counter
  // whose tooltip names each.
  const dmarc = c.dmarc ?? 0;
  const dnsbl = c.dnsbl ?? 0;
  const spam = c.spam ?? 0;
  const junk = c.junk ?? 0;
  const rate = c.rateLimited ?? 0;
  const stopped = `Unwanted mail${since}: refused by DMARC ${num(dmarc)} · by the blocklists ${num(dnsbl)} · by the spam filter or greylisting ${num(spam)} · sent to Junk ${num(junk)} · slowed by the rate limits ${num(rate)}`;
  const counters: [string, number, string, string][] = [
    ['Accepted', c.accepted, 'accepted', `Messages accepted${since}`],
    ['Refused', c.rejected, 'refused', `Messages refused (a sender, every recipient or the message itself)${since}`],
    ['Deferred', c.deferred, 'deferred', `Messages told to try again later${since}`],
    ['Relay denied', c.relayDenied, 'relay-denied', `Recipients refused because Postern is not an open relay${since}`],
    ['Spam stopped', dmarc + dnsbl + spam + junk, 'spam', stopped],
    ['Connections', c.connections, 'connections', `Connections greeted${since}`],
    ['Logins', c.logins, 'logins', `Successful logins${since}`],
    ['Login failures', c.authFailures, 'auth-failures', `Wrong user name or password${since}`],
    ['Queue', s.queue.outbound, 'queue', 'Messages waiting to be sent on'],
  ];
  const openRelay = !!s.relay && !s.relay.ok;
  return (
    <>
      {openRelay && (
        <div className="banner banner-danger" role="alert" data-testid="relay-alarm">
          <strong>Postern is an open relay.</strong> Anyone on the Internet may send mail through it. {s.relay!.fix} <a href="#/networks">Internal networks</a>{' '}
          · <a href="#/setup">Setup check</a>
        </div>
      )}
      {s.configError && (
        <div className="banner banner-warn" role="alert" data-testid="config-error">
          <strong>The configuration file was changed, but the change was not applied</strong> — Postern keeps running with the settings it had.{' '}
          {s.configError.message}
        </div>
      )}
      <RateLimitBanner accounts={s.rateLimited} />
      <section className={openRelay ? 'strip strip-alarm' : 'strip'} aria-label="Gateway status" data-testid="status-strip">
        <span className={`state state-${openRelay ? 'error' : s.state}`} data-testid="state">
          <Icon name={openRelay ? 'warn' : st.icon} /> {openRelay ? 'OPEN RELAY' : st.text}
        </span>
        <ul className="listeners" aria-label="Listeners">
          {s.listeners.length === 0 && <li className="muted">no listeners</li>}
          {s.listeners.map((l) => (
            <li
              key={`${l.mode} ${l.host}:${l.port} ${l.boundPort}`}
              className={l.ok ? (l.fallbackFrom ? 'listener moved' : 'listener ok') : 'listener failed'}
              title={l.ok && !l.fallbackFrom ? `${l.mode} listening on ${l.host}:${l.boundPort}` : `${l.error}. ${l.fix ?? ''}`}
            >
              <Icon name={l.ok ? 'check' : 'cross'} /> {l.mode} :{l.boundPort ?? l.port}
              {!l.ok && <span className="listener-error"> — {l.error}</span>}
              {l.ok && l.fallbackFrom && (
                <span className="listener-error" data-testid="listener-fallback">
                  {' '}
                  — listening on {l.boundPort} instead of {l.fallbackFrom} (needs permission)
                </span>
              )}
            </li>
          ))}
        </ul>
        {s.disk && !s.disk.ok && (
          <span className="listener failed" data-testid="disk-full" title="Free space where Postern stores mail (docs: Troubleshooting, disk)">
            <Icon name="warn" /> Disk full: {Math.round(s.disk.freeBytes / 1e6)} MB free — new mail refused (452) until space is freed
          </span>
        )}
        {s.tls?.acme?.lastError && (
          <a className="listener failed" href="#/setup" data-testid="acme-failed" title={s.tls.acme.lastError}>
            <Icon name="warn" /> {s.tls.acme.notAfter ? 'Certificate renewal failed — the current one still serves' : 'Getting a certificate failed'}
          </a>
        )}
        {s.setup && s.setup.fails > 0 && (
          <a className="listener failed setup-problems" href="#/setup" data-testid="setup-problems" title={s.setup.failing.join('; ')}>
            <Icon name="warn" /> {s.setup.fails} setup problem{s.setup.fails > 1 ? 's' : ''}
          </a>
        )}
        <dl className="counters">
          {counters.map(([label, value, id, hint]) => (
            <div key={id} className={`counter counter-${id}`} data-testid={`counter-${id}`} title={hint}>
              <dt>{label}</dt>
              <dd>{num(value)}</dd>
            </div>
          ))}
        </dl>
      </section>
    </>
  );
}
