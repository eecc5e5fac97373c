// Secrets sealed by the desktop app (docs/design.md §7.3, §8.2): there the smarthost
// password may be stored as `{ "safeStorage": "<base64>" }`, encrypted with the OS
// keychain through Electron's safeStorage (electron/secrets.ts seals and opens it).
// Core accepts that form in the file but cannot open it: `postern serve` treats such a
// password as not set and says so — never refuses the file.
import type { Config } from './schema.ts';

/** A secret as the desktop app stores it when the OS keychain is available. */
export interface SealedSecret {
  safeStorage: string;
}

export function isSealedSecret(v: unknown): v is SealedSecret {
  return !!v && typeof v === 'object' && !Array.isArray(v) && typeof (v as SealedSecret).safeStorage === 'string';
}

/** Said once by `postern serve` (an event) and by the setup check while it holds. */
export const SEALED_PASSWORD_PROBLEM = "the smarthost password was stored by the desktop app's keychain: enter it again here";
export const SEALED_PASSWORD_FIX =
  'Type the smarthost password again under Settings → Outgoing mail. Here it is kept in the config file (readable only by you); until then Postern cannot log in to the smarthost.';

/** The sentence above when `cfg`'s smarthost password is sealed and nothing replaced it, else null. */
export function sealedSecretNotice(cfg: Config): string | null {
  const sh = cfg.outbound.smarthost;
  return sh.passwordSealed && !sh.password ? SEALED_PASSWORD_PROBLEM : null;
}
