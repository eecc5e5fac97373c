// The one header folder (core/mail/header.ts): RFC 5322 §2.2.3 folding at whitespace,
// 78-character soft limit, used for Received, Received-SPF and Authentication-Results.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { foldHeader, HEADER_SOFT_LIMIT } from '../../core/mail/header.ts';
import { addressLiteral, heloForReceived, receivedHeader } from '../../core/smtp/message.ts';

const unfold = (s: string) => s.replace(/\r\n(?=[ \t])/g, '');
const lines = (s: string) => s.slice(0, -2).split('\r\n');

describe('foldHeader', () => {
  test('a short field stays on one line, CRLF-terminated', () => {
    assert.equal(foldHeader('Subject: hello'), 'Subject: hello\r\n');
  });

  test('a long field folds before spaces, lines within 78, unfolding gives it back', () => {
    const field = `X-Long: ${Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ')}`;
    const folded = foldHeader(field);
    assert.equal(unfold(folded), `${field}\r\n`);
    const ls = lines(folded);
    assert.ok(ls.length > 1);
    for (const l of ls) assert.ok(l.length <= HEADER_SOFT_LIMIT, l);
    for (const l of ls.slice(1)) assert.match(l, /^ \S/, 'continuation lines start with the space folded before');
  });

  test('never between the field name and the first word', () => {
    const folded = foldHeader(`X-Name: ${'a'.repeat(90)} b`);
    assert.match(folded, /^X-Name: a{90}\r\n b\r\n$/);
  });

  test('a word longer than the limit stays whole (soft limit)', () => {
    const long = 'x'.repeat(120);
    const folded = foldHeader(`X-Token: a ${long} b`);
    assert.ok(folded.includes(long));
    assert.equal(unfold(folded), `X-Token: a ${long} b\r\n`);
  });

  test('quoted-strings are never split, a quote inside a comment opens none', () => {
    const quoted = '"a b c d e f g h i j k l m n o p q r s t u v w x y z"';
    const field = `X-Q: start ${quoted} middle (one "two three four five six seven eight nine) ten eleven`;
    const folded = foldHeader(field, 30);
    assert.ok(folded.includes(quoted));
    assert.equal(unfold(folded), `${field}\r\n`);
    assert.ok(
      lines(folded).some((l) => l.startsWith(' ten')),
      'folds after the comment that holds a lone quote',
    );
  });

  test('line breaks in the input are unfolded first; parts start new lines', () => {
    assert.equal(foldHeader('X-A: one\r\n two'), 'X-A: one two\r\n');
    const parts = ['Authentication-Results: mx.example;', 'spf=pass smtp.mailfrom=a@b.example'];
    assert.equal(foldHeader(parts), 'Authentication-Results: mx.example;\r\n spf=pass smtp.mailfrom=a@b.example\r\n');
  });
});

describe('the Received header uses it', () => {
  test('folded at spaces, CRLF-terminated, each line within the limit', () => {
    const h = receivedHeader({
      helo: 'a-rather-long-client-name.home.doe-family.example',
      clientIp: '192.168.100.200',
      hostname: 'mx.doe-family.com',
      protocol: 'ESMTPSA',
      tls: 'TLSv1.3 TLS_AES_256_GCM_SHA384',
      queueId: '1K869AAAA001',
      for: 'john.doe@doe-family.com',
    });
    assert.ok(unfold(h).startsWith('Received: from a-rather-long-client-name.home.doe-family.example ([192.168.100.200]) by mx.doe-family.com (Postern)'));
    assert.ok(h.endsWith('\r\n') && !h.endsWith('\r\n\r\n'));
    for (const l of lines(h)) assert.ok(l.length <= HEADER_SOFT_LIMIT, l);
    assert.match(unfold(h), /with ESMTPSA \(TLSv1\.3 TLS_AES_256_GCM_SHA384\) id 1K869AAAA001 for <john\.doe@doe-family\.com>; \w{3}, /);
  });

  test('an IPv6 client is an IPv6 address literal (RFC 5321 §4.1.3); an IPv4-mapped one is IPv4', () => {
    const base = { helo: 'laptop.lan', hostname: 'mx.doe-family.com', protocol: 'ESMTP', queueId: '1K869AAAA001' };
    assert.match(receivedHeader({ ...base, clientIp: '::1' }), /^Received: from laptop\.lan \(\[IPv6:::1\]\) by /);
    assert.match(unfold(receivedHeader({ ...base, clientIp: '2001:db8::25' })), /^Received: from laptop\.lan \(\[IPv6:2001:db8::25\]\) by /);
    assert.match(receivedHeader({ ...base, clientIp: '::ffff:192.0.2.7' }), /^Received: from laptop\.lan \(\[192\.0\.2\.7\]\) by /);
    assert.equal(addressLiteral('192.0.2.7'), '[192.0.2.7]');
  });

  test('a HELO that is no host name is kept in a comment: escaped, printable, nothing can end the comment or add a field', () => {
    const base = { clientIp: '192.0.2.7', hostname: 'mx.doe-family.com', protocol: 'ESMTP', queueId: '1K869AAAA001' };
    const odd = unfold(receivedHeader({ ...base, helo: 'odd(helo);x=y' }));
    assert.match(odd, /^Received: from unknown \(\[192\.0\.2\.7\]\) \(HELO odd\\\(helo\\\);x=y\) by mx\.doe-family\.com \(Postern\)/);
    const nasty = unfold(receivedHeader({ ...base, helo: 'a) by evil (x\\\r\nX-Injected: 1\u00e9' }));
    assert.doesNotMatch(nasty, /\r\nX-Injected/);
    assert.match(nasty, /\(HELO a\\\) by evil \\\(x\\\\\?\?X-Injected: 1\?\) by mx/);
    assert.deepEqual(heloForReceived('[IPv6:::1]'), { name: '[IPv6:::1]', comment: '' });
    assert.deepEqual(heloForReceived('WIN_PC.fritz.box'), { name: 'WIN_PC.fritz.box', comment: '' });
    assert.deepEqual(heloForReceived(''), { name: 'unknown', comment: '' });
  });
});
