// The ban list's changes, told as events (docs/design.md §2.4, rule `auth ban`): a ban
// that ran out, one lifted in the dashboard, and one lifted outside this process
// (`postern bans lift` edits auth-bans.json, which the gateway watches).
import type { EventInput } from '../events/types.ts';
import type { BanList } from './bans.ts';

/** How often ended bans are looked for (a ban lasts minutes). */
const EXPIRY_CHECK_MS = 10_000;

export class BanEvents {
  private timer: NodeJS.Timeout | null = null;
  private readonly bans: BanList;
  private readonly emit: (e: EventInput) => void;

  constructor(bans: BanList, emit: (e: EventInput) => void) {
    this.bans = bans;
    this.emit = emit;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      for (const b of this.bans.expire()) this.lifted(b.ip, 'unbanned (ban over)');
    }, EXPIRY_CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Re-reads the ban file; each ban lifted there is an event. */
  reloadFromFile(): void {
    for (const b of this.bans.reloadFromFile()) this.lifted(b.ip, 'unblocked (the block was lifted outside the dashboard)');
  }

  /** Lifts a ban (an address, an IPv6 /64 or a network); false if there was none. */
  lift(address: string): boolean {
    const ok = this.bans.unban(address);
    if (ok) this.lifted(address, 'unblocked (lifted by hand)');
    return ok;
  }

  private lifted(address: string, what: string): void {
    this.emit({ stage: 'auth', verdict: 'info', rule: 'auth ban', client: address, text: `${address} ${what}` });
  }
}
