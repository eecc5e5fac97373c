// The Electron preload bridge the dashboard expects at `window.postern`
// (electron/preload.ts exposes it with contextBridge.exposeInMainWorld).
//
//  - one function per GatewayApi method, same name, same single argument, resolving
//    to the ApiResult envelope (never rejecting for an API error);
//  - `subscribe(listener)`: pushes the same messages as the HTTP stream's `data:`
//    lines — `{type:'events', events}` batches and `{type:'status', status}` — and
//    returns a function that unsubscribes.
// The renderer subscribes first and then catches up with `events({afterId})`, so
// main may start pushing at any time; it need not replay anything.
import type { ApiMethod, ApiResult, GatewayEvent, GatewayStatus } from './api.ts';
import type { ArgsOf, ValueOf } from './api.ts';

export type StreamMessage = { type: 'events'; events: GatewayEvent[] } | { type: 'status'; status: GatewayStatus };

export type PosternBridge = {
  [M in ApiMethod]: (...args: ArgsOf<M>) => Promise<ApiResult<ValueOf<M>>>;
} & {
  subscribe(listener: (msg: StreamMessage) => void): () => void;
};

declare global {
  interface Window {
    postern?: PosternBridge;
  }
}
