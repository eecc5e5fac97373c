// Password hashes of an older cost, upgraded after a successful login (docs/design.md
// §2.4): the password is hashed at today's cost in the background, then one config
// update replaces the account's passwordHash only if it is still the old one (a
// password changed meanwhile wins). A gateway's stop waits for those under way.
import type { Config } from '../config/schema.ts';
import { hashPassword, SCRYPT_COST } from './builtin.ts';

export interface HashUpgradeDeps {
  config(): Config;
  /** Changes the stored config and applies it (LiveConfig.update). */
  update(mutate: (raw: Record<string, unknown>) => void, what: string): void;
  /** Says that an upgrade failed. */
  failed(text: string): void;
}

export class HashUpgrades {
  private readonly running = new Set<Promise<void>>();
  private readonly d: HashUpgradeDeps;

  constructor(d: HashUpgradeDeps) {
    this.d = d;
  }

  upgrade(account: string, stale: string, password: string): void {
    const p: Promise<void> = hashPassword(password).then(
      (fresh) => this.replace(account, stale, fresh),
      (e: Error) => this.d.failed(`password hash of account ${account} could not be upgraded: ${e.message}`),
    );
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Resolves when no upgrade is under way. */
  async settled(): Promise<void> {
    await Promise.all([...this.running]);
  }

  private replace(account: string, stale: string, fresh: string): void {
    if (this.d.config().accounts.find((a) => a.name === account)?.passwordHash !== stale) return;
    try {
      this.d.update((raw) => {
        const a = (Array.isArray(raw.accounts) ? (raw.accounts as { name: string; passwordHash?: string }[]) : []).find((x) => x.name === account);
        if (a && a.passwordHash === stale) a.passwordHash = fresh;
      }, `password hash of account ${account} upgraded to scrypt N=${SCRYPT_COST.N}`);
    } catch (e) {
      this.d.failed(`password hash of account ${account} could not be upgraded: ${(e as Error).message}`);
    }
  }
}
