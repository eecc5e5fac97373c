// The configuration in force, and everything derived from it that the SMTP hooks
// read per transaction: the directory of accounts, internal networks, trusted
// proxies, the SPF check and the DNS client. A change is checked and written by the
// ConfigStore, then applied and announced here — in one place.
import type { Config, InternalNetwork } from './config/schema.ts';
import type { ConfigStore } from './config/store.ts';
import type { EventBus } from './events/bus.ts';
import { Directory } from './policy/directory.ts';
import { Networks, type NetworkView } from './net/networks.ts';
import { NetworkSet, parseCidr } from './net/cidr.ts';
import type { MailFromCheck } from './spf/types.ts';
import { dnsClientFor, type DnsClient } from './dns/client.ts';
import type { BanList } from './auth/bans.ts';
import type { MessageStore } from './spool/store.ts';

export interface LiveConfigOptions {
  store: ConfigStore;
  bus: EventBus;
  spool: MessageStore;
  bans: BanList;
  /** Builds the SPF check for a config (null: no SPF). */
  spfFactory?: (cfg: Config) => MailFromCheck | null;
  /** Called after every applied change (the gateway re-announces its status). */
  changed(): void;
}

export class LiveConfig {
  private cfg: Config;
  private dir: Directory;
  private proxySet: NetworkSet;
  private spfCheck: MailFromCheck | null;
  private dnsClient: DnsClient;
  readonly networks: Networks;
  /**
   * The `useProxy` list every listener shares. Changed in place on a config change, so a
   * proxy removed from the config can no longer claim client addresses without a restart.
   */
  readonly proxyList: string[] = [];
  private readonly o: LiveConfigOptions;

  constructor(o: LiveConfigOptions) {
    this.o = o;
    this.cfg = o.store.load();
    this.dir = new Directory(this.cfg);
    this.networks = new Networks(this.cfg.internalNetworks);
    this.proxySet = new NetworkSet(this.cfg.trustedProxies);
    this.proxyList.push(...this.cfg.trustedProxies);
    this.spfCheck = o.spfFactory ? o.spfFactory(this.cfg) : null;
    this.dnsClient = dnsClientFor(this.cfg);
  }

  get config(): Config {
    return this.cfg;
  }
  get directory(): Directory {
    return this.dir;
  }
  get spf(): MailFromCheck | null {
    return this.spfCheck;
  }
  get dns(): DnsClient {
    return this.dnsClient;
  }
  isTrustedProxy(ip: string): boolean {
    return this.proxySet.has(ip);
  }

  /** Enables/disables a network (adding it if new). Applies to the next transaction; saved; logged. */
  setNetwork(cidr: string, enabled: boolean, label?: string): NetworkView[] {
    const norm = parseCidr(cidr).cidr;
    const next = this.networks.setEnabled(norm, enabled, label);
    this.saveNetworks(next);
    const entry = next.find((n) => n.cidr === norm);
    this.o.bus.emit({
      stage: 'network',
      verdict: 'info',
      rule: 'internal networks',
      text: `${entry?.label || norm} (${norm}) ${enabled ? 'trusted: clients there may relay' : 'no longer trusted'}`,
    });
    this.o.changed();
    return this.networks.list();
  }

  removeNetwork(cidr: string): NetworkView[] {
    const next = this.networks.remove(cidr);
    this.saveNetworks(next);
    this.o.bus.emit({ stage: 'network', verdict: 'info', rule: 'internal networks', text: `${cidr} removed` });
    this.o.changed();
    return this.networks.list();
  }

  private saveNetworks(list: InternalNetwork[]): void {
    try {
      this.cfg = this.o.store.update((raw) => {
        raw.internalNetworks = list;
      });
    } catch (e) {
      // Keep running with the in-memory change, and say that it was not saved.
      this.o.bus.emit({ stage: 'system', verdict: 'reject', rule: 'config', text: `internal networks changed but could not be saved: ${(e as Error).message}` });
    }
  }

  /** Changes the stored config (validated; nothing is saved if invalid) and applies it. */
  update(mutate: (raw: Record<string, unknown>) => void, what = 'configuration changed'): Config {
    const cfg = this.o.store.update(mutate);
    this.apply(cfg, what);
    return cfg;
  }

  /** Re-reads the config store (after accounts or settings changed) without dropping connections. */
  reload(): void {
    this.apply(this.o.store.load(), 'configuration reloaded');
  }

  private apply(cfg: Config, what: string): void {
    this.cfg = cfg;
    this.dir = new Directory(cfg);
    this.networks.replace(cfg.internalNetworks);
    this.proxySet = new NetworkSet(cfg.trustedProxies);
    this.proxyList.splice(0, this.proxyList.length, ...cfg.trustedProxies);
    this.o.bans.configure(cfg.auth.maxFailures, cfg.auth.banSeconds);
    this.spfCheck = this.o.spfFactory ? this.o.spfFactory(cfg) : null;
    this.dnsClient = dnsClientFor(cfg);
    for (const a of cfg.accounts) this.o.spool.ensureMaildir(a.name);
    this.o.bus.emit({ stage: 'system', verdict: 'info', rule: 'config', text: what });
    this.o.changed();
  }
}
