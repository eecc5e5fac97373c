// The search language of the Messages view (docs/design.md §4.4): words and fields,
// `from:` `to:` `subject:` `ip:` `rule:` `verdict:` `user:` `id:` `after:` `before:`,
// turned into SQL over the history index — parameters only, never spliced text.

/** The columns a free word is looked for in: messages' and messages_fts' (core/history/index.ts). */
export const WORD_COLUMNS = ['sender', 'rcpts', 'subject', 'client', 'login', 'queue_id', 'reason', 'text', 'rules'] as const;

export type SearchField = 'from' | 'to' | 'subject' | 'ip' | 'rule' | 'verdict' | 'user' | 'id' | 'after' | 'before';
export const SEARCH_FIELDS: readonly SearchField[] = ['from', 'to', 'subject', 'ip', 'rule', 'verdict', 'user', 'id', 'after', 'before'];

export interface SearchTerm {
  field: SearchField | 'text';
  value: string;
  /** `-from:x`: rows that do not match. */
  negate: boolean;
}

export class SearchError extends Error {}

/** Splits `from:grandma subject:"sunday lunch" -verdict:accepted relay` into terms. */
export function parseSearch(q: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  const re = /(-?)(?:([a-z]+):)?(?:"([^"]*)"?|(\S+))/gi;
  for (let m = re.exec(q); m; m = re.exec(q)) {
    const name = m[2]?.toLowerCase();
    const value = m[3] ?? m[4] ?? '';
    const negate = m[1] === '-';
    if (name && (SEARCH_FIELDS as readonly string[]).includes(name)) {
      if (value) terms.push({ field: name as SearchField, value, negate });
    } else {
      const word = name ? `${m[2]}:${value}` : value;
      if (word) terms.push({ field: 'text', value: word, negate });
    }
  }
  return terms;
}

const VERDICT_WORDS: Record<string, string> = {
  accepted: 'accepted',
  accept: 'accepted',
  ok: 'accepted',
  refused: 'refused',
  rejected: 'refused',
  reject: 'refused',
  deferred: 'deferred',
  defer: 'deferred',
  incomplete: 'incomplete',
};

/**
 * `after:` / `before:` values: a date (`2026-11-24`), a date and time (`2026-11-24T14:00`,
 * the server's local time), or an age (`2h`, `3d`, `30m`: that long before `now`).
 */
export function parseWhen(v: string, now: number, endOfDay = false): number {
  const age = /^(\d+)([mhdw])$/i.exec(v);
  if (age) return now - Number(age[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[age[2].toLowerCase() as 'm']!;
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (day) {
    const d = new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
    if (endOfDay) d.setDate(d.getDate() + 1);
    return d.getTime();
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new SearchError(`"${v}" is not a date (2026-11-24, 2026-11-24T14:00) or an age (2h, 3d)`);
  return t;
}

/** An FTS5 phrase: with the trigram tokenizer, a case-insensitive substring. */
const phrase = (v: string) => `"${v.replace(/"/g, '""')}"`;
const like = (v: string) => `%${v.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
const prefix = (v: string) => `${v.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** A word in any of the word columns, by LIKE (its parameters: anyColumn). */
const ANY_COLUMN = `(${WORD_COLUMNS.map((c) => `${c} LIKE ? ESCAPE '\\'`).join(' OR ')})`;
const anyColumn = (v: string) => WORD_COLUMNS.map(() => like(v));

/**
 * `n` free words through the trigram table (one MATCH parameter, then anyColumn's for
 * each word). A row whose words are still deferred (messages_fts_pending, §4.4) is
 * matched by LIKE on its columns instead: the table may hold none or older words of it.
 */
function wordsMatch(n: number): string {
  // One IN list (rowids in order): the planner walks it by id, as the Messages page's
  // newest-first LIMIT wants, instead of sorting every match.
  // CROSS JOIN: the few waiting rows drive the join, not a scan of every message.
  const waiting = `SELECT p.id FROM messages_fts_pending AS p CROSS JOIN messages AS m ON m.id = p.id WHERE ${Array(n).fill(ANY_COLUMN).join(' AND ')}`;
  return `id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? AND rowid NOT IN (SELECT id FROM messages_fts_pending) UNION ALL ${waiting})`;
}

/** The WHERE clause (without `WHERE`, `1` when empty) and its parameters for the messages table. */
export function messagesWhere(terms: SearchTerm[], now = Date.now()): { sql: string; params: (string | number)[] } {
  const parts: string[] = [];
  const params: (string | number)[] = [];
  // Every free word of 3 characters or more, in one MATCH: FTS5 intersects the posting
  // lists itself, so a common word ("relay") beside a rare one costs what the rare one does.
  const words = terms.filter((t) => t.field === 'text' && !t.negate && [...t.value].length >= 3);
  if (words.length) {
    parts.push(wordsMatch(words.length));
    params.push(words.map((t) => phrase(t.value)).join(' AND '), ...words.flatMap((t) => anyColumn(t.value)));
  }
  for (const t of terms) {
    if (words.includes(t)) continue;
    let sql: string;
    switch (t.field) {
      case 'from':
        sql = "sender LIKE ? ESCAPE '\\'";
        params.push(like(t.value));
        break;
      case 'to':
        sql = "rcpts LIKE ? ESCAPE '\\'";
        params.push(like(t.value));
        break;
      case 'subject':
        sql = "subject LIKE ? ESCAPE '\\'";
        params.push(like(t.value));
        break;
      case 'user':
        sql = "login LIKE ? ESCAPE '\\'";
        params.push(like(t.value));
        break;
      case 'id':
        sql = "queue_id LIKE ? ESCAPE '\\'";
        params.push(prefix(t.value.toUpperCase()));
        break;
      case 'ip':
        sql = "client LIKE ? ESCAPE '\\'";
        params.push(prefix(t.value));
        break;
      case 'rule':
        // rules is `|relay mail from|relay rcpt|`: a rule's name or its beginning.
        sql = "rules LIKE ? ESCAPE '\\'";
        params.push(`%|${prefix(t.value)}`);
        break;
      case 'verdict': {
        const v = VERDICT_WORDS[t.value.toLowerCase()];
        if (!v) throw new SearchError(`verdict:${t.value} — use accepted, refused, deferred or incomplete`);
        sql = 'verdict = ?';
        params.push(v);
        break;
      }
      case 'after':
        sql = 'ts >= ?';
        params.push(parseWhen(t.value, now));
        break;
      case 'before':
        sql = 'ts < ?';
        params.push(parseWhen(t.value, now, true));
        break;
      default: {
        if ([...t.value].length >= 3) {
          // The trigram index (messages_fts, §4.4): a phrase of the word's trigrams is a
          // case-insensitive substring match in any of the word columns.
          sql = wordsMatch(1);
          params.push(phrase(t.value), ...anyColumn(t.value));
        } else {
          // Shorter than a trigram: the columns one by one.
          sql = ANY_COLUMN;
          params.push(...anyColumn(t.value));
        }
      }
    }
    parts.push(t.negate ? `NOT ${sql}` : sql);
  }
  return { sql: parts.length ? parts.join(' AND ') : '1', params };
}
