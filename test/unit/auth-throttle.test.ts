// Password guessing bounds (docs/design.md §2.4, issue 12): per-network bans, the
// per-account delay, the global cap on password checks, scrypt cost and upgrade.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BanList, guessNetwork } from '../../core/auth/bans.ts';
import { AuthThrottle } from '../../core/auth/throttle.ts';
import { hashCost, hashPassword, LEGACY_SCRYPT_COST, needsRehash, SCRYPT_COST, verifyPassword } from '../../core/auth/builtin.ts';
import { FakeClock } from '../support/fake-clock.ts';

describe('per-network bans', () => {
  test('the network key is the IPv4 /24 or the IPv6 /48', () => {
    assert.equal(guessNetwork('203.0.113.77'), '203.0.113.0/24');
    assert.equal(guessNetwork('::ffff:203.0.113.77'), '203.0.113.0/24');
    assert.equal(guessNetwork('2001:db8:aa:bb::1'), '2001:db8:aa::/48');
  });

  test('40 guesses from 10 addresses of one /24 (4 each, under the per-address limit) ban the /24 at the 20th', () => {
    let t = 1_000_000;
    const bans = new BanList(null, 5, 900, () => t);
    bans.configure(5, 900, 20);
    let bannedAt = 0;
    for (let i = 0; i < 40 && !bannedAt; i++) {
      const ip = `203.0.113.${10 + (i % 10)}`;
      if (bans.banned(ip)) continue;
      const r = bans.fail(ip);
      t += 100;
      if (r.ban) {
        assert.equal(r.network, true);
        assert.equal(r.ban.ip, '203.0.113.0/24');
        bannedAt = i + 1;
      }
    }
    assert.equal(bannedAt, 20);
    assert.ok(bans.banned('203.0.113.200'), 'any address of the /24 is refused');
    assert.equal(bans.banned('203.0.114.1'), null, 'the next /24 is not');
    assert.ok(bans.unban('203.0.113.0/24'));
    assert.equal(bans.banned('203.0.113.200'), null);
  });

  test('exempt clients (internal, known-good) are neither counted nor refused per network', () => {
    const t = 1_000_000;
    const bans = new BanList(null, 5, 900, () => t);
    bans.configure(5, 900, 3);
    bans.exempt = (ip) => ip === '203.0.113.1';
    for (let i = 0; i < 3; i++) assert.equal(bans.fail('203.0.113.1').networkCount, 0);
    for (let i = 0; i < 3; i++) bans.fail(`203.0.113.${20 + i}`);
    assert.ok(bans.banned('203.0.113.99'));
    assert.equal(bans.banned('203.0.113.1'), null, 'the family member at .1 is not locked out by the neighbours');
  });
});

test('unchecked attempts (over the global bound) count toward the network, not the address', () => {
  const bans = new BanList(null, 5, 900, () => 1_000_000);
  bans.configure(5, 900, 3);
  assert.equal(bans.throttled('203.0.113.5'), null);
  assert.equal(bans.throttled('203.0.113.5'), null);
  assert.equal(bans.throttled('203.0.113.6')?.ip, '203.0.113.0/24');
  assert.ok(bans.banned('203.0.113.77'));
});

describe('per-account delay', () => {
  test('grows after the free failures, doubles, is capped; a known-good place gets none', () => {
    const clock = new FakeClock(1_000_000);
    const th = new AuthThrottle({ now: () => clock.now(), maxChecks: 1, reservedChecks: 1 });
    const delays = Array.from({ length: 10 }, () => th.fail('john', false).delayMs);
    assert.deepEqual(delays, [0, 0, 0, 1000, 2000, 4000, 8000, 16000, 20000, 20000]);
    assert.equal(th.fail('john', true).delayMs, 0);
    assert.equal(th.fail('jane', false).delayMs, 0, 'per account');
  });

  test('a success makes the address known-good for that account only', () => {
    const th = new AuthThrottle({ maxChecks: 1 });
    th.success('john', '198.51.100.7');
    assert.ok(th.isKnownGood('john', '198.51.100.7'));
    assert.ok(!th.isKnownGood('jane', '198.51.100.7'));
    assert.ok(!th.isKnownGood('john', '198.51.100.8'));
    assert.ok(th.isGoodAddress('198.51.100.7'));
  });
});

describe('global bound on password checks', () => {
  test('over the cap: null (454 without hashing); the reserved slot only for the privileged', () => {
    const th = new AuthThrottle({ maxChecks: 1, reservedChecks: 1 });
    const a = th.enter(false);
    assert.ok(a);
    assert.equal(th.enter(false), null);
    const b = th.enter(true);
    assert.ok(b);
    assert.equal(th.enter(true), null);
    a!();
    a!(); // leaving twice counts once
    assert.equal(th.checking, 1);
    assert.equal(th.enter(false), null, 'the cap counts every check running, privileged ones too');
    b!();
    assert.ok(th.enter(false));
  });
});

describe('scrypt cost', () => {
  test("the default is OWASP's N=2^17, r=8, p=1; old N=2^14 hashes still verify and need a rehash", async () => {
    assert.deepEqual({ ...SCRYPT_COST }, { N: 131072, r: 8, p: 1 });
    const fresh = await hashPassword('correct horse');
    assert.deepEqual(hashCost(fresh), { N: 131072, r: 8, p: 1 });
    assert.ok(await verifyPassword('correct horse', fresh));
    assert.ok(!needsRehash(fresh));
    const old = await hashPassword('correct horse', LEGACY_SCRYPT_COST);
    assert.match(old, /^scrypt\$16384\$8\$1\$/);
    assert.ok(await verifyPassword('correct horse', old));
    assert.ok(!(await verifyPassword('wrong', old)));
    assert.ok(needsRehash(old));
  });

  test('a stored hash asking for an absurd cost never verifies (and costs a normal check)', async () => {
    assert.equal(await verifyPassword('x', 'scrypt$1073741824$8$1$c2FsdA==$aGFzaA=='), false);
    assert.equal(await verifyPassword('x', undefined), false);
  });
});
