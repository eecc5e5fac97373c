// The bounce builder (docs/design.md §3.4): an RFC 3464 report a mail program can read —
// multipart/report with a human part, message/delivery-status fields per recipient and
// the original's header section.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { buildBounce, enhancedFromReply, type BounceInput } from '../../core/delivery/bounce.ts';

const ORIGINAL = Buffer.from(
  'From: <john.doe@doe-family.com>\r\nTo: <aunt@example.net>\r\nSubject: Sunday lunch\r\nMessage-ID: <lunch@doe-family.com>\r\n' +
    '\r\nThe secret recipe is in the body.\r\n',
);

function input(extra: Partial<BounceInput> = {}): BounceInput {
  return {
    reportingMta: 'mx.doe-family.com',
    originalSender: 'john.doe@doe-family.com',
    originalId: '1K8GCIK511UL',
    arrival: new Date('2027-03-01T08:00:00Z'),
    original: ORIGINAL,
    recipients: [
      {
        address: 'aunt@example.net',
        status: '5.1.1',
        diagnosticType: 'smtp',
        diagnostic: '550 5.1.1 <aunt@example.net>: user unknown',
        remoteMta: 'mx.example.net',
        lastAttempt: new Date('2027-03-01T08:00:05Z'),
      },
      {
        address: 'uncle@example.org',
        status: '5.4.6',
        diagnosticType: 'X-Postern',
        diagnostic: '5.4.6 mail for example.org loops back to myself',
        lastAttempt: new Date('2027-03-01T08:00:06Z'),
      },
    ],
    ...extra,
  };
}

interface Part {
  headers: string;
  body: string;
}

/** Splits a message into its top header section and its MIME parts. */
function parse(msg: string): { headers: string; boundary: string; parts: Part[] } {
  const split = (s: string) => {
    const i = s.indexOf('\r\n\r\n');
    return { headers: s.slice(0, i), body: s.slice(i + 4) };
  };
  const top = split(msg);
  const boundary = /boundary="([^"]+)"/.exec(top.headers)?.[1];
  assert.ok(boundary, top.headers);
  const chunks = top.body.split(`\r\n--${boundary}`);
  assert.equal(chunks.at(-1), '--\r\n', 'the closing boundary ends the message');
  // chunks[0] is the preamble (and ends at the first boundary line).
  assert.ok(top.body.includes(`--${boundary}\r\n`));
  return { headers: top.headers, boundary, parts: chunks.slice(1, -1).map((c) => split(c.replace(/^\r\n/, ''))) };
}

/** The field groups of a message/delivery-status body: per-message first, then one per recipient. */
function fieldGroups(body: string): Record<string, string>[] {
  return body
    .trim()
    .split('\r\n\r\n')
    .map((g) => Object.fromEntries(g.split('\r\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()])));
}

describe('buildBounce', () => {
  test('multipart/report: notification, delivery-status, original headers — in that order', () => {
    const msg = buildBounce(input()).toString('latin1');
    assert.doesNotMatch(msg, /[^\r]\n/, 'CRLF line endings only');
    const { headers, parts } = parse(msg);
    assert.match(headers, /^From: Mail Delivery System <MAILER-DAEMON@mx\.doe-family\.com>$/m);
    assert.match(headers, /^To: <john\.doe@doe-family\.com>$/m);
    assert.match(headers, /^Auto-Submitted: auto-replied$/m, 'so that no one auto-replies to a bounce');
    assert.match(headers, /^MIME-Version: 1\.0$/m);
    assert.match(headers, /^Content-Type: multipart\/report; report-type=delivery-status; boundary="/m);
    assert.match(headers, /^Message-ID: <[^>]+@mx\.doe-family\.com>$/m);
    assert.deepEqual(
      parts.map((p) => /^Content-Type: ([^;\r\n]+)/m.exec(p.headers)?.[1]),
      ['text/plain', 'message/delivery-status', 'text/rfc822-headers'],
    );
    assert.match(parts[0].body, /^<aunt@example\.net>: host mx\.example\.net said: 550 5\.1\.1 <aunt@example\.net>: user unknown$/m);
    assert.match(parts[0].body, /^<uncle@example\.org>: 5\.4\.6 mail for example\.org loops back to myself$/m);
  });

  test('delivery-status: per-message fields, then Final-Recipient, Action, Status, Diagnostic-Code per recipient', () => {
    const { parts } = parse(buildBounce(input()).toString('latin1'));
    const [perMessage, aunt, uncle, ...more] = fieldGroups(parts[1].body);
    assert.equal(more.length, 0);
    assert.deepEqual(perMessage, {
      'Reporting-MTA': 'dns; mx.doe-family.com',
      'X-Postern-Queue-ID': '1K8GCIK511UL',
      'Arrival-Date': 'Mon, 01 Mar 2027 08:00:00 +0000',
    });
    assert.deepEqual(aunt, {
      'Final-Recipient': 'rfc822; aunt@example.net',
      Action: 'failed',
      Status: '5.1.1',
      'Remote-MTA': 'dns; mx.example.net',
      'Diagnostic-Code': 'smtp; 550 5.1.1 <aunt@example.net>: user unknown',
      'Last-Attempt-Date': 'Mon, 01 Mar 2027 08:00:05 +0000',
    });
    assert.equal(uncle.Status, '5.4.6');
    assert.equal(uncle.Action, 'failed');
    assert.equal(uncle['Remote-MTA'], undefined, 'no remote MTA when none answered');
    assert.equal(
      uncle['Diagnostic-Code'],
      'X-Postern; 5.4.6 mail for example.org loops back to myself',
      'Postern’s own reason is no SMTP reply (RFC 3464 §2.3.6)',
    );
    assert.equal(uncle['Original-Recipient'], undefined, 'no ORCPT was given (RFC 3464 §2.3.1)');
  });

  test('Remote-MTA is a dns name only: a server known by its IP address is named in the human part only', () => {
    const recipients = [
      {
        address: 'aunt@example.net',
        status: '5.1.1',
        diagnosticType: 'smtp' as const,
        diagnostic: '550 5.1.1 no',
        remoteMta: '127.0.0.1',
        lastAttempt: new Date(),
      },
      {
        address: 'uncle@example.net',
        status: '5.1.1',
        diagnosticType: 'smtp' as const,
        diagnostic: '550 5.1.1 no',
        remoteMta: '2001:db8::25',
        lastAttempt: new Date(),
      },
      {
        address: 'cousin@example.net',
        status: '5.1.1',
        diagnosticType: 'smtp' as const,
        diagnostic: '550 5.1.1 no',
        remoteMta: 'smarthost.example.net',
        lastAttempt: new Date(),
      },
    ];
    const { parts } = parse(buildBounce(input({ recipients })).toString('latin1'));
    const [, aunt, uncle, cousin] = fieldGroups(parts[1].body);
    assert.equal(aunt['Remote-MTA'], undefined);
    assert.equal(uncle['Remote-MTA'], undefined);
    assert.equal(cousin['Remote-MTA'], 'dns; smarthost.example.net');
    assert.match(parts[0].body, /^<aunt@example\.net>: host 127\.0\.0\.1 said: 550 5\.1\.1 no$/m);
  });

  test('the original comes back as its header section only, not its body', () => {
    const { parts } = parse(buildBounce(input()).toString('latin1'));
    assert.match(parts[2].body, /^Subject: Sunday lunch\r\n/m);
    assert.match(parts[2].body, /^Message-ID: <lunch@doe-family\.com>\r\n/m);
    assert.doesNotMatch(parts[2].body, /secret recipe/);
  });

  test('a remote reply cannot add header lines or 8-bit bytes', () => {
    const diagnostic = '550 no such user\r\nX-Injected: yes\r\n\r\n--fake-boundary\r\nCaf\u00e9';
    const remoteMta = 'evil.example\r\nX-Also: injected';
    const recipients = [{ address: 'aunt@example.net', status: '5.0.0', diagnosticType: 'smtp' as const, diagnostic, remoteMta, lastAttempt: new Date() }];
    const msg = buildBounce(input({ recipients })).toString('latin1');
    assert.doesNotMatch(msg, /^X-Injected/m);
    assert.doesNotMatch(msg, /^X-Also/m);
    assert.doesNotMatch(msg, /^--fake-boundary/m);
    assert.match(msg, /^Diagnostic-Code: smtp; 550 no such user X-Injected: yes --fake-boundary Caf\?$/m);
    assert.ok(
      [...msg].every((c) => c.charCodeAt(0) < 0x80),
      'us-ascii throughout',
    );
  });
});

describe('enhancedFromReply: the Status a bounce reports', () => {
  test('the enhanced code in the reply text wins', () => {
    assert.equal(enhancedFromReply(550, '550 5.1.1 <a@example.net>: user unknown', true), '5.1.1');
    assert.equal(enhancedFromReply(451, '451 4.7.1 greylisted', false), '4.7.1');
  });
  test('otherwise the reply code’s class, otherwise whether it is permanent', () => {
    assert.equal(enhancedFromReply(554, '554 no thanks', true), '5.0.0');
    assert.equal(enhancedFromReply(421, '421 busy', false), '4.0.0');
    assert.equal(enhancedFromReply(undefined, 'connection refused', false), '4.0.0');
    assert.equal(enhancedFromReply(undefined, 'our own refusal', true), '5.0.0');
  });
});
