// The banner for an account stopped by its hourly sending limit (docs/design.md §2.13):
// "jane's account sent 300 messages in an hour — is the password leaked?", with "Lift the
// limit" (the counters start again at zero) and "Block the account" (accounts[].blocked:
// it may not send until unblocked). Live: the status pushes the list.
import { useState } from 'react';
import type { RateLimitedAccount } from '../api.ts';
import { useApp } from '../hooks.ts';
import { dateTime } from '../format.ts';

export function RateLimitBanner({ accounts }: { accounts: RateLimitedAccount[] | undefined }) {
  const { client } = useApp();
  const [error, setError] = useState<string | null>(null);
  if (!accounts?.length) return null;
  const act = async (a: RateLimitedAccount, block: boolean) => {
    setError(null);
    const r = block ? await client.call('blockAccount', { account: a.account, blocked: true }) : await client.call('liftRateLimit', { account: a.account });
    if (!r.ok) setError(r.error.message);
  };
  return (
    <>
      {accounts.map((a) => (
        <div key={a.account} className="banner banner-danger" role="alert" data-testid="rate-limit-alarm" data-account={a.account}>
          <strong>{a.text}</strong> Sending from this account is stopped (451) since {dateTime(a.since)} — limit {a.limit} {a.kind} an hour.{' '}
          <button type="button" onClick={() => void act(a, false)} data-testid="rate-limit-lift">
            Lift the limit
          </button>{' '}
          <button type="button" className="danger" onClick={() => void act(a, true)} data-testid="rate-limit-block">
            Block the account
          </button>
          {error && <span className="error"> {error}</span>}
        </div>
      ))}
    </>
  );
}
