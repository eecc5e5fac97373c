// Beyond the seed: every accepted Internet message carries its DKIM and DMARC results
// in the same Authentication-Results header as SPF (informational; nothing rejected).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { dkimSign } from 'mailauth';
import { RawSmtp, transaction } from '../support/smtp-client.ts';
import { FAMILY, startGateway, type TestGateway } from '../support/gateway.ts';
import { startDnsServer, type DnsServer } from '../support/dns-server.ts';
import { createSpfCheckFactory } from '../../core/spf/check.ts';

const IP = '198.51.100.20';
let dns: DnsServer;
let t: TestGateway;
let privateKey: string;

before(async () => {
  const pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const p = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  dns = await startDnsServer({
    'signer.example': { TXT: [`v=spf1 ip4:${IP} -all`] },
    'sel._domainkey.signer.example': { TXT: [[`v=DKIM1; k=rsa; p=${p.slice(0, 200)}`, p.slice(200)]] },
    '_dmarc.signer.example': { TXT: ['v=DMARC1; p=reject'] },
  });
  t = await startGateway(
    { ...FAMILY, internalNetworks: [], trustedProxies: ['127.0.0.1'], dns: { servers: [dns.address], timeoutMs: 3000 } },
    { spfFactory: createSpfCheckFactory() },
  );
});
after(async () => {
  await t.stop();
  await dns.close();
});

async function deliver(message: string): Promise<string> {
  const before = t.maildirFiles('john').length;
  const c = await RawSmtp.connect({ port: t.port(), preamble: `PROXY TCP4 ${IP} 127.0.0.1 40000 25\r\n` });
  await c.cmd('EHLO out.signer.example');
  const r = await transaction(c, 'news@signer.example', ['john.doe@doe-family.com'], message);
  assert.equal(r.end?.code, 250, JSON.stringify(r.end));
  await c.quit();
  const files = t.maildirFiles('john');
  assert.equal(files.length, before + 1);
  return fs.readFileSync(files.at(-1)!, 'utf8');
}

function authResults(stored: string): string {
  const m = /^Authentication-Results: ((?:.*)(?:\r\n[ \t].*)*)/m.exec(stored);
  assert.ok(m, 'an Authentication-Results header');
  return m[1].replace(/\r\n[ \t]+/g, ' ');
}

test('a DKIM-signed, aligned message: spf=pass, dkim=pass, dmarc=pass in one header', async () => {
  const raw =
    'From: News <news@signer.example>\r\nTo: john.doe@doe-family.com\r\nSubject: signed\r\nDate: Tue, 24 Nov 2026 08:00:00 +0000\r\nMessage-ID: <1@signer.example>\r\n\r\nHello John.\r\n';
  const sig = await dkimSign(raw, { signatureData: [{ signingDomain: 'signer.example', selector: 'sel', privateKey }] } as never);
  const ar = authResults(await deliver(sig.signatures + raw));
  assert.match(ar, /^mx\.doe-family\.com;/);
  assert.match(ar, /spf=pass/);
  assert.match(ar, /dkim=pass[^;]*header\.d=signer\.example/);
  assert.match(ar, /dmarc=pass/);
});

test('a body changed in transit: dkim fails, the message is still delivered (informational)', async () => {
  const raw = 'From: <news@signer.example>\r\nSubject: altered\r\n\r\nOriginal text.\r\n';
  const sig = await dkimSign(raw, { signatureData: [{ signingDomain: 'signer.example', selector: 'sel', privateKey }] } as never);
  const ar = authResults(await deliver(sig.signatures + raw.replace('Original', 'Altered')));
  assert.match(ar, /dkim=(fail|neutral)/);
  assert.doesNotMatch(ar, /dkim=pass/);
});

test('an Authentication-Results header claiming to be ours is removed (it can only be forged)', async () => {
  const stored = await deliver(
    'Authentication-Results: mx.doe-family.com; dkim=pass header.d=bank.example\r\nFrom: <news@signer.example>\r\nSubject: forged\r\n\r\nbody\r\n',
  );
  assert.doesNotMatch(stored, /header\.d=bank\.example/);
  assert.equal(stored.match(/^Authentication-Results:/gm)?.length, 1);
});

test('a sender cannot hold the session with signatures: at most 5 are verified, all within a bound', async () => {
  const raw = 'From: <news@signer.example>\r\nSubject: many signatures\r\n\r\nbody\r\n';
  const sigs: string[] = [];
  for (let i = 0; i < 20; i++) {
    const sig = await dkimSign(raw, { signatureData: [{ signingDomain: 'signer.example', selector: `nokey${i}`, privateKey }] } as never);
    sigs.push(sig.signatures);
  }
  dns.setDelay(300); // every lookup is slow; none of these selectors has a key
  try {
    const t0 = Date.now();
    const ar = authResults(await deliver(sigs.join('') + raw));
    const ms = Date.now() - t0;
    assert.ok(ms < 4000, `took ${ms} ms (20 signatures × 300 ms would be 6 s and more)`);
    assert.match(ar, /15 more signature\(s\) not verified|not evaluated within/);
  } finally {
    dns.setDelay(0);
  }
});
