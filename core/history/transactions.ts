// Events → transactions (docs/design.md §4.4): one SMTP transaction is one MAIL FROM and
// what followed it in the same session — its recipients and its DATA — and, after the
// 250, the queue and delivery events naming its queue id. Pure: the history index
// keeps the states in SQLite, the counters keep them in memory.
import type { EventVerdict, GatewayEvent } from '../events/types.ts';
import type { MessageOutcome, MessageRow, MessageVerdict, TransactionFields } from './types.ts';

/** A transaction as it is tracked and stored. */
export interface TxnState extends TransactionFields {
  mailVerdict: EventVerdict;
  dataVerdict: EventVerdict | '';
  rcptOk: number;
  rcptRefused: number;
  rcptDeferred: number;
  rules: string[];
}

/** The family's word for a transaction: DATA's answer if it got that far, else the refusals. */
export function verdictOf(t: Pick<TxnState, 'mailVerdict' | 'dataVerdict' | 'rcptOk' | 'rcptRefused' | 'rcptDeferred'>): MessageVerdict {
  const word = (v: EventVerdict): MessageVerdict => (v === 'accept' ? 'accepted' : v === 'reject' ? 'refused' : v === 'defer' ? 'deferred' : 'incomplete');
  if (t.dataVerdict) return word(t.dataVerdict);
  if (t.mailVerdict === 'reject' || t.mailVerdict === 'defer') return word(t.mailVerdict);
  if (t.rcptOk > 0) return 'incomplete';
  if (t.rcptRefused > 0) return 'refused';
  if (t.rcptDeferred > 0) return 'deferred';
  return 'incomplete';
}

export function outcomeOf(t: Pick<TxnState, 'local' | 'remote' | 'delivered' | 'failed' | 'deferrals'>, verdict: MessageVerdict): MessageOutcome[] {
  if (verdict !== 'accepted') return [];
  const out: MessageOutcome[] = [];
  if (t.local > 0) out.push('maildir');
  if (t.remote > 0) {
    if (t.failed > 0) out.push('bounced');
    if (t.delivered > 0) out.push('delivered');
    if (t.delivered + t.failed < t.remote) out.push(t.deferrals > 0 ? 'retrying' : 'queued');
  }
  return out;
}

export function toRow(t: TxnState): MessageRow {
  const verdict = verdictOf(t);
  return {
    id: t.id,
    time: t.time,
    session: t.session,
    client: t.client,
    listener: t.listener,
    user: t.user,
    from: t.from,
    to: t.to,
    subject: t.subject,
    size: t.size,
    queueId: t.queueId,
    verdict,
    code: t.code,
    rule: t.rule,
    reason: t.reason,
    text: t.text,
    local: t.local,
    remote: t.remote,
    delivered: t.delivered,
    failed: t.failed,
    deferrals: t.deferrals,
    outcome: outcomeOf(t, verdict),
    endId: t.endId,
  };
}

function startTxn(e: GatewayEvent): TxnState {
  return {
    id: e.id,
    time: e.time,
    session: e.session,
    client: e.client,
    listener: e.listener,
    user: e.user ?? '',
    from: e.from ?? '',
    to: [],
    subject: '',
    size: 0,
    queueId: '',
    code: e.code,
    rule: e.rule,
    reason: e.reason ?? '',
    text: e.text,
    mailVerdict: e.verdict,
    dataVerdict: '',
    rcptOk: 0,
    rcptRefused: 0,
    rcptDeferred: 0,
    local: 0,
    remote: 0,
    delivered: 0,
    failed: 0,
    deferrals: 0,
    rules: [e.rule],
    endId: e.id,
  };
}

function note(t: TxnState, e: GatewayEvent): void {
  if (!t.rules.includes(e.rule)) t.rules.push(e.rule);
  t.endId = e.id;
  if (e.user && !t.user) t.user = e.user;
  // The reply that decides: a refusal, or DATA's answer.
  if (e.verdict !== 'accept' || e.stage === 'data') {
    t.code = e.code;
    t.rule = e.rule;
    t.reason = e.reason ?? '';
    t.text = e.text;
  }
}

/** Applies a DATA event's facts: `<l> local, <r> remote, <bytes> bytes` (core/smtp/hooks.ts). */
function dataFacts(t: TxnState, e: GatewayEvent): void {
  t.dataVerdict = e.verdict;
  if (e.subject) t.subject = e.subject;
  if (e.queueId && e.verdict === 'accept') t.queueId = e.queueId;
  if (e.verdict !== 'accept') return;
  const m = /(\d+) local, (\d+) remote, (\d+) bytes/.exec(e.reason ?? '');
  if (m) {
    t.local = Number(m[1]);
    t.remote = Number(m[2]);
    t.size = Number(m[3]);
  }
}

/** Where states are kept between events: memory (counters) or SQLite (history). */
export interface TxnStore {
  /** The session's open transaction, if any. */
  current(session: string): TxnState | null;
  setCurrent(session: string, t: TxnState | null): void;
  /** The transaction that was stored under this queue id. */
  byQueueId(queueId: string): TxnState | null;
}

export interface TxnChange {
  before: MessageVerdict | null;
  after: TxnState;
}

/**
 * Folds one event into its transaction. Returns the changed transaction (and its
 * verdict before), or null when the event belongs to none (connect, TLS, AUTH, system).
 */
export function applyEvent(store: TxnStore, e: GatewayEvent): TxnChange | null {
  if (e.stage === 'mail' && e.session) {
    const t = startTxn(e);
    store.setCurrent(e.session, t);
    return { before: null, after: t };
  }
  if ((e.stage === 'rcpt' || e.stage === 'data') && e.session) {
    const t = store.current(e.session);
    if (!t) return null;
    const before = verdictOf(t);
    note(t, e);
    if (e.stage === 'rcpt') {
      if (e.to && !t.to.includes(e.to)) t.to.push(e.to);
      if (e.verdict === 'accept') t.rcptOk++;
      else if (e.verdict === 'reject') t.rcptRefused++;
      else if (e.verdict === 'defer') t.rcptDeferred++;
    } else {
      dataFacts(t, e);
      store.setCurrent(e.session, null); // DATA ends the transaction
    }
    return { before, after: t };
  }
  if ((e.stage === 'delivery' || e.stage === 'queue') && e.queueId) {
    const t = store.byQueueId(e.queueId);
    if (!t) return null;
    const before = verdictOf(t);
    if (!t.rules.includes(e.rule)) t.rules.push(e.rule);
    if (e.stage === 'delivery' && e.rule === 'delivery') {
      if (e.verdict === 'accept') t.delivered++;
      else if (e.verdict === 'reject') t.failed++;
      else if (e.verdict === 'defer') t.deferrals++;
    }
    return { before, after: t };
  }
  return null;
}

/** States in memory, bounded (a session that never reaches DATA is forgotten eventually). */
export class MemoryTxnStore implements TxnStore {
  private readonly sessions = new Map<string, TxnState>();
  private readonly max: number;
  constructor(max = 10_000) {
    this.max = max;
  }
  current(session: string): TxnState | null {
    return this.sessions.get(session) ?? null;
  }
  setCurrent(session: string, t: TxnState | null): void {
    this.sessions.delete(session);
    if (!t) return;
    this.sessions.set(session, t);
    if (this.sessions.size > this.max) this.sessions.delete(this.sessions.keys().next().value as string);
  }
  byQueueId(): TxnState | null {
    return null;
  }
}
