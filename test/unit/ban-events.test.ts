// The ban list's changes as events (core/auth/ban-events.ts, docs/design.md §2.4): a ban
// that ran out, one lifted by hand, one lifted in the file by `postern bans lift`. Real
// BanList on a temp dir; the clock and the expiry timer are node:test's mock timers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BanEvents } from '../../core/auth/ban-events.ts';
import { BanList, banViews } from '../../core/auth/bans.ts';
import type { EventInput } from '../../core/events/types.ts';
import { tempDir } from '../support/gateway.ts';

function setup() {
  const dir = tempDir('postern-ban-events-');
  let now = 1_700_000_000_000;
  const bans = new BanList(dir, 3, 60, () => now);
  const events: EventInput[] = [];
  const desk = new BanEvents(bans, (e) => events.push(e));
  const ban = (ip: string) => {
    for (let i = 0; i < 3; i++) bans.fail(ip);
  };
  return { dir, bans, events, desk, ban, later: (ms: number) => (now += ms) };
}

test('a ban that ran out is lifted by the expiry check and told as an event; none before its time', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const s = setup();
  try {
    s.ban('203.0.113.7');
    assert.deepEqual(
      banViews(s.bans).map((b) => b.address),
      ['203.0.113.7'],
    );
    s.desk.start();
    s.later(30_000);
    t.mock.timers.tick(10_000);
    assert.equal(s.events.length, 0, 'still banned after 30 s of 60');
    s.later(31_000);
    t.mock.timers.tick(10_000);
    assert.deepEqual(s.events, [{ stage: 'auth', verdict: 'info', rule: 'auth ban', client: '203.0.113.7', text: '203.0.113.7 unbanned (ban over)' }]);
    assert.deepEqual(banViews(s.bans), []);
    s.desk.stop();
  } finally {
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

test('lifted by hand: an event; lifting what is not banned is false and says nothing', () => {
  const s = setup();
  try {
    s.ban('198.51.100.9');
    assert.equal(s.desk.lift('198.51.100.9'), true);
    assert.equal(s.desk.lift('198.51.100.9'), false);
    assert.deepEqual(
      s.events.map((e) => e.text),
      ['198.51.100.9 unblocked (lifted by hand)'],
    );
  } finally {
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

test('lifted in the ban file (postern bans lift): the reload tells each lifted ban once', () => {
  const s = setup();
  try {
    s.ban('192.0.2.1');
    s.ban('192.0.2.99');
    const file = path.join(s.dir, 'auth-bans.json');
    const kept = (JSON.parse(fs.readFileSync(file, 'utf8')) as { ip: string }[]).filter((b) => b.ip !== '192.0.2.1');
    fs.writeFileSync(file, JSON.stringify(kept));
    s.desk.reloadFromFile();
    s.desk.reloadFromFile();
    assert.deepEqual(
      s.events.map((e) => e.text),
      ['192.0.2.1 unblocked (the block was lifted outside the dashboard)'],
    );
    assert.deepEqual(
      banViews(s.bans).map((b) => b.address),
      ['192.0.2.99'],
    );
  } finally {
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});
