// A decision at one SMTP stage, as a value: the reply to send and what the live log
// records about it. Hooks return these; `SmtpHooks.answer` is the one place that
// turns one into an event and a reply (docs/flow.md, step 4).
import type { EventVerdict, Rule, Stage } from '../events/types.ts';

export interface Decision {
  stage: Stage;
  rule: Rule;
  /** SMTP reply code; below 400 the command is accepted. */
  code: number;
  /** Reply text, enhanced status code first where there is one (`5.7.1 …`). */
  text: string;
  /** Defaults to the reply class: 2xx/3xx accept, 4xx defer, 5xx reject. */
  verdict?: EventVerdict;
  /** Finer reason inside the rule, for people (never compared by code). */
  reason?: string;
  from?: string;
  to?: string;
  user?: string;
  spf?: string;
  queueId?: string;
  /** The message's Subject, at the data stage (docs/design.md §4.1). */
  subject?: string;
}

export function verdictOf(d: Pick<Decision, 'code' | 'verdict'>): EventVerdict {
  return d.verdict ?? (d.code < 400 ? 'accept' : d.code < 500 ? 'defer' : 'reject');
}

/** An error smtp-server turns into the reply `code text`. */
export function smtpError(code: number, text: string): Error & { responseCode: number } {
  const e = new Error(text) as Error & { responseCode: number };
  e.responseCode = code;
  return e;
}

/** Reply texts used at more than one stage: one wording each. */
export const REPLY = {
  banned: (ip: string) => `4.7.0 ${ip} is blocked for too many failed logins; try again later`,
  badCredentials: '5.7.8 Authentication credentials invalid',
  authTempFail: '4.7.0 Temporary authentication failure',
} as const;
