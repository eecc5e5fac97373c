// When to renew an ACME certificate and when to try again after a failure
// (docs/design.md §2.5). Pure functions of the certificate's dates and the clock, so
// the timer in CertificateManager (manager.ts) only asks "when next?".

export const DAY_MS = 86_400_000;
/** Renew this long before expiry (Let's Encrypt's advice for 90-day certificates)… */
export const RENEW_BEFORE_MS = 30 * DAY_MS;
/** …or, for short-lived certificates, when a third of the lifetime is left. */
export const RENEW_FRACTION = 1 / 3;
/** Waits after the 1st, 2nd… consecutive failure; the last one repeats. */
export const RETRY_MS = [60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000, 3 * 60 * 60_000, 6 * 60 * 60_000];

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/** The moment a certificate is due for renewal: 30 days before expiry, or at 1/3 of its lifetime left if that is sooner. */
export function renewalAt(v: Validity): Date {
  const lifetime = Math.max(0, v.notAfter.getTime() - v.notBefore.getTime());
  const before = Math.min(RENEW_BEFORE_MS, lifetime * RENEW_FRACTION);
  return new Date(v.notAfter.getTime() - before);
}

/** How long to wait after `failures` consecutive failures (≥ 1). */
export function retryDelayMs(failures: number, schedule: readonly number[] = RETRY_MS): number {
  if (failures < 1 || !schedule.length) return 0;
  return schedule[Math.min(failures, schedule.length) - 1];
}

export interface Plan {
  /** No usable certificate (none, or not for the hostname): issue at `at`. */
  issue: boolean;
  /** When to act (may be in the past: act now). */
  at: Date;
}

/**
 * The next attempt. Without a certificate for the hostname: now, or after the retry
 * wait when the last attempt failed. With one: at its renewal time, but after a failed
 * renewal not before the retry wait is over.
 */
export function nextAttempt(o: { cert: Validity | null; now: Date; failures: number; lastFailure: Date | null; retry?: readonly number[] }): Plan {
  const retryAt = o.failures && o.lastFailure ? new Date(o.lastFailure.getTime() + retryDelayMs(o.failures, o.retry)) : null;
  if (!o.cert) return { issue: true, at: retryAt ?? o.now };
  const due = renewalAt(o.cert);
  return { issue: false, at: retryAt && retryAt > due ? retryAt : due };
}
