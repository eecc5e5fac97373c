// Postern's own greylisting (docs/design.md §2.14) over loopback: an Internet client's
// first attempt gets 451 4.7.1 at RCPT (rule greylist), a retry before the delay is told
// again, a retry after it is accepted and stored, the triplet is then known (passes at
// once) and the sender too for a new recipient; internal and authenticated clients are
// never greylisted; greylist.json holds the table; a new gateway on the same data
// directory still knows the triplet. delayMinutes 0.02 (1.2 s) keeps the test short.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { FAMILY, startGateway, type TestGateway } from '../support/gateway.ts';

const CLIENT = '198.51.100.77';
const NEIGHBOUR = '198.51.100.78';
const GREY = { enabled: true, delayMinutes: 0.02, expireDays: 35 };
const config = {
  ...FAMILY,
  trustedProxies: ['127.0.0.1'],
  internalNetworks: [{ cidr: '192.168.1.0/24', label: 'Home', enabled: true }],
  spf: { enabled: false },
  greylist: GREY,
};
let t: TestGateway;

before(async () => {
  t = await startGateway(config, { keepDataDir: true });
});
after(async () => {
  await t?.stop();
});

async function sendFrom(g: TestGateway, ip: string, from: string, to: string) {
  const c = await RawSmtp.connect({ port: g.port(), preamble: `PROXY TCP4 ${ip} 127.0.0.1 40000 25\r\n` });
  await c.cmd('EHLO client.example');
  const r = await transaction(c, from, [to], 'Subject: hi\r\n\r\nhello\r\n');
  await c.quit();
  return r;
}

test('first attempt 451 4.7.1 Greylisted; too early again; after the delay accepted and stored; then known', async () => {
  const before = t.maildirFiles('john').length;
  const first = await sendFrom(t, CLIENT, 'bob@sender.example', 'john.doe@doe-family.com');
  assert.equal(first.rcpts[0].code, 451);
  assert.equal(first.rcpts[0].text, '4.7.1 Greylisted, try again in 1 minute');
  const e = t.events().findLast((x) => x.rule === 'greylist')!;
  assert.equal(e.stage, 'rcpt');
  assert.equal(e.verdict, 'defer');
  assert.equal(e.client, CLIENT);
  assert.match(e.reason ?? '', /first attempt of 198\.51\.100\.0\/24, bob@sender\.example, john\.doe@doe-family\.com/);
  assert.ok((t.gw.status().counters.spam ?? 0) >= 1, 'counted with the spam filter');
  const early = await sendFrom(t, CLIENT, 'bob@sender.example', 'john.doe@doe-family.com');
  assert.equal(early.rcpts[0].code, 451);
  assert.match(t.events().findLast((x) => x.rule === 'greylist')!.reason ?? '', /too soon/);
  await new Promise((r) => setTimeout(r, 1300));
  // The retry comes from another server of the same /24, as pools of senders do.
  const retry = await sendFrom(t, NEIGHBOUR, 'bob@sender.example', 'john.doe@doe-family.com');
  assert.equal(retry.rcpts[0].code, 250);
  assert.equal(retry.end?.code, 250);
  assert.equal(t.maildirFiles('john').length, before + 1);
  const known = await sendFrom(t, CLIENT, 'bob@sender.example', 'john.doe@doe-family.com');
  assert.equal(known.rcpts[0].code, 250, 'a known triplet passes at once');
  const someoneNew = await sendFrom(t, CLIENT, 'bob@sender.example', 'jane.doe@doe-family.com');
  assert.equal(someoneNew.rcpts[0].code, 250, 'a known sender passes at once for a new recipient');
  const stranger = await sendFrom(t, CLIENT, 'eve@sender.example', 'jane.doe@doe-family.com');
  assert.equal(stranger.rcpts[0].code, 451, 'another sender is greylisted');
});

test('internal networks are never greylisted', async () => {
  const r = await sendFrom(t, '192.168.1.20', 'printer@sender.example', 'jane.doe@doe-family.com');
  assert.equal(r.rcpts[0].code, 250);
  assert.equal(r.end?.code, 250);
});

test('greylist.json holds the table; the next start on the same data directory knows the triplet', async () => {
  const file = path.join(t.dataDir, 'greylist.json');
  await t.gw.inbound.flush();
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(saved.entries['198.51.100.0/24 bob@sender.example john.doe@doe-family.com'].passed, true);
  assert.equal(saved.entries['198.51.100.0/24 eve@sender.example jane.doe@doe-family.com'].passed, false);
  const dataDir = t.dataDir;
  await t.stop();
  t = await startGateway(config, { dataDir });
  const r = await sendFrom(t, CLIENT, 'bob@sender.example', 'john.doe@doe-family.com');
  assert.equal(r.rcpts[0].code, 250);
});
