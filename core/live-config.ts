// The configuration in force, and everything derived from it that the SMTP hooks
// read per transaction: the directory of accounts, internal networks, trusted
// proxies, the SPF check and the DNS client. A change is checked and written by the
// ConfigStore, then applied and announced here — in one place. A change that cannot be
// written is not applied (docs/design.md §2.2, §8.2): the page never shows as saved what
// is not in the file. An edit of the file from outside (the CLI, an editor) is applied
// by reload(), or refused with an event while the running config stays (`problem`).
import type { Config } from './config/schema.ts';
import type { ConfigStore } from './config/store.ts';
import type { EventBus } from './events/bus.ts';
import { Directory } from './policy/directory.ts';
import { Networks, type NetworkView } from './net/networks.ts';
import { NetworkSet, parseCidr } from './net/cidr.ts';
import type { MailFromCheck } from './spf/types.ts';
import { dnsClientFor, type DnsClient } from './dns/client.ts';
import type { BanList } from './auth/bans.ts';
import type { MessageStore } from './spool/store.ts';
import { ApiError } from './api-error.ts';
import { ConfigError, fileProblem } from './config/load.ts';
import { trustVerdict } from './net/trust.ts';

/** Trusting a network with public addresses needs this (docs/design.md §2.2). */
export interface SetNetworkOptions {
  confirmPublic?: boolean;
}

/** Why the file the running config came from was refused, when it was (the dashboard's banner). */
export interface ConfigProblemStatus {
  message: string;
  at: string;
}

/** The part of a config that decides who may relay: a change runs the relay self-test (docs/design.md §5). */
function trustKey(cfg: Config): string {
  return JSON.stringify([
    cfg.internalNetworks
      .filter((n) => n.enabled)
      .map((n) => n.cidr)
      .sort(),
    [...cfg.trustedProxies].sort(),
    cfg.listeners,
  ]);
}

export interface LiveConfigOptions {
  store: ConfigStore;
  bus: EventBus;
  spool: MessageStore;
  bans: BanList;
  /** Builds the SPF check for a config (null: no SPF). */
  spfFactory?: (cfg: Config) => MailFromCheck | null;
  /** Called after every applied change (the gateway re-announces its status). */
  changed(): void;
  /** Called after a change of networks, proxies or listeners (the gateway runs the relay self-test). */
  trustChanged?(): void;
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
  /** Where the config comes from (the gateway watches its file, when it has one). */
  get store(): ConfigStore {
    return this.o.store;
  }
  /** The last outside edit that was refused (null once a reload or a save succeeds). */
  problem: ConfigProblemStatus | null = null;

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

  /**
   * Enables/disables a network (adding it if new). Trust is explicit (docs/design.md §2.2):
   * a range wider than /8 (IPv4) or /32 (IPv6) is refused, one with public addresses
   * needs `confirmPublic` (else ApiError 'needs-confirmation' with the sentence to show).
   * Saved first; applied to the next transaction only once saved; logged.
   */
  setNetwork(cidr: string, enabled: boolean, label?: string, opts: SetNetworkOptions = {}): NetworkView[] {
    const norm = parseCidr(cidr).cidr;
    const verdict = trustVerdict(norm);
    if (verdict.kind === 'refuse') throw new ApiError('invalid-input', verdict.message);
    if (enabled && verdict.kind === 'confirm' && !opts.confirmPublic) throw new ApiError('needs-confirmation', verdict.message);
    const before = this.networks.configured();
    const next = this.networks.setEnabled(norm, enabled, label);
    try {
      this.save(
        (raw) => {
          raw.internalNetworks = next;
        },
        `${norm} was not ${enabled ? 'trusted' : 'changed'}`,
      );
    } catch (e) {
      this.networks.replace(before); // roll back: nothing changes that was not written
      throw e;
    }
    const entry = next.find((n) => n.cidr === norm);
    this.o.bus.emit({
      stage: 'network',
      verdict: 'info',
      rule: 'internal networks',
      text: `${entry?.label || norm} (${norm}) ${enabled ? 'trusted: clients there may relay' : 'no longer trusted'}${enabled && verdict.kind === 'confirm' ? ' (public addresses, confirmed)' : ''}`,
    });
    this.o.changed();
    this.o.trustChanged?.();
    return this.networks.list();
  }

  removeNetwork(cidr: string): NetworkView[] {
    const before = this.networks.configured();
    const next = this.networks.remove(cidr);
    try {
      this.save((raw) => {
        raw.internalNetworks = next;
      }, `${cidr} was not removed`);
    } catch (e) {
      this.networks.replace(before);
      throw e;
    }
    this.o.bus.emit({ stage: 'network', verdict: 'info', rule: 'internal networks', text: `${cidr} removed` });
    this.o.changed();
    this.o.trustChanged?.();
    return this.networks.list();
  }

  /**
   * One store update. A failure is an event and an ApiError whose message starts
   * "not saved:" and says why in plain words (the technical detail goes to the log).
   * A ConfigError about the change itself is left to the caller (the accounts service
   * words its own) unless `what` is given.
   */
  private save(mutate: (raw: Record<string, unknown>) => void, what?: string): Config {
    try {
      const cfg = this.o.store.update(mutate);
      this.cfg = cfg;
      return cfg;
    } catch (e) {
      if (e instanceof ConfigError && !what) throw e;
      const file = (this.o.store as { file?: string }).file ?? 'the configuration file';
      const why = e instanceof ConfigError ? `the configuration file has a mistake to fix first — ${e.plain}` : fileProblem(e, file, 'write');
      console.error(`postern: config not saved: ${e instanceof ConfigError ? e.technical || e.message : (e as Error).message}`);
      this.o.bus.emit({ stage: 'system', verdict: 'reject', rule: 'config', text: `not saved${what ? ` (${what})` : ''}: ${why}` });
      throw new ApiError(e instanceof ConfigError ? 'invalid-input' : 'unavailable', `not saved: ${why}`);
    }
  }

  /** Changes the stored config (validated; nothing is saved if invalid or unwritable) and applies it. */
  update(mutate: (raw: Record<string, unknown>) => void, what = 'configuration changed'): Config {
    const before = this.cfg;
    const cfg = this.save(mutate);
    this.apply(cfg, what, before);
    return cfg;
  }

  /**
   * Re-reads the config store after an outside edit (`postern user add`, an editor) and
   * applies it without dropping connections. Unchanged: nothing happens. A file that
   * does not load is refused whole — an event, `problem` set for the banner — and the
   * running config stays. Returns whether something was applied.
   */
  reload(): boolean {
    let cfg: Config;
    try {
      cfg = this.o.store.load();
    } catch (e) {
      const message = e instanceof ConfigError ? e.plain : fileProblem(e, (this.o.store as { file?: string }).file ?? 'the configuration file', 'read');
      const first = this.problem?.message !== message;
      this.problem = { message, at: new Date().toISOString() };
      if (first) {
        console.error(`postern: config not applied: ${e instanceof ConfigError ? e.technical || e.message : (e as Error).message}`);
        this.o.bus.emit({
          stage: 'system',
          verdict: 'reject',
          rule: 'config',
          text: `the changed configuration file was not applied, the running settings stay: ${message}`,
        });
        this.o.changed();
      }
      return false;
    }
    const hadProblem = this.problem !== null;
    this.problem = null;
    if (JSON.stringify(cfg) === JSON.stringify(this.cfg)) {
      if (hadProblem) this.o.changed();
      return false;
    }
    this.apply(cfg, 'configuration file changed: applied', this.cfg);
    return true;
  }

  private apply(cfg: Config, what: string, before: Config): void {
    this.cfg = cfg;
    this.problem = null;
    this.dir = new Directory(cfg);
    this.networks.replace(cfg.internalNetworks);
    this.proxySet = new NetworkSet(cfg.trustedProxies);
    this.proxyList.splice(0, this.proxyList.length, ...cfg.trustedProxies);
    this.o.bans.configure(cfg.auth.maxFailures, cfg.auth.banSeconds, cfg.auth.maxNetworkFailures);
    this.spfCheck = this.o.spfFactory ? this.o.spfFactory(cfg) : null;
    this.dnsClient = dnsClientFor(cfg);
    for (const a of cfg.accounts) this.o.spool.ensureMaildir(a.name);
    this.o.bus.emit({ stage: 'system', verdict: 'info', rule: 'config', text: what });
    // A change of trust is a network event too (the Networks page and the log show it).
    const on = (c: Config) => c.internalNetworks.filter((n) => n.enabled).map((n) => n.cidr);
    if (JSON.stringify(before.internalNetworks) !== JSON.stringify(cfg.internalNetworks)) {
      const trusted = on(cfg);
      this.o.bus.emit({
        stage: 'network',
        verdict: 'info',
        rule: 'internal networks',
        text: `internal networks changed in the configuration file: ${trusted.length ? `trusted now ${trusted.join(', ')}` : 'none trusted'}`,
      });
    }
    this.o.changed();
    if (trustKey(before) !== trustKey(cfg)) this.o.trustChanged?.();
  }
}
