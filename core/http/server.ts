// The headless dashboard (docs/design.md §7.2, §7.1): the built renderer plus GatewayApi over
// HTTP and a live Server-Sent Events stream, on loopback.
//
// Routes
//   POST /api/<method>   body: JSON, the method's single argument (may be empty)
//                        → ApiResult JSON: {ok:true,value} | {ok:false,error:{code,message}}
//   GET  /api/stream     text/event-stream of StreamMessage (stream.ts)
//   GET  /, /assets/*    the renderer; no token needed, no data in it
//
// Access token: random (32 bytes, base64url) unless given, printed at start as
// `http://127.0.0.1:8025/?token=…`. The page reads it from its URL and sends it as
// `Authorization: Bearer <token>` on every API call; the stream, opened by
// EventSource (which cannot set headers), takes it as `?token=` (a header works
// too). A wrong or missing token gets 401 and no data, not even the status.
//
// Further guards: the Host header must name the bound address and port (or
// `localhost`) — a DNS-rebinding page on another name gets 403; no CORS headers,
// so other origins cannot read answers, and the Authorization header makes every API
// call a pre-flighted request that this server refuses; a strict CSP; bodies over
// 64 KiB are refused (413).
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toResult, type ApiErrorCode, type ApiMethod, type ApiResult, type GatewayApi } from '../api.ts';
import { isApiMethod, validateInput } from '../api-validate.ts';
import { StaticFiles } from './static.ts';
import { serveMessageFrame } from './message-frame.ts';
import { StreamHub, type DashboardSource, type StreamOptions, type StreamStats } from './stream.ts';

export type { DashboardSource, StreamMessage, StreamOptions, StreamStats } from './stream.ts';

export const DEFAULT_STATIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'renderer');
export const MAX_BODY_BYTES = 64 * 1024;

export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'";

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // The stream URL carries the token: never send it on as a Referer.
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export interface DashboardOptions {
  api: GatewayApi;
  gateway: DashboardSource;
  /** Default 127.0.0.1 (config `dashboard.host`). */
  host?: string;
  /** Default 8025 (config `dashboard.port`); 0 picks a free port. */
  port?: number;
  /** Default: 32 random bytes, base64url. */
  token?: string;
  /** The built renderer; default dist/renderer. null: API only. */
  staticDir?: string | null;
  stream?: Partial<StreamOptions>;
}

export interface Dashboard {
  /** `http://127.0.0.1:PORT/?token=…` — the address to open. */
  url: string;
  host: string;
  port: number;
  token: string;
  /** False when dist/renderer is missing (the API still works). */
  uiBuilt: boolean;
  /** Replaces the access token: the old link stops working and its open streams are closed. */
  setToken(token: string): void;
  stream(): StreamStats;
  close(): Promise<void>;
}

const STATUS_OF: Record<ApiErrorCode, number> = {
  'invalid-input': 400,
  'needs-confirmation': 409,
  unauthorized: 401,
  'not-found': 404,
  conflict: 409,
  internal: 500,
  unavailable: 503,
};

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
}

/** The `host:port` spellings a browser may send for this server (DNS-rebinding guard). */
export function hostAllowed(header: string | undefined, boundHost: string, port: number): boolean {
  if (!header) return false;
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+):(\d+)$/i.exec(header.trim().toLowerCase());
  if (!m || Number(m[2]) !== port) return false;
  const name = m[1];
  const bare = name.startsWith('[') ? name.slice(1, -1) : name;
  if (isWildcard(boundHost)) return name === 'localhost' || net.isIP(bare) !== 0;
  const bound = boundHost.toLowerCase();
  if (bare === bound) return true;
  return isLoopback(bound) && LOOPBACK_NAMES.has(name) && (name === 'localhost' || bound === 'localhost');
}

/** 32 random bytes, base64url: the dashboard's access token. */
export function newToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

function sameToken(given: string | null, token: string): boolean {
  if (!given) return false;
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}

function bearer(req: http.IncomingMessage): string | null {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  return m ? m[1] : null;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...extra,
  });
  res.end(text);
}

function sendError(res: http.ServerResponse, status: number, code: ApiErrorCode, message: string, extra: Record<string, string> = {}): void {
  sendJson(res, status, { ok: false, error: { code, message } } satisfies ApiResult<never>, extra);
}

function sendText(res: http.ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...extra });
  res.end(text);
}

/** Reads at most MAX_BODY_BYTES; null when the body is larger. */
function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) return resolve(null);
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) over = true;
      else if (!over) chunks.push(c);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function callApi(api: GatewayApi, method: ApiMethod, input: unknown): Promise<ApiResult<unknown>> {
  // validateInput throws ApiError('invalid-input'); toResult turns it into the envelope.
  return toResult(
    (async () => {
      const arg = validateInput(method, input);
      const fn = api[method] as (a: unknown) => Promise<unknown>;
      return fn.call(api, arg);
    })(),
  );
}

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const host = opts.host ?? '127.0.0.1';
  // Mutable: setToken() makes a new link and the old one stops working (docs/design.md §7.2).
  let token = opts.token ?? newToken();
  const files = new StaticFiles(opts.staticDir === undefined ? DEFAULT_STATIC_DIR : opts.staticDir);
  const hub = new StreamHub(opts.gateway, opts.stream);
  let boundPort = 0;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if (!hostAllowed(req.headers.host, host, boundPort)) return sendText(res, 403, 'This address is not the dashboard (Host header refused).\n');
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const pathname = url.pathname;

    if (pathname === '/api/message-html') {
      // For the viewer's sandboxed frame (message-frame.ts); a frame cannot send headers, so ?token=.
      if (!sameToken(url.searchParams.get('token') ?? bearer(req), token)) return sendError(res, 401, 'unauthorized', 'missing or wrong access token');
      return serveMessageFrame(opts.api, url, res);
    }

    if (pathname === '/api/stream') {
      if (!sameToken(url.searchParams.get('token') ?? bearer(req), token))
        return sendError(res, 401, 'unauthorized', 'missing or wrong access token', { 'WWW-Authenticate': 'Bearer realm="postern"' });
      if (req.method !== 'GET') return sendError(res, 405, 'invalid-input', 'use GET for the stream', { Allow: 'GET' });
      return hub.add(req, res);
    }

    if (pathname.startsWith('/api/')) {
      // The token is checked before anything else, so nothing about the API leaks without it.
      if (!sameToken(bearer(req), token))
        return sendError(res, 401, 'unauthorized', 'missing or wrong access token', { 'WWW-Authenticate': 'Bearer realm="postern"' });
      if (req.method !== 'POST') return sendError(res, 405, 'invalid-input', 'use POST for API calls', { Allow: 'POST' });
      const method = pathname.slice('/api/'.length);
      if (!isApiMethod(method)) return sendError(res, 400, 'invalid-input', `unknown API method "${method.slice(0, 40)}"`);
      const body = await readBody(req);
      if (body === null) return sendError(res, 413, 'invalid-input', `request body larger than ${MAX_BODY_BYTES} bytes`, { Connection: 'close' });
      let input: unknown;
      if (body.length) {
        try {
          input = JSON.parse(body.toString('utf8'));
        } catch {
          return sendError(res, 400, 'invalid-input', 'the request body is not valid JSON');
        }
      }
      const result = await callApi(opts.api, method, input);
      return sendJson(res, result.ok ? 200 : STATUS_OF[result.error.code], result);
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Method not allowed.\n', { Allow: 'GET, HEAD' });
    if (await files.serve(pathname, req, res)) return;
    sendText(res, 404, 'Not found.\n');
  };

  const server = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'internal', (e as Error)?.message ?? 'internal error');
      else res.destroy();
    });
  });
  // Keep-alive sockets of the page must not hold close() up.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      const why =
        e.code === 'EADDRINUSE'
          ? `port ${opts.port ?? 8025} on ${host} is already in use (set "dashboard.port" in the config)`
          : e.code === 'EACCES'
            ? `port ${opts.port ?? 8025} needs privileges`
            : e.message;
      reject(new Error(`the dashboard could not start: ${why}`));
    };
    server.once('error', onError);
    server.listen({ host, port: opts.port ?? 8025 }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  boundPort = (server.address() as net.AddressInfo).port;
  const urlHost = isWildcard(host) ? '127.0.0.1' : net.isIPv6(host) ? `[${host}]` : host;

  return {
    get url() {
      return `http://${urlHost}:${boundPort}/?token=${token}`;
    },
    host,
    port: boundPort,
    get token() {
      return token;
    },
    setToken(t: string) {
      token = t;
      hub.close(); // pages with the old link lose their stream; a reconnect gets 401
    },
    uiBuilt: files.built,
    stream: () => hub.stats(),
    async close() {
      hub.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
