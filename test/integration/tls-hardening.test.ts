// TLS hardening (docs/design.md §2.5, issue 12), tried with a client from outside the
// project: openssl s_client offers one TLS 1.2 suite at a time on STARTTLS (mx) and on
// implicit TLS (submissions). Static-RSA key exchange and CBC suites are refused, ECDHE
// with AES-GCM works; a client-initiated renegotiation closes the connection.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { FAMILY, INTERNET, startGateway, type TestGateway } from '../support/gateway.ts';
import { requireTools } from '../support/tools.ts';

let t: TestGateway;
before(async () => {
  requireTools('openssl');
  t = await startGateway({
    ...FAMILY,
    listeners: [
      { port: 0, host: '127.0.0.1', mode: 'mx' },
      { port: 0, host: '127.0.0.1', mode: 'submissions' },
    ],
  });
});
after(() => t.stop());

/** One s_client handshake offering only `cipher` (TLS 1.2); resolves with the negotiated cipher, or null. */
function sClient(port: number, starttls: boolean, cipher: string): Promise<{ cipher: string | null; out: string }> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-cipher', cipher, '-bind', `${INTERNET}:0`];
  if (starttls) args.push('-starttls', 'smtp', '-name', 'client.example.net');
  return new Promise((resolve) => {
    const p = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    p.on('close', () => {
      clearTimeout(timer);
      const m = /Cipher is (\S+)/.exec(out);
      resolve({ cipher: m && m[1] !== '(NONE)' ? m[1] : null, out });
    });
    p.stdin.end(); // EOF after the handshake: s_client quits
  });
}

for (const [mode, starttls] of [
  ['mx', true],
  ['submissions', false],
] as const) {
  describe(`${mode} (${starttls ? 'STARTTLS' : 'implicit TLS'})`, () => {
    for (const weak of ['AES128-SHA', 'AES128-GCM-SHA256', 'AES256-SHA256', 'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA384', 'DHE-RSA-AES128-GCM-SHA256']) {
      test(`${weak} (static RSA, CBC or DHE) is refused`, async () => {
        const r = await sClient(t.port(mode), starttls, weak);
        assert.equal(r.cipher, null, r.out);
      });
    }
    for (const good of ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305']) {
      test(`${good} works`, async () => {
        const r = await sClient(t.port(mode), starttls, good);
        assert.equal(r.cipher, good, r.out);
      });
    }
  });
}

describe('no client-initiated renegotiation (TLS 1.2, s_client "R")', () => {
  /** s_client asks for a renegotiation ("R"), then sends NOOP; returns what it printed after asking. */
  function renegotiate(port: number, starttls: boolean): Promise<string> {
    const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-crlf', '-bind', `${INTERNET}:0`];
    if (starttls) args.push('-starttls', 'smtp', '-name', 'client.example.net');
    return new Promise((resolve) => {
      const p = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
      setTimeout(() => p.stdin.write('R\n'), 800);
      setTimeout(() => p.stdin.write('NOOP\n'), 1600);
      setTimeout(() => p.stdin.end(), 2400);
      p.on('close', () => {
        clearTimeout(timer);
        resolve(out.slice(out.indexOf('RENEGOTIATING')));
      });
    });
  }

  for (const [mode, starttls] of [
    ['mx', true],
    ['submissions', false],
  ] as const) {
    test(`${mode}: the renegotiation is refused and the session ends (no answer to the NOOP after it)`, async () => {
      const after = await renegotiate(t.port(mode), starttls);
      assert.match(after, /^RENEGOTIATING/, after);
      assert.doesNotMatch(after, /^250 /m, after);
      assert.match(after, /no renegotiation|unexpected eof|closed|errno/i, after);
    });
  }
});
