// Compile-time only (never bundled): the bridge electron/preload.ts exposes is the
// one the dashboard expects (renderer/src/bridge.ts), and the live pushes have the
// HTTP stream's shape (core/http/stream.ts). `tsc -p electron/tsconfig.json` fails
// when either side changes alone.
import type { PosternBridge as RendererBridge, StreamMessage as RendererMessage } from '../renderer/src/bridge.ts';
import type { StreamMessage as HttpMessage } from '../core/http/stream.ts';
import type { PosternBridge } from './preload.ts';
import type { StreamMessage } from './live.ts';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const bridgeMatches: Same<PosternBridge, RendererBridge> = true;
const rendererMessageMatches: Same<StreamMessage, RendererMessage> = true;
const httpMessageMatches: Same<StreamMessage, HttpMessage> = true;
export const contract = [bridgeMatches, rendererMessageMatches, httpMessageMatches];
