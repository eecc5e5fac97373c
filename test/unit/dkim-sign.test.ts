// DKIM signing (docs/design.md §3.5): relaxed/relaxed rsa-sha256 with From over-signed,
// checked by mailauth's verifier (a resolver that answers the key's TXT record).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { dkimVerify } from 'mailauth';
import { signMessage, type DkimKey } from '../../core/dkim/keys.ts';

const pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEY: DkimKey = {
  domain: 'doe-family.com',
  selector: 'postern',
  privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  publicKey: pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
};
const resolver = async (name: string, type: string) => {
  if (name === 'postern._domainkey.doe-family.com' && type === 'TXT') return [[`v=DKIM1; k=rsa; p=${KEY.publicKey}`]];
  throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
};
const verify = async (m: Buffer) => (await dkimVerify(m, { resolver } as never)).results.map((r: { status: { result: string } }) => r.status.result);

// Folded fields, runs of white space, trailing white space: what relaxed canonicalization is for.
const MESSAGE = Buffer.from(
  'Received: from pc.lan\r\nFrom:  John   Doe <john.doe@doe-family.com>\r\nTo: aunt@example.net,\r\n\tuncle@example.net\r\nSubject: Sunday  lunch \r\nDate: Mon, 1 Mar 2027 08:00:00 +0000\r\n\r\nSee you at one.  \r\n\r\n',
);

test('the signature lists From once more than the message has From fields, and verifies', async () => {
  const { header, error } = await signMessage(MESSAGE, KEY);
  assert.equal(error, null);
  const h = /\bh=([^;]+);/.exec(header.replace(/\r\n[ \t]/g, ' '))?.[1] ?? '';
  assert.equal(h.split(':').filter((n) => n.trim().toLowerCase() === 'from').length, 2, h);
  assert.deepEqual(await verify(Buffer.concat([Buffer.from(header), MESSAGE])), ['pass']);
});

test('a From field added above the signed one breaks the signature (that is what over-signing is for)', async () => {
  const { header } = await signMessage(MESSAGE, KEY);
  const signed = Buffer.concat([Buffer.from(header), MESSAGE]);
  assert.deepEqual(await verify(Buffer.concat([Buffer.from('From: ceo@doe-family.com\r\n'), signed])), ['fail']);
  // A changed body: mailauth says neutral ("body hash did not verify"), not pass.
  assert.deepEqual(await verify(Buffer.from(signed.toString('latin1').replace('one.', 'two.'), 'latin1')), ['neutral']);
});
