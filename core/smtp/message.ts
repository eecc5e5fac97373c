// What happens to message bytes between DATA and the disk: bare CR / bare LF are
// found and, for trusted clients, turned into CRLF (docs/design.md §2.8). No stored message
// contains a bare CR or LF, so nothing Postern stores or relays can smuggle a second
// message into a downstream server (CVE-2023-51764 class).
//
// Hand-written rather than a library: it is one linear scan, and it must report
// *whether* it changed anything (Internet clients get 550 5.5.2 instead).
import net from 'node:net';
import { foldHeader } from '../mail/header.ts';

export class LineEndings {
  private pendingCR = false;
  /** A bare CR or LF was seen. */
  bare = false;

  /** Returns the chunk with every line ending as CRLF. */
  push(chunk: Buffer): Buffer {
    const n = chunk.length;
    if (n === 0) return chunk;
    const parts: Buffer[] = [];
    let start = 0;
    let i = 0;
    if (this.pendingCR) {
      this.pendingCR = false;
      if (chunk[0] === 0x0a) {
        parts.push(CRLF);
        start = i = 1;
      } else {
        this.bare = true;
        parts.push(CRLF);
      }
    }
    while (i < n) {
      const b = chunk[i];
      if (b === 0x0d) {
        if (i + 1 === n) {
          // CR at the end of a chunk: decide when the next one arrives
          parts.push(chunk.subarray(start, i));
          this.pendingCR = true;
          start = i = n;
          break;
        }
        if (chunk[i + 1] === 0x0a) {
          i += 2;
          continue;
        }
        this.bare = true;
        parts.push(chunk.subarray(start, i), CRLF);
        start = i = i + 1;
        continue;
      }
      if (b === 0x0a) {
        this.bare = true;
        parts.push(chunk.subarray(start, i), CRLF);
        start = i = i + 1;
        continue;
      }
      // Jump to the next CR or LF.
      const cr = chunk.indexOf(0x0d, i);
      const lf = chunk.indexOf(0x0a, i);
      const next = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      i = next < 0 ? n : next;
    }
    if (start === 0 && parts.length === 0) return chunk;
    if (start < n) parts.push(chunk.subarray(start));
    return Buffer.concat(parts);
  }

  /** Call at the end of the message. */
  end(): Buffer {
    if (!this.pendingCR) return EMPTY;
    this.pendingCR = false;
    this.bare = true;
    return CRLF;
  }
}

const CRLF = Buffer.from('\r\n');
const EMPTY = Buffer.alloc(0);

/** RFC 5322 date-time in UTC: `Tue, 24 Nov 2026 07:31:00 +0000`. */
export function rfc5322Date(d = new Date()): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

export interface ReceivedInfo {
  helo: string;
  clientIp: string;
  hostname: string;
  protocol: string;
  queueId: string;
  tls?: string;
  for?: string;
}

/**
 * The client's address as RFC 5321 §4.1.3 writes an address literal: `[192.0.2.1]`,
 * `[IPv6:2001:db8::1]`. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a
 * dual-stack listener reports for an IPv4 client) is the IPv4 client it stands for.
 */
export function addressLiteral(ip: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4) return `[${v4[1]}]`;
  if (net.isIPv6(ip)) return `[IPv6:${ip}]`;
  if (net.isIPv4(ip)) return `[${ip}]`;
  return '[unknown]';
}

/** A host name (letters, digits, hyphens, dots; `_` as real mail has it) or an address literal. */
const PLAIN_HELO = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?|\[(?:IPv6:)?[0-9A-Fa-f:.]+\])$/;

/**
 * The HELO name as a Received field can carry it (docs/design.md §2.8). A plain name or
 * address literal goes where RFC 5321 §4.4 puts the Extended-Domain. Anything else
 * (`odd(helo);x=y`) is not a domain: the field says `from unknown` and keeps what the
 * client said in an RFC 5322 comment — `(`, `)` and `\` as quoted-pairs, control
 * characters and non-ASCII as `?` (Postfix's `printable()`), at most 255 characters —
 * so nothing the client sends can end the comment, add a field or move the `;`.
 */
export function heloForReceived(helo: string): { name: string; comment: string } {
  if (!helo) return { name: 'unknown', comment: '' };
  if (helo.length <= 255 && PLAIN_HELO.test(helo)) return { name: helo, comment: '' };
  const safe = helo
    .slice(0, 255)
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/[()\\]/g, (c) => `\\${c}`);
  return { name: 'unknown', comment: ` (HELO ${safe})` };
}

/** The trace header of RFC 5321 §4.4. */
export function receivedHeader(r: ReceivedInfo): string {
  const tls = r.tls ? ` (${r.tls})` : '';
  const forPart = r.for ? ` for <${r.for}>` : '';
  const helo = heloForReceived(r.helo);
  // The comment before `by` is where RFC 5321's Stamp grammar allows CFWS.
  return foldHeader(
    `Received: from ${helo.name} (${addressLiteral(r.clientIp)})${helo.comment} by ${r.hostname} (Postern) with ${r.protocol}${tls} id ${r.queueId}${forPart}; ${rfc5322Date()}`,
  );
}

/** Whether a line of the header section starts with `name:` (any case) — a quick test before splitting it into fields. */
function hasField(head: Buffer, name: 'return-path' | 'delivered-to'): boolean {
  return FIELD_START[name].test(head.toString('latin1'));
}
const FIELD_START = { 'return-path': /(?:^|\n)return-path[ \t]*:/i, 'delivered-to': /(?:^|\n)delivered-to[ \t]*:/i };

/** The header section's fields, each with its continuation lines and line end, and where the section ends. */
function headerFields(head: Buffer): { fields: string[]; text: string; end: number } {
  const text = head.toString('latin1');
  const blank = /\r\n\r\n/.exec(text);
  const end = blank ? blank.index + 2 : text.length;
  const fields =
    text
      .slice(0, end)
      .match(/[^\r\n]*(?:\r\n[ \t][^\r\n]*)*(?:\r\n|$)/g)
      ?.filter(Boolean) ?? [];
  return { fields, text, end };
}

/**
 * The header section without `Return-Path:` fields (docs/design.md §2.8): the final
 * delivery writes the one true Return-Path (RFC 5321 §4.4), and Postfix's cleanup
 * drops a message's own (`message_drop_headers`). Neither a stored nor a relayed copy
 * keeps a client's.
 */
export function withoutReturnPath(head: Buffer): Buffer {
  if (!hasField(head, 'return-path')) return head; // the usual case: no field list needed
  const { fields, text, end } = headerFields(head);
  const kept = fields.filter((f) => !/^return-path[ \t]*:/i.test(f));
  if (kept.length === fields.length) return head;
  return Buffer.from(kept.join('') + text.slice(end), 'latin1');
}

/**
 * The first of `recipients` that a `Delivered-To:` field of the message already names
 * (compared without regard to case), or null. Such a message has been delivered to
 * that address before and came back: a forwarding loop (RFC 9228 §4; Postfix's local
 * delivery bounces it as "mail forwarding loop"). Other Delivered-To fields are trace
 * information of earlier deliveries and stay, like Received fields.
 */
export function deliveredToLoop(head: Buffer, recipients: readonly string[]): string | null {
  if (!recipients.length || !hasField(head, 'delivered-to')) return null;
  const named = new Set<string>();
  for (const f of headerFields(head).fields) {
    const m = /^delivered-to[ \t]*:([\s\S]*)$/i.exec(f);
    if (m) named.add(m[1].replace(/\r\n/g, '').replace(/[<>]/g, '').trim().toLowerCase());
  }
  return recipients.find((r) => named.has(r.toLowerCase())) ?? null;
}
