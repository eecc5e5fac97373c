// Spam scoring with rspamd (docs/design.md §2.12): Debian's rspamd started on loopback
// with a private configuration (test/support/rspamd.ts), its DNS on the test DNS server,
// scanning real messages over /checkv2: the GTUBE test string gets its reject action
// (550 5.7.1, nothing stored), a clean message passes into the inbox, a message rspamd
// scores for "add header" goes to Junk with X-Spam-* headers; rspamd unreachable →
// accepted unscanned, or 451 4.7.1 with onUnreachable "defer".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { FAMILY, startGateway, type TestGateway } from '../support/gateway.ts';
import { startDnsServer, type DnsServer } from '../support/dns-server.ts';
import { startRspamd, type Rspamd } from '../support/rspamd.ts';
import { freePort } from '../support/smtp-sink.ts';
import { requireTools } from '../support/tools.ts';

const IP = '198.51.100.40';
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
let dns: DnsServer;
let rspamd: Rspamd;
let t: TestGateway;

before(async () => {
  requireTools('rspamd');
  // The sender is a well-set-up mail server: reverse DNS that resolves back, SPF, MX.
  dns = await startDnsServer({
    '40.100.51.198.in-addr.arpa': { PTR: ['mail.sender.example'] },
    'mail.sender.example': { A: [IP] },
    'sender.example': { A: [IP], MX: [{ priority: 10, exchange: 'mail.sender.example' }], TXT: [`v=spf1 ip4:${IP} -all`] },
  });
  rspamd = await startRspamd({ dnsServer: dns.address });
  t = await startGateway({
    ...FAMILY,
    trustedProxies: ['127.0.0.1'],
    internalNetworks: [],
    dns: { servers: [dns.address], timeoutMs: 1000 },
    rspamd: { enabled: true, url: rspamd.url, timeoutMs: 10000 },
  });
});
after(async () => {
  await t?.stop();
  await rspamd?.stop();
  await dns?.close();
});

function junk(): string[] {
  const dir = path.join(t.dataDir, 'maildir', 'john', '.Junk', 'new');
  return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [];
}

function message(body: string, headers = true): string {
  if (!headers) return `From: <news@sender.example>\r\nSubject: offer\r\n\r\n${body}\r\n`;
  return [
    'From: Alice Sender <alice@sender.example>',
    'To: John Doe <john.doe@doe-family.com>',
    'Subject: Lunch on Thursday',
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${Date.now()}.${Math.random().toString(36).slice(2)}@sender.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
    '',
  ].join('\r\n');
}

async function send(data: string) {
  const c = await RawSmtp.connect({ port: t.port(), preamble: `PROXY TCP4 ${IP} 127.0.0.1 40000 25\r\n` });
  await c.cmd('EHLO mail.sender.example');
  const r = await transaction(c, 'alice@sender.example', ['john.doe@doe-family.com'], data);
  await c.quit();
  return r.end!;
}

test('the GTUBE test string: rspamd says reject → 550 5.7.1, nothing stored, rule rspamd', async () => {
  const inbox = t.maildirFiles('john').length;
  const end = await send(message(`This is the GTUBE test.\r\n${GTUBE}`));
  assert.equal(end.code, 550, end.text);
  assert.match(end.text, /^5\.7\.1 Message refused as spam/);
  assert.equal(t.maildirFiles('john').length, inbox);
  const e = t.events().findLast((x) => x.rule === 'rspamd')!;
  assert.equal(e.verdict, 'reject');
  assert.match(e.reason ?? '', /rspamd: reject, score .*GTUBE/);
  assert.ok((t.gw.status().counters.spam ?? 0) >= 1);
});

test('a clean message passes: no action, into the inbox with X-Spam-Status: No', async () => {
  const inbox = t.maildirFiles('john').length;
  const end = await send(message('Hi John,\r\n\r\nare we still on for lunch on Thursday at noon?\r\n\r\nAlice'));
  assert.equal(end.code, 250, end.text);
  assert.equal(t.maildirFiles('john').length, inbox + 1);
  const stored = fs.readFileSync(t.maildirFiles('john').at(-1)!, 'utf8');
  assert.match(stored, /^X-Spam-Status: No, score=-?[\d.]+ required=15\.00 action=no_action/m);
  assert.match(stored, /^X-Spam-Score: /m);
});

test('a message rspamd marks "add header" (no Date, no Message-ID, no To) goes to Junk with X-Spam-Status: Yes', async () => {
  const before = junk().length;
  const end = await send(message('Cheap offers inside.', false));
  assert.equal(end.code, 250, end.text);
  assert.equal(junk().length, before + 1);
  const stored = fs.readFileSync(junk().at(-1)!, 'utf8');
  assert.match(stored, /^X-Spam-Status: Yes, score=[\d.]+ required=15\.00 action=add_header/m);
  const e = t.events().findLast((x) => x.stage === 'data' && x.code === 250)!;
  assert.equal(e.rule, 'rspamd');
  assert.match(e.reason ?? '', /into Junk: rspamd: add header/);
});

test('rspamd unreachable: accepted unscanned (onUnreachable accept, the default); 451 4.7.1 with "defer"', async () => {
  const closed = await freePort();
  t.gw.live.update((raw) => {
    raw.rspamd = { enabled: true, url: `http://127.0.0.1:${closed}`, timeoutMs: 2000 };
  });
  const end = await send(message('Hello again.'));
  assert.equal(end.code, 250);
  const stored = fs.readFileSync(t.maildirFiles('john').at(-1)!, 'utf8');
  assert.match(stored, /^X-Spam-Status: Unknown, rspamd unreachable/m);
  assert.match(t.events().findLast((x) => x.stage === 'data')!.reason ?? '', /rspamd unreachable: .*ECONNREFUSED/);
  t.gw.live.update((raw) => {
    raw.rspamd = { enabled: true, url: `http://127.0.0.1:${closed}`, timeoutMs: 2000, onUnreachable: 'defer' };
  });
  const deferred = await send(message('Hello once more.'));
  assert.equal(deferred.code, 451);
  assert.equal(deferred.text, '4.7.1 The spam filter is not available, try again later');
  assert.equal(t.events().findLast((x) => x.stage === 'data')!.rule, 'rspamd');
});
