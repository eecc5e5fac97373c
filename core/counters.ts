// The counters in the status strip and the tray tooltip, kept from the event stream
// (every decision is an event). They compare typed fields only — stage, verdict,
// rule, reply code — never the wording of a reason.
import type { GatewayEvent } from './events/types.ts';

export interface Counters {
  connections: number;
  accepted: number;
  rejected: number;
  deferred: number;
  relayDenied: number;
  authFailures: number;
}

export function emptyCounters(): Counters {
  return { connections: 0, accepted: 0, rejected: 0, deferred: 0, relayDenied: 0, authFailures: 0 };
}

/** Adds one event to the counters. */
export function count(c: Counters, e: GatewayEvent): void {
  // Counters are about SMTP clients: system and network events (a listener that could
  // not bind, a toggle) are not "rejected" mail.
  if (e.stage === 'system' || e.stage === 'network') return;
  if (e.stage === 'connect' && e.rule === 'connect') c.connections++;
  if (e.stage === 'data' && e.verdict === 'accept') c.accepted++;
  if (e.verdict === 'reject') c.rejected++;
  if (e.verdict === 'defer') c.deferred++;
  // 554 is the relay refusal (docs/design.md §2.1); an unknown family address is 550.
  if (e.stage === 'rcpt' && e.rule === 'relay rcpt' && e.code === 554) c.relayDenied++;
  if (e.stage === 'auth' && e.verdict === 'reject' && e.rule === 'auth') c.authFailures++;
}
