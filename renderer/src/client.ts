// GatewayClient: the only way the dashboard talks to Postern. It implements
// GatewayApi (methods throw ClientError on an error envelope), offers `call()` for
// pages that want the envelope itself, and a live subscription. Two transports:
// the Electron preload bridge (window.postern) and HTTP + Server-Sent Events.
import type { ApiErrorCode, ApiMethod, ApiResult, GatewayApi } from './api.ts';
import { METHODS, type ArgsOf, type ValueOf } from './api.ts';
import type { PosternBridge, StreamMessage } from './bridge.ts';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

export interface LiveHandlers {
  onMessage(msg: StreamMessage): void;
  /** 'live' is reported on every (re)connection: the moment to catch up. */
  onConnection(state: ConnectionState): void;
}

export interface Transport {
  readonly kind: 'electron' | 'http';
  call<M extends ApiMethod>(method: M, ...args: ArgsOf<M>): Promise<ApiResult<ValueOf<M>>>;
  subscribe(h: LiveHandlers): () => void;
}

export class ClientError extends Error {
  readonly code: ApiErrorCode;
  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
  }
}

export type GatewayClient = GatewayApi & {
  readonly kind: Transport['kind'];
  call: Transport['call'];
  subscribe: Transport['subscribe'];
};

export function createClient(t: Transport): GatewayClient {
  const api = {} as Record<ApiMethod, (...a: unknown[]) => Promise<unknown>>;
  for (const m of METHODS) {
    api[m] = async (...a: unknown[]) => {
      const r = await (t.call as (m: ApiMethod, ...a: unknown[]) => Promise<ApiResult<unknown>>)(m, ...a);
      if (!r.ok) throw new ClientError(r.error.code, r.error.message);
      return r.value;
    };
  }
  return Object.assign(api as unknown as GatewayApi, { kind: t.kind, call: t.call.bind(t) as Transport['call'], subscribe: t.subscribe.bind(t) });
}

const lost = (e: unknown): ApiResult<never> => ({
  ok: false,
  error: { code: 'unavailable', message: `Postern did not answer (${(e as Error)?.message ?? e}). Is it still running?` },
});

/** The Electron preload bridge. */
export function bridgeTransport(bridge: PosternBridge): Transport {
  return {
    kind: 'electron',
    async call(method, ...args) {
      try {
        const fn = bridge[method] as (...a: unknown[]) => Promise<ApiResult<never>>;
        return await fn(...args);
      } catch (e) {
        return lost(e);
      }
    },
    subscribe(h) {
      const off = bridge.subscribe((msg) => h.onMessage(msg));
      h.onConnection('live');
      return off;
    },
  };
}

/**
 * HTTP + SSE (the headless dashboard of core/http/server.ts). API calls send the
 * token as `Authorization: Bearer`; the stream, opened by EventSource (which cannot
 * set headers), as `?token=`.
 */
export function httpTransport(token: string, base = '/', onUnauthorized: () => void = () => {}): Transport {
  const url = (p: string) => new URL(p, new URL(base, location.href)).toString();
  const t: Transport = {
    kind: 'http',
    async call(method, ...args) {
      try {
        const res = await fetch(url(`api/${method}`), {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body: args.length ? JSON.stringify(args[0]) : '',
          cache: 'no-store',
        });
        if (res.status === 401) onUnauthorized();
        return (await res.json()) as ApiResult<never>;
      } catch (e) {
        return lost(e);
      }
    },
    subscribe(h) {
      let es: EventSource | null = null;
      let closed = false;
      let retry: ReturnType<typeof setTimeout> | null = null;
      let delay = 1000;
      const open = () => {
        es = new EventSource(url(`api/stream?token=${encodeURIComponent(token)}`));
        es.onopen = () => {
          delay = 1000;
          h.onConnection('live');
        };
        es.onmessage = (m) => {
          try {
            h.onMessage(JSON.parse(m.data as string) as StreamMessage);
          } catch {
            // a malformed message is skipped; the next catch-up fills any hole
          }
        };
        es.onerror = () => {
          if (closed) return;
          if (es?.readyState === EventSource.CONNECTING) return h.onConnection('reconnecting');
          // Closed for good (an HTTP error, e.g. 401): find out why, then retry with backoff.
          es?.close();
          h.onConnection('reconnecting');
          void t.call('status').then((r) => {
            if (closed) return;
            if (!r.ok && r.error.code === 'unauthorized') return h.onConnection('unauthorized');
            retry = setTimeout(open, delay);
            delay = Math.min(delay * 2, 10_000);
          });
        };
      };
      h.onConnection('connecting');
      open();
      return () => {
        closed = true;
        if (retry) clearTimeout(retry);
        es?.close();
      };
    },
  };
  return t;
}
