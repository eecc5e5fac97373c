// Postern's own greylisting (docs/design.md §2.14), the pure table with a fake clock:
// the first attempt waits, a retry after the delay passes and is remembered, a known
// sender passes at once for someone new, the /24 and /64 are one client, entries
// expire, and greylist.json holds the table across a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Greylist, GreylistFile, greylistNetwork, greylistText, tripletKey } from '../../core/inbound/greylist.ts';

const MIN = 60_000;
const DAY = 86_400_000;
const S = { delayMinutes: 5, expireDays: 35 };

function clock(start = Date.UTC(2025, 0, 1)) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('the client network: IPv4 /24, IPv6 /64; the triplet ignores case', () => {
  assert.equal(greylistNetwork('198.51.100.7'), '198.51.100.0/24');
  assert.equal(greylistNetwork('::ffff:198.51.100.7'), '198.51.100.0/24');
  assert.equal(greylistNetwork('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(tripletKey('198.51.100.7', 'Bob@Example.COM', 'Jane@doe-family.com'), '198.51.100.0/24 bob@example.com jane@doe-family.com');
  assert.equal(tripletKey('198.51.100.7', '', 'jane@doe-family.com'), '198.51.100.0/24 <> jane@doe-family.com');
  assert.equal(greylistText(5), '4.7.1 Greylisted, try again in 5 minutes');
  assert.equal(greylistText(1), '4.7.1 Greylisted, try again in 1 minute');
});

test('first attempt waits; too early waits again; after the delay it passes and is remembered', () => {
  const c = clock();
  const g = new Greylist({ now: c.now });
  const first = g.check('198.51.100.7', 'bob@example.com', 'jane@doe-family.com', S);
  assert.equal(first.pass, false);
  assert.equal(!first.pass && first.minutes, 5);
  assert.match(first.reason, /first attempt of 198\.51\.100\.0\/24, bob@example\.com, jane@doe-family\.com/);
  c.advance(2 * MIN + 10_000);
  const early = g.check('198.51.100.7', 'bob@example.com', 'jane@doe-family.com', S);
  assert.equal(early.pass, false);
  assert.equal(!early.pass && early.minutes, 3, 'the minutes left, rounded up');
  assert.match(early.reason, /too soon/);
  c.advance(3 * MIN);
  // A neighbour in the same /24 (a pool of outgoing servers) retries.
  const retry = g.check('198.51.100.9', 'bob@example.com', 'jane@doe-family.com', S);
  assert.equal(retry.pass, true);
  assert.match(retry.reason, /retried after 310 s/);
  c.advance(10 * DAY);
  assert.deepEqual(g.check('198.51.100.7', 'bob@example.com', 'jane@doe-family.com', S), { pass: true, reason: 'known triplet' });
});

test('a known sender passes at once for a new recipient; another sender or network does not', () => {
  const c = clock();
  const g = new Greylist({ now: c.now });
  g.check('198.51.100.7', 'bob@example.com', 'jane@doe-family.com', S);
  c.advance(6 * MIN);
  assert.equal(g.check('198.51.100.7', 'bob@example.com', 'jane@doe-family.com', S).pass, true);
  const other = g.check('198.51.100.7', 'bob@example.com', 'john@doe-family.com', S);
  assert.equal(other.pass, true);
  assert.match(other.reason, /known sender bob@example\.com from 198\.51\.100\.0\/24/);
  assert.equal(g.check('198.51.100.7', 'eve@example.com', 'john@doe-family.com', S).pass, false);
  assert.equal(g.check('203.0.113.7', 'bob@example.com', 'john@doe-family.com', S).pass, false);
});

test('a delay of 0 passes the second attempt; entries expire after expireDays', () => {
  const c = clock();
  const g = new Greylist({ now: c.now });
  const s = { delayMinutes: 0, expireDays: 35 };
  assert.equal(g.check('2001:db8::1', 'a@x.example', 'jane@doe-family.com', s).pass, false);
  assert.equal(g.check('2001:db8::2', 'a@x.example', 'jane@doe-family.com', s).pass, true);
  c.advance(34 * DAY);
  assert.equal(g.check('2001:db8::1', 'a@x.example', 'jane@doe-family.com', s).pass, true, 'seen again within 35 days');
  c.advance(36 * DAY);
  assert.equal(g.expire(35), 2, 'the triplet and the known sender');
  assert.equal(g.size, 0);
  assert.equal(g.check('2001:db8::1', 'a@x.example', 'jane@doe-family.com', S).pass, false, 'forgotten: greylisted again');
  // An entry older than expireDays is not used even before expire() runs.
  const g2 = new Greylist({
    now: c.now,
    entries: { [tripletKey('192.0.2.1', 'a@x.example', 'j@d.example')]: { first: c.now() - 40 * DAY, last: c.now() - 40 * DAY, passed: true } },
  });
  assert.equal(g2.check('192.0.2.1', 'a@x.example', 'j@d.example', S).pass, false);
});

test('greylist.json: written atomically after changes, read back by the next start', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-greylist-'));
  try {
    const c = clock();
    const file = new GreylistFile(dir);
    const g = file.load(c.now);
    g.check('198.51.100.7', 'bob@example.com', 'jane@doe-family.com', S);
    c.advance(5 * MIN);
    g.check('198.51.100.7', 'bob@example.com', 'jane@doe-family.com', S);
    await file.flush();
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'greylist.json'), 'utf8'));
    assert.equal(saved.version, 1);
    assert.equal(saved.entries['198.51.100.0/24 bob@example.com jane@doe-family.com'].passed, true);
    assert.deepEqual(fs.readdirSync(dir), ['greylist.json'], 'no temp file left');
    assert.equal((fs.statSync(path.join(dir, 'greylist.json')).mode & 0o777).toString(8), '600');
    const next = new GreylistFile(dir);
    const again = next.load(c.now);
    assert.deepEqual(again.check('198.51.100.7', 'bob@example.com', 'jane@doe-family.com', S), { pass: true, reason: 'known triplet' });
    await next.flush();
    // A damaged file is an empty table (greylisting only delays mail).
    fs.writeFileSync(path.join(dir, 'greylist.json'), '{ not json');
    assert.equal(new GreylistFile(dir).load(c.now).size, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
