// `npm run bench`: Postern against Postfix on this machine, loaded by Postfix's own
// smtp-source (`-s 20 -m 3000 -l 10240`), one message per connection and with
// connection reuse (`-d`), local delivery to a Maildir on the same disk.
//
// Throughput: smtp-source's wall time, straight to the server. Latency: the same load
// through a small tap on loopback that timestamps each end-of-data and the reply to
// it (the tap's overhead is the same for both servers). Runs are interleaved and
// repeated, in an order that rotates every repetition; medians are quoted, with the
// ratio of each pair of medians and the median of the per-repetition ratios.
//
// BENCH_BASE=<another checkout of Postern, with node_modules>[,<another>…]: those versions
// run too, as "Postern (base <commit>)", interleaved with this one — before/after in one
// sitting.
// BENCH_NO_INDEX=1: this version runs a second time without the history index
// (POSTERN_HISTORY=off, docs/design.md §4.4), as "Postern (no index)", interleaved — the
// index's cost on SMTP throughput measured in one sitting.
// BENCH_JSON=<file>: each run's msg/s, per server and repetition, written there too (to
// pool the per-repetition ratios of several runs: `node test/bench/pool.ts <file>…`).
//
// Postfix needs root (a private instance in a temp dir: master, smtpd, virtual(8)).
// Every 250 is durable in both: Postfix fsyncs its queue file before 250; Postern
// fsyncs the Maildir file and its directory before 250.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startServe, type ServeProcess } from '../support/serve-process.ts';

const REPS = Number(process.env.BENCH_REPS ?? 3);
const MSGS = Number(process.env.BENCH_MSGS ?? 3000);
const SESSIONS = 20;
const LEN = 10240;
const SOURCE = '/usr/sbin/smtp-source';
/** Between two servers' runs (see the loop in main). */
const SETTLE_MS = 2500;
/** The machine counts as quiet again below this share of its CPUs busy over half a second. */
const QUIET_SHARE = 0.1;

interface Run {
  seconds: number;
  latencies: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
}

/** Busy and total time of all CPUs so far (Linux: /proc/stat's first line, in ticks). */
function cpuTicks(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total }; // idle, iowait
}

/**
 * Seconds until the machine is quiet again after a run (at most 30): what a server
 * still does once its burst is answered (Postern's history index writes a burst after
 * it, docs/design.md §4.4) is waited out here, not left to fall into the next run.
 */
async function untilQuiet(): Promise<number> {
  const t0 = performance.now();
  let before = cpuTicks();
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = cpuTicks();
    const share = (now.busy - before.busy) / Math.max(1, now.total - before.total);
    before = now;
    if (share < QUIET_SHARE || performance.now() - t0 > 30_000) return (performance.now() - t0) / 1000;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** A TCP tap that records, per message, end-of-data → reply latency in ms. */
function startTap(target: number): Promise<{ port: number; latencies: number[]; close(): void }> {
  const latencies: number[] = [];
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const up = net.connect(target, '127.0.0.1');
    up.setNoDelay(true);
    const pending: bigint[] = [];
    let tail = '';
    let replyBuf = '';
    client.on('data', (d) => {
      up.write(d);
      const s = tail + d.toString('latin1');
      let i = s.indexOf('\r\n.\r\n');
      while (i >= 0) {
        pending.push(process.hrtime.bigint());
        i = s.indexOf('\r\n.\r\n', i + 5);
      }
      tail = s.slice(-4);
    });
    up.on('data', (d) => {
      client.write(d);
      if (!pending.length) return;
      replyBuf += d.toString('latin1');
      for (let nl = replyBuf.indexOf('\r\n'); nl >= 0; nl = replyBuf.indexOf('\r\n')) {
        const line = replyBuf.slice(0, nl);
        replyBuf = replyBuf.slice(nl + 2);
        if (/^\d{3} /.test(line) && pending.length) latencies.push(Number(process.hrtime.bigint() - pending.shift()!) / 1e6);
      }
    });
    const end = () => {
      client.destroy();
      up.destroy();
    };
    client.on('error', end);
    up.on('error', end);
    client.on('close', end);
    up.on('close', end);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as net.AddressInfo).port, latencies, close: () => server.close() })),
  );
}

/** Runs smtp-source (asynchronously: the tap lives in this process) and returns its wall time in seconds. */
function smtpSource(port: number, reuse: boolean): Promise<number> {
  const args = [
    ...(reuse ? ['-d'] : []),
    '-s',
    String(SESSIONS),
    '-m',
    String(MSGS),
    '-l',
    String(LEN),
    '-f',
    'bench@example.org',
    '-t',
    'john.doe@doe-family.com',
    `127.0.0.1:${port}`,
  ];
  const t0 = process.hrtime.bigint();
  const child = spawn(SOURCE, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`smtp-source failed (${code}): ${err}`));
      else resolve(Number(process.hrtime.bigint() - t0) / 1e9);
    });
  });
}

async function measure(port: number, reuse: boolean): Promise<{ direct: number; tapped: Run }> {
  const direct = await smtpSource(port, reuse);
  const tap = await startTap(port);
  const seconds = await smtpSource(tap.port, reuse);
  tap.close();
  return { direct, tapped: { seconds, latencies: tap.latencies } };
}

// ---- the two servers ---------------------------------------------------------

async function startPostern(
  dir: string,
  trustLoopback: boolean,
  checkout?: string,
  noIndex = false,
): Promise<{ port: number; maildir: string; proc: ServeProcess }> {
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'postern.json');
  // Whether the version that runs has this config key (an older BENCH_BASE refuses unknown keys).
  const schema = checkout ? fs.readFileSync(path.join(checkout, 'core', 'config', 'schema.ts'), 'utf8') : '';
  const knows = (key: string) => !checkout || schema.includes(`${key}: {`);
  const dataDir = path.join(dir, 'data');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      hostname: 'bench.postern.test',
      domains: ['doe-family.com'],
      accounts: [{ name: 'john', addresses: ['john.doe@doe-family.com'] }],
      listeners: [{ port: 0, host: '127.0.0.1', mode: 'mx' }],
      internalNetworks: trustLoopback ? [{ cidr: '127.0.0.0/8', label: 'This computer', enabled: true }] : [],
      spf: { enabled: false },
      limits: { maxClients: 500, maxConnectionsPerClient: 500 },
      // The load comes from one address: per-client rate limits (docs/design.md §2.13) off
      // (a BENCH_BASE older than them would refuse the key).
      // DMARC enforcement off too: with SPF off it is the only DNS work left for an
      // untrusted client, and this machine's resolver may not answer (the run then waits).
      ...(knows('rateLimits')
        ? { rateLimits: { connectionsPerMinute: 0, networkConnectionsPerMinute: 0, messagesPerMinute: 0, networkMessagesPerMinute: 0 } }
        : {}),
      ...(knows('dmarc') ? { dmarc: { enforce: false } } : {}),
    }),
  );
  const proc = await startServe(
    configFile,
    dataDir,
    [],
    20_000,
    noIndex ? ['env', 'POSTERN_HISTORY=off'] : [],
    checkout ? path.join(checkout, 'bin', 'postern.js') : undefined,
  );
  return { port: proc.ports.mx, maildir: path.join(dataDir, 'maildir', 'john', 'new'), proc };
}

async function startPostfix(dir: string): Promise<{ port: number; maildir: string; stop(): void }> {
  const port = await freePort();
  const etc = path.join(dir, 'etc');
  const vmail = path.join(dir, 'vmail');
  const log = path.join(dir, 'log');
  for (const d of [etc, vmail, log, path.join(dir, 'spool'), path.join(dir, 'data')]) fs.mkdirSync(d, { recursive: true });
  execFileSync('chown', ['65534:65534', vmail]);
  execFileSync('chown', ['postfix', log, path.join(dir, 'data')]);
  // Postfix's daemons run as "postfix" and must traverse the (mkdtemp, 0700) parents.
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(path.dirname(dir), 0o755);
  const master = fs.readFileSync('/etc/postfix/master.cf', 'utf8').replace(/^smtp\s+inet\s.*smtpd$/m, `127.0.0.1:${port} inet n - n - - smtpd`);
  fs.writeFileSync(path.join(etc, 'master.cf'), master);
  fs.copyFileSync('/etc/postfix/dynamicmaps.cf', path.join(etc, 'dynamicmaps.cf'));
  fs.writeFileSync(
    path.join(etc, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${dir}/spool`,
      `data_directory = ${dir}/data`,
      'mail_owner = postfix',
      'setgid_group = postdrop',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'myhostname = bench.postfix.test',
      'mydestination =',
      'mynetworks = 127.0.0.0/8',
      'virtual_mailbox_domains = doe-family.com',
      `virtual_mailbox_base = ${vmail}`,
      'virtual_mailbox_maps = static:john/',
      'virtual_uid_maps = static:65534',
      'virtual_gid_maps = static:65534',
      `maillog_file = ${log}/maillog`,
      `maillog_file_prefixes = ${log}`,
      'default_process_limit = 100',
      'smtpd_client_connection_count_limit = 0',
      'biff = no',
      '',
    ].join('\n'),
  );
  execFileSync('postfix', ['-c', etc, 'start'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, maildir: path.join(vmail, 'john', 'new'), stop: () => spawnSync('postfix', ['-c', etc, 'stop'], { stdio: 'ignore' }) };
}

function count(dir: string): number {
  return fs.existsSync(dir) ? fs.readdirSync(dir).length : 0;
}

async function waitDelivered(dir: string, n: number, timeoutMs = 120_000): Promise<number> {
  const t0 = Date.now();
  while (count(dir) < n && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 50));
  return (Date.now() - t0) / 1000;
}

// ---- main ---------------------------------------------------------------------

async function main(): Promise<void> {
  if (!fs.existsSync(SOURCE)) throw new Error('smtp-source not found: apt-get install postfix (see .ci/run)');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-bench-'));
  const cpu = (os.cpus()[0]?.model ?? 'unknown CPU').trim();
  console.log(`# Postern vs Postfix — ${new Date().toISOString()}`);
  console.log(`machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`);
  console.log(`load: ${SOURCE} -s ${SESSIONS} -m ${MSGS} -l ${LEN} [-d], ${REPS} interleaved repetitions, data on ${root}`);

  const postern = await startPostern(path.join(root, 'postern'), true);
  const bases: { label: string; port: number; maildir: string; proc: ServeProcess }[] = [];
  for (const [i, dir] of (process.env.BENCH_BASE ?? '').split(',').filter(Boolean).entries()) {
    const baseDir = path.resolve(dir);
    const commit = spawnSync('git', ['-C', baseDir, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).stdout.trim();
    console.log(`base: ${baseDir} (${commit.slice(0, 80)})`);
    const started = await startPostern(path.join(root, `postern-base-${i}`), true, baseDir);
    // A checkout with local changes, or a second one of the same commit, is told apart by its folder.
    const id = commit.split(' ')[0];
    const dirty = spawnSync('git', ['-C', baseDir, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).stdout.trim() !== '';
    const label = dirty || bases.some((b) => b.label === `Postern (base ${id})`) ? `Postern (base ${id}, ${path.basename(baseDir)})` : `Postern (base ${id})`;
    bases.push({ ...started, label });
  }
  const noIndex = process.env.BENCH_NO_INDEX ? await startPostern(path.join(root, 'postern-no-index'), true, undefined, true) : null;
  const isRoot = process.getuid?.() === 0;
  const postfix = isRoot ? await startPostfix(path.join(root, 'postfix')) : null;
  if (!postfix) console.log('(not root: Postfix comparison skipped — run as root to include it)');

  const results: Record<string, { direct: number[]; latencies: number[]; tapped: number[] }> = {};
  const add = (key: string, r: { direct: number; tapped: Run }) => {
    results[key] ??= { direct: [], latencies: [], tapped: [] };
    const slot = results[key];
    slot.direct.push(MSGS / r.direct);
    slot.tapped.push(MSGS / r.tapped.seconds);
    slot.latencies.push(...r.tapped.latencies);
  };
  // Each server in turn; the order rotates every repetition, so no server always runs
  // right after the same other one (and inherits its disk writeback or idle upkeep).
  interface Target {
    label: string;
    port: number;
    /** After a run: checks what reached the Maildir (throws if a 250 was not kept). */
    check(): Promise<void>;
  }
  const targets: Target[] = [];
  const expectAll = (label: string, maildir: string): Target['check'] => {
    let delivered = 0;
    return async () => {
      delivered += 2 * MSGS;
      if (count(maildir) !== delivered) throw new Error(`${label}: Maildir has ${count(maildir)} files, expected ${delivered} at 250 time`);
    };
  };
  targets.push({ label: 'Postern', port: postern.port, check: expectAll('Postern', postern.maildir) });
  for (const base of bases) targets.push({ label: base.label, port: base.port, check: expectAll(base.label, base.maildir) });
  if (noIndex) targets.push({ label: 'Postern (no index)', port: noIndex.port, check: expectAll('no-index Postern', noIndex.maildir) });
  const postfixLag: number[] = [];
  const quietAfter: Record<string, number[]> = {};
  if (postfix) {
    let delivered = 0;
    targets.push({
      label: 'Postfix',
      port: postfix.port,
      check: async () => {
        delivered += 2 * MSGS;
        postfixLag.push(await waitDelivered(postfix.maildir, delivered));
      },
    });
  }
  try {
    for (let rep = 0; rep < REPS; rep++) {
      const order = [...targets.slice(rep % targets.length), ...targets.slice(0, rep % targets.length)];
      for (const reuse of [false, true]) {
        const mode = reuse ? 'reuse (-d)' : 'fresh';
        for (const t of order) {
          // A pause first, on a quiet machine (below): every server starts on the same footing.
          await new Promise((r) => setTimeout(r, SETTLE_MS));
          add(`${t.label} ${mode}`, await measure(t.port, reuse));
          await t.check();
          // The work a server does once its burst is answered (the index's writes and
          // upkeep, docs/design.md §4.4) finishes here, not in the next server's run.
          const quiet = await untilQuiet();
          quietAfter[t.label] = [...(quietAfter[t.label] ?? []), quiet];
        }
        process.stdout.write('.');
      }
    }
    process.stdout.write('\n');
  } finally {
    postern.proc.child.kill('SIGTERM');
    for (const base of bases) base.proc.child.kill('SIGTERM');
    noIndex?.proc.child.kill('SIGTERM');
    postfix?.stop();
  }

  // Untrusted clients keep smtp-server's 100 ms early-talker pause: show its cost once.
  const untrusted = await startPostern(path.join(root, 'postern-untrusted'), false);
  const slow = await smtpSource(untrusted.port, false);
  untrusted.proc.child.kill('SIGTERM');

  console.log('\n| server, connections | msg/s (median) | msg/s via tap | latency p50 | latency p99 |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [k, r] of Object.entries(results)) {
    console.log(
      `| ${k} | ${median(r.direct).toFixed(0)} | ${median(r.tapped).toFixed(0)} | ${pct(r.latencies, 50).toFixed(1)} ms | ${pct(r.latencies, 99).toFixed(1)} ms |`,
    );
  }
  // Ratio of medians, and the same ratio per repetition: runs of one repetition are
  // next to each other in time, so their ratio is free of the machine's slow drift.
  const ratio = (title: string, other: string, self = 'Postern') => {
    for (const mode of ['fresh', 'reuse (-d)']) {
      const a = results[`${self} ${mode}`];
      const b = results[`${other} ${mode}`];
      const paired = a.direct.map((x, i) => x / b.direct[i]).sort((x, y) => x - y);
      console.log(
        `ratio ${title}, ${mode}: throughput ${(median(a.direct) / median(b.direct)).toFixed(2)}× (per repetition: median ${median(paired).toFixed(2)}×, ${paired[0].toFixed(2)}–${paired[paired.length - 1].toFixed(2)}×, ${paired.filter((x) => x >= 1).length} of ${paired.length} ≥ 1), p50 latency ${(pct(a.latencies, 50) / pct(b.latencies, 50)).toFixed(2)}×, p99 latency ${(pct(a.latencies, 99) / pct(b.latencies, 99)).toFixed(2)}×`,
      );
    }
  };
  for (const base of bases) {
    ratio(`this/${base.label.slice(9, -1)}`, base.label);
    // The same code without the index against the base: what the rest of the change costs.
    if (noIndex) ratio(`this without the index/${base.label.slice(9, -1)}`, base.label, 'Postern (no index)');
  }
  if (noIndex) ratio('with/without the history index', 'Postern (no index)');
  if (postfix) {
    ratio('Postern/Postfix', 'Postfix');
    console.log(
      `Postfix: the last message reached the Maildir a median ${median(postfixLag).toFixed(2)} s after smtp-source finished (Postern delivers before its 250).`,
    );
  }
  console.log(
    `the machine quiet again (below ${QUIET_SHARE * 100} % CPU) after a run, median: ${Object.entries(quietAfter)
      .map(([label, xs]) => `${label} ${median(xs).toFixed(1)} s`)
      .join(', ')}`,
  );
  console.log(`Postern with loopback NOT trusted (early-talker pause kept): ${(MSGS / slow).toFixed(0)} msg/s, fresh connections.`);
  if (process.env.BENCH_JSON) {
    const direct = Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.direct]));
    fs.writeFileSync(process.env.BENCH_JSON, `${JSON.stringify({ when: new Date().toISOString(), msgs: MSGS, direct }, null, 1)}\n`);
  }
  fs.rmSync(root, { recursive: true, force: true });
}

await main();
