// The dashboard's only door into the app: ONE object, `window.postern`, built from
// the GatewayApi contract (core/api.ts). Bundled to CommonJS (a sandboxed preload
// cannot be ESM) by electron/build.ts. Never exposes ipcRenderer or IPC events.
//
//   window.postern.<method>(arg?)  → Promise<ApiResult<value>>   for each API_METHODS entry:
//       status start stop events networks setNetwork removeNetwork spfBuild spfValidate
//       spfCheck accounts addAccount removeAccount queue retryQueue deleteQueue settings doctor
//     (invoke on channel `postern:<method>`; main checks the sender and validates the
//      argument; errors come back as {ok:false,error:{code,message}}, never a rejection)
//   window.postern.subscribe(cb) → unsubscribe()
//     cb({type:'events', events}) batches (≤10/s) and cb({type:'status', status}).
// This is PosternBridge of renderer/src/bridge.ts; electron/contract.ts checks that
// the two agree at compile time.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { ApiMethod, ApiResult, GatewayApi } from '../core/api.ts';
import { API_METHODS } from '../core/api-methods.ts';
import { channelOf, STREAM_CHANNEL } from './channels.ts';
import type { StreamMessage } from './live.ts';

export type PosternBridge = {
  [M in ApiMethod]: (...args: Parameters<GatewayApi[M]>) => Promise<ApiResult<Awaited<ReturnType<GatewayApi[M]>>>>;
} & {
  subscribe(listener: (msg: StreamMessage) => void): () => void;
};

const bridge: Record<string, unknown> = {};
for (const m of API_METHODS) {
  const channel = channelOf(m);
  bridge[m] = (...args: unknown[]) => ipcRenderer.invoke(channel, ...args); // main refuses more than one
}
bridge.subscribe = (listener: (msg: StreamMessage) => void): (() => void) => {
  if (typeof listener !== 'function') throw new TypeError('postern.subscribe needs a function');
  const onMessage = (_e: IpcRendererEvent, msg: StreamMessage) => listener(msg);
  ipcRenderer.on(STREAM_CHANNEL, onMessage);
  return () => void ipcRenderer.removeListener(STREAM_CHANNEL, onMessage);
};

contextBridge.exposeInMainWorld('postern', bridge as PosternBridge);
