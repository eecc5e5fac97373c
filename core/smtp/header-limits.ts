// The header section of a message while DATA streams (docs/design.md §2.8): its lines
// and bytes are counted as the chunks arrive, and it is kept (it is bounded) while the
// body goes on to the spool file. Over `limits.maxHeaderLines` or
// `limits.maxHeaderBytes` the message is refused with 552 at the end of DATA: a header
// section that large is never real mail, and header parsers (mailauth's joins
// continuation lines quadratically) are where a small message can cost minutes of CPU.
//
// Input: chunks with CRLF line ends (after LineEndings, which turns bare CR and LF into
// CRLF); a bare LF is still taken as a line end. One linear scan.

export interface HeaderLimitValues {
  maxHeaderLines: number;
  maxHeaderBytes: number;
}

export class HeaderLimits {
  private readonly max: HeaderLimitValues;
  /** Header lines seen (a folded field counts one per physical line); the empty line that ends the section is not counted. */
  lines = 0;
  /** Bytes of the header section seen, line ends included, the empty line not. */
  bytes = 0;
  /** The empty line was seen: what follows is the body. */
  done = false;
  /** A limit was passed: nothing more is kept. */
  over = false;
  private kept: Buffer[] = [];
  /** Bytes of the current line so far (from its first byte, up to the next LF). */
  private lineLen = 0;
  /** The current line so far is a lone CR (it may end in the next chunk). */
  private lineIsCR = false;

  constructor(max: HeaderLimitValues) {
    this.max = max;
  }

  /**
   * Takes the next chunk; returns the part of it that belongs to the body (empty while
   * the header section goes on, or once over the limit).
   */
  push(chunk: Buffer): Buffer {
    if (this.done) return this.over ? EMPTY : chunk;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      const lf = chunk.indexOf(0x0a, i);
      if (lf < 0) {
        this.lineIsCR = this.lineLen === 0 && n - i === 1 && chunk[i] === 0x0d;
        this.lineLen += n - i;
        this.bytes += n - i;
        i = n;
        break;
      }
      const seg = lf + 1 - i;
      const len = this.lineLen + seg;
      // An empty line — CRLF, also split across chunks, or a bare LF — ends the header
      // section (RFC 5322 §2.1) and is not counted. A one-character line ended by a bare
      // LF is a line, not the end.
      const empty = len === 1 || (len === 2 && (seg === 2 ? chunk[lf - 1] === 0x0d : this.lineIsCR));
      i = lf + 1;
      this.lineIsCR = false;
      if (empty) {
        this.bytes -= this.lineLen;
        this.lineLen = 0;
        this.done = true;
        break;
      }
      this.lineLen = 0;
      this.lines++;
      this.bytes += seg;
    }
    // A lone CR waiting for its LF may be the empty line, which is not counted.
    const bytes = this.bytes - (this.lineIsCR ? 1 : 0);
    if (!this.over && (this.lines > this.max.maxHeaderLines || bytes > this.max.maxHeaderBytes)) {
      this.over = true;
      this.kept = [];
    }
    if (!this.over) this.kept.push(i === n ? chunk : chunk.subarray(0, i));
    if (this.over || i === n) return EMPTY;
    return chunk.subarray(i);
  }

  /** The header section as received, with the empty line that ends it (if one came). */
  head(): Buffer {
    if (this.kept.length !== 1) this.kept = [Buffer.concat(this.kept)];
    return this.kept[0];
  }

  /** `552 …` text and event reason for a header section over the limits. */
  refusal(): { text: string; reason: string } {
    const seen = `${this.lines} lines / ${this.bytes} bytes`;
    const limit = `limit ${this.max.maxHeaderLines} lines / ${this.max.maxHeaderBytes} bytes`;
    return { text: `5.3.4 Message header section too large (${seen}; ${limit})`, reason: `header section of ${seen} (${limit})` };
  }
}

const EMPTY = Buffer.alloc(0);
