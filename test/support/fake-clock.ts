// A clock that moves only when a test moves it (the Clock of core/delivery/clock.ts):
// days of retry schedule run in milliseconds, and the times the code asked for can be
// read back exactly.
import type { Cancel, Clock } from '../../core/delivery/clock.ts';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Set<Timer>();

  constructor(start: number) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): Cancel {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  }

  /** When the earliest timer is due, or undefined when none is set. */
  nextAt(): number | undefined {
    let next: number | undefined;
    for (const t of this.timers) if (next === undefined || t.at < next) next = t.at;
    return next;
  }

  /** Fires the timers due at the current time, earliest (then oldest) first; returns how many fired. */
  fireDue(): number {
    let fired = 0;
    for (;;) {
      const due = [...this.timers].filter((t) => t.at <= this.t).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) return fired;
      this.timers.delete(due);
      due.fn();
      fired++;
    }
  }

  /** Moves time to `t` without firing anything (fireDue does that). */
  set(t: number): void {
    if (t < this.t) throw new Error('a fake clock does not go back');
    this.t = t;
  }
}
