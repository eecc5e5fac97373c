// Checks a login and password against the configured backend and maps the login to
// a family account. Backends answer ok / no / temporary failure; only "no" counts
// toward a ban.
import type { Config } from '../config/schema.ts';
import type { Directory } from '../policy/directory.ts';
import { needsRehash, verifyPassword } from './builtin.ts';
import { saslauthdVerify } from './saslauthd.ts';

export type AuthOutcome =
  | { ok: true; account: string; staleHash?: string }
  | { ok: false; temporary: false; reason: string }
  | { ok: false; temporary: true; reason: string };

export async function authenticate(login: string, password: string, cfg: Config, dir: Directory): Promise<AuthOutcome> {
  if (cfg.auth.backend === 'saslauthd') {
    // The login is the Unix account name, which must also be a family account.
    const account = dir.account(login);
    const s = cfg.auth.saslauthd;
    const r = await saslauthdVerify({ socket: s.socket, login, password, service: s.service, realm: s.realm });
    if (r.status === 'error') return { ok: false, temporary: true, reason: r.message };
    if (r.status === 'no') return { ok: false, temporary: false, reason: `saslauthd: ${r.message || 'NO'}` };
    if (!account) return { ok: false, temporary: false, reason: `Unix user "${login}" is not a family account` };
    return { ok: true, account: account.name };
  }
  const account = dir.accountForLogin(login);
  const good = await verifyPassword(password, account?.passwordHash);
  if (!account) return { ok: false, temporary: false, reason: 'unknown login' };
  if (!good) return { ok: false, temporary: false, reason: account.passwordHash ? 'wrong password' : 'account has no password' };
  // A hash of a lower cost than today's (docs/design.md §2.4): the caller rewrites it.
  return needsRehash(account.passwordHash) ? { ok: true, account: account.name, staleHash: account.passwordHash } : { ok: true, account: account.name };
}
