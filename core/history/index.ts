// The history index (docs/design.md §4.4): a SQLite file, <data>/log/index.sqlite, that
// holds every event of log/events.jsonl and one row per SMTP transaction, so that the
// dashboard opens on the past and searches all of it. Node 24's built-in node:sqlite.
//
// Off the SMTP path: emit() only pushes the event onto an array; a timer writes the
// batch in one transaction — inline, or (writeInThread, as Postern runs it) in a worker
// thread of its own (writer-thread.ts), so that the SQLite and search-index work never
// holds up SMTP replies. At start the index catches up from events.jsonl (and its
// rotations), so a crash loses nothing the log kept. Retention: history.retentionDays.
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { GatewayEvent } from '../events/types.ts';
import { toRow, type TxnState } from './transactions.ts';
import { messagesWhere, parseSearch, SearchError, WORD_COLUMNS } from './search.ts';
import { HistoryWriter } from './writer.ts';
import { type HoldTimes, WriterThread } from './writer-thread.ts';
import type { EventQuery, MessageDetail, MessagePage, MessageQuery, MessageRow, TrafficBucket, TrafficReport } from './types.ts';

export { SearchError };

export interface HistoryOptions {
  /** <data>/log */
  logDir: string;
  /** Days of history kept (config `history.retentionDays`). */
  retentionDays: () => number;
  /** Milliseconds between batch writes (default 250). */
  flushMs?: number;
  /** How the writer thread holds a burst's batches (default QUIET_MS, MAX_LAG_MS; tests shorten or lengthen them). */
  hold?: HoldTimes;
}

const SCHEMA = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, session TEXT NOT NULL, client TEXT NOT NULL,
  stage TEXT NOT NULL, verdict TEXT NOT NULL, rule TEXT NOT NULL, queue_id TEXT, json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE INDEX IF NOT EXISTS events_session ON events(session, id) WHERE session <> '';
CREATE INDEX IF NOT EXISTS events_queue ON events(queue_id) WHERE queue_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, session TEXT NOT NULL, open INTEGER NOT NULL,
  client TEXT NOT NULL, login TEXT NOT NULL, sender TEXT NOT NULL, rcpts TEXT NOT NULL, subject TEXT NOT NULL,
  queue_id TEXT NOT NULL, verdict TEXT NOT NULL, rules TEXT NOT NULL, reason TEXT NOT NULL, text TEXT NOT NULL,
  state TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS messages_session ON messages(session, id);
CREATE INDEX IF NOT EXISTS messages_queue ON messages(queue_id) WHERE queue_id <> '';
CREATE INDEX IF NOT EXISTS messages_verdict ON messages(verdict, id);
CREATE TABLE IF NOT EXISTS messages_fts_pending (id INTEGER PRIMARY KEY);
`;

/** `PRAGMA user_version` of the current schema (docs/design.md §4.4). */
export const SCHEMA_VERSION = 2;

/**
 * Version 1 → 2, in place (the history the log no longer holds is kept): the deciding
 * rule as a column and a covering index of the refusals (the top refusal reasons
 * without reading the JSON state), a covering (ts, verdict) index for the traffic
 * buckets, and messages_fts — a contentless FTS5 table with the trigram tokenizer over
 * the word columns, so a free word (≥ 3 characters) is a substring match through an
 * index instead of a scan of nine LIKEs. A fresh file takes the same path over empty
 * tables.
 */
const MIGRATE_2 = `
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(${WORD_COLUMNS.join(', ')}, tokenize = 'trigram', content = '', contentless_delete = 1);
INSERT INTO messages_fts (rowid, ${WORD_COLUMNS.join(', ')}) SELECT id, ${WORD_COLUMNS.join(', ')} FROM messages;
UPDATE messages SET rule = coalesce(json_extract(state, '$.rule'), '');
CREATE INDEX IF NOT EXISTS messages_traffic ON messages(ts, verdict);
CREATE INDEX IF NOT EXISTS messages_refusals ON messages(ts, rule, reason, text) WHERE verdict = 'refused';
DROP INDEX IF EXISTS messages_ts;
`;

export class HistoryIndex {
  readonly file: string;
  private readonly db: DatabaseSync;
  private readonly opts: HistoryOptions;
  private pending: GatewayEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  private readonly writer: HistoryWriter;
  private thread: WriterThread | null = null;
  private closed = false;
  /** Events written since open (for the benchmark and tests). */
  written = 0;

  constructor(opts: HistoryOptions) {
    this.opts = opts;
    fs.mkdirSync(opts.logDir, { recursive: true, mode: 0o700 });
    this.file = path.join(opts.logDir, 'index.sqlite');
    this.db = new DatabaseSync(this.file);
    try {
      fs.chmodSync(this.file, 0o600);
    } catch {
      // not ours to change (e.g. Windows)
    }
    this.db.exec(SCHEMA);
    this.migrate();
    this.db.exec('PRAGMA busy_timeout = 5000'); // the writer thread's transaction, a prune
    this.writer = new HistoryWriter(this.db);
    this.writer.writeDeferredWords(); // a burst's words the last run did not get to
  }

  /**
   * From now on batches are written in a worker thread (call after catchUp). If the
   * thread cannot start or dies, writing goes on inline, and the batches it had not
   * written are written here.
   */
  writeInThread(): void {
    if (this.thread || this.closed) return;
    this.flush();
    try {
      this.thread = new WriterThread(this.file, this.opts.hold, {
        written: (n) => {
          this.written += n;
        },
        failed: (message) => this.complain(message),
        gone: (e, unwritten) => {
          if (this.closed) return;
          this.thread = null;
          this.complain(`the writer thread stopped (${e.message}); writing inline`);
          for (const batch of unwritten) this.writeInline(batch);
        },
      });
    } catch (e) {
      this.complain(`the writer thread could not start (${(e as Error).message}); writing inline`);
    }
  }

  /** Resolves once every event added so far is written. */
  async settled(): Promise<void> {
    this.flush();
    await this.thread?.idle();
  }

  /** Brings an index written by an older Postern to SCHEMA_VERSION, in one transaction. */
  private migrate(): void {
    const version = Number((this.db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version);
    if (version >= SCHEMA_VERSION) return;
    this.db.exec('BEGIN');
    try {
      const cols = this.db.prepare('PRAGMA table_info(messages)').all() as { name: string }[];
      if (!cols.some((c) => c.name === 'rule')) this.db.exec("ALTER TABLE messages ADD COLUMN rule TEXT NOT NULL DEFAULT ''");
      this.db.exec(MIGRATE_2);
      this.db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      this.db.exec('COMMIT');
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  /** The newest event id indexed. */
  lastId(): number {
    this.flush();
    return (this.db.prepare('SELECT max(id) AS id FROM events').get() as { id: number | null }).id ?? 0;
  }

  /** Indexes what events.jsonl (and its rotations, oldest first) holds beyond the index. */
  catchUp(): number {
    const have = this.lastId();
    const dir = this.opts.logDir;
    const files = [5, 4, 3, 2, 1].map((i) => path.join(dir, `events.${i}.jsonl`)).concat(path.join(dir, 'events.jsonl'));
    let added = 0;
    for (const f of files) {
      let text: string;
      try {
        text = fs.readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        if (!line) continue;
        let e: GatewayEvent;
        try {
          e = JSON.parse(line) as GatewayEvent;
        } catch {
          continue; // a torn line after a crash
        }
        if (!Number.isInteger(e.id) || e.id <= have) continue;
        this.pending.push(e);
        added++;
        if (this.pending.length >= 5000) this.flush();
      }
    }
    this.flush();
    return added;
  }

  /** Called for every event (the bus's subscriber): cheap, the write happens later. */
  add(e: GatewayEvent): void {
    if (this.closed) return;
    this.pending.push(e);
    if (this.pending.length >= 5000) setImmediate(() => this.safeFlush());
    else if (!this.timer) {
      this.timer = setTimeout(() => this.safeFlush(), this.opts.flushMs ?? 250);
      this.timer.unref();
    }
  }

  /** A timer's flush: a failed write (disk full) is reported once per minute, never thrown into the event loop. */
  private safeFlush(): void {
    try {
      this.flush();
    } catch (e) {
      this.complain((e as Error).message);
    }
  }

  private complain(message: string): void {
    if (Date.now() - this.lastComplaint > 60_000) {
      this.lastComplaint = Date.now();
      console.error(`postern: the history index could not be written: ${message}`);
    }
  }
  private lastComplaint = 0;

  /** Writes the pending batch in one transaction: hands it to the writer thread, or writes it here (then a failure throws). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.closed || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    if (this.thread?.alive) this.thread.post(batch);
    else this.writeInline(batch);
  }

  private writeInline(batch: GatewayEvent[]): void {
    this.writer.write(batch);
    this.written += batch.length;
  }

  /** Drops what is older than the retention; returns the number of events removed. */
  prune(now = Date.now()): number {
    this.flush();
    const cut = now - this.opts.retentionDays() * 86_400_000;
    const r = this.db.prepare('DELETE FROM events WHERE ts < ?').run(cut);
    this.db.prepare('DELETE FROM messages_fts WHERE rowid IN (SELECT id FROM messages WHERE ts < ?)').run(cut);
    this.db.prepare('DELETE FROM messages_fts_pending WHERE id IN (SELECT id FROM messages WHERE ts < ?)').run(cut);
    this.db.prepare('DELETE FROM messages WHERE ts < ?').run(cut);
    return Number(r.changes);
  }

  /** Prunes now and every hour. */
  startRetention(): void {
    this.prune();
    if (this.retentionTimer) return;
    this.retentionTimer = setInterval(() => this.prune(), 3_600_000);
    this.retentionTimer.unref();
  }

  // ---- reading ---------------------------------------------------------------

  /** The event page of GatewayApi.events (docs/design.md §7.1), from the index. */
  events(q: EventQuery): GatewayEvent[] {
    this.flush();
    const where: string[] = [];
    const params: (string | number)[] = [];
    const and = (sql: string, ...values: (string | number)[]) => {
      where.push(sql);
      params.push(...values);
    };
    if (q.afterId) and('id > ?', q.afterId);
    if (q.beforeId !== undefined) and('id < ?', q.beforeId);
    if (q.verdict) and(`verdict IN (${q.verdict.map(() => '?').join(',')})`, ...q.verdict);
    if (q.stage) and(`stage IN (${q.stage.map(() => '?').join(',')})`, ...q.stage);
    if (q.rule) and('rule = ?', q.rule);
    if (q.session) and("session = ? AND session <> ''", q.session); // the partial index events_session
    if (q.text) and("json LIKE ? ESCAPE '\\'", `%${q.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    const sql = `SELECT json FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, q.limit ?? 500) as { json: string }[];
    return rows.reverse().map((r) => JSON.parse(r.json) as GatewayEvent);
  }

  /** Transactions, newest first, matching the search (docs/design.md §4.4). */
  messages(q: MessageQuery, now = Date.now()): MessagePage {
    this.flush();
    const limit = q.limit ?? 200;
    const w = messagesWhere(parseSearch(q.q ?? ''), now);
    const before = q.beforeId !== undefined ? ' AND id < ?' : '';
    const params = q.beforeId !== undefined ? [...w.params, q.beforeId] : w.params;
    const rows = this.db.prepare(`SELECT state FROM messages WHERE ${w.sql}${before} ORDER BY id DESC LIMIT ?`).all(...params, limit + 1) as {
      state: string;
    }[];
    const messages = rows.slice(0, limit).map((r) => toRow(JSON.parse(r.state) as TxnState));
    return { messages, more: rows.length > limit };
  }

  message(id: number): Omit<MessageDetail, 'stored'> | null {
    this.flush();
    const row = this.db.prepare('SELECT state FROM messages WHERE id = ?').get(id) as { state: string } | undefined;
    if (!row) return null;
    const t = JSON.parse(row.state) as TxnState;
    const events = this.db
      .prepare(
        `SELECT json FROM events WHERE (session = ? AND session <> '' AND id <= ? AND (stage IN ('connect', 'tls', 'auth') OR id >= ?))
           OR (queue_id = ? AND stage IN ('queue', 'delivery')) ORDER BY id`,
      )
      .all(t.session, t.endId, t.id, t.queueId || '\u0000') as { json: string }[];
    return { message: toRow(t), events: events.map((r) => JSON.parse(r.json) as GatewayEvent) };
  }

  /**
   * Accepted, refused and deferred per hour (last 24 h) and per day (last 30 days, the
   * server's local days), counted in SQL: one pass over the covering (ts, verdict)
   * index grouped by quarter hour — every time zone's midnight falls on one — folded
   * into the hour and day buckets here (local days, daylight saving time).
   */
  traffic(now = Date.now()): TrafficReport {
    this.flush();
    const HOUR = 3_600_000;
    const QUARTER = 900_000;
    const hourStart = Math.floor(now / HOUR) * HOUR;
    const hourBounds = Array.from({ length: 25 }, (_, i) => hourStart + (i - 23) * HOUR);
    const today = new Date(now);
    today.setHours(0, 0, 0, 0);
    const dayBounds: number[] = [];
    for (let i = 29; i >= -1; i--) {
      const d = new Date(today);
      d.setDate(d.getDate() - i);
      dayBounds.push(d.getTime());
    }
    const hours = emptyBuckets(hourBounds);
    const days = emptyBuckets(dayBounds);
    const from = Math.min(hourBounds[0], dayBounds[0]);
    const to = Math.max(hourBounds[24], dayBounds[30]);
    const rows = this.db
      .prepare(
        `SELECT ts / ${QUARTER} AS q, verdict, count(*) AS n FROM messages INDEXED BY messages_traffic
          WHERE ts >= ? AND ts < ? AND verdict IN ('accepted', 'refused', 'deferred') GROUP BY 1, 2`,
      )
      .all(from, to) as { q: number; verdict: 'accepted' | 'refused' | 'deferred'; n: number }[];
    for (const r of rows) {
      const t = Number(r.q) * QUARTER;
      const h = bucketOf(hourBounds, t);
      if (h >= 0) hours[h][r.verdict] += Number(r.n);
      const d = bucketOf(dayBounds, t);
      if (d >= 0) days[d][r.verdict] += Number(r.n);
    }
    const topReasons = this.db
      .prepare(
        `SELECT rule, CASE WHEN reason <> '' THEN reason ELSE text END AS reason, count(*) AS count
           FROM messages INDEXED BY messages_refusals WHERE verdict = 'refused' AND ts >= ? GROUP BY 1, 2 ORDER BY count DESC LIMIT 8`,
      )
      .all(dayBounds[0]) as { rule: string; reason: string; count: number }[];
    return { hours, days, topReasons: topReasons.map((r) => ({ rule: r.rule, reason: r.reason, count: Number(r.count) })) };
  }

  /** Messages accepted, refused and deferred in the 24 hours before `now`, and the top refusal reasons (the daily summary, §4.5). */
  lastDay(now = Date.now()): { accepted: number; refused: number; deferred: number; topReasons: { rule: string; reason: string; count: number }[] } {
    this.flush();
    const since = now - 86_400_000;
    const out = { accepted: 0, refused: 0, deferred: 0 };
    const rows = this.db
      .prepare(
        "SELECT verdict, count(*) AS n FROM messages INDEXED BY messages_traffic WHERE ts >= ? AND ts < ? AND verdict IN ('accepted', 'refused', 'deferred') GROUP BY 1",
      )
      .all(since, now) as { verdict: keyof typeof out; n: number }[];
    for (const r of rows) out[r.verdict] = Number(r.n);
    const topReasons = this.db
      .prepare(
        `SELECT rule, CASE WHEN reason <> '' THEN reason ELSE text END AS reason, count(*) AS count
           FROM messages INDEXED BY messages_refusals WHERE verdict = 'refused' AND ts >= ? AND ts < ? GROUP BY 1, 2 ORDER BY count DESC LIMIT 5`,
      )
      .all(since, now) as { rule: string; reason: string; count: number }[];
    return { ...out, topReasons: topReasons.map((r) => ({ rule: r.rule, reason: r.reason, count: Number(r.count) })) };
  }

  /** The events counted by the status strip (not system or network) since `ts`, oldest first, read as they are used. */
  eventsSince(ts: number): Iterable<GatewayEvent> {
    this.flush();
    const it = this.db.prepare("SELECT json FROM events WHERE ts >= ? AND stage NOT IN ('system', 'network') ORDER BY id").iterate(ts) as Iterable<{
      json: string;
    }>;
    return (function* () {
      for (const r of it) yield JSON.parse(r.json) as GatewayEvent;
    })();
  }

  /** Every matching row, newest first (exports; at most `max`). */
  allMessages(q: string, max = 100_000): MessageRow[] {
    return this.messages({ q, limit: max }).messages;
  }

  /** Writes what is pending; the writer thread ends once it has written it. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    void this.thread?.close();
    this.db.close();
  }
}

function emptyBuckets(bounds: number[]): TrafficBucket[] {
  return bounds.slice(0, -1).map((s) => ({ start: new Date(s).toISOString(), accepted: 0, refused: 0, deferred: 0 }));
}

/** The i with bounds[i] <= t < bounds[i + 1], or -1. */
function bucketOf(bounds: number[], t: number): number {
  if (t < bounds[0] || t >= bounds[bounds.length - 1]) return -1;
  let lo = 0;
  let hi = bounds.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (bounds[mid] <= t) lo = mid;
    else hi = mid;
  }
  return lo;
}
