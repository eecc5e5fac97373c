// `postern serve` as a child process, for tests that kill it or read its output.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const POSTERN = path.join(ROOT, 'bin', 'postern.js');

export interface ServeProcess {
  child: ChildProcess;
  output: () => string;
  /** Bound port per listener mode, parsed from the startup lines. */
  ports: Record<string, number>;
  dashboardUrl: string | null;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `postern serve` and resolves once it printed its listeners. `wrap` runs it
 * under another program (`['strace', …, '--']`): then `child` is that program.
 * `postern`: another checkout's bin/postern.js (the benchmark's before/after).
 */
export function startServe(
  configFile: string,
  dataDir: string,
  extraArgs: string[] = [],
  timeoutMs = 20_000,
  wrap: string[] = [],
  postern = POSTERN,
): Promise<ServeProcess> {
  const argv = [process.execPath, postern, 'serve', '--config', configFile, '--data-dir', dataDir, ...extraArgs];
  const [cmd, ...args] = [...wrap, ...argv];
  const child = spawn(cmd, args, {
    cwd: path.resolve(path.dirname(postern), '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`postern serve did not start in time:\n${out}`));
    }, timeoutMs);
    // Resolves once serve has said where its dashboard is (the URL, or why not): that line
    // comes after the status and listener lines. A serve that prints none is taken as it is
    // 10 s after its status line.
    let settled = false;
    let grace: NodeJS.Timeout | null = null;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (grace) clearTimeout(grace);
      const ports: Record<string, number> = {};
      for (const m of out.matchAll(/^\s+(mx|submission|submissions)\s+listening on \S+:(\d+)$/gm)) ports[m[1]] = Number(m[2]);
      const dash = /(http:\/\/\S+\?token=\S+)/.exec(out);
      resolve({ child, output: () => out, ports, dashboardUrl: dash ? dash[1] : null, exited });
    };
    const onData = (d: Buffer) => {
      out += d.toString();
      if (!/Postern (running|error)/.test(out)) return;
      if (/^\s+dashboard\s+\S/m.test(out)) return done();
      grace ??= setTimeout(done, 10_000);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!/Postern (running|error)/.test(out)) reject(new Error(`postern serve exited (${code}) before starting:\n${out}`));
      else done();
    });
  });
}
