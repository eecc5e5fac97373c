// `postern spf` (core/spf/cli.ts), called as spfCommand(args) with its output captured.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { spfCommand, type Output } from '../../core/spf/cli.ts';
import { tempDir } from '../support/gateway.ts';
import { startDnsServer, type DnsServer } from '../support/dns-server.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Output = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await spfCommand(args, io);
  return { code, out, err };
}

async function userError(args: string[], pattern: RegExp): Promise<void> {
  await assert.rejects(run(args), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'EUSER', `${e.code}: ${e.message}`);
    assert.equal(e.message.split('\n').length, 1, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('postern spf DOMAIN [choices]', () => {
  test("--mx prints the record and the seed's zone line, exactly", async () => {
    const r = await run(['doe-family.com', '--mx']);
    assert.equal(r.code, 0);
    assert.deepEqual(r.out, ['v=spf1 +mx -all', 'doe-family.com.          TXT "v=spf1 +mx -all"']);
    assert.deepEqual(r.err, []);
  });
  test('the same through the real stdout of a process', () => {
    const p = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const { spfCommand } = await import('./core/spf/cli.ts'); process.exitCode = await spfCommand(['doe-family.com', '--mx']);",
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.stdout, 'v=spf1 +mx -all\ndoe-family.com.          TXT "v=spf1 +mx -all"\n');
  });
  test('every choice, repeated options, --soft', async () => {
    const r = await run([
      'doe-family.com',
      '--mx',
      '--a',
      '--ip4',
      '203.0.113.5',
      '--ip4',
      '198.51.100.0/24',
      '--ip6',
      '2001:db8::25',
      '--include',
      '_spf.smarthost.example',
      '--soft',
    ]);
    assert.equal(r.code, 0);
    assert.equal(r.out[0], 'v=spf1 +mx +a +ip4:203.0.113.5 +ip4:198.51.100.0/24 +ip6:2001:db8::25 +include:_spf.smarthost.example ~all');
    assert.equal(r.out[1], `doe-family.com.          TXT "${r.out[0]}"`);
  });
  test('warnings go to stderr, the record still to stdout', async () => {
    const r = await run(['doe-family.com']);
    assert.equal(r.code, 0);
    assert.deepEqual(r.out, ['v=spf1 -all', 'doe-family.com.          TXT "v=spf1 -all"']);
    assert.match(r.err[0], /^warning: no sender is allowed/);
  });
  test('bad input: one line naming the problem, code EUSER (exit 2)', async () => {
    await userError([], /needs a DOMAIN/);
    await userError(['a.example', 'b.example'], /one DOMAIN .*"a\.example", "b\.example"/);
    await userError(['not_a domain'], /"not_a domain" is not a valid domain/);
    await userError(['doe-family.com', '--ip4', '203.0.113.300'], /--ip4 "203\.0\.113\.300" is not an IPv4 address/);
    await userError(['doe-family.com', '--ip6', '203.0.113.5'], /--ip6 "203\.0\.113\.5" is not an IPv6 address/);
    await userError(['doe-family.com', '--include', 'x..example'], /--include "x\.\.example"/);
    await userError(['doe-family.com', '--frobnicate'], /frobnicate/);
    await userError(['doe-family.com', '--ip4'], /ip4/);
    await userError(['doe-family.com', '--ip', '203.0.113.5'], /--ip is only used with --check/);
    await userError(['doe-family.com', '--config', 'x.json'], /--config is only used with --check/);
  });
});

describe('postern spf --check DOMAIN', () => {
  let dns: DnsServer;
  let dir: string;
  let cfgFile: string;
  before(async () => {
    dns = await startDnsServer({
      'doe-family.com': { TXT: ['v=spf1 +mx -all'], MX: [{ priority: 10, exchange: 'mx.doe-family.com' }] },
      'mx.doe-family.com': { A: ['203.0.113.5'] },
      'broken.example': { TXT: ['v=spf1 mx ip4:203.0.113.5/40 -all'] },
      'nospf.example': { A: ['192.0.2.1'] },
    });
    dir = tempDir();
    cfgFile = path.join(dir, 'config.json');
    fs.writeFileSync(
      cfgFile,
      JSON.stringify({
        hostname: 'mx.doe-family.com',
        publicAddress: '203.0.113.5',
        domains: ['doe-family.com'],
        dns: { servers: [dns.address], timeoutMs: 3000 },
      }),
    );
  });
  after(async () => {
    await dns.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a valid record: exit 0; compared with Postern's recommendation; this host's public address evaluated", async () => {
    const r = await run(['--check', 'doe-family.com', '--config', cfgFile]);
    assert.equal(r.code, 0, r.out.join('\n'));
    assert.deepEqual(r.out, [
      'doe-family.com: v=spf1 +mx -all',
      '  valid (1 of 10 DNS-lookup terms, 0 void lookups)',
      '  differs from the expected record: v=spf1 +mx +ip4:203.0.113.5 -all',
      '  203.0.113.5: pass (domain of postmaster@doe-family.com designates 203.0.113.5 as permitted sender)',
    ]);
  });
  test('--ip and the build options choose the address and the record compared with', async () => {
    const r = await run(['--check', 'doe-family.com', '--config', cfgFile, '--ip', '198.51.100.1', '--mx']);
    assert.equal(r.code, 0);
    assert.match(r.out.join('\n'), /matches the expected record: v=spf1 \+mx -all/);
    assert.match(r.out.join('\n'), /198\.51\.100\.1: fail \(/);
  });
  test('a broken record: exit 1, the problem shown under the record with a caret', async () => {
    const r = await run(['--check', 'broken.example', '--config', cfgFile]);
    assert.equal(r.code, 1);
    const i = r.out.findIndex((l) => l.includes('error at character'));
    assert.match(r.out[i], /error at character 27: Invalid CIDR length "40"/);
    assert.equal(r.out[i + 1], '    v=spf1 mx ip4:203.0.113.5/40 -all');
    assert.equal(r.out[i + 2], `    ${' '.repeat(26)}^`);
  });
  test('no record: exit 1, said in one line', async () => {
    const r = await run(['--check', 'nospf.example', '--config', cfgFile]);
    assert.equal(r.code, 1);
    assert.deepEqual(r.out, ['nospf.example: nospf.example publishes no SPF record']);
  });
  test('a config that does not load, a bad --ip: EUSER', async () => {
    await userError(['--check', 'doe-family.com', '--config', path.join(dir, 'missing.json')], /missing\.json does not exist/);
    await userError(['--check', 'doe-family.com', '--config', cfgFile, '--ip', 'localhost'], /--ip "localhost" is not an IP address/);
  });
});
