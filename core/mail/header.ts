// Header fields of the Internet Message Format (RFC 5322). One folder for every
// field Postern writes: Received (core/smtp/message.ts), Received-SPF and
// Authentication-Results (core/spf/).

/** Lines of a header field should be at most 78 characters (RFC 5322 §2.1.1). */
export const HEADER_SOFT_LIMIT = 78;

/**
 * Positions of the spaces a field may be folded before: after `Name: `, outside
 * quoted-strings. (A `"` inside a comment does not open a quoted-string; comments
 * themselves may fold, as RFC 5322 §3.2.2 allows FWS there.)
 */
function foldPoints(text: string, first: boolean): number[] {
  const points: number[] = [];
  let inQuote = false;
  let depth = 0;
  const colon = first ? text.indexOf(':') : -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (inQuote) inQuote = c !== '"';
    else if (c === '"' && depth === 0) inQuote = true;
    else if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (c === ' ' && i > colon + 1) points.push(i);
  }
  return points;
}

/**
 * Folds one header field (RFC 5322 §2.2.3): CRLF inserted before a space, so that
 * unfolding (removing each CRLF that precedes whitespace) gives back exactly the
 * field. Lines are kept within `width` where a fold point allows; a word longer than
 * that stays whole (78 is a soft limit). Never folds inside a quoted-string: some
 * parsers unfold those badly. Line breaks already in the input are
 * unfolded first. Given several parts, each after the first starts a new line (as
 * after the `;` between Authentication-Results entries). Returns the field
 * CRLF-terminated.
 */
export function foldHeader(field: string | string[], width = HEADER_SOFT_LIMIT): string {
  const parts = (Array.isArray(field) ? field : [field]).map((p) => p.replace(/\r?\n(?=[ \t])/g, '').replace(/[\r\n]+/g, ' '));
  const lines: string[] = [];
  parts.forEach((part, n) => {
    const text = n === 0 ? part : ` ${part.trimStart()}`;
    let start = 0;
    let last = -1;
    for (const p of [...foldPoints(text, n === 0), text.length]) {
      if (p - start > width && last > start) {
        lines.push(text.slice(start, last));
        start = last;
      }
      last = p;
    }
    lines.push(text.slice(start));
  });
  return `${lines.filter((l) => l.trim() !== '').join('\r\n')}\r\n`;
}
