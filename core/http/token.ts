// The dashboard's access token, kept in <data-dir>/dashboard-token (docs/design.md §7.2,
// §8.3) so that the link survives restarts: created once (mode 0600, O_EXCL: the first
// process wins), read by `postern serve` and `postern dashboard`, replaced only on
// request (the dashboard's "Make a new link", API newDashboardToken) — then the old link
// stops working.
import fs from 'node:fs';
import path from 'node:path';
import { newToken } from './server.ts';

export const TOKEN_FILE = 'dashboard-token';
const VALID = /^[A-Za-z0-9_-]{43}$/;

export function tokenFile(dataDir: string): string {
  return path.join(dataDir, TOKEN_FILE);
}

/** The stored token; made (and stored) on first use, or when the file holds no valid token. */
export function dashboardToken(dataDir: string): string {
  const file = tokenFile(dataDir);
  try {
    const t = fs.readFileSync(file, 'utf8').trim();
    if (VALID.test(t)) return t;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const t = newToken();
    try {
      fs.writeFileSync(file, `${t}\n`, { mode: 0o600, flag: 'wx' });
      return t;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') return dashboardToken(dataDir); // another process made it first
      throw e2;
    }
  }
  return renewDashboardToken(dataDir);
}

/** A new token, written atomically (temp file, fsync, rename), mode 0600. */
export function renewDashboardToken(dataDir: string): string {
  const file = tokenFile(dataDir);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const t = newToken();
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, `${t}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return t;
}

/** The address to open: `http://127.0.0.1:8025/?token=…` (a wildcard host is shown as 127.0.0.1). */
export function dashboardLink(host: string, port: number, token: string): string {
  const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}/?token=${token}`;
}
