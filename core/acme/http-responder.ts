// The HTTP-01 responder (docs/design.md §2.5, RFC 8555 §8.3): a plain HTTP server on
// acme.httpPort, open only while a certificate is being issued or renewed, answering
// GET /.well-known/acme-challenge/<token> with the key authorization and 404 to
// everything else. Nothing else is served on port 80.
import http from 'node:http';
import type net from 'node:net';

const PREFIX = '/.well-known/acme-challenge/';

export interface HttpResponder {
  port: number;
  set(token: string, keyAuthorization: string): void;
  remove(token: string): void;
  /** Tokens asked for (and answered) so far: what the CA validated. */
  readonly served: string[];
  close(): Promise<void>;
}

function listenOn(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (e: Error) => reject(e);
    server.once('error', fail);
    server.listen({ port, host }, () => {
      server.off('error', fail);
      resolve();
    });
  });
}

/** Why the port could not be opened, with the fix (ports below 1024 need privileges on Linux). */
export function describeHttpPortError(port: number, e: NodeJS.ErrnoException): string {
  if (e.code === 'EACCES') {
    return `port ${port} needs privileges (HTTP-01 validation): run \`sudo setcap cap_net_bind_service=+ep ${process.execPath}\`, or set acme.challenge to "dns-01"`;
  }
  if (e.code === 'EADDRINUSE')
    return `port ${port} is in use by another program (a web server?): stop it while Postern renews, or set acme.challenge to "dns-01"`;
  return `port ${port} could not be opened: ${e.message}`;
}

export async function startHttpResponder(port: number): Promise<HttpResponder> {
  const tokens = new Map<string, string>();
  const served: string[] = [];
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    const token = url.startsWith(PREFIX) ? url.slice(PREFIX.length) : '';
    const answer = req.method === 'GET' || req.method === 'HEAD' ? tokens.get(token) : undefined;
    if (answer === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    served.push(token);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(req.method === 'HEAD' ? undefined : answer);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  try {
    // Both families where the system has IPv6, else IPv4 only.
    await listenOn(server, port, '::').catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EAFNOSUPPORT' && e.code !== 'EADDRNOTAVAIL') throw e;
      await listenOn(server, port, '0.0.0.0');
    });
  } catch (e) {
    throw new Error(describeHttpPortError(port, e as NodeJS.ErrnoException));
  }
  const bound = (server.address() as net.AddressInfo).port;
  return {
    port: bound,
    served,
    set: (t, k) => tokens.set(t, k),
    remove: (t) => tokens.delete(t),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
