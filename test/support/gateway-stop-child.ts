// Run as a child process by test/integration/gateway-stop.test.ts: starts a gateway,
// leaves behind what sessions start — worker threads (an Internet message is verified in
// one), a password-hash upgrade (a login with an old-cost hash), a failed login whose
// answer is delayed (the per-account delay), watchers of the config and ban files — then
// stops it and lets the event loop run dry. Prints one JSON line after the stop.
import path from 'node:path';
import { hashPassword, LEGACY_SCRYPT_COST } from '../../core/auth/builtin.ts';
import { workPool } from '../../core/work/pool.ts';
import { FAMILY, INTERNET, startGateway, tempDir } from './gateway.ts';
import { RawSmtp, transaction } from './smtp-client.ts';
import { waitFor } from './wait.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const plain = (user: string, pw: string) => `AUTH PLAIN ${b64(`\0${user}\0${pw}`)}`;

const dir = tempDir();
const t = await startGateway(
  {
    ...FAMILY,
    accounts: [
      { name: 'john', addresses: ['john.doe@doe-family.com'], passwordHash: await hashPassword('john-pw', LEGACY_SCRYPT_COST) },
      { name: 'jane', addresses: ['jane.doe@doe-family.com'], passwordHash: await hashPassword('jane-pw', LEGACY_SCRYPT_COST) },
    ],
    listeners: [
      { port: 0, host: '127.0.0.1', mode: 'mx' },
      { port: 0, host: '127.0.0.1', mode: 'submission' },
    ],
    auth: { maxFailures: 50, maxNetworkFailures: 100 },
  },
  { configFile: path.join(dir, 'postern.json'), dataDir: path.join(dir, 'data') },
);

// An Internet message: DKIM/DMARC verification starts the worker threads.
const mx = await RawSmtp.connect({ port: t.port('mx'), localAddress: INTERNET });
await mx.cmd('EHLO sender.example.org');
const r = await transaction(mx, 'someone@example.org', ['john.doe@doe-family.com'], 'From: someone@example.org\r\nSubject: hi\r\n\r\nhello');
if (r.end?.code !== 250) throw new Error(`message not accepted: ${JSON.stringify(r.end)}`);
await mx.quit();
const threads = workPool().threads;

async function submission(ip: string): Promise<RawSmtp> {
  const c = await RawSmtp.connect({ port: t.port('submission'), localAddress: ip });
  await c.cmd('EHLO phone.example.net');
  await c.starttls();
  await c.cmd('EHLO phone.example.net');
  return c;
}

// Wrong passwords for jane from a stranger: from the 4th on each answer comes late
// (1 s, 2 s, then 4 s — that one is still pending when the gateway stops).
const guesser = await submission('127.0.0.77');
for (let i = 1; i <= 5; i++) {
  const code = (await guesser.cmd(plain('jane', `guess${i}`), 30_000)).code;
  if (code !== 535) throw new Error(`guess ${i}: ${code}`);
}
guesser.write(`${plain('jane', 'guess6')}\r\n`);
// Its check is over and counted: the answer now waits for the delay.
await waitFor(() => t.gw.throttle.failuresOf('jane') === 6, 10_000, 'the 6th check to be over');
guesser.destroy();

// john's right password with an N=2^14 hash: the upgrade starts in the background.
const john = await submission(INTERNET);
const ok = await john.cmd(plain('john', 'john-pw'));
if (ok.code !== 235) throw new Error(`john: ${ok.code}`);
john.destroy();

const began = Date.now();
await t.gw.stop();
const stopMs = Date.now() - began;
// Give closed sockets one turn to go away; what is left is what the gateway left.
await new Promise((res) => setImmediate(res));
const left = process.getActiveResourcesInfo().filter((x) => x !== 'TTYWrap' && x !== 'PipeWrap');
console.log(JSON.stringify({ threadsBefore: threads, threadsAfter: workPool().threads, stopMs, left, stoppedAt: Date.now() }));
