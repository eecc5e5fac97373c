// The event log, log/events.jsonl (docs/design.md §4.3): what lands in the files, the
// rotation by size, and the last id a restarted gateway continues from.
import { test, describe, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { EventLog } from '../../core/events/log.ts';
import type { GatewayEvent } from '../../core/events/types.ts';
import { tempDir } from '../support/gateway.ts';
import { waitFor } from '../support/wait.ts';

function event(id: number, text = `event number ${id}`): GatewayEvent {
  const time = new Date(1_800_000_000_000 + id * 1000).toISOString();
  return { id, time, session: '', client: '127.0.0.1', listener: 'mx:25', stage: 'connect', verdict: 'accept', rule: 'connect', code: 0, text };
}

/** The ids in each log file, keyed by file name. */
function idsByFile(dir: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const f of fs.readdirSync(dir).sort()) {
    out[f] = fs
      .readFileSync(path.join(dir, f), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as GatewayEvent).id);
  }
  return out;
}

/** Every id on disk, oldest file first (events.N … events.1, then events.jsonl). */
function allIds(dir: string): number[] {
  const files = idsByFile(dir);
  const rotated = Object.keys(files)
    .filter((f) => f !== 'events.jsonl')
    .sort((a, b) => Number(b.split('.')[1]) - Number(a.split('.')[1]));
  return [...rotated, 'events.jsonl'].flatMap((f) => files[f] ?? []);
}

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = path.join(tempDir('postern-log-'), 'log');
    try {
      await fn(dir);
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  };
}

describe('EventLog', () => {
  test(
    'appends one JSON object per line, in order, off the caller’s path',
    withDir(async (dir) => {
      const log = new EventLog(dir);
      try {
        const events = [1, 2, 3, 4, 5].map((i) => event(i));
        for (const e of events) log.append(e);
        assert.equal(fs.readFileSync(log.file, 'utf8'), '', 'nothing written synchronously: append never blocks an SMTP reply');
        await waitFor(() => allIds(dir).length === 5, 5000, 'five lines');
        const lines = fs.readFileSync(log.file, 'utf8').split('\n');
        assert.equal(lines.pop(), '', 'every line ends with a newline');
        assert.deepEqual(
          lines.map((l) => JSON.parse(l)),
          events,
        );
        assert.equal(fs.statSync(log.file).mode & 0o777, 0o600, 'the log names addresses: private');
      } finally {
        await log.close();
      }
    }),
  );

  test(
    'close() writes what is still pending',
    withDir(async (dir) => {
      const log = new EventLog(dir);
      for (let i = 1; i <= 3; i++) log.append(event(i));
      await log.close();
      log.append(event(4)); // after close: dropped, not a crash
      await waitFor(() => allIds(dir).length >= 3, 5000, 'the pending lines');
      assert.deepEqual(allIds(dir), [1, 2, 3]);
    }),
  );

  test(
    'rotates by size: events.1 … events.<keep>, the oldest dropped, no id lost or repeated in between',
    withDir(async (dir) => {
      const maxBytes = 600;
      const log = new EventLog(dir, { maxBytes, keep: 2 });
      try {
        for (let i = 1; i <= 40; i++) {
          log.append(event(i));
          // One write at a time, so that the file sizes are predictable.
          await waitFor(() => allIds(dir).includes(i), 5000, `event ${i} on disk`);
        }
      } finally {
        await log.close();
      }
      assert.deepEqual(fs.readdirSync(dir).sort(), ['events.1.jsonl', 'events.2.jsonl', 'events.jsonl']);
      for (const f of ['events.1.jsonl', 'events.2.jsonl']) {
        const size = fs.statSync(path.join(dir, f)).size;
        assert.ok(size >= maxBytes && size < maxBytes + 300, `${f}: ${size} bytes`);
      }
      const ids = allIds(dir);
      assert.equal(ids.at(-1), 40);
      assert.ok(ids[0] > 1, 'the oldest file was dropped');
      assert.deepEqual(
        ids,
        Array.from({ length: ids.length }, (_, k) => ids[0] + k),
        'contiguous, oldest file first',
      );
    }),
  );

  test(
    'lastId after a restart: the last complete line, even after a torn one',
    withDir(async (dir) => {
      const log = new EventLog(dir);
      for (let i = 1; i <= 7; i++) log.append(event(i));
      await waitFor(() => allIds(dir).length === 7, 5000, 'seven lines');
      await log.close();
      const restarted = new EventLog(dir);
      assert.equal(restarted.lastId(), 7);
      await restarted.close();
      // A crash in the middle of a write leaves half a line.
      fs.appendFileSync(path.join(dir, 'events.jsonl'), '{"id":8,"time":"2027-');
      const after = new EventLog(dir);
      assert.equal(after.lastId(), 7);
      await after.close();
      const fresh = new EventLog(path.join(path.dirname(dir), 'fresh'));
      assert.equal(fresh.lastId(), 0, 'a new log starts at 0');
      await fresh.close();
    }),
  );

  test(
    'lastId after a restart that follows a rotation: ids go on from the rotated file',
    withDir(async (dir) => {
      const log = new EventLog(dir, { maxBytes: 200, keep: 3 });
      log.append(event(1));
      log.append(event(2));
      await waitFor(() => fs.existsSync(path.join(dir, 'events.1.jsonl')), 5000, 'a rotation');
      await log.close();
      assert.equal(fs.statSync(path.join(dir, 'events.jsonl')).size, 0, 'the current file is empty right after a rotation');
      const restarted = new EventLog(dir);
      assert.equal(restarted.lastId(), 2);
      await restarted.close();
    }),
  );

  test(
    'the log folder removed while it runs: the rotation says so on stderr and the process goes on (no uncaught exception)',
    withDir(async (dir) => {
      const said: string[] = [];
      const err = mock.method(console, 'error', (m: string) => void said.push(m));
      try {
        const log = new EventLog(dir, { maxBytes: 200, keep: 2 });
        fs.rmSync(dir, { recursive: true, force: true });
        log.append(event(1));
        log.append(event(2));
        await waitFor(() => said.some((m) => /event log could not be/.test(m)), 5000, 'the complaint');
        log.append(event(3)); // after the failure: dropped quietly
        await log.close();
        assert.match(said.join('\n'), /could not be rotated|could not be reopened/);
      } finally {
        err.mock.restore();
        fs.mkdirSync(dir, { recursive: true });
      }
    }),
  );
});
