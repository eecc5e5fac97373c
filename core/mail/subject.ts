// The Subject of a header section, decoded for people (RFC 5322 §3.6.5, RFC 2047
// encoded words), for the data-stage event (docs/design.md §4.1). Bounded: the
// header section itself is bounded (§2.8), the result is cut at 300 characters.

const MAX = 300;

function decodeWord(charset: string, enc: string, text: string): string {
  let bytes: Uint8Array;
  if (enc.toUpperCase() === 'B') bytes = Buffer.from(text, 'base64');
  else {
    const s = text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    bytes = Buffer.from(s, 'latin1');
  }
  try {
    return new TextDecoder(charset.split('*')[0].toLowerCase()).decode(bytes);
  } catch {
    return Buffer.from(bytes).toString('utf8'); // an unknown charset: best effort
  }
}

/** RFC 2047: encoded words decoded, whitespace between adjacent encoded words dropped. */
export function decodeEncodedWords(s: string): string {
  return s
    .replace(/(=\?[^?]+\?[bBqQ]\?[^?]*\?=)\s+(?==\?[^?]+\?[bBqQ]\?[^?]*\?=)/g, '$1')
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_, cs: string, enc: string, text: string) => decodeWord(cs, enc, text));
}

/** The first Subject field of `head` (raw header bytes), unfolded and decoded; '' when none. */
export function subjectOf(head: Buffer | string): string {
  const text = typeof head === 'string' ? head : head.toString('latin1');
  const m = /(?:^|\r?\n)subject[ \t]*:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/i.exec(text);
  if (!m) return '';
  const raw = m[1].replace(/\r?\n(?=[ \t])/g, '').trim();
  // Header bytes are UTF-8 in practice (RFC 6532); latin1 kept them byte for byte.
  const utf8 = Buffer.from(raw, 'latin1').toString('utf8');
  const decoded = decodeEncodedWords(utf8).replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return decoded.length > MAX ? `${decoded.slice(0, MAX - 1)}…` : decoded;
}

/** The Subject from a message's first chunks (only the header section is looked at, at most 256 KiB). */
export function subjectOfChunks(chunks: Buffer[]): string {
  const parts: Buffer[] = [];
  let n = 0;
  for (const c of chunks) {
    parts.push(c);
    n += c.length;
    if (n >= 262_144 || c.includes('\r\n\r\n') || c.includes('\n\n')) break;
  }
  const head = Buffer.concat(parts).subarray(0, 262_144);
  const end = head.indexOf('\r\n\r\n');
  return subjectOf(end >= 0 ? head.subarray(0, end + 2) : head);
}
