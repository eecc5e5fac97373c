// A stored message, parsed for reading in the dashboard's viewer (docs/design.md §7.4):
// headers, text, the HTML part as it is (the renderer shows it only in a sandboxed
// frame with a CSP that blocks every remote load and script), attachments listed
// (never served), the raw source, Authentication-Results as plain verdicts.
// Parsing is mailparser's (nodemailer's sibling), pinned in package.json.
import { simpleParser } from 'mailparser';

export const RAW_LIMIT = 2 * 1024 * 1024;

export interface ParsedView {
  headers: { name: string; value: string }[];
  subject: string;
  from: string;
  to: string;
  date: string | null;
  text: string;
  html: string | null;
  attachments: { filename: string; contentType: string; size: number }[];
  auth: { method: string; result: string; detail: string }[];
  raw: string;
  truncated: boolean;
}

/**
 * `mx.doe-family.com; spf=pass smtp.mailfrom=a@b; dkim=none (no signatures) header.d=b`
 * → one entry per method (RFC 8601 §2.2): the authserv-id is dropped, comments kept as detail.
 */
export function authVerdicts(values: string[]): { method: string; result: string; detail: string }[] {
  const out: { method: string; result: string; detail: string }[] = [];
  for (const v of values) {
    const parts = v
      .replace(/\r?\n[ \t]+/g, ' ')
      .split(';')
      .slice(1);
    for (const p of parts) {
      const m = /^\s*([a-z0-9_-]+)\s*=\s*([a-z0-9_-]+)\s*(.*)$/i.exec(p);
      if (m) out.push({ method: m[1].toLowerCase(), result: m[2].toLowerCase(), detail: m[3].trim() });
    }
  }
  return out;
}

export async function viewMessage(source: Buffer): Promise<ParsedView> {
  const mail = await simpleParser(source, { skipImageLinks: true, skipTextLinks: true, skipHtmlToText: false });
  const headers = mail.headerLines.map((h) => {
    const i = h.line.indexOf(':');
    return { name: i > 0 ? h.line.slice(0, i) : h.key, value: (i > 0 ? h.line.slice(i + 1) : h.line).replace(/\r?\n[ \t]+/g, ' ').trim() };
  });
  const auth = authVerdicts(headers.filter((h) => h.name.toLowerCase() === 'authentication-results').map((h) => h.value));
  const addr = (a: unknown): string => {
    if (!a) return '';
    const list = Array.isArray(a) ? a : [a];
    return list.map((x: { text?: string }) => x.text ?? '').join(', ');
  };
  return {
    headers,
    subject: mail.subject ?? '',
    from: addr(mail.from),
    to: addr(mail.to),
    date: mail.date ? mail.date.toISOString() : null,
    text: mail.text ?? '',
    html: typeof mail.html === 'string' ? mail.html : null,
    attachments: mail.attachments.map((a) => ({ filename: a.filename ?? '(no name)', contentType: a.contentType, size: a.size })),
    auth,
    raw: source.subarray(0, RAW_LIMIT).toString('utf8'),
    truncated: source.length > RAW_LIMIT,
  };
}
