// The built renderer (dist/renderer) as static files. They carry no data (every
// datum comes from the token-protected API), so they are served without a token.
import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Shown at / when dist/renderer is missing: the API still works, the page says how to build it. */
const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Postern</title></head>
<body><h1>Postern</h1>
<p>The gateway and its API are running, but the dashboard page is not built.</p>
<p>Run <code>npm run build:renderer</code> in the Postern folder, then reload this page.</p>
</body></html>
`;

export class StaticFiles {
  readonly root: string | null;

  constructor(dir: string | null) {
    const root = dir ? path.resolve(dir) : null;
    this.root = root && fs.existsSync(path.join(root, 'index.html')) ? root : null;
  }

  get built(): boolean {
    return this.root !== null;
  }

  /** Answers a GET/HEAD for `pathname`; false when there is no such file. */
  async serve(pathname: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
    const head = req.method === 'HEAD';
    if (!this.root) {
      if (pathname !== '/' && pathname !== '/index.html') return false;
      send(res, 200, 'text/html; charset=utf-8', 'no-cache', Buffer.from(NOT_BUILT), head);
      return true;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(pathname === '/' ? '/index.html' : pathname);
    } catch {
      return false;
    }
    if (rel.includes('\0')) return false;
    const file = path.resolve(this.root, `.${path.posix.normalize(rel)}`);
    if (file !== this.root && !file.startsWith(this.root + path.sep)) return false;
    const type = TYPES[path.extname(file).toLowerCase()];
    if (!type) return false;
    let body: Buffer;
    try {
      const st = await fs.promises.stat(file);
      if (!st.isFile()) return false;
      body = await fs.promises.readFile(file);
    } catch {
      return false;
    }
    // Vite puts content hashes in the names under assets/: cache those for good.
    const cache = rel.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    send(res, 200, type, cache, body, head);
    return true;
  }
}

function send(res: http.ServerResponse, status: number, type: string, cache: string, body: Buffer, head: boolean): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': cache });
  res.end(head ? undefined : body);
}
