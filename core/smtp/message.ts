// What happens to message bytes between DATA and the disk: bare CR / bare LF are
// found and, for trusted clients, turned into CRLF (docs/design.md §2.8). No stored message
// contains a bare CR or LF, so nothing Postern stores or relays can smuggle a second
// message into a downstream server (CVE-2023-51764 class).
//
// Hand-written rather than a library: it is one linear scan, and it must report
// *whether* it changed anything (Internet clients get 550 5.5.2 instead).
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

/** The trace header of RFC 5321 §4.4. */
export function receivedHeader(r: ReceivedInfo): string {
  const tls = r.tls ? ` (${r.tls})` : '';
  const forPart = r.for ? ` for <${r.for}>` : '';
  return foldHeader(`Received: from ${r.helo || 'unknown'} ([${r.clientIp}]) by ${r.hostname} (Postern) with ${r.protocol}${tls} id ${r.queueId}${forPart}; ${rfc5322Date()}`);
}
