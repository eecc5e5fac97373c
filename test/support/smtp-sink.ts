// Postfix's smtp-sink as a smarthost or MX on loopback, capturing each transaction to
// a file (-d). Started on a free port, stopped by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempDir } from './gateway.ts';
import { requireTools } from './tools.ts';

export interface Sink {
  port: number;
  /** Captured transactions: the dump text of each. */
  messages(): string[];
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** `extra`: smtp-sink options such as ['-r', 'RCPT'] (4xx) or ['-f', 'RCPT'] (5xx). */
export async function startSink(extra: string[] = [], port?: number, dir = tempDir('postern-sink-')): Promise<Sink & { dir: string }> {
  requireTools('smtp-sink');
  const p = port ?? (await freePort());
  fs.mkdirSync(path.join(dir, 'dump'), { recursive: true });
  fs.chmodSync(dir, 0o777);
  fs.chmodSync(path.join(dir, 'dump'), 0o777);
  // As root it must drop privileges (-u); -R chroots, so the dump template is relative.
  const args = [
    ...(process.getuid?.() === 0 ? ['-u', 'nobody', '-R', dir] : []),
    '-d',
    process.getuid?.() === 0 ? 'dump/%M.' : path.join(dir, 'dump', '%M.'),
    ...extra,
    `127.0.0.1:${p}`,
    '64',
  ];
  const child: ChildProcess = spawn('/usr/sbin/smtp-sink', args, { stdio: 'ignore', detached: true });
  for (let i = 0; i < 100 && !(await listening(p)); i++) await new Promise((r) => setTimeout(r, 30));
  return {
    port: p,
    dir,
    messages() {
      // smtp-sink opens a dump at MAIL and writes it out when it closes the transaction,
      // which can come after its 250: a dump counts once it has content and has not
      // changed for a moment (an empty or growing one is a transaction still open).
      const d = path.join(dir, 'dump');
      return fs
        .readdirSync(d)
        .sort()
        .map((f) => path.join(d, f))
        .filter((f) => {
          const st = fs.statSync(f);
          return st.size > 0 && Date.now() - st.mtimeMs > 200;
        })
        .map((f) => fs.readFileSync(f, 'utf8'));
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    },
  };
}
