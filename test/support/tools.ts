// The external tools the tests use, each with the Debian package(s) that bring it.
// One list for three readers: `test/setup.ts` (installs what is missing before the
// suite, as root), each test's up-front check (`requireTools`), and the README's
// testing table (test/unit/tools.test.ts keeps it equal to this list).
//
// Packages are installed with --no-install-recommends, so a feature a tool only has
// through a Recommends (swaks's TLS) is a tool of its own here, checked separately.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

export interface Tool {
  /** What the tests call it, and what a failure message names. */
  name: string;
  /** What it is for, in the README's table. */
  usedFor: string;
  /** Debian packages that bring it. */
  packages: string[];
  /** True when it is there and works. */
  present(): boolean;
  /** The one-line failure when it is absent ("swaks is not installed"). */
  missing: string;
}

const exists = (file: string) => () => fs.existsSync(file);
const perlHas =
  (...modules: string[]) =>
  () =>
    fs.existsSync('/usr/bin/perl') && spawnSync('/usr/bin/perl', [...modules.map((m) => `-M${m}`), '-e1'], { stdio: 'ignore' }).status === 0;

export const TOOLS: Tool[] = [
  {
    name: 'swaks',
    usedFor: 'an SMTP client from outside the project',
    packages: ['swaks'],
    present: exists('/usr/bin/swaks'),
    missing: 'swaks is not installed',
  },
  {
    name: 'swaks TLS',
    usedFor: "swaks's STARTTLS (a Recommends of swaks)",
    packages: ['libnet-ssleay-perl', 'libio-socket-ssl-perl'],
    present: perlHas('Net::SSLeay', 'IO::Socket::SSL'),
    missing: 'swaks has no TLS support',
  },
  {
    name: 'smtp-sink',
    usedFor: 'a real SMTP server as smarthost or remote MX (Postfix)',
    packages: ['postfix'],
    present: exists('/usr/sbin/smtp-sink'),
    missing: "Postfix's smtp-sink is not installed",
  },
  {
    name: 'saslauthd',
    usedFor: "logins checked against Unix accounts (the seed's set-up)",
    packages: ['sasl2-bin'],
    present: exists('/usr/sbin/saslauthd'),
    missing: 'saslauthd is not installed',
  },
  {
    name: 'chromium',
    usedFor: 'the dashboard in a real browser',
    packages: ['chromium', 'fonts-liberation'],
    present: exists('/usr/bin/chromium'),
    missing: 'Chromium is not installed',
  },
  {
    name: 'ip',
    usedFor: 'bringing up loopback in the network namespace the suite runs in',
    packages: ['iproute2'],
    present: exists('/usr/sbin/ip'),
    missing: 'ip (iproute2) is not installed',
  },
  {
    name: 'pebble',
    usedFor: "Let's Encrypt's test ACME server (built-in ACME, end to end)",
    packages: ['pebble'],
    present: exists('/usr/bin/pebble'),
    missing: 'pebble is not installed',
  },
  {
    name: 'openssl',
    usedFor: 'checking the served certificate chain (s_client) and making test CAs',
    packages: ['openssl'],
    present: exists('/usr/bin/openssl'),
    missing: 'openssl is not installed',
  },
  {
    name: 'dovecot',
    usedFor: "an IMAP server reading Postern's Maildirs as they are",
    packages: ['dovecot-imapd'],
    present: exists('/usr/sbin/dovecot'),
    missing: 'Dovecot (IMAP) is not installed',
  },
  {
    name: 'strace',
    usedFor: 'proving each message is synced to disk before its 250',
    packages: ['strace'],
    present: exists('/usr/bin/strace'),
    missing: 'strace is not installed',
  },
  {
    name: 'setpriv',
    usedFor: 'running Postern as an unprivileged user (ports below 1024 refused)',
    packages: ['util-linux'],
    present: exists('/usr/bin/setpriv'),
    missing: 'setpriv (util-linux) is not installed',
  },
  {
    name: 'rspamd',
    usedFor: 'a real spam filter scanning messages over its HTTP protocol',
    packages: ['rspamd'],
    present: exists('/usr/bin/rspamd'),
    missing: 'rspamd is not installed',
  },
  {
    name: 'systemd-analyze',
    usedFor: 'checking the systemd unit `postern service install` writes',
    packages: ['systemd'],
    present: exists('/usr/bin/systemd-analyze'),
    missing: 'systemd-analyze (systemd) is not installed',
  },
];

/** The Unix account saslauthd -a shadow checks in the tests (created by test/setup.ts as root). */
export const UNIX_USER = 'postern-test';
export const UNIX_PASSWORD = 'Family-Test-9';

export function tool(name: string): Tool {
  const t = TOOLS.find((x) => x.name === name);
  if (!t) throw new Error(`unknown test tool "${name}" (test/support/tools.ts)`);
  return t;
}

/** The one line that says what is missing and how to get it. */
export function missingLine(t: Tool): string {
  return `${t.missing}: apt-get install ${t.packages.join(' ')}`;
}

/** Throws one line per missing tool: call it in a test file's `before`. */
export function requireTools(...names: string[]): void {
  const missing = names.map(tool).filter((t) => !t.present());
  if (missing.length) throw new Error(missing.map(missingLine).join('\n'));
}
