// The gateway as the product runs it — `postern serve` and the desktop app build it
// here, so both get the same parts: the SPF check at MAIL FROM (DNS from the config)
// and the full GatewayApi. (Tests build Gateways directly, with DNS on loopback.)
import type { ConfigStore } from './config/store.ts';
import { Gateway } from './gateway.ts';
import { createApi } from './api-impl.ts';
import type { GatewayApi } from './api.ts';
import { createSpfCheckFactory } from './spf/check.ts';

export function createRuntime(store: ConfigStore, dataDir: string): { gateway: Gateway; api: GatewayApi } {
  const gateway = new Gateway({ store, dataDir, spfFactory: createSpfCheckFactory() });
  return { gateway, api: createApi({ gateway }) };
}
