// Rate limits (docs/design.md §2.13) over real SMTP: an authenticated family member over
// the hourly message limit gets 451 4.7.1 at MAIL FROM, the event (rule 'rate limits')
// says "jane's account sent 3 messages in an hour — is the password leaked?", the
// desktop notification and the dashboard's banner (status.rateLimited) follow, and the
// API lifts the limit or blocks the account; recipients per hour; per-client messages and
// connections per minute on the mx port.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawSmtp } from '../support/smtp-client.ts';
import { FAMILY, INTERNET, startGateway, type TestGateway } from '../support/gateway.ts';
import { hashPassword } from '../../core/auth/builtin.ts';
import { createApi } from '../../core/api-impl.ts';
import { eventNotification } from '../../electron/notify.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const PW = 'jane-has-a-long-passphrase';
let t: TestGateway;

before(async () => {
  t = await startGateway({
    ...FAMILY,
    accounts: [
      { name: 'john', addresses: ['john.doe@doe-family.com'] },
      { name: 'jane', addresses: ['jane.doe@doe-family.com'], passwordHash: await hashPassword(PW) },
    ],
    listeners: [
      { port: 0, host: '127.0.0.1', mode: 'mx' },
      { port: 0, host: '127.0.0.1', mode: 'submissions' },
    ],
    spf: { enabled: false },
    rateLimits: { accountMessagesPerHour: 3, accountRecipientsPerHour: 5, messagesPerMinute: 2 },
  });
});
after(() => t?.stop());

async function jane(): Promise<RawSmtp> {
  const c = await RawSmtp.connect({ port: t.port('submissions'), localAddress: INTERNET, tls: true });
  await c.cmd('EHLO janes-laptop');
  assert.equal((await c.cmd(`AUTH PLAIN ${b64(`\0jane\0${PW}`)}`)).code, 235);
  return c;
}

async function sendOne(c: RawSmtp): Promise<number> {
  const mail = await c.cmd('MAIL FROM:<jane.doe@doe-family.com>');
  if (mail.code !== 250) {
    await c.cmd('RSET');
    return mail.code;
  }
  assert.equal((await c.cmd('RCPT TO:<john.doe@doe-family.com>')).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  return (await c.cmd('From: jane.doe@doe-family.com\r\nSubject: hi\r\n\r\nhello\r\n.')).code;
}

test('jane over her hourly message limit: 451 4.7.1, the alarm event, the notification, the banner; lifted through the API', async () => {
  const c = await jane();
  for (let i = 0; i < 3; i++) assert.equal(await sendOne(c), 250);
  const refused = await c.cmd('MAIL FROM:<jane.doe@doe-family.com>');
  assert.equal(refused.code, 451);
  assert.match(refused.text, /^4\.7\.1 jane has sent too much mail in the last hour/);
  const e = t.events().findLast((x) => x.rule === 'rate limits')!;
  assert.equal(e.stage, 'mail');
  assert.equal(e.verdict, 'defer');
  assert.equal(e.user, 'jane');
  assert.match(e.reason ?? '', /^jane's account sent 3 messages in an hour — is the password leaked\?/);
  const n = eventNotification(e)!;
  assert.equal(n.key, 'rate:jane');
  assert.match(n.body, /jane's account sent 3 messages in an hour — is the password leaked\?/i);
  assert.deepEqual(
    t.gw.status().rateLimited?.map((r) => [r.account, r.kind, r.count, r.limit]),
    [['jane', 'messages', 3, 3]],
  );
  assert.ok((t.gw.status().counters.rateLimited ?? 0) >= 1);

  const api = createApi({ gateway: t.gw });
  assert.deepEqual(await api.rateLimits(), t.gw.status().rateLimited);
  assert.deepEqual(await api.liftRateLimit({ account: 'jane' }), []);
  assert.equal(t.events().findLast((x) => x.rule === 'rate limits')!.text, "jane's sending limit lifted by hand");
  assert.equal(await sendOne(c), 250, 'sends again after the lift');
  await c.quit();
});

test('block the account through the API: MAIL FROM 550 5.7.1 until unblocked (accounts[].blocked in the config)', async () => {
  const api = createApi({ gateway: t.gw });
  await api.liftRateLimit({ account: 'jane' }).catch(() => []);
  await api.blockAccount({ account: 'jane', blocked: true });
  assert.equal(t.gw.config().accounts.find((a) => a.name === 'jane')?.blocked, true);
  const c = await jane();
  const r = await c.cmd('MAIL FROM:<jane.doe@doe-family.com>');
  assert.equal(r.code, 550);
  assert.match(r.text, /^5\.7\.1 Account jane is blocked from sending/);
  await api.blockAccount({ account: 'jane', blocked: false });
  assert.equal(t.gw.config().accounts.find((a) => a.name === 'jane')?.blocked, undefined);
  assert.equal(await sendOne(c), 250);
  await c.quit();
  await api.liftRateLimit({ account: 'jane' });
});

test('recipients per hour: the sixth recipient within the hour gets 451 4.7.1', async () => {
  const c = await jane();
  assert.equal((await c.cmd('MAIL FROM:<jane.doe@doe-family.com>')).code, 250);
  const codes: number[] = [];
  for (let i = 0; i < 6; i++) codes.push((await c.cmd(`RCPT TO:<friend${i}@elsewhere.example>`)).code);
  assert.deepEqual(codes, [250, 250, 250, 250, 250, 451]);
  assert.match(t.events().findLast((x) => x.rule === 'rate limits')!.reason ?? '', /jane's account sent mail to 5 recipients in an hour/);
  await c.cmd('RSET');
  await c.quit();
  await createApi({ gateway: t.gw }).liftRateLimit({ account: 'jane' });
});

test('an Internet client: messages per minute on the mx port (451 4.7.1 at MAIL), connections per minute (421 4.7.1)', async () => {
  const c = await RawSmtp.connect({ port: t.port('mx'), localAddress: '127.0.0.3' });
  await c.cmd('EHLO client.example');
  for (let i = 0; i < 2; i++) {
    assert.equal((await c.cmd('MAIL FROM:<a@elsewhere.example>')).code, 250);
    await c.cmd('RSET');
  }
  const r = await c.cmd('MAIL FROM:<a@elsewhere.example>');
  assert.equal(r.code, 451);
  assert.equal(r.text, '4.7.1 Too many messages from 127.0.0.3; try again later');
  await c.quit();
  t.gw.live.update((raw) => {
    raw.rateLimits = { ...(raw.rateLimits as object), connectionsPerMinute: 2 };
  });
  const ok = await RawSmtp.connect({ port: t.port('mx'), localAddress: '127.0.0.4' });
  const ok2 = await RawSmtp.connect({ port: t.port('mx'), localAddress: '127.0.0.4' });
  const third = await RawSmtp.connect({ port: t.port('mx'), localAddress: '127.0.0.4' });
  assert.equal(ok.greeting.code, 220);
  assert.equal(ok2.greeting.code, 220);
  assert.equal(third.greeting.code, 421);
  assert.equal(third.greeting.text, '4.7.1 Too many connections from 127.0.0.4; try again later');
  await ok.quit();
  await ok2.quit();
});
