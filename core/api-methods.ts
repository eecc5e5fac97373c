// The names of GatewayApi's methods, as a value: the transports derive their IPC
// channels and HTTP routes from it, and the renderer builds its client from it. Its
// own module with nothing but a type import, so that the renderer's bundle can take
// the list without taking any of core (test/e2e/boundary.test.ts).
import type { ApiMethod } from './api.ts';

export const API_METHODS = [
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

// Compile-time check that API_METHODS lists every method of GatewayApi.
type Missing = Exclude<ApiMethod, (typeof API_METHODS)[number]>;
const _complete: Missing extends never ? true : Missing = true;
void _complete;
