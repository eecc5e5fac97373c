// GatewayApi over Electron IPC (docs/design.md §7.3): one `ipcMain.handle('postern:<method>')`
// per API method. Every call is checked in this order before the API sees it:
//   1. the channel names an API method;
//   2. the sender is our page (top frame of postern://app), not an iframe or a page
//      that navigated elsewhere;
//   3. at most one argument, and validateInput() accepts it (core/api-validate.ts).
// The answer is always the ApiResult envelope; the renderer never gets a rejection.
import { ApiError, toResult, type ApiMethod, type ApiResult, type GatewayApi } from '../core/api.ts';
import { API_METHODS } from '../core/api-methods.ts';
import { isApiMethod, validateInput } from '../core/api-validate.ts';
import { CHANNEL_PREFIX, channelOf } from './channels.ts';
import { isTrustedSender } from './protocol.ts';

/** The part of Electron's IpcMainInvokeEvent this module reads. */
export interface InvokeEventLike {
  senderFrame: { url: string; parent: unknown } | null;
}

/** The part of Electron's ipcMain this module uses. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

export function methodOf(channel: string): ApiMethod | null {
  if (!channel.startsWith(CHANNEL_PREFIX)) return null;
  const m = channel.slice(CHANNEL_PREFIX.length);
  return isApiMethod(m) ? m : null;
}

function refuse(code: 'invalid-input' | 'unauthorized' | 'not-found', message: string): ApiResult<never> {
  return { ok: false, error: { code, message } };
}

/** One IPC call, from channel to envelope. */
export async function dispatch(api: GatewayApi, channel: string, event: InvokeEventLike, args: unknown[]): Promise<ApiResult<unknown>> {
  const method = methodOf(channel);
  if (!method) return refuse('not-found', `no such API method: ${channel}`);
  const frame = event.senderFrame;
  if (!isTrustedSender(frame ? { url: frame.url, isMainFrame: frame.parent === null } : null)) {
    return refuse('unauthorized', `${method}: refused a call from ${frame ? frame.url || 'an unknown page' : 'a closed frame'}`);
  }
  if (args.length > 1) return refuse('invalid-input', `${method}: takes at most one argument`);
  let input: unknown;
  try {
    input = validateInput(method, args[0]);
  } catch (e) {
    if (e instanceof ApiError) return refuse('invalid-input', e.message);
    throw e;
  }
  const call = api[method] as (a: unknown) => Promise<unknown>;
  return toResult(Promise.resolve().then(() => call.call(api, input)));
}

/** Registers a handler per API method; returns a function that removes them. */
export function registerIpc(ipcMain: IpcMainLike, api: GatewayApi): () => void {
  const channels = API_METHODS.map((m) => channelOf(m));
  for (const ch of channels) ipcMain.handle(ch, (event, ...args) => dispatch(api, ch, event, args));
  return () => {
    for (const ch of channels) ipcMain.removeHandler(ch);
  };
}
