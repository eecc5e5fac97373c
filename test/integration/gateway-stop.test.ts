// A stopped gateway leaves nothing running (docs/design.md §2.8, §2.4): Gateway.stop()
// ends the worker threads, waits for a password-hash upgrade under way, and no timer of
// a session (a failed login answered late) holds the process. A child process starts a
// gateway, gives it all of these, stops it, and must then exit on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../support/serve-process.ts';

test('a process that starts and stops a gateway exits by itself within 2 s of the stop', async () => {
  const child = spawn(process.execPath, [path.join(ROOT, 'test', 'support', 'gateway-stop-child.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.on('exit', (code) => resolve({ code, at: Date.now() })));
  // Started, exercised and stopped well within this; a process that idles is killed here.
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const { code, at } = await exited;
  clearTimeout(killer);
  assert.equal(code, 0, `the child failed or was killed:\n${out}\n${err}`);
  const line = out.trim().split('\n').at(-1) ?? '';
  const report = JSON.parse(line) as { threadsBefore: number; threadsAfter: number; stopMs: number; left: string[]; stoppedAt: number };
  console.log(
    `# worker threads before the stop ${report.threadsBefore}, after ${report.threadsAfter}; stop() took ${report.stopMs} ms; resources left: ${report.left.join(', ') || 'none'}; exit ${at - report.stoppedAt} ms after the stop`,
  );
  assert.ok(report.threadsBefore > 0, 'the Internet message was verified in a worker thread');
  assert.equal(report.threadsAfter, 0, 'stop() ends the worker threads');
  assert.ok(at - report.stoppedAt < 2000, `the process exited ${at - report.stoppedAt} ms after the stop (a delayed 535 was due 4 s later)`);
});
