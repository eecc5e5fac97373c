// Search results as files (docs/design.md §4.4): CSV (RFC 4180, one row per transaction)
// and JSON (the MessageRow objects). Cells that a spreadsheet would run as a formula
// (= + - @ at the start) get a leading apostrophe (OWASP CSV injection).
import type { ExportFile, ExportFormat, MessageRow } from './types.ts';

export const CSV_COLUMNS = ['time', 'client', 'user', 'from', 'to', 'subject', 'size', 'verdict', 'outcome', 'code', 'rule', 'reason', 'queueId'] as const;

function cell(v: string | number): string {
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: MessageRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    const values: Record<(typeof CSV_COLUMNS)[number], string | number> = {
      time: r.time,
      client: r.client,
      user: r.user,
      from: r.from,
      to: r.to.join(' '),
      subject: r.subject,
      size: r.size,
      verdict: r.verdict,
      outcome: r.outcome.join(' '),
      code: r.code,
      rule: r.rule,
      reason: r.reason,
      queueId: r.queueId,
    };
    lines.push(CSV_COLUMNS.map((c) => cell(values[c])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

export function exportFile(rows: MessageRow[], format: ExportFormat, now = new Date()): ExportFile {
  const stamp = now.toISOString().slice(0, 16).replace(/[:T]/g, '-');
  if (format === 'csv') return { filename: `postern-messages-${stamp}.csv`, mime: 'text/csv', body: toCsv(rows), rows: rows.length };
  return { filename: `postern-messages-${stamp}.json`, mime: 'application/json', body: JSON.stringify(rows, null, 1), rows: rows.length };
}
