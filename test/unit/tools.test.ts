// The list of external test tools: one source for the set-up, the up-front checks and
// the README's table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { missingLine, requireTools, tool, TOOLS } from '../support/tools.ts';

test("the README's table of test tools is the list the set-up installs", () => {
  const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const table = readme.slice(readme.indexOf('<!-- test-tools'), readme.indexOf('<!-- /test-tools -->'));
  const rows = table
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| tool '))
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  assert.deepEqual(
    rows,
    TOOLS.map((t) => [t.name, t.packages.map((p) => `\`${p}\``).join(' '), t.usedFor]),
  );
});

test('a missing tool is one line naming what is missing and the packages that bring it', () => {
  assert.equal(missingLine(tool('swaks TLS')), 'swaks has no TLS support: apt-get install libnet-ssleay-perl libio-socket-ssl-perl');
  const absent = { ...tool('swaks'), present: () => false };
  TOOLS.push(absent);
  try {
    // the pushed copy is found second; the check reads the first by name, so use a fresh name
    absent.name = 'swaks (absent)';
    assert.throws(() => requireTools('swaks (absent)'), { message: 'swaks is not installed: apt-get install swaks' });
  } finally {
    TOOLS.pop();
  }
  assert.throws(() => requireTools('no such tool'), /unknown test tool/);
});

test('every tool the suite needs is here on this machine', () => {
  // npm test installs them before the suite; a failure here names the package.
  requireTools(...TOOLS.map((t) => t.name));
});
