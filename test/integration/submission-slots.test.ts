// Submission slots are kept for clients that authenticate (docs/design.md §2.8): strangers
// idling on a submission port without logging in are closed after
// limits.submissionAuthSeconds while the submission budget's Internet share is 80 % taken,
// and a place a family member logged in from may use the slots kept for internal networks.
// A flood of idle connections from many /24s (127.x.y.z) while jane logs in and sends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, LEGACY_SCRYPT_COST } from '../../core/auth/builtin.ts';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { FAMILY, startGateway, type TestGateway } from '../support/gateway.ts';
import { waitFor } from '../support/wait.ts';

const AUTH_SECONDS = 2;
// Budget 20, 5 kept: an Internet share of 15, 80 % of it 12.
const LIMITS = { maxSubmissionClients: 20, reservedInternalSlots: 5, submissionAuthSeconds: AUTH_SECONDS };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const plain = (user: string, pw: string) => `AUTH PLAIN ${b64(`\0${user}\0${pw}`)}`;

let t: TestGateway;
before(async () => {
  t = await startGateway({
    ...FAMILY,
    accounts: [{ name: 'jane', addresses: ['jane.doe@doe-family.com'], passwordHash: await hashPassword('jane-pw', LEGACY_SCRYPT_COST) }],
    listeners: [
      { port: 0, host: '127.0.0.1', mode: 'mx' },
      { port: 0, host: '127.0.0.1', mode: 'submission' },
    ],
    limits: LIMITS,
  });
});
after(() => t.stop());

/** A stranger in its own /24 that connects and then says nothing. */
async function idle(i: number): Promise<RawSmtp> {
  return RawSmtp.connect({ port: t.port('submission'), localAddress: `127.${60 + i}.1.1` });
}

/** jane from `ip`: STARTTLS, AUTH, one message. Null when the connection is refused. */
async function janeSends(ip: string, subject: string): Promise<{ greeting: number; sent?: number; c?: RawSmtp }> {
  const c = await RawSmtp.connect({ port: t.port('submission'), localAddress: ip });
  if (c.greeting.code !== 220) {
    c.destroy();
    return { greeting: c.greeting.code };
  }
  await c.cmd('EHLO janes-phone.example.net');
  assert.equal((await c.starttls()).code, 220);
  await c.cmd('EHLO janes-phone.example.net');
  assert.equal((await c.cmd(plain('jane', 'jane-pw'))).code, 235);
  const r = await transaction(c, 'jane.doe@doe-family.com', ['aunt@example.net'], `From: jane.doe@doe-family.com\r\nSubject: ${subject}\r\n\r\nhi`);
  return { greeting: 220, sent: r.end?.code, c };
}

test('under 80 % of the Internet share nobody is cut: a lone stranger idles past the deadline', async () => {
  const s = await idle(0);
  await new Promise((r) => setTimeout(r, AUTH_SECONDS * 1000 + 1500)); // the deadline and a tick pass: nothing may happen
  assert.equal((await s.cmd('NOOP')).code, 250);
  await s.quit();
});

test('a flood of idle strangers from 15 /24s: cut after the deadline, jane from a new place gets in, logs in and sends; from a known place she gets a kept slot at once', async () => {
  const flood: RawSmtp[] = [];
  for (let i = 0; i < 15; i++) flood.push(await idle(i));
  assert.ok(flood.every((c) => c.greeting.code === 220));
  // The Internet share is full: another stranger, and jane from a place never seen, wait.
  const sixteenth = await idle(20);
  assert.equal(sixteenth.greeting.code, 421);
  sixteenth.destroy();
  const started = Date.now();
  let first = await janeSends('127.200.1.1', 'from a new place');
  assert.equal(first.greeting, 421, 'full at first');
  // Her mail program retries; the strangers are cut once they have idled AUTH_SECONDS.
  await waitFor(
    async () => {
      first = await janeSends('127.200.1.1', 'from a new place');
      return first.greeting === 220;
    },
    15_000,
    'jane to get a slot',
  );
  const waited = Date.now() - started;
  assert.equal(first.sent, 250);
  console.log(`# jane (new place) got a slot and 250 after ${waited} ms of the flood (deadline ${AUTH_SECONDS} s + 1 s tick)`);
  assert.ok(waited < AUTH_SECONDS * 1000 + 3000, `${waited} ms`);
  const cut = t.events().filter((e) => e.rule === 'connection slots' && /no login/.test(e.reason ?? ''));
  assert.ok(cut.length >= 1);
  assert.match(cut[0].text ?? '', /^4\.7\.0 /);
  assert.equal(cut[0].code, 421);

  // A logged-in session is never cut, however long it stays.
  await new Promise((r) => setTimeout(r, AUTH_SECONDS * 1000 + 1500));
  assert.equal((await first.c!.cmd('NOOP')).code, 250, 'jane, logged in, keeps her slot');
  await first.c!.quit();

  // Now an attacker that reconnects at once whenever cut, from the same 15 /24s.
  let running = true;
  const keep = async (i: number) => {
    while (running) {
      const c = await idle(i).catch(() => null);
      if (!c) continue;
      if (c.greeting.code !== 220) {
        c.destroy();
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      await c.read(60_000).catch(() => null); // until the server cuts it
      c.destroy();
    }
  };
  for (const c of flood) c.destroy();
  const loops = Array.from({ length: 15 }, (_, i) => keep(i));
  try {
    await waitFor(
      () => (t.gw as unknown as { perClient: Map<string, number> }).perClient.get('pool:submission') === 15,
      10_000,
      'the flood to fill the share again',
    );
    // From the place she logged in from, jane takes a kept slot at once, flood or not.
    const known = await janeSends('127.200.1.1', 'from a known place');
    assert.equal(known.greeting, 220);
    assert.equal(known.sent, 250);
    await known.c!.quit();
    // Internal clients have their kept slots as before.
    const lan = await RawSmtp.connect({ port: t.port('submission'), localAddress: '127.0.0.1' });
    assert.equal(lan.greeting.code, 220);
    await lan.quit();
  } finally {
    running = false;
  }
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, (AUTH_SECONDS + 3) * 1000))]);
});
