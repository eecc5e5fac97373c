// The contract, as the renderer sees it: types only from core/api.ts (never core
// internals, never values), plus the method list the transports need. The list is
// checked against GatewayApi at compile time, like API_METHODS in core/api.ts.
import type { ApiMethod, GatewayApi } from '../../core/api.ts';

export type * from '../../core/api.ts';

export const METHODS = [
  'status',
  'start',
  'stop',
  'events',
  'networks',
  'setNetwork',
  'removeNetwork',
  'spfBuild',
  'spfValidate',
  'spfCheck',
  'accounts',
  'addAccount',
  'removeAccount',
  'queue',
  'retryQueue',
  'deleteQueue',
  'settings',
  'saveSettings',
  'testSmarthost',
  'dnsRecords',
  'setPassword',
  'setAddresses',
  'doctor',
  'messages',
  'message',
  'messageContent',
  'exportMessages',
  'traffic',
  'bans',
  'liftBan',
  'rateLimits',
  'liftRateLimit',
  'blockAccount',
  'newDashboardToken',
  'renewCertificate',
] as const satisfies readonly ApiMethod[];

type Missing = Exclude<ApiMethod, (typeof METHODS)[number]>;
const _complete: Missing extends never ? true : Missing = true;
void _complete;

/** The single argument of a method, as a tuple ([] for methods without one). */
export type ArgsOf<M extends ApiMethod> = Parameters<GatewayApi[M]>;
/** What a method resolves to. */
export type ValueOf<M extends ApiMethod> = Awaited<ReturnType<GatewayApi[M]>>;
