// Hostile clients get errors, and the gateway keeps serving everyone else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { waitFor } from '../support/wait.ts';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { FAMILY, INTERNET, startGateway, type TestGateway } from '../support/gateway.ts';

let t: TestGateway;
before(async () => {
  t = await startGateway({
    ...FAMILY,
    listeners: [
      { port: 0, host: '127.0.0.1', mode: 'mx' },
      { port: 0, host: '127.0.0.1', mode: 'submissions' },
    ],
    limits: { maxMessageBytes: 64 * 1024, maxRecipients: 3, maxClients: 500, maxConnectionsPerClient: 10, idleTimeoutSeconds: 5 },
  });
});
after(() => t.stop());

/** A well-behaved client from another address still gets its mail delivered. */
async function stillServes(): Promise<void> {
  const c = await RawSmtp.connect({ port: t.port(), localAddress: '127.0.0.3' });
  assert.equal(c.greeting.code, 220);
  await c.cmd('EHLO good.example.org');
  const r = await transaction(c, 'friend@example.org', ['john.doe@doe-family.com'], 'Subject: still here\r\n\r\nhello');
  assert.equal(r.end?.code, 250);
  await c.quit();
}

test('an overlong command line: 421 and the connection closes', async () => {
  const c = await RawSmtp.connect({ port: t.port(), localAddress: INTERNET });
  const r = await c.cmd(`EHLO ${'a'.repeat(20_000)}`);
  assert.equal(r.code, 421);
  await stillServes();
  c.destroy();
});

test('NUL bytes and binary garbage get errors, then the connection is dropped', async () => {
  const c = await RawSmtp.connect({ port: t.port(), localAddress: INTERNET });
  const r1 = await c.cmd('EHLO a\x00b');
  assert.ok(r1.code >= 500, r1.lines.join());
  let last = r1;
  for (let i = 0; i < 12 && last.code !== 421 && last.code !== 0; i++) last = await c.cmd(Buffer.from([0xff, 0xfe, 0x00, 0x41, i]).toString('latin1'));
  assert.equal(last.code, 421, 'too many unrecognized commands');
  await stillServes();
  c.destroy();
});

test('an HTTP request to the SMTP port is refused', async () => {
  const c = await RawSmtp.connect({ port: t.port(), localAddress: INTERNET });
  const r = await c.cmd('POST / HTTP/1.1');
  assert.equal(r.code, 421);
  c.destroy();
});

test('a message that went round more than 50 times is a loop: 554 5.4.6', async () => {
  const c = await RawSmtp.connect({ port: t.port(), localAddress: INTERNET });
  await c.cmd('EHLO loop.example.org');
  const hops = Array.from({ length: 51 }, (_, i) => `Received: from hop${i}.example.org by hop${i + 1}.example.org; Tue, 24 Nov 2026 08:00:00 +0000`).join(
    '\r\n',
  );
  const r = await transaction(c, 'a@example.org', ['john.doe@doe-family.com'], `${hops}\r\nSubject: again\r\n\r\nround and round`);
  assert.equal(r.end?.code, 554);
  assert.match(r.end!.text, /^5\.4\.6 Too many hops/);
  const ok = await transaction(
    c,
    'a@example.org',
    ['john.doe@doe-family.com'],
    `${hops.split('\r\n').slice(0, 10).join('\r\n')}\r\nSubject: fine\r\n\r\nten hops`,
  );
  assert.equal(ok.end?.code, 250);
  await c.quit();
});

test('too many recipients: 452 after the limit', async () => {
  const c = await RawSmtp.connect({ port: t.port(), localAddress: '127.0.0.1' });
  await c.cmd('EHLO pc.lan');
  const r = await transaction(c, 'john.doe@doe-family.com', ['a@example.net', 'b@example.net', 'c@example.net', 'd@example.net']);
  assert.deepEqual(
    r.rcpts.map((x) => x.code),
    [250, 250, 250, 452],
  );
  await c.quit();
  const ev = t.events().find((e) => e.code === 452);
  assert.equal(ev?.stage, 'rcpt', 'a reply the library made is filed under the command it answered');
  assert.equal(ev?.rule, 'smtp protocol');
});

test('a message over the size limit is refused with 552 and not stored', async () => {
  const before = t.maildirFiles('jane').length;
  const c = await RawSmtp.connect({ port: t.port(), localAddress: INTERNET });
  await c.cmd('EHLO big.example.org');
  const declared = await c.cmd(`MAIL FROM:<a@example.org> SIZE=${10 * 1024 * 1024}`);
  assert.equal(declared.code, 552, 'SIZE= over the limit is refused at MAIL');
  await c.cmd('MAIL FROM:<a@example.org>');
  await c.cmd('RCPT TO:<jane.doe@doe-family.com>');
  await c.cmd('DATA');
  const line = `${'x'.repeat(998)}\r\n`;
  for (let i = 0; i < 100; i++) c.write(line);
  c.write('.\r\n');
  const end = await c.read();
  assert.equal(end.code, 552);
  assert.match(end.text, /^5\.3\.4 /);
  assert.equal(t.maildirFiles('jane').length, before);
  assert.equal((await c.cmd('NOOP')).code, 250);
  await c.quit();
});

test('hundreds of idle connections from one address do not lock others out, and time out', async () => {
  const sockets: net.Socket[] = [];
  const greetings: string[] = [];
  await Promise.all(
    Array.from(
      { length: 200 },
      () =>
        new Promise<void>((resolve) => {
          const s = net.connect({ port: t.port(), host: '127.0.0.1', localAddress: INTERNET });
          sockets.push(s);
          s.setEncoding('latin1');
          s.once('data', (d: string) => {
            greetings.push(d.slice(0, 3));
            resolve();
          });
          s.on('error', () => resolve());
          s.on('close', () => resolve());
        }),
    ),
  );
  const accepted = greetings.filter((g) => g === '220').length;
  const refused = greetings.filter((g) => g === '421').length;
  assert.equal(accepted, 10, 'maxConnectionsPerClient');
  assert.equal(refused, 190);
  await stillServes();
  // The idle ones are closed by the idle timeout (5 s here).
  const closed = await Promise.all(
    sockets.map(
      (s) =>
        new Promise<boolean>((resolve) => {
          if (s.destroyed || s.readableEnded) return resolve(true);
          const timer = setTimeout(() => resolve(false), 9000);
          s.on('close', () => {
            clearTimeout(timer);
            resolve(true);
          });
        }),
    ),
  );
  assert.ok(closed.every(Boolean), 'every idle connection was closed by the server');
  await stillServes();
});

test('a client that drops mid-DATA, and plaintext on the implicit-TLS port, crash nothing', async () => {
  const c = await RawSmtp.connect({ port: t.port(), localAddress: INTERNET });
  await c.cmd('EHLO drop.example.org');
  await c.cmd('MAIL FROM:<a@example.org>');
  await c.cmd('RCPT TO:<jane.doe@doe-family.com>');
  await c.cmd('DATA');
  c.write('Subject: half\r\n\r\nhalf a messa');
  c.destroy();

  // Plaintext SMTP to port 465: the TLS handshake fails (smtp-server emits 'error') and
  // the server closes the connection.
  const p = net.connect({ port: t.port('submissions'), host: '127.0.0.1', localAddress: INTERNET });
  p.on('error', () => {});
  const pClosed = new Promise((r) => p.on('close', r));
  p.write('EHLO plaintext.example.org\r\n');
  await pClosed;
  await waitFor(
    () => t.events().some((e) => e.rule === 'smtp error' && /wrong version number/.test(e.text ?? '')),
    10_000,
    'the failed handshake to be recorded',
  );

  // A TLS client that vanishes during the handshake.
  const half = tls.connect({ port: t.port('submissions'), host: '127.0.0.1', rejectUnauthorized: false });
  half.on('error', () => {});
  half.on('secureConnect', () => half.destroy());
  setImmediate(() => half.destroy());
  await new Promise((r) => half.on('close', r));
  // The servers have let go of every one of them — the session dropped mid-DATA too (its
  // sessions, and sockets still in a handshake).
  await waitFor(() => t.gw.openSessions() === 0, 10_000, 'the server to let go of the hostile connections');

  await stillServes();
  assert.equal(t.gw.status().state, 'running');
});
