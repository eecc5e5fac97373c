// DMARC enforced for Internet mail (docs/design.md §2.10): p=reject with a DMARC fail is
// refused at the end of DATA naming the policy; p=quarantine goes into the account's
// Junk folder (Maildir++ .Junk/new) with the verdict in its headers; a pass and p=none
// are delivered; sp= for subdomains; pct=0 and pct=100; dmarc.enforce false reports only.
// Over loopback, with the test DNS server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { FAMILY, startGateway, type TestGateway } from '../support/gateway.ts';
import { startDnsServer, type DnsServer } from '../support/dns-server.ts';
import { createSpfCheckFactory } from '../../core/spf/check.ts';

const IP = '198.51.100.30';
let dns: DnsServer;
let t: TestGateway;

before(async () => {
  dns = await startDnsServer({
    // The envelope domain: SPF neutral, so nothing aligns with the From domains below.
    'bulk.example': { TXT: ['v=spf1 ?all'] },
    'pass.example': { TXT: [`v=spf1 ip4:${IP} -all`] },
    '_dmarc.pass.example': { TXT: ['v=DMARC1; p=reject'] },
    '_dmarc.reject.example': { TXT: ['v=DMARC1; p=reject'] },
    '_dmarc.quarantine.example': { TXT: ['v=DMARC1; p=quarantine'] },
    '_dmarc.none.example': { TXT: ['v=DMARC1; p=none'] },
    '_dmarc.parent.example': { TXT: ['v=DMARC1; p=reject; sp=quarantine'] },
    'news.parent.example': { A: ['192.0.2.1'] },
    '_dmarc.lenient.example': { TXT: ['v=DMARC1; p=reject; sp=none'] },
    'news.lenient.example': { A: ['192.0.2.1'] },
    '_dmarc.pct0.example': { TXT: ['v=DMARC1; p=reject; pct=0'] },
    '_dmarc.pct100.example': { TXT: ['v=DMARC1; p=quarantine; pct=100'] },
  });
  t = await startGateway(
    { ...FAMILY, internalNetworks: [], trustedProxies: ['127.0.0.1'], dns: { servers: [dns.address], timeoutMs: 3000 } },
    { spfFactory: createSpfCheckFactory() },
  );
});
after(async () => {
  await t?.stop();
  await dns?.close();
});

function junk(account = 'john'): string[] {
  const dir = path.join(t.dataDir, 'maildir', account, '.Junk', 'new');
  return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [];
}

async function send(fromHeader: string, mailFrom = 'bounce@bulk.example') {
  const c = await RawSmtp.connect({ port: t.port(), preamble: `PROXY TCP4 ${IP} 127.0.0.1 40000 25\r\n` });
  await c.cmd('EHLO out.bulk.example');
  const r = await transaction(
    c,
    mailFrom,
    ['john.doe@doe-family.com'],
    `From: <${fromHeader}>\r\nTo: john.doe@doe-family.com\r\nSubject: dmarc test\r\n\r\nHello John.\r\n`,
  );
  await c.quit();
  return r.end!;
}

/** Where the next message lands: 'inbox', 'junk', or the refusal. */
async function outcome(fromHeader: string, mailFrom?: string): Promise<{ where: 'inbox' | 'junk' | 'refused'; code: number; text: string; stored?: string }> {
  const inbox = t.maildirFiles('john').length;
  const junked = junk().length;
  const end = await send(fromHeader, mailFrom);
  if (end.code !== 250) return { where: 'refused', code: end.code, text: end.text };
  if (t.maildirFiles('john').length === inbox + 1)
    return { where: 'inbox', code: 250, text: end.text, stored: fs.readFileSync(t.maildirFiles('john').at(-1)!, 'utf8') };
  assert.equal(junk().length, junked + 1, 'stored somewhere');
  const newest = junk()
    .sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs)
    .at(-1)!;
  return { where: 'junk', code: 250, text: end.text, stored: fs.readFileSync(newest, 'utf8') };
}

test('p=reject and a DMARC fail: 550 5.7.1 at the end of DATA naming the policy, nothing stored, rule dmarc', async () => {
  const before = t.maildirFiles('john').length;
  const r = await outcome('ceo@reject.example');
  assert.equal(r.where, 'refused');
  assert.equal(r.code, 550);
  assert.match(r.text, /^5\.7\.1 .*DMARC policy of reject\.example \(p=reject\)/);
  assert.equal(t.maildirFiles('john').length, before);
  const e = t.events().findLast((x) => x.rule === 'dmarc')!;
  assert.equal(e.stage, 'data');
  assert.equal(e.verdict, 'reject');
  assert.equal(e.code, 550);
  assert.match(e.reason ?? '', /dmarc=fail for reject\.example, policy reject/);
  assert.ok((t.gw.status().counters.dmarc ?? 0) >= 1, 'counted');
});

test('p=quarantine and a DMARC fail: delivered into .Junk/new with the verdict in the headers', async () => {
  const r = await outcome('shop@quarantine.example');
  assert.equal(r.where, 'junk');
  assert.match(r.stored!, /^X-Postern-Quarantine: mx\.doe-family\.com; dmarc=fail for quarantine\.example, policy quarantine/m);
  assert.match(r.stored!, /dmarc=fail/);
  assert.ok(fs.existsSync(path.join(t.dataDir, 'maildir', 'john', '.Junk', 'maildirfolder')), 'a Maildir++ folder');
  const e = t.events().findLast((x) => x.stage === 'data' && x.code === 250)!;
  assert.equal(e.rule, 'dmarc');
  assert.match(e.reason ?? '', /1 local, 0 remote, \d+ bytes; into Junk: dmarc=fail/);
});

test('a DMARC pass (aligned SPF) under p=reject is delivered to the inbox', async () => {
  const r = await outcome('news@pass.example', 'news@pass.example');
  assert.equal(r.where, 'inbox');
  assert.match(r.stored!, /dmarc=pass/);
  assert.doesNotMatch(r.stored!, /X-Postern-Quarantine/);
});

test('p=none and a DMARC fail: delivered to the inbox', async () => {
  const r = await outcome('x@none.example');
  assert.equal(r.where, 'inbox');
  assert.match(r.stored!, /dmarc=fail/);
});

test('sp= applies to subdomains: sp=quarantine → Junk, sp=none → inbox (under p=reject)', async () => {
  assert.equal((await outcome('a@news.parent.example')).where, 'junk');
  assert.equal((await outcome('a@news.lenient.example')).where, 'inbox');
  // The organizational domain itself still gets p=reject.
  assert.equal((await outcome('a@parent.example')).where, 'refused');
});

test('pct=0: the policy applies to no message (reject lowered to quarantine); pct=100: always', async () => {
  for (let i = 0; i < 3; i++) assert.equal((await outcome('a@pct0.example')).where, 'junk');
  for (let i = 0; i < 3; i++) assert.equal((await outcome('a@pct100.example')).where, 'junk');
  const e = t.events().findLast((x) => x.rule === 'dmarc' && /pct0/.test(x.reason ?? ''))!;
  assert.match(e.reason ?? '', /outside the 0% sample: quarantine/);
});

test('dmarc.enforce false: a p=reject fail is delivered to the inbox, the event reports it', async () => {
  t.gw.live.update((raw) => {
    raw.dmarc = { enforce: false };
  }, 'dmarc report only');
  try {
    const r = await outcome('ceo@reject.example');
    assert.equal(r.where, 'inbox');
    const e = t.events().findLast((x) => x.stage === 'data' && x.code === 250)!;
    assert.match(e.reason ?? '', /report only/);
  } finally {
    t.gw.live.update((raw) => {
      delete raw.dmarc;
    }, 'dmarc enforced');
  }
});
