// SPF is on by default in the product: `postern serve` (the runtime the desktop app
// shares, core/runtime.ts) with a config that says nothing about SPF refuses an
// Internet sender whose domain's record says "-all", and takes one whose record
// names the client. DNS is the tests' own server on loopback, named in the config.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RawSmtp } from '../support/smtp-client.ts';
import { FAMILY, INTERNET, tempDir } from '../support/gateway.ts';
import { startDnsServer, type DnsServer } from '../support/dns-server.ts';
import { startServe, type ServeProcess } from '../support/serve-process.ts';
import { waitFor } from '../support/wait.ts';

let dns: DnsServer;
let serve: ServeProcess;
let dir: string;

before(async () => {
  dns = await startDnsServer({
    'fail.example': { TXT: ['v=spf1 ip4:198.51.100.10 -all'] },
    'pass.example': { TXT: [`v=spf1 ip4:${INTERNET} -all`] },
  });
  dir = tempDir('postern-serve-spf-');
  const config = path.join(dir, 'postern.json');
  const raw: Record<string, unknown> = { ...FAMILY, dns: { servers: [dns.address], timeoutMs: 2000 }, dashboard: { host: '127.0.0.1', port: 0 } };
  assert.equal(raw.spf, undefined, 'the defaults decide');
  fs.writeFileSync(config, JSON.stringify(raw));
  serve = await startServe(config, path.join(dir, 'data'));
  assert.ok(serve.ports.mx > 0, serve.output());
});

after(async () => {
  if (serve && serve.child.exitCode === null) {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  await dns?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('postern serve refuses a sender whose SPF record fails the client (550 5.7.23), by default', async () => {
  const c = await RawSmtp.connect({ port: serve.ports.mx, localAddress: INTERNET });
  await c.cmd('EHLO mail.fail.example');
  const r = await c.cmd('MAIL FROM:<alice@fail.example>');
  assert.equal(r.code, 550, r.text);
  assert.match(r.text, /5\.7\.23/);
  await c.quit();
  assert.ok(
    dns.queries.some((q) => q.name === 'fail.example' && q.type === 'TXT'),
    'the SPF record was asked from the configured DNS server',
  );
});

test('…and takes mail from a sender whose record names the client, with its Received-SPF line', async () => {
  const c = await RawSmtp.connect({ port: serve.ports.mx, localAddress: INTERNET });
  await c.cmd('EHLO mail.pass.example');
  assert.equal((await c.cmd('MAIL FROM:<bob@pass.example>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<john.doe@doe-family.com>')).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  c.write('Subject: spf pass\r\n\r\nhello\r\n.\r\n');
  assert.equal((await c.read()).code, 250);
  await c.quit();
  const inbox = path.join(dir, 'data', 'maildir', 'john', 'new');
  await waitFor(() => fs.existsSync(inbox) && fs.readdirSync(inbox).length === 1, 10_000, "the message in john's Maildir");
  const stored = fs.readFileSync(path.join(inbox, fs.readdirSync(inbox)[0]), 'utf8');
  assert.match(stored, /^Received-SPF: pass\b/m);
});
