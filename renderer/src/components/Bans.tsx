// Blocked addresses (docs/design.md §2.4): who was blocked after failed logins, why and until
// when, with "Lift" — asked first. The same list as `postern bans list`.
import { useState } from 'react';
import type { BanView } from '../api.ts';
import { useApp, useLoad, useOnLiveStage } from '../hooks.ts';
import { dateTime } from '../format.ts';
import { ErrorLine } from './Notice.tsx';

export function Bans() {
  const { client } = useApp();
  const [list, reload, setList] = useLoad('bans');
  const [confirm, setConfirm] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  // A new ban, or one lifted elsewhere (`postern bans lift`), is an auth event.
  useOnLiveStage('auth', () => void reload());

  const lift = async (b: BanView) => {
    setError(null);
    const r = await client.call('liftBan', { address: b.address });
    setConfirm(null);
    if (r.ok) setList(r.value);
    else {
      setError(r.error.message);
      void reload();
    }
  };

  return (
    <section className="card" aria-label="Blocked addresses" data-testid="bans">
      <h2>Blocked addresses</h2>
      <p className="hint">Addresses that failed to log in too often are blocked for a while. Lift a block when it was a family member with an old password.</p>
      <ErrorLine error={error} />
      {list.state === 'error' && <ErrorLine error={list} />}
      {list.state === 'ok' &&
        (list.value.length === 0 ? (
          <p className="muted">No address is blocked.</p>
        ) : (
          <ul className="bans">
            {list.value.map((b) => (
              <li key={b.address} data-testid="ban" data-address={b.address}>
                <div>
                  <code>{b.address}</code> — {b.reason}; blocked until {dateTime(b.until)}
                </div>
                {confirm === b.address ? (
                  <span className="inline-confirm">
                    <span>Let {b.address} try again?</span>
                    <button type="button" className="danger small" onClick={() => void lift(b)}>
                      Lift the block
                    </button>
                    <button type="button" className="secondary small" onClick={() => setConfirm(null)}>
                      Keep it
                    </button>
                  </span>
                ) : (
                  <button type="button" className="secondary small" onClick={() => setConfirm(b.address)} aria-label={`Lift the block on ${b.address}`}>
                    Lift…
                  </button>
                )}
              </li>
            ))}
          </ul>
        ))}
    </section>
  );
}
