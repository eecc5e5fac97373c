// React glue: the client and the live store in context, and small hooks over them.
import { createContext, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { ApiErrorCode, ApiMethod, ApiResult, GatewayStatus } from './api.ts';
import type { ArgsOf, ValueOf } from './api.ts';
import type { ConnectionState, GatewayClient } from './client.ts';
import type { LiveStore } from './live.ts';

export interface AppContext {
  client: GatewayClient;
  live: LiveStore;
}

export const Ctx = createContext<AppContext | null>(null);

export function useApp(): AppContext {
  const c = useContext(Ctx);
  if (!c) throw new Error('no AppContext');
  return c;
}

export function useStatus(): GatewayStatus | null {
  const { live } = useApp();
  return useSyncExternalStore(live.subscribe, () => live.status);
}

export function useConnection(): ConnectionState {
  const { live } = useApp();
  return useSyncExternalStore(live.subscribe, () => live.connection);
}

/** Re-renders on every change of the event list; returns its version. */
export function useEventsVersion(): number {
  const { live } = useApp();
  return useSyncExternalStore(live.subscribe, () => live.version);
}

/** Calls `fn` whenever live events of `stage` arrive (e.g. refresh the networks list). */
export function useOnLiveStage(stage: string, fn: () => void): void {
  const { live } = useApp();
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    let seen = live.lastId;
    return live.subscribe(() => {
      if (live.lastId === seen) return;
      const ev = live.events;
      let hit = false;
      for (let i = ev.length - 1; i >= 0 && ev[i].id > seen; i--) if (ev[i].stage === stage) hit = true;
      seen = live.lastId;
      if (hit) ref.current();
    });
  }, [live, stage]);
}

export type Loadable<T> = { state: 'loading' } | { state: 'ok'; value: T } | { state: 'error'; code: ApiErrorCode; message: string };

export function fromResult<T>(r: ApiResult<T>): Loadable<T> {
  return r.ok ? { state: 'ok', value: r.value } : { state: 'error', code: r.error.code, message: r.error.message };
}

/** Loads `method` once (and on reload()); keeps the last value while reloading. */
export function useLoad<M extends ApiMethod>(method: M, ...args: ArgsOf<M>): [Loadable<ValueOf<M>>, () => Promise<void>, (v: ValueOf<M>) => void] {
  const { client } = useApp();
  const [state, setState] = useState<Loadable<ValueOf<M>>>({ state: 'loading' });
  const key = JSON.stringify(args);
  const reload = useCallback(async () => {
    const r = await client.call(method, ...(JSON.parse(key) as ArgsOf<M>));
    setState(fromResult(r));
  }, [client, method, key]);
  useEffect(() => {
    void reload();
  }, [reload]);
  const set = useCallback((v: ValueOf<M>) => setState({ state: 'ok', value: v }), []);
  return [state, reload, set];
}

/** Escape closes the panel or dialog that is open (the side panels, the message viewer). */
export function useEscape(onClose: () => void): void {
  useEffect(() => {
    const onKey = (k: KeyboardEvent) => {
      if (k.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
}
