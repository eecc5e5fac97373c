// The counters in the status strip and the tray tooltip, kept from the event stream
// (every decision is an event; docs/design.md §4.2). Messages are counted as the
// family means them — one per transaction (core/history/transactions.ts): accepted,
// refused, deferred; connections and logins apart; system and network notices
// (a setup check, a listener that could not bind) are never "refused" mail.
import type { GatewayEvent } from './events/types.ts';
import { applyEvent, MemoryTxnStore, verdictOf } from './history/transactions.ts';
import type { MessageVerdict } from './history/types.ts';

export interface Counters {
  /** Connections greeted. */
  connections: number;
  /** Messages accepted (stored). */
  accepted: number;
  /** Messages refused: the transaction ended with a 5xx (sender, every recipient, or DATA refused). */
  rejected: number;
  /** Messages told to come back later (4xx). */
  deferred: number;
  relayDenied: number;
  authFailures: number;
  /** Successful logins. */
  logins: number;
  /** Connections refused before any mail (bans, limits, PROXY refused). */
  refusedConnections: number;
  /** Inbound protection (docs/design.md §2.10–§2.13): messages refused or deferred by each check… */
  dmarc?: number;
  dnsbl?: number;
  spam?: number;
  rateLimited?: number;
  /** …and messages delivered into a Junk folder (DMARC quarantine, rspamd). */
  junk?: number;
}

export function emptyCounters(): Counters {
  return {
    connections: 0,
    accepted: 0,
    rejected: 0,
    deferred: 0,
    relayDenied: 0,
    authFailures: 0,
    logins: 0,
    refusedConnections: 0,
    dmarc: 0,
    dnsbl: 0,
    spam: 0,
    rateLimited: 0,
    junk: 0,
  };
}

const FIELD: Partial<Record<MessageVerdict, 'accepted' | 'rejected' | 'deferred'>> = { accepted: 'accepted', refused: 'rejected', deferred: 'deferred' };

const INBOUND: Partial<Record<GatewayEvent['rule'], 'dmarc' | 'dnsbl' | 'spam' | 'rateLimited'>> = {
  dmarc: 'dmarc',
  dnsbl: 'dnsbl',
  rspamd: 'spam',
  greylist: 'spam',
  'rate limits': 'rateLimited',
};

/** The open transactions behind each counters object (a message's verdict can change until its DATA). */
const TXNS = new WeakMap<Counters, MemoryTxnStore>();

/** Adds one event to the counters. */
export function count(c: Counters, e: GatewayEvent): void {
  if (e.stage === 'system' || e.stage === 'network') return;
  if (e.stage === 'connect' && e.rule === 'connect' && e.verdict === 'accept') c.connections++;
  if (e.stage === 'connect' && e.verdict !== 'accept' && e.verdict !== 'info') c.refusedConnections++;
  if (e.stage === 'auth' && e.rule === 'auth' && e.verdict === 'accept') c.logins++;
  if (e.stage === 'auth' && e.verdict === 'reject' && e.rule === 'auth') c.authFailures++;
  // 554 is the relay refusal (docs/design.md §2.1); an unknown family address is 550.
  if (e.stage === 'rcpt' && e.rule === 'relay rcpt' && e.code === 554) c.relayDenied++;
  if (e.verdict === 'reject' || e.verdict === 'defer') {
    const field = INBOUND[e.rule];
    if (field) c[field] = (c[field] ?? 0) + 1;
  }
  if (e.stage === 'data' && e.code === 250 && (e.rule === 'dmarc' || e.rule === 'rspamd') && /into Junk/.test(e.reason ?? '')) c.junk = (c.junk ?? 0) + 1;
  let txns = TXNS.get(c);
  if (!txns) {
    txns = new MemoryTxnStore();
    TXNS.set(c, txns);
  }
  const ch = applyEvent(txns, e);
  if (!ch) return;
  const before = ch.before && FIELD[ch.before];
  const after = FIELD[verdictOf(ch.after)];
  if (before === after) return;
  if (before) c[before]--;
  if (after) c[after]++;
}
