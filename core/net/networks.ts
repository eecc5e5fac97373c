// The internal-networks list the user toggles (docs/design.md §2.2): configured entries plus
// detected ones not yet configured. The matcher is rebuilt on every change and read
// at the start of each transaction, so a toggle applies to the next transaction.
import type { InternalNetwork } from '../config/schema.ts';
import { NetworkSet, parseCidr } from './cidr.ts';
import { classify, detectNetworks, type DetectedNetwork, type NetworkKind } from './detect.ts';

export interface NetworkView extends InternalNetwork {
  /** Found on this host's interfaces (and not necessarily configured). */
  detected: boolean;
  /** Saved in the config (a detected network is saved once the user touches it). */
  configured: boolean;
  kind: NetworkKind;
  builtin: boolean;
  /** The network of the default route (systeminformation, docs/design.md §2.2). */
  isDefault?: boolean;
  /** The default gateway, when it lies in this network. */
  gateway?: string | null;
  /** Why it is not offered as the home network (a container bridge or VPN): the page's toggle is disabled with this. */
  notOffered?: string | null;
}

export class Networks {
  private entries: InternalNetwork[];
  private matcher: NetworkSet;
  private detectedCache: DetectedNetwork[] = [];

  constructor(entries: InternalNetwork[]) {
    this.entries = entries.map((e) => ({ ...e, cidr: parseCidr(e.cidr).cidr }));
    this.matcher = this.build();
  }

  private build(): NetworkSet {
    return new NetworkSet(this.entries.filter((e) => e.enabled).map((e) => e.cidr));
  }

  isInternal(ip: string): boolean {
    return this.matcher.has(ip);
  }

  configured(): InternalNetwork[] {
    return this.entries.map((e) => ({ ...e }));
  }

  /** True while the detected list is this host's own (not one a test injected): systeminformation's later answer may refresh it. */
  autoDetected = true;

  refreshDetected(detected?: DetectedNetwork[]): void {
    this.autoDetected = detected === undefined;
    this.detectedCache = detected ?? detectNetworks();
  }

  list(): NetworkView[] {
    const detected = new Map(this.detectedCache.map((d) => [d.cidr, d]));
    const out: NetworkView[] = this.entries.map((e) => {
      const d = detected.get(e.cidr);
      const kind = d?.kind ?? classify(d?.iface ?? '', e.cidr);
      return { ...e, detected: !!d, configured: true, kind, builtin: kind === 'loopback', ...extra(d) };
    });
    for (const d of this.detectedCache) {
      if (!this.entries.some((e) => e.cidr === d.cidr)) {
        out.push({ cidr: d.cidr, label: d.label, enabled: false, detected: true, configured: false, kind: d.kind, builtin: false, ...extra(d) });
      }
    }
    return out;
  }

  /**
   * Turns a network on or off (adding it to the config if it was only detected).
   * Returns the new configured list; throws on a bad CIDR.
   */
  setEnabled(cidr: string, enabled: boolean, label?: string): InternalNetwork[] {
    const norm = parseCidr(cidr).cidr;
    const existing = this.entries.find((e) => e.cidr === norm);
    if (existing) existing.enabled = enabled;
    else {
      const d = this.detectedCache.find((x) => x.cidr === norm);
      this.entries.push({ cidr: norm, label: label ?? d?.label ?? 'Custom network', enabled });
    }
    this.matcher = this.build();
    return this.configured();
  }

  remove(cidr: string): InternalNetwork[] {
    const norm = parseCidr(cidr).cidr;
    this.entries = this.entries.filter((e) => e.cidr !== norm);
    this.matcher = this.build();
    return this.configured();
  }

  replace(entries: InternalNetwork[]): void {
    this.entries = entries.map((e) => ({ ...e, cidr: parseCidr(e.cidr).cidr }));
    this.matcher = this.build();
  }
}

/** What systeminformation added to a detected network (docs/design.md §2.2). */
function extra(d: DetectedNetwork | undefined): Pick<NetworkView, 'isDefault' | 'gateway' | 'notOffered'> {
  if (!d) return {};
  return { isDefault: d.isDefault ?? false, gateway: d.gateway ?? null, notOffered: d.notOffered ?? null };
}
