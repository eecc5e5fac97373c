// "Never loses a message it said 250 to" means on stable storage, not in the page
// cache: a SIGKILL test cannot see the difference (the kernel keeps what was
// written), a power cut can. So this test watches the real `postern serve` under
// strace and checks, for every message, the order of the system calls:
//
//   each link that names a copy of it (maildir/<account>/new/… → a local copy
//   queue/incoming/<id>.<n>, queue/outbound/<id>.eml → the outbound copy
//   queue/incoming/<id>):
//     the copy's last write  <  its fdatasync/fsync ends  <  the link starts
//     the link ends  <  an fsync of that directory starts … and ends  <  the 250 is written
//   queue/outbound/<id>.json's fdatasync ends  <  an fsync of queue/outbound starts
//
// (core/spool/store.ts and core/spool/durable.ts say why each step is there.)
// strace -f follows libuv's thread pool, where the fsyncs run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { FAMILY, tempDir } from '../support/gateway.ts';
import { ROOT, startServe, type ServeProcess } from '../support/serve-process.ts';
import { freePort } from '../support/smtp-sink.ts';
import { requireTools } from '../support/tools.ts';
import { waitFor } from '../support/wait.ts';

interface Call {
  pid: string;
  name: string;
  /** The arguments as strace printed them (paths of fds shown with -y). */
  args: string;
  ret: string;
  /** Line numbers of the call's entry and of its return, in strace's order of observation. */
  start: number;
  end: number;
}

/** Parses `strace -f -y` output, joining `<unfinished ...>` with its `<... resumed>`. */
function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  const open = new Map<string, Call>();
  text.split('\n').forEach((line, i) => {
    const m = /^(\d+)\s+\S+\s+(.*)$/.exec(line);
    if (!m) return;
    const [, pid, rest] = m;
    const resumed = /^<\.\.\. (\w+) resumed>(.*)\)\s+=\s+(.*)$/.exec(rest);
    if (resumed) {
      const c = open.get(pid);
      if (c && c.name === resumed[1]) {
        c.args += resumed[2];
        c.ret = resumed[3];
        c.end = i;
        open.delete(pid);
      }
      return;
    }
    const unfinished = /^(\w+)\((.*) <unfinished \.\.\.>$/.exec(rest);
    if (unfinished) {
      const c: Call = { pid, name: unfinished[1], args: unfinished[2], ret: '', start: i, end: Infinity };
      open.set(pid, c);
      calls.push(c);
      return;
    }
    const done = /^(\w+)\((.*)\)\s+=\s+(.*)$/.exec(rest);
    if (done) calls.push({ pid, name: done[1], args: done[2], ret: done[3], start: i, end: i });
  });
  return calls;
}

/** The path strace -y printed for the first (fd) argument: `25</a/b>` → `/a/b`. */
function fdPath(c: Call): string | null {
  const m = /^\d+<([^>]*)>/.exec(c.args);
  return m ? m[1] : null;
}

const ok = (c: Call) => /^0\b/.test(c.ret);
const SYNCS = new Set(['fsync', 'fdatasync']);
const WRITES = new Set(['write', 'pwrite64', 'writev', 'pwritev', 'pwritev2']);

/** The new name of a link()/linkat() call. */
function linkTarget(c: Call): string | null {
  const names = [...c.args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
  return names.length >= 2 ? names[names.length - 1] : null;
}

/** The existing name of a link()/linkat() call. */
function linkSource(c: Call): string | null {
  const names = [...c.args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
  return names.length >= 2 ? names[0] : null;
}

/**
 * Everything that must be on stable storage before `id`'s 250, checked against the
 * trace. Returns the problems (empty: in order).
 */
function checkMessage(calls: Call[], id: string, dataDir: string, expect: { maildirs: string[]; outbound: boolean }): string[] {
  const problems: string[] = [];
  const reply = calls.find((c) => WRITES.has(c.name) && c.args.includes(`queued as ${id}\\r\\n`));
  if (!reply) return [`${id}: no write of its 250 in the trace`];
  const before = reply.start;

  // Every name of it: linked, then its directory synced, before the 250.
  const links = calls.filter((c) => (c.name === 'link' || c.name === 'linkat') && ok(c) && linkTarget(c)?.includes(id));
  const expected = [
    ...expect.maildirs.map((a) => path.join(dataDir, 'maildir', a, 'new')),
    ...(expect.outbound ? [path.join(dataDir, 'queue', 'outbound')] : []),
  ];
  const linkedDirs = links.map((l) => path.dirname(linkTarget(l)!)).sort();
  if (JSON.stringify(linkedDirs) !== JSON.stringify([...expected].sort()))
    problems.push(`${id}: linked into ${JSON.stringify(linkedDirs)}, expected ${JSON.stringify(expected)}`);
  const incoming = path.join(dataDir, 'queue', 'incoming');
  for (const l of links) {
    const dir = path.dirname(linkTarget(l)!);
    // The file it names (a local copy queue/incoming/<id>.<n>, or the outbound copy
    // queue/incoming/<id>): written, then synced, before the link (qmail-style: complete
    // before it has a name) and so before the 250.
    const source = linkSource(l);
    if (!source || path.dirname(source) !== incoming || !path.basename(source).startsWith(id)) {
      problems.push(`${id}: the link into ${dir} names ${source}, not a file of queue/incoming`);
      continue;
    }
    const lastWrite = calls.filter((c) => WRITES.has(c.name) && fdPath(c) === source && c.start < l.start).at(-1);
    if (!lastWrite) problems.push(`${id}: the trace shows no write of ${source}`);
    const dataSync = calls.find((c) => SYNCS.has(c.name) && fdPath(c) === source && ok(c) && (!lastWrite || c.start > lastWrite.end));
    if (!dataSync) problems.push(`${id}: ${source} was never fdatasync'ed/fsync'ed after its last write`);
    else if (dataSync.end >= l.start) problems.push(`${id}: ${source} was linked into ${dir} before its fsync had finished`);
    if (l.end >= before) {
      problems.push(`${id}: the link into ${dir} had not finished when the 250 was written`);
      continue;
    }
    const dirSync = calls.find((c) => c.name === 'fsync' && fdPath(c) === dir && ok(c) && c.start > l.end && c.end < before);
    if (!dirSync) problems.push(`${id}: no fsync of ${dir} between its link and the 250`);
  }
  // A local copy (Return-Path, Delivered-To) is never the outbound copy.
  if (expect.outbound && expect.maildirs.length) {
    const sourceInto = (d: string) =>
      new Set(links.filter((l) => (path.dirname(linkTarget(l)!) === path.join(dataDir, 'queue', 'outbound')) === (d === 'outbound')).map(linkSource));
    const shared = [...sourceInto('outbound')].filter((f) => sourceInto('maildir').has(f));
    if (shared.length) problems.push(`${id}: ${shared.join(', ')} linked into a Maildir and into the outbound queue`);
  }

  // The outbound envelope: synced, and named in a directory synced after it.
  if (expect.outbound) {
    const json = path.join(dataDir, 'queue', 'outbound', `${id}.json`);
    const envSync = calls.find((c) => SYNCS.has(c.name) && fdPath(c) === json && ok(c));
    if (!envSync || envSync.end >= before) problems.push(`${id}: ${json} was not fsynced before the 250`);
    else {
      const outDir = path.dirname(json);
      const dirSync = calls.find((c) => c.name === 'fsync' && fdPath(c) === outDir && ok(c) && c.start > envSync.end && c.end < before);
      if (!dirSync) problems.push(`${id}: no fsync of ${outDir} between ${id}.json and the 250`);
    }
  }
  return problems;
}

const ARTIFACTS = path.join(ROOT, 'test-artifacts');
let dir: string;
let serve: ServeProcess;
let dataDir: string;
let traceFile: string;

before(async () => {
  requireTools('strace');
  dir = tempDir('postern-fsync-');
  dataDir = path.join(dir, 'data');
  traceFile = path.join(dir, 'trace');
  const configFile = path.join(dir, 'postern.json');
  // Remote mail waits in the queue: the smarthost is a closed loopback port.
  const closed = await freePort();
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      ...FAMILY,
      outbound: { mode: 'smarthost', smarthost: { host: '127.0.0.1', port: closed, requireTLS: false } },
      dashboard: { host: '127.0.0.1', port: 0 },
    }),
  );
  const strace = ['/usr/bin/strace', '-f', '-qq', '-tt', '-y', '-s', '256', '--seccomp-bpf', '-o', traceFile];
  strace.push('-e', 'trace=write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,link,linkat,rename,renameat,renameat2', '--');
  serve = await startServe(configFile, dataDir, [], 30_000, strace);
  assert.ok(serve.ports.mx > 0, serve.output());
});

after(async () => {
  if (serve && serve.child.exitCode === null) {
    // strace's child is postern; stop postern itself, and strace ends with it.
    const children = fs.readFileSync(`/proc/${serve.child.pid}/task/${serve.child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    for (const pid of children) process.kill(pid, 'SIGTERM');
    await serve.exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('every 250 is written only after the message file and each directory naming it are fsynced', async () => {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: serve.ports.mx,
    secure: false,
    ignoreTLS: true,
    localAddress: '127.0.0.1',
    pool: true,
    maxConnections: 4,
  } as never);
  // Local (one and two accounts), remote, and both: several at once, so directory
  // fsyncs are shared between messages (group commit).
  const kinds = [
    { to: ['john.doe@doe-family.com'], maildirs: ['john'], outbound: false },
    { to: ['john.doe@doe-family.com', 'jane.doe@doe-family.com'], maildirs: ['john', 'jane'], outbound: false },
    { to: ['aunt@example.net'], maildirs: [], outbound: true },
    { to: ['jane.doe@doe-family.com', 'uncle@example.org'], maildirs: ['jane'], outbound: true },
  ];
  const sent = await Promise.all(
    Array.from({ length: 16 }, async (_, i) => {
      const k = kinds[i % kinds.length];
      const info = (await transport.sendMail({ from: 'john.doe@doe-family.com', to: k.to, subject: `message ${i}`, text: `body ${i}\n`.repeat(50) })) as {
        response: string;
      };
      const m = /^250 .*queued as (\w+)$/.exec(info.response);
      assert.ok(m, info.response);
      return { id: m[1], ...k };
    }),
  );
  transport.close();

  // Every 250 must be in the trace file, as a whole parsed call, before judging: strace
  // writes its output through a buffer, so the last line can still be half written.
  const last = sent.map((s) => s.id);
  await waitFor(
    () => {
      const calls = parseTrace(fs.readFileSync(traceFile, 'utf8'));
      return last.every((id) => calls.some((c) => WRITES.has(c.name) && c.ret !== '' && c.args.includes(`queued as ${id}\\r\\n`)));
    },
    10_000,
    'every 250 in the strace output',
  );
  const calls = parseTrace(fs.readFileSync(traceFile, 'utf8'));
  const problems = sent.flatMap((s) => checkMessage(calls, s.id, dataDir, s));
  if (problems.length) {
    // Keep the evidence: the temp dir is removed after the test.
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.copyFileSync(traceFile, path.join(ARTIFACTS, 'stable-storage.strace'));
  }
  assert.deepEqual(problems, [], `the whole trace: ${path.join(ARTIFACTS, 'stable-storage.strace')}`);
  assert.equal(new Set(last).size, 16);
});
