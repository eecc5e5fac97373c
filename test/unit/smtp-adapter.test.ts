// The smtp-server adapter: the one file that reaches into the library's internals,
// pinned to the version it was written against.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { assertLibraryVersion, installedSmtpServerVersion, SMTP_SERVER_VERSION } from '../../core/smtp/connection.ts';

test('the installed smtp-server is the version the adapter was written against', () => {
  assert.equal(installedSmtpServerVersion(), SMTP_SERVER_VERSION);
  assert.doesNotThrow(() => assertLibraryVersion());
});

test('another smtp-server version fails loudly, naming the adapter file', () => {
  assert.throws(() => assertLibraryVersion('3.22.0'), /core\/smtp\/connection\.ts was written against smtp-server 3\.21\.6, but 3\.22\.0 is installed/);
});

test("no other file uses smtp-server's internals", () => {
  // Underscored members of the library's classes, and its lib/ modules.
  const hits = execFileSync(
    'git',
    [
      'grep',
      '-lE',
      String.raw`\._(onCommand|parseAddressCommand|isSupported|nextHandler|server|setListeners|onClientConnect|onError|pendingSockets|closing|closed|ready|parser|dataStream|handlerPending|upgrading)\b|smtp-server/lib/`,
      '--',
      'core',
      'electron',
      'bin',
    ],
    {
      cwd: new URL('../..', import.meta.url),
      encoding: 'utf8',
    },
  )
    .split('\n')
    .filter(Boolean);
  assert.deepEqual(hits, ['core/smtp/connection.ts']);
});
