// Deadlines of one SMTP connection (docs/design.md §2.8), after RFC 5321 §4.5.3.2 but
// stricter: the library's idle timeout resets on every byte, so a client trickling one
// byte every few seconds would otherwise hold a connection for ever. Pure bookkeeping:
// the connection (connection.ts, override 7) reports bytes and completed lines, and a
// timer asks `check()` with the connection's state; a breach is the reply to send.
import type { Config } from '../config/schema.ts';
import type { Stage } from '../events/types.ts';

export type SessionLimits = Pick<Config['limits'], 'commandSeconds' | 'sessionSeconds' | 'minDataRate' | 'dataRateWindowSeconds'>;

/** The schema's defaults (core/config/schema.ts), for servers built without a config. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = { commandSeconds: 60, sessionSeconds: 1800, minDataRate: 1024, dataRateWindowSeconds: 30 };

/** The connection's state at a check. */
export interface ClockState {
  /** Our turn: a hook has not answered, a message is being decided, TLS is being set up. */
  busy: boolean;
  /** Inside DATA, receiving the message. */
  dataMode: boolean;
  /** The parser waits for the message stream to drain (our slowness, not the client's). */
  backpressure: boolean;
  /** Bytes of an unfinished command line are buffered. */
  partialLine: boolean;
  /** An AUTH exchange waits for a continuation line. */
  inAuth: boolean;
}

export interface Breach {
  stage: Stage;
  reason: string;
  /** Reply text (the code is 421): enhanced code 4.4.2, "timeout" (RFC 3463: connection dropped). */
  text: string;
}

export class SessionClock {
  private readonly limits: SessionLimits;
  private readonly startedAt: number;
  /** First byte of the command line being received, or null between lines. */
  private lineSince: number | null = null;
  private authSince: number | null = null;
  private windowStart: number | null = null;
  private windowBytes = 0;
  private lastCheck: number;

  constructor(limits: SessionLimits, now: number) {
    this.limits = limits;
    this.startedAt = now;
    this.lastCheck = now;
  }

  /** Bytes arrived from the client (before the parser sees them). */
  bytes(n: number, dataMode: boolean, now: number): void {
    if (dataMode) {
      this.windowStart ??= now;
      this.windowBytes += n;
    } else {
      this.lineSince ??= now;
    }
  }

  /** The parser completed a command line. */
  lineDone(): void {
    this.lineSince = null;
  }

  check(now: number, s: ClockState): Breach | null {
    const l = this.limits;
    const since = now - this.lastCheck;
    this.lastCheck = now;
    if (s.busy) {
      // an AUTH exchange is paused while we verify (a slow password check is ours)
      if (this.authSince !== null) this.authSince += since;
      // Nothing the client owes us is late while we owe it an answer; a line it pipelined
      // meanwhile is timed from when we are ready for it. The session bound waits too: it
      // never cuts a message that is being decided (the client would send it again).
      this.lineSince = null;
      this.windowStart = null;
      return null;
    }
    const age = now - this.startedAt;
    if (age > l.sessionSeconds * 1000) {
      return {
        stage: s.dataMode ? 'data' : 'connect',
        reason: `session open for ${Math.round(age / 1000)} s, limit ${l.sessionSeconds} s`,
        text: `4.4.2 Session time limit of ${l.sessionSeconds} seconds reached: timeout`,
      };
    }
    if (s.dataMode) {
      this.lineSince = null;
      this.authSince = null;
      if (this.windowStart === null || s.backpressure) {
        this.windowStart = now;
        this.windowBytes = 0;
        return null;
      }
      const window = l.dataRateWindowSeconds * 1000;
      const elapsed = now - this.windowStart;
      if (l.minDataRate > 0 && elapsed >= window) {
        const rate = this.windowBytes / (elapsed / 1000);
        if (rate < l.minDataRate) {
          return {
            stage: 'data',
            reason: `${this.windowBytes} bytes in ${(elapsed / 1000).toFixed(1)} s inside DATA, minimum ${l.minDataRate} bytes/s`,
            text: `4.4.2 Message data arriving too slowly (under ${l.minDataRate} bytes/s over ${l.dataRateWindowSeconds} s): timeout`,
          };
        }
        this.windowStart = now;
        this.windowBytes = 0;
      }
      return null;
    }
    this.windowStart = null;
    this.windowBytes = 0;
    if (this.lineSince === null && s.partialLine) this.lineSince = now;
    const limit = l.commandSeconds * 1000;
    if (this.lineSince !== null && now - this.lineSince > limit) {
      return {
        stage: s.inAuth ? 'auth' : 'connect',
        reason: `command line unfinished ${Math.round((now - this.lineSince) / 1000)} s after its first byte, limit ${l.commandSeconds} s`,
        text: `4.4.2 Command line not completed within ${l.commandSeconds} seconds: timeout`,
      };
    }
    if (s.inAuth) {
      this.authSince ??= now;
      if (now - this.authSince > limit) {
        return {
          stage: 'auth',
          reason: `AUTH exchange unfinished after ${Math.round((now - this.authSince) / 1000)} s, limit ${l.commandSeconds} s`,
          text: `4.4.2 AUTH exchange not completed within ${l.commandSeconds} seconds: timeout`,
        };
      }
    } else this.authSince = null;
    return null;
  }
}
