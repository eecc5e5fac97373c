// One clean stop, whichever way the signal arrives: `bin/postern.js serve` started by
// the machine's Node 20 re-runs itself on Node 24, so a signal to the whole process
// group (systemd's default stop, Ctrl-C) reaches Postern twice — directly and
// forwarded by the wrapper. The second must not cut the stop short: the stop event is
// written, and the delivery attempt under way is finished and recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { RawSmtp } from '../support/smtp-client.ts';
import { FAMILY, tempDir } from '../support/gateway.ts';
import { POSTERN } from '../support/serve-process.ts';
import { startSink } from '../support/smtp-sink.ts';
import { waitFor } from '../support/wait.ts';

// The wrapper path is what a Debian user runs; its point is an older Node.
const SYSTEM_NODE = ['/usr/bin/node', '/usr/local/bin/node'].find((n) => fs.existsSync(n));

function events(dataDir: string): { rule: string; stage: string; verdict: string; text: string }[] {
  const file = path.join(dataDir, 'log', 'events.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Is a TCP connection to 127.0.0.1:port established? (the kernel's table) */
function connectedTo(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  // columns: sl local_address rem_address st …; st 01 = ESTABLISHED
  return fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((l) => {
      const f = l.trim().split(/\s+/);
      return f[2] === `0100007F:${hex}` && f[3] === '01';
    });
}

/**
 * `postern serve` under `node` in a process group of its own (detached), as under systemd
 * or a terminal; resolves once its mx listener is up, with its port.
 */
async function serveInGroup(node: string, configFile: string, dataDir: string, what: string) {
  const child = spawn(node, [POSTERN, 'serve', '--config', configFile, '--data-dir', dataDir], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const listening = () => /mx\s+listening on \S+:(\d+)/.exec(out);
  try {
    await waitFor(() => listening() !== null, 20_000, what);
  } catch (e) {
    process.kill(-child.pid!, 'SIGKILL');
    throw e;
  }
  return { child, exited, output: () => out, port: Number(listening()![1]) };
}

test('SIGTERM to the process group of bin/postern.js serve while a delivery is in flight, ten times: a clean stop each time', async () => {
  assert.ok(SYSTEM_NODE, 'no system Node.js at /usr/bin/node: apt-get install nodejs');
  const version = spawn(SYSTEM_NODE, ['--version']);
  const v = await new Promise<string>((r) => version.stdout.on('data', (d: Buffer) => r(d.toString().trim())));
  // Answers DATA only after 2 s: each delivery is under way when the signal comes.
  const sink = await startSink(['-w', '2']);
  try {
    for (let run = 1; run <= 10; run++) {
      const dir = tempDir();
      const configFile = path.join(dir, 'postern.json');
      const dataDir = path.join(dir, 'data');
      fs.writeFileSync(
        configFile,
        JSON.stringify({
          ...FAMILY,
          listeners: [{ port: 0, host: '127.0.0.1', mode: 'mx' }],
          outbound: { mode: 'smarthost', smarthost: { host: '127.0.0.1', port: sink.port, secure: false, requireTLS: false } },
          dashboard: { host: '127.0.0.1', port: 0 },
        }),
      );
      const { child, exited, output, port } = await serveInGroup(SYSTEM_NODE, configFile, dataDir, `postern serve to start (${v})`);
      try {
        const c = await RawSmtp.connect({ port, localAddress: '127.0.0.1' });
        await c.cmd('EHLO lan.example');
        assert.equal((await c.cmd('MAIL FROM:<john.doe@doe-family.com>')).code, 250);
        assert.equal((await c.cmd('RCPT TO:<aunt@example.net>')).code, 250);
        assert.equal((await c.cmd('DATA')).code, 354);
        c.write(`Subject: stop ${run}\r\n\r\nhello\r\n.\r\n`);
        assert.equal((await c.read(10_000)).code, 250);
        await c.quit();
        // The attempt has begun (the sink holds it at DATA for 2 s)…
        await waitFor(() => connectedTo(sink.port), 10_000, 'the delivery attempt to connect to the smarthost');
        // …when the whole group is signalled, as systemd and Ctrl-C do.
        process.kill(-child.pid!, 'SIGTERM');
        const code = await exited;
        const ev = events(dataDir);
        assert.equal(code, 0, `run ${run}: exit code ${code}\n${output()}`);
        assert.ok(
          ev.some((e) => e.rule === 'stop' && e.text === 'Postern stopped'),
          `run ${run}: no "Postern stopped" event\n${output()}`,
        );
        const delivery = ev.filter((e) => e.rule === 'delivery');
        assert.ok(delivery.length >= 1, `run ${run}: the attempt under way was not recorded`);
        assert.equal(delivery.at(-1)!.verdict, 'accept', `run ${run}: ${JSON.stringify(delivery.at(-1))}`);
      } finally {
        if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await sink.stop();
  }
});

test('SIGTERM right after a 250: the History index has the message and the stop itself when postern serve exits (the stop writes what the writer thread holds)', async () => {
  const dir = tempDir();
  const configFile = path.join(dir, 'postern.json');
  const dataDir = path.join(dir, 'data');
  fs.writeFileSync(configFile, JSON.stringify({ ...FAMILY, dashboard: { host: '127.0.0.1', port: 0 } }));
  const { child, exited, output, port } = await serveInGroup(process.execPath, configFile, dataDir, 'postern serve to start');
  try {
    const c = await RawSmtp.connect({ port, localAddress: '127.0.0.1' });
    await c.cmd('EHLO lan.example');
    assert.equal((await c.cmd('MAIL FROM:<jane.doe@doe-family.com>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<john.doe@doe-family.com>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    c.write('Subject: just before the stop\r\n\r\nhello\r\n.\r\n');
    assert.equal((await c.read(10_000)).code, 250);
    // At once: well inside the half second the writer thread waits for a burst to pause.
    process.kill(-child.pid!, 'SIGTERM');
    assert.equal(await exited, 0, output());
    // Read before any next start could catch it up from events.jsonl.
    const db = new DatabaseSync(path.join(dataDir, 'log', 'index.sqlite'), { readOnly: true });
    const plain = (rows: object[]) => rows.map((r) => ({ ...r })); // SQLite's rows have no prototype
    const messages = plain(db.prepare('SELECT subject, verdict FROM messages').all());
    // The very last event, handed over as the gateway stopped.
    const last = plain(db.prepare("SELECT rule, json_extract(json, '$.text') AS text FROM events ORDER BY id DESC LIMIT 1").all());
    db.close();
    assert.deepEqual(messages, [{ subject: 'just before the stop', verdict: 'accepted' }]);
    assert.deepEqual(last, [{ rule: 'stop', text: 'Postern stopped' }]);
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
