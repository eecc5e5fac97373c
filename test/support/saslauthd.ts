// A real `saslauthd -a shadow` for the tests (the seed's set-up), on a private socket
// directory, stopped by pid. It reads /etc/shadow, so it needs root, and the Unix test
// account that test/setup.ts creates.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './gateway.ts';
import { requireTools, UNIX_PASSWORD, UNIX_USER } from './tools.ts';

export { UNIX_PASSWORD, UNIX_USER };

export interface Saslauthd {
  socket: string;
  stop(): void;
}

export function requireSeedSetup(): void {
  requireTools('saslauthd');
  if (process.getuid?.() !== 0) throw new Error('the saslauthd tests run saslauthd -a shadow, which reads /etc/shadow: run npm test as root');
  if (spawnSync('id', [UNIX_USER]).status !== 0) {
    throw new Error(
      `Unix test account "${UNIX_USER}" is missing: npm test creates it when run as root (useradd -M -s /usr/sbin/nologin ${UNIX_USER}; chpasswd)`,
    );
  }
}

export async function startSaslauthd(): Promise<Saslauthd> {
  requireSeedSetup();
  const dir = tempDir('postern-sasl-');
  const socket = path.join(dir, 'mux');
  // -d keeps it in the foreground (so it is ours to stop by pid), -n 1: one worker.
  // detached: on SIGTERM saslauthd signals its whole process group, which must not be ours.
  const child: ChildProcess = spawn('/usr/sbin/saslauthd', ['-a', 'shadow', '-m', dir, '-n', '1', '-d'], { stdio: 'ignore', detached: true });
  for (let i = 0; i < 100 && !fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  if (!fs.existsSync(socket)) {
    child.kill('SIGKILL');
    throw new Error('saslauthd did not create its socket');
  }
  return {
    socket,
    stop() {
      child.kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
