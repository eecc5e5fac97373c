// The history index's writes (docs/design.md §4.4): a batch of events in one SQLite
// transaction — each event's row, and the row and search words of every transaction
// the batch changed. Used inline (tests, the catch-up at start) and, while Postern
// runs, in a worker thread of its own (core/history/writer-thread.ts), so that the
// SQLite and FTS work never holds up the event loop that answers SMTP clients.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { GatewayEvent } from '../events/types.ts';
import { WORD_COLUMNS } from './search.ts';
import { applyEvent, MemoryTxnStore, verdictOf, type TxnState, type TxnStore } from './transactions.ts';

/** Transactions by session and queue id: recent ones in memory, older ones from SQLite. */
class SqlTxnStore implements TxnStore {
  private readonly mem = new MemoryTxnStore();
  private readonly queued = new Map<string, TxnState>();
  readonly dirty = new Set<TxnState>();
  private readonly bySession: StatementSync;
  private readonly byQueue: StatementSync;
  constructor(db: DatabaseSync) {
    this.bySession = db.prepare('SELECT state FROM messages WHERE session = ? AND open = 1 ORDER BY id DESC LIMIT 1');
    this.byQueue = db.prepare('SELECT state FROM messages WHERE queue_id = ? ORDER BY id DESC LIMIT 1');
  }
  current(session: string): TxnState | null {
    const t = this.mem.current(session);
    if (t) return t;
    const row = this.bySession.get(session) as { state: string } | undefined;
    if (!row) return null;
    const found = JSON.parse(row.state) as TxnState;
    this.mem.setCurrent(session, found);
    return found;
  }
  setCurrent(session: string, t: TxnState | null): void {
    const old = this.mem.current(session) ?? (t ? null : this.current(session));
    if (old && old !== t) this.dirty.add(old); // closed: written with open = 0
    this.mem.setCurrent(session, t);
    if (t) this.dirty.add(t);
  }
  isOpen(t: TxnState): boolean {
    return this.mem.current(t.session) === t;
  }
  byQueueId(queueId: string): TxnState | null {
    let t = this.queued.get(queueId) ?? null;
    if (!t) {
      const row = this.byQueue.get(queueId) as { state: string } | undefined;
      if (!row) return null;
      t = JSON.parse(row.state) as TxnState;
    }
    this.remember(t);
    return t;
  }
  /** A transaction with a queue id stays at hand for its deliveries. */
  remember(t: TxnState): void {
    if (!t.queueId) return;
    this.queued.delete(t.queueId);
    this.queued.set(t.queueId, t);
    if (this.queued.size > 10_000) this.queued.delete(this.queued.keys().next().value as string);
  }
}

/** Writes batches of events into an open index (one connection, one writer). */
export class HistoryWriter {
  private readonly db: DatabaseSync;
  private readonly txns: SqlTxnStore;
  private readonly insertEvent: StatementSync;
  private readonly upsertMessage: StatementSync;
  private readonly upsertWords: StatementSync;
  private readonly deferWords: StatementSync;
  private readonly deferredWords: boolean;
  /** Transactions this writer put into messages_fts_pending since the last writeDeferredWords. */
  private deferred = 0;

  /**
   * `deferred`: a transaction's search words go into messages_fts_pending (one small
   * row) instead of the trigram table; writeDeferredWords moves them in quiet moments
   * (the writer thread's quiet second). Until then a search finds those rows by LIKE.
   */
  constructor(db: DatabaseSync, opts: { deferred?: boolean } = {}) {
    this.db = db;
    this.deferredWords = opts.deferred ?? false;
    this.txns = new SqlTxnStore(db);
    this.insertEvent = db.prepare(
      'INSERT OR REPLACE INTO events (id, ts, session, client, stage, verdict, rule, queue_id, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.upsertMessage = db.prepare(
      'INSERT OR REPLACE INTO messages (id, ts, session, open, client, login, sender, rcpts, subject, queue_id, verdict, rules, reason, text, state, rule) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.upsertWords = db.prepare(`INSERT OR REPLACE INTO messages_fts (rowid, ${WORD_COLUMNS.join(', ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.deferWords = db.prepare('INSERT OR IGNORE INTO messages_fts_pending (id) VALUES (?)');
  }

  /** Transactions whose words wait in messages_fts_pending. */
  get pendingWords(): number {
    return this.deferred;
  }

  /** Moves the deferred words into the trigram table, in one transaction. */
  writeDeferredWords(): void {
    const cols = WORD_COLUMNS.join(', ');
    this.db.exec('BEGIN');
    try {
      this.db.exec(
        `INSERT OR REPLACE INTO messages_fts (rowid, ${cols}) SELECT id, ${cols} FROM messages WHERE id IN (SELECT id FROM messages_fts_pending);
         DELETE FROM messages_fts_pending;`,
      );
      this.db.exec('COMMIT');
      this.deferred = 0;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  /** Writes the batch in one transaction; on failure nothing of it is written, and it throws. */
  write(batch: GatewayEvent[]): void {
    if (batch.length === 0) return;
    this.db.exec('BEGIN');
    try {
      for (const e of batch) {
        this.insertEvent.run(e.id, Date.parse(e.time), e.session, e.client, e.stage, e.verdict, e.rule, e.queueId ?? null, JSON.stringify(e));
        const ch = applyEvent(this.txns, e);
        if (ch) {
          this.txns.dirty.add(ch.after);
          this.txns.remember(ch.after);
        }
      }
      for (const t of this.txns.dirty) this.writeTxn(t);
      this.txns.dirty.clear();
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      this.txns.dirty.clear();
      throw err;
    }
  }

  private writeTxn(t: TxnState): void {
    const to = t.to.join(', ');
    const rules = `|${t.rules.join('|')}|`;
    this.upsertMessage.run(
      t.id,
      Date.parse(t.time),
      t.session,
      this.txns.isOpen(t) ? 1 : 0,
      t.client,
      t.user,
      t.from,
      to,
      t.subject,
      t.queueId,
      verdictOf(t),
      rules,
      t.reason,
      t.text,
      JSON.stringify(t),
      t.rule,
    );
    if (this.deferredWords) {
      this.deferred += Number(this.deferWords.run(t.id).changes); // 0 when it already waits
      return;
    }
    // The same order as WORD_COLUMNS.
    this.upsertWords.run(t.id, t.from, to, t.subject, t.client, t.user, t.queueId, t.reason, t.text, rules);
  }
}
