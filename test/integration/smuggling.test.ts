// SMTP smuggling (CVE-2023-51764 class): only <CR><LF>.<CR><LF> ends DATA, and no
// stored message contains a bare CR or LF, so nothing Postern stores or relays can
// carry a second message past a downstream server.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { RawSmtp } from '../support/smtp-client.ts';
import { INTERNET, startGateway, type TestGateway } from '../support/gateway.ts';

let t: TestGateway;
before(async () => {
  t = await startGateway();
});
after(() => t.stop());

const VARIANTS: [string, string][] = [
  ['<LF>.<LF>', '\n.\n'],
  ['<LF>.<CR><LF>', '\n.\r\n'],
  ['<CR>.<CR>', '\r.\r'],
  ['<CR><LF>.<LF>', '\r\n.\n'],
  ['<CR>.<CR><LF>', '\r.\r\n'],
  ['<CR><LF>.<CR>', '\r\n.\r'],
  ['<LF>.<CR>', '\n.\r'],
  ['NUL before the dot', '\r\n\x00.\r\n'],
  ['<CR><LF><NUL>.<CR><LF> with a bare LF', '\n\x00.\r\n'],
  ['dot-space', '\r\n. \r\n'],
];

function smuggled(ending: string): string {
  return (
    'From: a@example.org\r\nSubject: carrier\r\n\r\nfirst message' +
    ending +
    'MAIL FROM:<evil@example.org>\r\nRCPT TO:<jane.doe@doe-family.com>\r\nDATA\r\nSubject: SMUGGLED\r\n\r\nsecond message\r\n.\r\n'
  );
}

function allStored(): string[] {
  return [...t.maildirFiles('john'), ...t.maildirFiles('jane')];
}

function assertCrlfClean(file: string): void {
  const b = fs.readFileSync(file);
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x0a) assert.equal(b[i - 1], 0x0d, `bare LF at ${i} in ${file}`);
    if (b[i] === 0x0d) assert.equal(b[i + 1], 0x0a, `bare CR at ${i} in ${file}`);
  }
}

for (const [who, localAddress, expectBareRejected] of [
  ['an Internet client', INTERNET, true],
  ['an internal client', '127.0.0.1', false],
] as const) {
  describe(`smuggling attempts from ${who}`, () => {
    for (const [name, ending] of VARIANTS) {
      test(name, async () => {
        const before = new Set(allStored());
        const c = await RawSmtp.connect({ port: t.port(), localAddress });
        await c.cmd('EHLO smuggler.example.org');
        assert.equal((await c.cmd('MAIL FROM:<a@example.org>')).code, 250);
        assert.equal((await c.cmd('RCPT TO:<john.doe@doe-family.com>')).code, 250);
        assert.equal((await c.cmd('DATA')).code, 354);
        c.write(smuggled(ending));
        const end = await c.read();
        // Exactly one reply for the whole thing: the smuggled commands were body text.
        const bare = /(^|[^\r])\n|\r(?!\n)/.test(ending);
        if (bare && expectBareRejected) {
          assert.equal(end.code, 550, end.lines.join(' '));
          assert.match(end.text, /^5\.5\.2 /);
        } else assert.equal(end.code, 250, end.lines.join(' '));
        const next = await c.cmd('NOOP');
        assert.equal(next.code, 250, 'the session is still in command state, in step');
        await c.quit();

        const added = allStored().filter((f) => !before.has(f));
        assert.ok(added.length <= 1, 'no second message appeared');
        assert.equal(t.maildirFiles('jane').filter((f) => !before.has(f)).length, 0, 'nothing reached the smuggled recipient');
        for (const f of added) {
          assertCrlfClean(f);
          const text = fs.readFileSync(f, 'latin1');
          const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n'))];
          assert.match(head, /^Subject: carrier$/m);
          assert.doesNotMatch(head, /SMUGGLED/);
          // The would-be second message is inert text inside the first one's body.
          assert.match(body, /first message[\s\S]*MAIL FROM:<evil@example\.org>[\s\S]*second message\r\n$/);
        }
        if (!(bare && expectBareRejected)) assert.equal(added.length, 1);
      });
    }
  });
}

test('a message split across many small TCP writes is stored once, intact', async () => {
  const before = new Set(allStored());
  const c = await RawSmtp.connect({ port: t.port(), localAddress: INTERNET });
  await c.cmd('EHLO slow.example.org');
  await c.cmd('MAIL FROM:<a@example.org>');
  await c.cmd('RCPT TO:<jane.doe@doe-family.com>');
  await c.cmd('DATA');
  const body = 'Subject: slow\r\n\r\nline one\r\n..leading dot\r\nline three\r\n.\r\n';
  for (const ch of body) {
    c.write(ch);
    await new Promise((r) => setImmediate(r));
  }
  const end = await c.read();
  assert.equal(end.code, 250);
  await c.quit();
  const added = allStored().filter((f) => !before.has(f));
  assert.equal(added.length, 1);
  const text = fs.readFileSync(added[0], 'utf8');
  assert.match(text, /\r\nline one\r\n\.leading dot\r\nline three\r\n$/);
});
