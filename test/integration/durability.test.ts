// "Never lose a message it said 250 to": SIGKILL `postern serve` while clients are
// sending, restart it on the same data dir, and find every acknowledged message
// exactly once — in a Maildir (local recipients) or the outbound queue (remote).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RawSmtp } from '../support/smtp-client.ts';
import { FAMILY, tempDir } from '../support/gateway.ts';
import { startServe } from '../support/serve-process.ts';
import { waitFor } from '../support/wait.ts';

interface Sender {
  acked: string[];
  sent: number;
}

/** Sends messages until the connection breaks. Half the senders reuse their connection. */
async function sender(port: number, id: number, stop: { now: boolean }, s: Sender): Promise<void> {
  const reuse = id % 2 === 0;
  let c: RawSmtp | null = null;
  try {
    for (let n = 0; !stop.now; n++) {
      if (!c) {
        c = await RawSmtp.connect({ port, localAddress: '127.0.0.1' });
        await c.cmd('EHLO sender.lan');
      }
      const token = `tok-${id}-${n}`;
      const to = n % 3 === 2 ? 'aunt@example.net' : 'john.doe@doe-family.com';
      if ((await c.cmd('MAIL FROM:<jane.doe@doe-family.com>')).code !== 250) break;
      if ((await c.cmd(`RCPT TO:<${to}>`)).code !== 250) break;
      if ((await c.cmd('DATA')).code !== 354) break;
      s.sent++;
      c.write(`Subject: ${token}\r\nMessage-ID: <${token}@test>\r\n\r\n${'body line\r\n'.repeat(20)}.\r\n`);
      const end = await c.read(10_000);
      if (end.code === 250) s.acked.push(token);
      else break;
      if (!reuse) {
        await c.quit();
        c = null;
      }
    }
  } catch {
    // the server was killed under us: expected
  } finally {
    c?.destroy();
  }
}

function storedTokens(dataDir: string): Map<string, number> {
  const counts = new Map<string, number>();
  const files: string[] = [];
  for (const sub of ['new', 'cur']) {
    const dir = path.join(dataDir, 'maildir', 'john', sub);
    if (fs.existsSync(dir)) files.push(...fs.readdirSync(dir).map((f) => path.join(dir, f)));
  }
  const outbound = path.join(dataDir, 'queue', 'outbound');
  if (fs.existsSync(outbound)) {
    for (const f of fs.readdirSync(outbound)) {
      if (!f.endsWith('.eml')) continue;
      // An .eml without its envelope never got a 250, and recovery removes it.
      if (fs.existsSync(path.join(outbound, f.replace(/\.eml$/, '.json')))) files.push(path.join(outbound, f));
    }
  }
  for (const f of files) {
    const m = /^Subject: (tok-\d+-\d+)\r$/m.exec(fs.readFileSync(f, 'utf8'));
    assert.ok(m, `stored file without a token: ${f}`);
    counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
  }
  return counts;
}

test('SIGKILL while 8 clients send: every 250 survives, exactly once', async () => {
  const dir = tempDir();
  const configFile = path.join(dir, 'postern.json');
  const dataDir = path.join(dir, 'data');
  fs.writeFileSync(configFile, JSON.stringify({ ...FAMILY, listeners: [{ port: 0, host: '127.0.0.1', mode: 'mx' }] }));

  const first = await startServe(configFile, dataDir);
  const port = first.ports.mx;
  assert.ok(port > 0, first.output());
  const stop = { now: false };
  const senders: Sender[] = Array.from({ length: 8 }, () => ({ acked: [], sent: 0 }));
  const running = senders.map((s, i) => sender(port, i, stop, s));

  // Kill once a good number of messages are through, while more are in flight.
  const started = Date.now();
  while (senders.reduce((n, s) => n + s.acked.length, 0) < 150 && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 20));
  first.child.kill('SIGKILL');
  const killed = await first.exited;
  assert.equal(killed.signal, 'SIGKILL');
  stop.now = true;
  await Promise.all(running);

  const acked = senders.flatMap((s) => s.acked);
  const inFlight = senders.reduce((n, s) => n + s.sent, 0) - acked.length;
  assert.ok(acked.length >= 150, `only ${acked.length} acknowledged`);

  // Restart on the same data dir: recovery runs before the listeners open.
  const second = await startServe(configFile, dataDir);
  try {
    assert.deepEqual(fs.readdirSync(path.join(dataDir, 'queue', 'incoming')), [], 'unfinished receptions were cleaned up');
    const counts = storedTokens(dataDir);
    const missing = acked.filter((tok) => counts.get(tok) !== 1);
    assert.deepEqual(missing, [], `acknowledged but not stored exactly once (${acked.length} acked, ${inFlight} in flight at the kill)`);
    const duplicated = [...counts].filter(([, n]) => n > 1);
    assert.deepEqual(duplicated, []);
    // The event log writes in batches: wait for the start event to reach the file.
    const log = () => fs.readFileSync(path.join(dataDir, 'log', 'events.jsonl'), 'utf8');
    await waitFor(() => /queued message\(s\) recovered/.test(log()), 10_000, 'the start event in events.jsonl').catch(() => {});
    const recovered = /(\d+) queued message\(s\) recovered/.exec(log());
    assert.ok(recovered, 'the outbound queue was recovered at start');

    // …and it serves again.
    const c = await RawSmtp.connect({ port: second.ports.mx, localAddress: '127.0.0.1' });
    await c.cmd('EHLO after.lan');
    await c.cmd('MAIL FROM:<jane.doe@doe-family.com>');
    await c.cmd('RCPT TO:<john.doe@doe-family.com>');
    await c.cmd('DATA');
    c.write('Subject: tok-99-0\r\n\r\nafter the crash\r\n.\r\n');
    assert.equal((await c.read()).code, 250);
    await c.quit();
  } finally {
    second.child.kill('SIGTERM');
    const end = await second.exited;
    assert.equal(end.code, 0, 'SIGTERM stops gracefully');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
