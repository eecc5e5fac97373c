// Debian's rspamd on loopback for the spam-scoring tests (docs/design.md §2.12): a
// private configuration in a temp dir that includes the package's own rules
// (/etc/rspamd/common.conf and the normal worker's defaults), one normal worker on a
// free port, logs to the console, no Redis (the modules that need it switch themselves
// off), fuzzy checks off (they would resolve rspamd.com's servers with the system's
// resolver), and rspamd's own DNS pointed at a loopback port: nothing leaves the machine.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort } from './smtp-sink.ts';
import { tempDir } from './gateway.ts';
import { waitFor } from './wait.ts';

export interface Rspamd {
  url: string;
  port: number;
  /** Stops rspamd (by its pid) and waits for it to exit. */
  stop(): Promise<void>;
  log(): string;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/ping', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

/** `dnsServer`: `127.0.0.1:PORT` (the test DNS server), or a loopback port where nothing answers. */
export async function startRspamd(o: { dnsServer?: string } = {}): Promise<Rspamd> {
  const dir = tempDir('postern-rspamd-');
  const local = path.join(dir, 'local');
  fs.mkdirSync(path.join(local, 'local.d'), { recursive: true });
  fs.writeFileSync(path.join(local, 'local.d', 'fuzzy_check.conf'), 'enabled = false;\n');
  // No Redis here, so no rspamd greylisting: its band (4 and up) is "add header", as an
  // rspamd without Redis would best be set up. With its DNS answering, a message with no
  // Date, Message-ID or To now scores in that band (before, failed lookups added more).
  fs.writeFileSync(path.join(local, 'local.d', 'actions.conf'), 'greylist = null;\nadd_header = 4;\n');
  // rspamd's own lookups (RBLs, SPF, DKIM, HFILTER's A/MX, its maps' hosts) go to the test
  // DNS server, which answers NXDOMAIN at once for what it does not know. Merged into
  // options.inc's own dns {} the way Debian's rspamd.conf does (local.d, priority 1,
  // duplicate=merge): a second dns {} written beside the include was not read, rspamd
  // asked the system's resolver and a scan waited out its 1 s time-outs.
  fs.writeFileSync(path.join(local, 'local.d', 'options.inc'), `dns { nameserver = ["${o.dnsServer ?? '127.0.0.1:9'}"]; timeout = 1s; retransmits = 1; }\n`);
  const port = await freePort();
  const conf = path.join(dir, 'rspamd.conf');
  fs.writeFileSync(
    conf,
    `.include "$CONFDIR/common.conf"
options {
  pidfile = "${dir}/rspamd.pid";
  .include "$CONFDIR/options.inc"
  .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}
logging { type = "console"; level = "warning"; }
worker "normal" {
  bind_socket = "127.0.0.1:${port}";
  count = 1;
  .include "$CONFDIR/worker-normal.inc"
}
`,
  );
  let out = '';
  const vars = ['DBDIR', 'RUNDIR', 'LOGDIR'].flatMap((v) => [`--var=${v}=${dir}`]);
  const child: ChildProcess = spawn('/usr/bin/rspamd', ['-f', '-u', 'root', '-g', 'root', '-i', '-c', conf, ...vars, `--var=LOCAL_CONFDIR=${local}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let exited = false;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const stop = async () => {
    if (!exited && child.pid) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {}
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (!exited) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {}
        await gone;
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => exited || (await ping(port)), 60_000, 'rspamd to answer /ping', 200);
    if (exited) throw new Error(`rspamd exited:\n${out}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `http://127.0.0.1:${port}`, port, stop, log: () => out };
}
