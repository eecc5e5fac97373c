// Starting a real gateway for a test: temp data dir, ports chosen by the OS.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryConfigStore, FileConfigStore, type ConfigStore } from '../../core/config/store.ts';
import { Gateway, type GatewayOptions } from '../../core/gateway.ts';
import type { GatewayEvent } from '../../core/events/types.ts';
import type { ListenerMode } from '../../core/config/schema.ts';

/**
 * DNS for any config a test writes: a loopback port where nothing answers. With no
 * servers a config means "the system's resolver", which would send the setup check's
 * questions (run after every start) off this machine.
 */
export const LOOPBACK_DNS = { servers: ['127.0.0.1:9'], timeoutMs: 500 };

export const FAMILY = {
  hostname: 'mx.doe-family.com',
  domains: ['doe-family.com'],
  accounts: [
    { name: 'john', addresses: ['john.doe@doe-family.com'] },
    { name: 'jane', addresses: ['jane.doe@doe-family.com'] },
  ],
  // The test's "internal network" is 127.0.0.1 alone; 127.0.0.2 plays the Internet.
  internalNetworks: [{ cidr: '127.0.0.1/32', label: 'test LAN', enabled: true }],
  listeners: [{ port: 0, host: '127.0.0.1', mode: 'mx' }],
  // Tests talk to loopback only: any DNS a test does not set up itself goes nowhere.
  dns: LOOPBACK_DNS,
};

export const INTERNET = '127.0.0.2';

export function tempDir(prefix = 'postern-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface TestGateway {
  gw: Gateway;
  dataDir: string;
  port(mode?: ListenerMode): number;
  events(): GatewayEvent[];
  /** Files in maildir/<account>/new, oldest first. */
  maildirFiles(account: string): string[];
  stop(): Promise<void>;
}

export async function startGateway(
  raw: Record<string, unknown> = FAMILY,
  extra: Partial<GatewayOptions> & { configFile?: string; keepDataDir?: boolean } = {},
): Promise<TestGateway> {
  const dataDir = extra.dataDir ?? tempDir();
  let store: ConfigStore;
  if (extra.configFile) {
    fs.writeFileSync(extra.configFile, JSON.stringify(raw));
    store = new FileConfigStore(extra.configFile);
  } else store = new MemoryConfigStore(raw);
  const { configFile: _c, keepDataDir: _k, ...opts } = extra;
  const gw = new Gateway({ ...opts, store, dataDir });
  const status = await gw.start();
  const bad = status.listeners.filter((l) => !l.ok);
  if (bad.length) throw new Error(`listener failed: ${bad.map((b) => b.error).join('; ')}`);
  return {
    gw,
    dataDir,
    port(mode: ListenerMode = 'mx') {
      const l = gw.status().listeners.find((x) => x.mode === mode);
      if (!l?.boundPort) throw new Error(`no ${mode} listener`);
      return l.boundPort;
    },
    events: () => gw.bus.recent(),
    maildirFiles(account: string) {
      const dir = path.join(dataDir, 'maildir', account, 'new');
      if (!fs.existsSync(dir)) return [];
      // Oldest first (directory order is arbitrary): `.at(-1)` is the newest delivery.
      return fs
        .readdirSync(dir)
        .map((f) => path.join(dir, f))
        .map((f) => ({ f, t: fs.statSync(f, { bigint: true }).mtimeNs }))
        .sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.f.localeCompare(b.f)))
        .map((x) => x.f);
    },
    async stop() {
      await gw.stop();
      if (!extra.keepDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function outboundQueued(dataDir: string): string[] {
  const dir = path.join(dataDir, 'queue', 'outbound');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
}
