// Renewal scheduling of the built-in ACME (docs/design.md §2.5): pure functions of the
// certificate's notBefore/notAfter, the clock and the failures so far.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DAY_MS, nextAttempt, renewalAt, retryDelayMs, RETRY_MS } from '../../core/acme/schedule.ts';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

test("a 90-day certificate (Let's Encrypt) is renewed 30 days before it expires", () => {
  assert.equal(renewalAt({ notBefore: T0, notAfter: at(90 * DAY_MS) }).toISOString(), at(60 * DAY_MS).toISOString());
});

test('a longer certificate is renewed 30 days before expiry too', () => {
  assert.equal(renewalAt({ notBefore: T0, notAfter: at(365 * DAY_MS) }).toISOString(), at(335 * DAY_MS).toISOString());
});

test('a short-lived certificate is renewed when a third of its lifetime is left', () => {
  assert.equal(renewalAt({ notBefore: T0, notAfter: at(6 * DAY_MS) }).toISOString(), at(4 * DAY_MS).toISOString());
  assert.equal(renewalAt({ notBefore: T0, notAfter: at(45_000) }).toISOString(), at(30_000).toISOString());
  // The bound between the two rules: 90 days (a third = 30 days).
  assert.equal(renewalAt({ notBefore: T0, notAfter: at(60 * DAY_MS) }).toISOString(), at(40 * DAY_MS).toISOString());
});

test('a certificate with notAfter before notBefore is due at its expiry (at once)', () => {
  assert.equal(renewalAt({ notBefore: at(10), notAfter: T0 }).toISOString(), T0.toISOString());
});

test('retries wait longer after each failure, up to the last step', () => {
  assert.equal(retryDelayMs(0), 0);
  assert.equal(retryDelayMs(1), RETRY_MS[0]);
  assert.equal(retryDelayMs(2), RETRY_MS[1]);
  assert.equal(retryDelayMs(100), RETRY_MS.at(-1));
  assert.equal(retryDelayMs(3, [5, 7]), 7);
});

test('no certificate: issue now, or after the retry wait when the last attempt failed', () => {
  assert.deepEqual(nextAttempt({ cert: null, now: T0, failures: 0, lastFailure: null }), { issue: true, at: T0 });
  assert.deepEqual(nextAttempt({ cert: null, now: at(1000), failures: 2, lastFailure: T0 }), { issue: true, at: at(RETRY_MS[1]) });
});

test('a certificate: renew at its renewal time; a failed renewal is retried after the wait, never before the renewal time', () => {
  const cert = { notBefore: T0, notAfter: at(90 * DAY_MS) };
  assert.deepEqual(nextAttempt({ cert, now: at(DAY_MS), failures: 0, lastFailure: null }), { issue: false, at: at(60 * DAY_MS) });
  const failedAt = at(61 * DAY_MS);
  assert.deepEqual(nextAttempt({ cert, now: failedAt, failures: 1, lastFailure: failedAt }), { issue: false, at: at(61 * DAY_MS + RETRY_MS[0]) });
  // A failure long before the renewal time (e.g. a "renew now") does not bring the renewal forward.
  assert.deepEqual(nextAttempt({ cert, now: at(DAY_MS), failures: 1, lastFailure: at(DAY_MS) }), { issue: false, at: at(60 * DAY_MS) });
});
