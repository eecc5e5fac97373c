// IPC channel names, derived from the GatewayApi contract (core/api.ts): one
// `postern:<method>` invoke channel per API method, and one push channel for the
// live stream. Shared by the preload and main; imports nothing at run time.
import type { ApiMethod } from '../core/api.ts';

export const CHANNEL_PREFIX = 'postern:';

/** main → renderer: StreamMessage pushes ({type:'events'} batches, {type:'status'}). */
export const STREAM_CHANNEL = 'postern:stream';

export function channelOf<M extends ApiMethod>(method: M): `postern:${M}` {
  return `postern:${method}`;
}
