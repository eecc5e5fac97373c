// Time as the outbound queue sees it: the current time and one kind of timer. The
// queue's retry schedule spans days (docs/design.md §3.3); passing the clock in lets a
// test walk through it without waiting.

/** Cancels a timer set by `Clock.after` (a no-op once it has fired). */
export type Cancel = () => void;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once, `ms` from now. */
  after(ms: number, fn: () => void): Cancel;
}

// setTimeout's delay is a signed 32-bit number; a longer one fires at once.
const MAX_DELAY_MS = 2 ** 31 - 1;

/** The real clock. Its timers do not keep the process alive (the queue is never the reason to stay up). */
export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, Math.min(ms, MAX_DELAY_MS)));
    t.unref();
    return () => clearTimeout(t);
  },
};
