// The header section counted while DATA streams (core/smtp/header-limits.ts,
// docs/design.md §2.8): where it ends, what it counts, and the bounds to the byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderLimits } from '../../core/smtp/header-limits.ts';
import { LineEndings } from '../../core/smtp/message.ts';

const WIDE = { maxHeaderLines: 1000, maxHeaderBytes: 262_144 };

/** Feeds `chunks` through the counter; returns it with the body it let through. */
function feed(chunks: (string | Buffer)[], max = WIDE): { h: HeaderLimits; body: string } {
  const h = new HeaderLimits(max);
  let body = '';
  for (const c of chunks) body += h.push(Buffer.isBuffer(c) ? c : Buffer.from(c, 'latin1')).toString('latin1');
  return { h, body };
}

/** Every way of cutting `s` into two chunks, and into single bytes. */
function cuts(s: string): string[][] {
  const out: string[][] = [[s], s.split('')];
  for (let i = 1; i < s.length; i++) out.push([s.slice(0, i), s.slice(i)]);
  return out;
}

test('one header section, cut anywhere (a CRLF split across chunks too): the same count, head and body', () => {
  const msg = 'From: a@example.org\r\nSubject: hi\r\n folded\r\n\r\nbody line\r\n\r\nmore\r\n';
  for (const chunks of cuts(msg)) {
    const { h, body } = feed(chunks);
    const where = JSON.stringify(chunks.length > 2 ? 'bytes' : chunks.map((c) => c.length));
    assert.equal(h.done, true, where);
    assert.equal(h.over, false, where);
    assert.equal(h.lines, 3, where);
    assert.equal(h.bytes, 'From: a@example.org\r\nSubject: hi\r\n folded\r\n'.length, where);
    assert.equal(h.head().toString('latin1'), 'From: a@example.org\r\nSubject: hi\r\n folded\r\n\r\n', where);
    assert.equal(body, 'body line\r\n\r\nmore\r\n', where);
  }
});

test('a CR at the end of a chunk and its LF at the start of the next: the empty line is found, its bytes not counted', () => {
  const { h, body } = feed(['X: 1\r\n\r', '\nbody']);
  assert.equal(h.done, true);
  assert.equal(h.lines, 1);
  assert.equal(h.bytes, 6);
  assert.equal(body, 'body');
  // and a CR that is not followed by LF is part of a line
  const g = feed(['X: 1\r\n\r', 'Y: 2\r\n\r\n']);
  assert.equal(g.h.lines, 2);
  assert.equal(g.h.bytes, 6 + 7);
});

test('a bare LF: taken as a line end; a bare LF alone ends the section; a one-character line before a bare LF does not', () => {
  const a = feed(['X: 1\nY: 2\n\nbody\n']);
  assert.equal(a.h.done, true);
  assert.equal(a.h.lines, 2);
  assert.equal(a.h.bytes, 10);
  assert.equal(a.body, 'body\n');
  for (const chunks of cuts('a\nb\r\n\r\nbody')) {
    const { h, body } = feed(chunks);
    assert.equal(h.lines, 2, `"a\\n" is a header line (${JSON.stringify(chunks)})`);
    assert.equal(body, 'body');
  }
  // As the gateway feeds it: LineEndings first turns every bare LF into CRLF (and says so).
  const le = new LineEndings();
  const h = new HeaderLimits(WIDE);
  let body = '';
  for (const c of ['X: 1\nY', ': 2\n', '\nbody\n']) body += h.push(le.push(Buffer.from(c))).toString();
  body += h.push(le.end()).toString();
  assert.equal(le.bare, true);
  assert.equal(h.lines, 2);
  assert.equal(h.bytes, 'X: 1\r\nY: 2\r\n'.length);
  assert.equal(body, 'body\r\n');
});

test('no header section (the empty line first): nothing counted, everything is the body', () => {
  for (const chunks of cuts('\r\nHello\r\n')) {
    const { h, body } = feed(chunks);
    assert.equal(h.done, true);
    assert.equal(h.lines, 0);
    assert.equal(h.bytes, 0);
    assert.equal(h.over, false);
    assert.equal(h.head().toString(), '\r\n');
    assert.equal(body, 'Hello\r\n');
  }
});

test('a message that is all header (no empty line): counted to the end, nothing let through as body', () => {
  const { h, body } = feed(['X: 1\r\n', 'Y: 2']);
  assert.equal(h.done, false);
  assert.equal(h.lines, 1);
  assert.equal(h.bytes, 10);
  assert.equal(body, '');
  assert.equal(h.head().toString(), 'X: 1\r\nY: 2');
});

test('exactly at the line limit passes; one line more is over, and the refusal says both counts', () => {
  const lines = (n: number) => 'X: a\r\n'.repeat(n);
  const at = feed([lines(5), '\r\nbody'], { maxHeaderLines: 5, maxHeaderBytes: 1000 });
  assert.equal(at.h.over, false);
  assert.equal(at.h.lines, 5);
  assert.equal(at.body, 'body');
  const over = feed([lines(6), '\r\nbody'], { maxHeaderLines: 5, maxHeaderBytes: 1000 });
  assert.equal(over.h.over, true);
  assert.equal(over.h.done, true);
  assert.equal(over.body, '', 'nothing of an over-limit message goes on');
  assert.equal(over.h.head().length, 0, 'nor is its header kept');
  assert.deepEqual(over.h.refusal(), {
    text: '5.3.4 Message header section too large (6 lines / 36 bytes; limit 5 lines / 1000 bytes)',
    reason: 'header section of 6 lines / 36 bytes (limit 5 lines / 1000 bytes)',
  });
});

test('exactly at the byte limit passes (the empty line not counted); one byte more is over — cut anywhere', () => {
  const max = { maxHeaderLines: 100, maxHeaderBytes: 20 };
  const at = 'X: 123456789012345\r\n'; // 20 bytes
  assert.equal(at.length, 20);
  for (const chunks of cuts(`${at}\r\nbody`)) {
    const { h, body } = feed(chunks, max);
    assert.equal(h.over, false, JSON.stringify(chunks));
    assert.equal(h.bytes, 20);
    assert.equal(body, 'body');
  }
  for (const chunks of cuts('X: 1234567890123456\r\n\r\nbody')) {
    const { h, body } = feed(chunks, max);
    assert.equal(h.over, true, JSON.stringify(chunks));
    assert.equal(body, '');
  }
  // A line still unfinished counts as it arrives: a header with no line end at all is stopped too.
  const long = feed(['X: ', 'a'.repeat(30)], max);
  assert.equal(long.h.over, true);
});

test('linear: a 120,000-line folded header is counted in well under a second and refused', () => {
  const bomb = `X-Long: a\r\n${' b\r\n'.repeat(120_000)}\r\nbody`;
  const t0 = performance.now();
  const { h } = feed([Buffer.from(bomb)]);
  const ms = performance.now() - t0;
  assert.equal(h.over, true);
  assert.equal(h.lines, 120_001);
  assert.ok(ms < 1000, `${ms} ms`);
});
