// The relay policy as a table: pure functions, no sockets.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseMailbox } from '../../core/policy/address.ts';
import { Directory } from '../../core/policy/directory.ts';
import { checkMailFrom, checkRcpt, type ClientFacts } from '../../core/policy/relay.ts';
import { checkFromHeader, fromFields } from '../../core/policy/from-header.ts';
import { parseAddressCommand } from '../../core/smtp/connection.ts';

const dir = new Directory({
  domains: ['doe-family.com', 'Doe.Example.'],
  accounts: [
    { name: 'john', addresses: ['john.doe@doe-family.com'], sendAs: ['family@doe-family.com'] },
    { name: 'jane', addresses: ['jane.doe@doe-family.com', 'postmaster@doe.example'] },
  ],
});

const internet: ClientFacts = { ip: '203.0.113.9', internal: false, user: null };
const lan: ClientFacts = { ip: '192.168.1.20', internal: true, user: null };
const john: ClientFacts = { ip: '198.51.100.7', internal: false, user: 'john' };

const mb = (s: string) => {
  const m = parseMailbox(s);
  assert.ok(m, `parses: ${s}`);
  return m;
};

describe('parseMailbox', () => {
  test('plain, case and trailing dot', () => {
    assert.deepEqual(mb('John.Doe@DOE-Family.com.'), {
      local: 'John.Doe',
      domain: 'doe-family.com',
      address: 'John.Doe@doe-family.com',
      routing: null,
      literal: false,
    });
  });
  test('sender-specified routing is recognised, not refused as syntax', () => {
    const cases: [string, RegExp][] = [
      ['a%b@doe-family.com', /percent/],
      ['host!user@doe-family.com', /bang/],
      ['host!user', /bang/],
      ['@relay.example:user@example.net', /source route/],
      ['@a.example,@b.example:user@example.net', /source route/],
      ['"user@example.net"@doe-family.com', /quoted/],
      ['"user%example.net"', /quoted/],
      ['user@example.net@doe-family.com', /second/],
      ['user@[192.0.2.1]', /literal/],
      ['user@[IPv6:2001:db8::1]', /literal/],
    ];
    for (const [s, why] of cases) assert.match(mb(s).routing ?? '', why, s);
  });
  test('unnecessary quotes are dropped; needed ones kept', () => {
    assert.equal(mb('"john.doe"@doe-family.com').local, 'john.doe');
    assert.equal(mb('"john smith"@example.org').local, '"john smith"');
    assert.equal(mb('"john smith"@example.org').routing, null);
  });
  test('a domain is letters, digits, dots and hyphens: URL-host tricks are not our domain', () => {
    for (const d of ['doe-family.com/../../tmp/x', 'doe-family.com\\x', 'doe%2dfamily.com', 'doe-family.com?x', 'doe-family.com#x']) {
      const m = parseMailbox(`john.doe@${d}`);
      assert.ok(!m || !dir.isLocalDomain(m.domain), d);
    }
    assert.equal(dir.isLocalDomain('DOE-FAMILY.COM.'), true);
  });
  test("'<' and '>' are refused even quoted (legal, unused, and unsendable by our relay client)", () => {
    assert.equal(parseMailbox('"a>b"@example.org'), null);
    assert.equal(parseMailbox('"a<b"@example.org'), null);
  });
  test('unroutable syntax is null', () => {
    for (const s of ['', '@', 'a@', '@example.org', 'a@b@', '"unterminated@x', 'a@exa mple.org', 'a@[999.1.1.1]', 'a\r\n@x.org', `${'x'.repeat(300)}@a.org`]) {
      assert.equal(parseMailbox(s), null, JSON.stringify(s));
    }
  });
});

describe('MAIL FROM (relay mail from)', () => {
  const cases: [string, ClientFacts, string | null, number | 'accept'][] = [
    ['foreign sender from the Internet', internet, 'friend@example.org', 'accept'],
    ['null sender from the Internet', internet, null, 'accept'],
    ['our own domain from the Internet', internet, 'jane.doe@doe-family.com', 554],
    ['our own domain, other case, from the Internet', internet, 'Someone@DOE-FAMILY.COM', 554],
    ['our own domain from the LAN', lan, 'jane.doe@doe-family.com', 'accept'],
    ['anything from the LAN', lan, 'x@example.org', 'accept'],
    ['john as john', john, 'John.Doe@doe-family.com', 'accept'],
    ['john as jane', john, 'jane.doe@doe-family.com', 553],
    ['john as a foreign address', john, 'john@gmail.example', 553],
    ['john with the null sender (issue 12: authenticated clients never need <>)', john, null, 553],
    ['john as a shared address in his sendAs', john, 'Family@doe-family.com', 'accept'],
    ['jane as the shared address not in her sendAs', { ...john, user: 'jane' }, 'family@doe-family.com', 553],
    ['john as his own address through a source route', john, '@relay.example:john.doe@doe-family.com', 553],
    ['the null sender from the LAN', lan, null, 'accept'],
  ];
  for (const [name, facts, sender, want] of cases) {
    test(name, () => {
      const v = checkMailFrom(sender === null ? null : mb(sender), facts, dir);
      assert.equal(v.rule, 'relay mail from');
      if (want === 'accept') assert.equal(v.accept, true);
      else {
        assert.equal(v.accept, false);
        if (!v.accept) {
          assert.equal(v.code, want);
          assert.match(v.text, /^5\.7\.1 /);
        }
      }
    });
  }
});

describe('RCPT TO (relay rcpt), first match wins', () => {
  const cases: [string, ClientFacts, string, number | string][] = [
    ['1. routing from the Internet, even to a local domain', internet, 'john.doe%example.net@doe-family.com', 554],
    ['1. source route from the Internet', internet, '@doe-family.com:x@example.net', 554],
    ['1. routing from the LAN is not rule 1 (local part unknown → 550)', lan, 'john.doe%example.net@doe-family.com', 550],
    ['2. family address from the Internet', internet, 'john.doe@doe-family.com', 'john'],
    ['2. case-insensitive local part and domain', internet, 'JOHN.DOE@Doe-Family.Com.', 'john'],
    ['2. postmaster of each domain', internet, 'postmaster@doe-family.com', 'john'],
    ['2. an account may list postmaster itself', internet, 'postmaster@doe.example', 'jane'],
    ['2. bare postmaster', internet, 'postmaster', 'john'],
    ['2. unknown local user', internet, 'nobody@doe-family.com', 550],
    ['2. unknown local user, even authenticated', john, 'nobody@doe-family.com', 550],
    ['3. authenticated to anywhere', john, 'aunt@example.net', 'remote'],
    ['3. authenticated may use routing', john, 'a%b@example.net', 'remote'],
    ['4. internal to anywhere', lan, 'aunt@example.net', 'remote'],
    ['5. Internet to anywhere else', internet, 'aunt@example.net', 554],
    ['5. a domain literal is never local', internet, 'john.doe@[127.0.0.1]', 554],
    ['5. a subdomain of ours is not ours', internet, 'x@mail.doe-family.com', 554],
  ];
  for (const [name, facts, rcpt, want] of cases) {
    test(name, () => {
      const v = checkRcpt(mb(rcpt), facts, dir);
      assert.equal(v.rule, 'relay rcpt');
      if (typeof want === 'number') {
        assert.equal(v.accept, false, JSON.stringify(v));
        if (!v.accept) assert.equal(v.code, want);
      } else {
        assert.equal(v.accept, true, JSON.stringify(v));
        if (v.accept && want === 'remote') assert.equal(v.remote, true);
        else if (v.accept) assert.equal(v.account, want);
      }
    });
  }
});

describe('the MAIL/RCPT command parser', () => {
  test('parameters, xtext and the null path', () => {
    assert.deepEqual(parseAddressCommand('mail from', 'MAIL FROM:<> SIZE=100 ENVID=a+2Bb'), {
      address: '',
      args: { SIZE: '100', ENVID: 'a+b' },
      mailbox: null,
    });
    const r = parseAddressCommand('rcpt to', 'RCPT TO:<"a b"@example.org> NOTIFY=NEVER');
    assert.ok(r !== false && r.mailbox);
    assert.equal(r.mailbox.local, '"a b"');
  });
  test('refuses what is not a path', () => {
    for (const cmd of [
      'MAIL FROM:a@b.org',
      'MAIL FROM:<a@b.org',
      'RCPT TO:<>',
      'MAIL FROM:<a@b.org>X',
      'MAIL FROM:<a@b.org> ENVID=x+0D+0Ay',
      'RCPT FROM:<a@b.org>',
    ]) {
      const name = cmd.startsWith('MAIL') ? 'mail from' : 'rcpt to';
      assert.equal(parseAddressCommand(name, cmd), false, cmd);
    }
  });
});

describe('From header (from header): an authenticated sender signs only as themselves', () => {
  const msg = (head: string) => Buffer.from(`${head.replace(/\n/g, '\r\n')}\r\n\r\nFrom: jane.doe@doe-family.com in the body\r\n`);
  const cases: [string, string, string, true | RegExp][] = [
    ['own address with a display name', 'john', 'From: John Doe <john.doe@doe-family.com>', true],
    ['own address, other case, folded', 'john', 'Subject: x\nFROM :\n "Doe, John"\n <JOHN.DOE@Doe-Family.com>', true],
    ['a shared address in sendAs', 'john', 'From: The Does <family@doe-family.com>', true],
    ['own and shared, both his', 'john', 'From: john.doe@doe-family.com, family@doe-family.com', true],
    ['a group of his own addresses (RFC 6854)', 'john', 'From: us: john.doe@doe-family.com;', true],
    ['jane, as in issue 12', 'john', 'From: Jane <jane.doe@doe-family.com>', /^5\.7\.1 From header <jane\.doe@doe-family\.com> does not belong to user john$/],
    ["his and jane's", 'john', 'From: john.doe@doe-family.com, jane.doe@doe-family.com', /<jane\.doe@doe-family\.com> does not belong to user john/],
    ['a foreign address', 'john', 'From: john@gmail.example', /<john@gmail\.example> does not belong/],
    [
      "his address in the name, jane's in the angle brackets",
      'john',
      'From: "john.doe@doe-family.com" <jane.doe@doe-family.com>',
      /<jane\.doe@doe-family\.com>/,
    ],
    ["his address in a comment, jane's as the address", 'john', 'From: jane.doe@doe-family.com (john.doe@doe-family.com)', /<jane\.doe@doe-family\.com>/],
    ["the shared address not in jane's sendAs", 'jane', 'From: family@doe-family.com', /does not belong to user jane/],
    ['an empty group', 'john', 'From: undisclosed:;', /does not belong to user john/],
    ['no From at all', 'john', 'Subject: none', /^5\.7\.1 Message has no From header/],
    ['two From fields', 'john', 'From: john.doe@doe-family.com\nFrom: jane.doe@doe-family.com', /^5\.7\.1 Message has 2 From headers/],
  ];
  for (const [name, user, head, want] of cases) {
    test(name, () => {
      const v = checkFromHeader(msg(head), user, dir);
      if (want === true) assert.equal(v.accept, true, JSON.stringify(v));
      else {
        assert.equal(v.accept, false);
        if (!v.accept) {
          assert.equal(v.code, 550);
          assert.match(v.text, want);
        }
      }
    });
  }
  test('only the header section is read; a bare-LF message works too', () => {
    assert.deepEqual(fromFields('Subject: a\nFrom: x@y.example\n\nFrom: z@y.example\n'), [' x@y.example']);
  });
});
