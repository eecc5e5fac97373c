// 8-bit mail for a server that does not offer 8BITMIME (docs/design.md §3.3): RFC 6152
// §3 lets a relay send such mail only after converting it to 7-bit, and RFC 1652 §3
// says how — each 8-bit body part gets a 7-bit Content-Transfer-Encoding. As Postfix
// does (smtp_8bitmime conversion), every leaf part whose body has bytes above 127 and is
// sent as 8bit/binary (or without an encoding) becomes quoted-printable (RFC 2045
// §6.7); multipart bodies are walked part by part, an attached message/rfc822 is
// converted inside (its own encoding may only be 7bit/8bit/binary, RFC 2046 §5.2.1).
// Everything else stays byte for byte: headers, boundaries, preamble, epilogue, parts
// already 7-bit. Header fields with 8-bit bytes are left as they are (Postfix does not
// rewrite them either). Runs before DKIM signing, in the worker (core/work/worker.ts).
//
// Hand-written around nodemailer's quoted-printable encoder: no maintained library
// rewrites one part's encoding and keeps every other byte of the message as it was
// (mail composers build new messages; parsers decode them). One linear walk over the
// MIME tree, bounded in depth.
import { isAscii } from 'node:buffer';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';

/** Deeper nesting than this is left as it is (hostile input, not mail). */
const MAX_DEPTH = 30;

/** The message with every 8-bit body part quoted-printable; the same Buffer when nothing needed converting. */
export function toSevenBit(message: Buffer): Buffer {
  if (isAscii(message)) return message;
  const out = entity(message.toString('latin1'), 0, true);
  return out === null ? message : Buffer.from(out, 'latin1');
}

interface Field {
  name: string;
  raw: string;
}

function splitEntity(text: string): { fields: Field[]; body: string; sep: string } | null {
  if (text.startsWith('\r\n')) return { fields: [], body: text.slice(2), sep: '\r\n' };
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null; // a header section only: no body to convert
  const head = text.slice(0, end + 2);
  const fields = (head.match(/[^\r\n]+(?:\r\n[ \t][^\r\n]*)*\r\n/g) ?? []).map((raw) => ({
    name: raw
      .slice(0, Math.max(0, raw.indexOf(':')))
      .trim()
      .toLowerCase(),
    raw,
  }));
  if (fields.map((f) => f.raw).join('') !== head) return null; // not a header section we understand
  return { fields, body: text.slice(end + 4), sep: '\r\n' };
}

const fieldValue = (f: Field | undefined): string =>
  f
    ? f.raw
        .slice(f.raw.indexOf(':') + 1)
        .replace(/\r\n(?=[ \t])/g, '')
        .trim()
    : '';

/** The converted entity (header section + body), or null when it is unchanged. */
function entity(text: string, depth: number, top: boolean): string | null {
  if (depth > MAX_DEPTH) return null;
  const e = splitEntity(text);
  if (!e) return null;
  const field = (name: string) => e.fields.find((f) => f.name === name);
  const contentType = fieldValue(field('content-type'));
  const type = (contentType.split(';')[0] || 'text/plain').trim().toLowerCase();
  const cte = fieldValue(field('content-transfer-encoding')).toLowerCase() || '7bit';
  const head = (fields: Field[]) => fields.map((f) => f.raw).join('');

  if (type.startsWith('multipart/')) {
    const boundary = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))/i.exec(contentType);
    const b = boundary ? (boundary[1] ?? boundary[2]).replace(/\\(.)/g, '$1') : '';
    if (!b) return null;
    const body = multipart(e.body, b, depth);
    if (body === null) return null;
    return `${head(sevenBitLabel(e.fields, cte, body))}${e.sep}${body}`;
  }
  if (type === 'message/rfc822') {
    const inner = entity(e.body, depth + 1, false);
    if (inner === null) return null;
    return `${head(sevenBitLabel(e.fields, cte, inner))}${e.sep}${inner}`;
  }
  if (isAscii(Buffer.from(e.body, 'latin1'))) return null;
  // Already encoded (base64, quoted-printable) yet 8-bit: broken, and encoding it again would
  // change what it means. Left as it is.
  if (cte === 'base64' || cte === 'quoted-printable') return null;
  const body = qpWrap(qpEncode(Buffer.from(e.body, 'latin1')), 76);
  const fields = e.fields.filter((f) => f.name !== 'content-transfer-encoding');
  const added: Field[] = [{ name: 'content-transfer-encoding', raw: 'Content-Transfer-Encoding: quoted-printable\r\n' }];
  // A message without MIME (RFC 5322 alone) has no charset to keep: RFC 1428's unknown-8bit says so.
  if (top && !field('mime-version')) added.unshift({ name: 'mime-version', raw: 'MIME-Version: 1.0\r\n' });
  if (top && !field('content-type')) added.push({ name: 'content-type', raw: 'Content-Type: text/plain; charset=unknown-8bit\r\n' });
  return `${head([...fields, ...added])}${e.sep}${body}`;
}

/** A composite entity's encoding once its content is 7-bit: `8bit` becomes `7bit`. */
function sevenBitLabel(fields: Field[], cte: string, content: string): Field[] {
  if (cte !== '8bit' || !isAscii(Buffer.from(content, 'latin1'))) return fields;
  return fields.map((f) => (f.name === 'content-transfer-encoding' ? { name: f.name, raw: 'Content-Transfer-Encoding: 7bit\r\n' } : f));
}

/** A multipart body with each part converted, or null when no part changed. */
function multipart(body: string, boundary: string, depth: number): string | null {
  // Split into lines and joined again with CRLF: each entry of `out` is one line, or a
  // whole part (its lines joined), so the rebuilt body differs only inside changed parts.
  const delimiter = `--${boundary}`;
  const isDelimiter = (l: string) => l.startsWith(delimiter) && /^(?:--)?[ \t]*$/.test(l.slice(delimiter.length));
  const out: string[] = [];
  let part: string[] | null = null;
  let changed = false;
  let closed = false;
  const flush = () => {
    if (part === null || part.length === 0) return;
    const text = part.join('\r\n');
    const converted = entity(text, depth + 1, false);
    if (converted !== null) changed = true;
    out.push(converted ?? text);
  };
  for (const l of body.split('\r\n')) {
    if (!closed && isDelimiter(l)) {
      flush();
      out.push(l);
      closed = l.slice(delimiter.length).startsWith('--');
      part = closed ? null : [];
      continue;
    }
    if (part) part.push(l);
    else out.push(l); // preamble or epilogue
  }
  flush();
  return changed ? out.join('\r\n') : null;
}
