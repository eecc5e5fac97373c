// The DNS records to publish (docs/design.md §7.1 dnsRecords) as a Name / Type / Value table,
// a copy button per value, each checked live: published / not yet / different. Shown in
// the first run and on the Setup page (the DKIM value stays visible once published).
// After Mail-in-a-Box's DNS page and mailcow's DNS records table.
import { Fragment, useState } from 'react';
import type { DnsRecordRow } from '../api.ts';
import { useLoad } from '../hooks.ts';
import { dateTime } from '../format.ts';
import { CopyButton } from './CopyButton.tsx';
import { ErrorLine } from './Notice.tsx';

const STATE: Record<DnsRecordRow['state'], { icon: string; text: string; cls: string }> = {
  published: { icon: '✓', text: 'Published', cls: 's-ok' },
  missing: { icon: '…', text: 'Not yet', cls: 's-warn' },
  different: { icon: '✕', text: 'Different', cls: 's-fail' },
  unknown: { icon: '?', text: 'Could not check', cls: 's-warn' },
};

export const FIND_PUBLIC_IP = 'https://www.whatismyip.com/';

export function DnsRecords({ intro = true }: { intro?: boolean }) {
  const [records, reload] = useLoad('dnsRecords');
  const [checking, setChecking] = useState(false);
  const again = async () => {
    setChecking(true);
    await reload();
    setChecking(false);
  };
  return (
    <section className="card dns-card" aria-label="DNS records">
      <h2>DNS records to publish</h2>
      {intro && (
        <p className="hint">
          Add these at the company where your domain is registered (its “DNS” or “zone” page). Changes can take from a few minutes to an hour to be seen;
          Postern asks DNS each time you press “Check the records again”.
        </p>
      )}
      {records.state === 'loading' && <p className="muted">Asking DNS…</p>}
      {records.state === 'error' && <ErrorLine error={records} />}
      {records.state === 'ok' && records.value.records.length === 0 && <p className="empty-card">Add your domain first: the records depend on it.</p>}
      {records.state === 'ok' && records.value.records.length > 0 && (
        <table className="table dns-table" aria-label="DNS records to publish">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Value</th>
              <th scope="col">In DNS now</th>
            </tr>
          </thead>
          <tbody>
            {records.value.records.map((r) => (
              <tr key={`${r.type} ${r.name}`} data-testid="dns-record" data-type={r.type} data-state={r.state}>
                <td className="mono dns-name" data-label="Name">
                  {/* Lines break after a dot, never inside a label. */}
                  {r.name.split('.').map((part, i, all) => (
                    <Fragment key={all.slice(i).join('.')}>
                      {part}
                      {i < all.length - 1 && (
                        <>
                          .<wbr />
                        </>
                      )}
                    </Fragment>
                  ))}
                </td>
                <td className="mono" data-label="Type">
                  {r.type}
                </td>
                <td data-label="Value">
                  {r.value ? (
                    <div className="copy-row">
                      <code className="record dns-value">{r.value}</code>
                      <CopyButton text={r.value} label={`Copy the ${r.type} value for ${r.name}`} />
                    </div>
                  ) : (
                    <p className="dns-unknown">
                      your public IPv4 address (Postern cannot see it from behind your router) —{' '}
                      <a href={FIND_PUBLIC_IP} target="_blank" rel="noreferrer">
                        how to find it
                      </a>
                      ; or set it under Settings → This server
                    </p>
                  )}
                  <p className="hint dns-purpose">{r.purpose}</p>
                </td>
                <td data-label="In DNS now">
                  <span className={`check-badge ${STATE[r.state].cls}`} data-testid="dns-state">
                    <span aria-hidden="true">{STATE[r.state].icon}</span> {STATE[r.state].text}
                  </span>
                  {r.state === 'different' && r.found.length > 0 && (
                    <p className="hint dns-found">
                      DNS has <span className="mono">{r.found.join(', ')}</span>
                    </p>
                  )}
                  {r.state === 'unknown' && <p className="hint">{r.found[0]}</p>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="button-row">
        <button type="button" className="secondary" onClick={() => void again()} disabled={checking}>
          {checking ? 'Checking…' : 'Check the records again'}
        </button>
        {records.state === 'ok' && <span className="muted dns-checked">Checked {dateTime(records.value.checkedAt)}</span>}
      </div>
    </section>
  );
}
