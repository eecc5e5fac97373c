// The desktop app's secrets in the OS keychain (docs/design.md §7.3, §8.2): when Electron's
// safeStorage can encrypt, the smarthost password is stored in config.json as
// `{ "safeStorage": "<base64 ciphertext>" }` instead of in clear. These are plain
// functions over the stored (raw) config and anything shaped like safeStorage, so
// they are tested without Electron; electron/store.ts seals on update and opens on load.
//   - Keychain unavailable: the password stays as typed (the file is mode 0600 anyway).
//   - On Linux, safeStorage's `basic_text` backend (no keyring found) encrypts with a
//     fixed key: that is no keychain, so it counts as unavailable.
//   - A sealed password that cannot be opened (no keychain now, another computer's, or
//     damaged) stays sealed in the file, untouched; core then treats it as not set and
//     the setup check says to enter it again (core/config/secrets.ts).
import { isSealedSecret } from '../core/config/secrets.ts';

/** The part of Electron's safeStorage used here. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only. */
  getSelectedStorageBackend?(): string;
}

type Raw = Record<string, unknown>;

/** Where secrets sit in the stored config. */
const SECRET_PATHS: readonly (readonly string[])[] = [['outbound', 'smarthost', 'password']];

/** Why a sealed secret stayed closed, for the log. */
export interface UnsealProblem {
  path: string;
  reason: 'no keychain' | 'unreadable';
  /** safeStorage's own words, for the log only. */
  technical: string;
}

/** Whether secrets can be sealed with `ss` (a real keychain, usable now). */
export function keychainUsable(ss: SafeStorageLike | null | undefined): ss is SafeStorageLike {
  if (!ss) return false;
  try {
    if (!ss.isEncryptionAvailable()) return false;
    return process.platform !== 'linux' || ss.getSelectedStorageBackend?.() !== 'basic_text';
  } catch {
    return false;
  }
}

function parentOf(raw: Raw, keys: readonly string[]): Raw | null {
  let node: unknown = raw;
  for (const k of keys.slice(0, -1)) {
    node = (node as Raw)[k];
    if (!node || typeof node !== 'object' || Array.isArray(node)) return null;
  }
  return node as Raw;
}

/**
 * The stored config with each sealed secret opened (a new object; `raw` is not
 * changed). A secret that cannot be opened stays sealed, and is listed in `problems`.
 */
export function unsealSecrets(raw: Raw, ss: SafeStorageLike | null | undefined): { raw: Raw; problems: UnsealProblem[] } {
  const out = structuredClone(raw);
  const problems: UnsealProblem[] = [];
  for (const keys of SECRET_PATHS) {
    const parent = parentOf(out, keys);
    const key = keys.at(-1)!;
    const v = parent?.[key];
    if (!parent || !isSealedSecret(v)) continue;
    // Opened whenever safeStorage can decrypt (also with basic_text: what was sealed stays readable).
    if (!ss?.isEncryptionAvailable?.()) {
      problems.push({ path: keys.join('.'), reason: 'no keychain', technical: 'safeStorage.isEncryptionAvailable() is false' });
      continue;
    }
    try {
      parent[key] = ss.decryptString(Buffer.from(v.safeStorage, 'base64'));
    } catch (e) {
      problems.push({ path: keys.join('.'), reason: 'unreadable', technical: String((e as Error)?.message ?? e) });
    }
  }
  return { raw: out, problems };
}

/**
 * The config to store: each non-empty plain secret sealed when the keychain is usable
 * (a new object; `raw` is not changed). `before` — the file as read (`stored`) and as
 * opened (`opened`) — keeps the file's sealed value for a secret that did not change,
 * so a save of something else does not rewrite it. Sealing that fails keeps the secret
 * as typed (the file is mode 0600).
 */
export function sealSecrets(raw: Raw, ss: SafeStorageLike | null | undefined, before?: { stored: Raw; opened: Raw }): Raw {
  const out = structuredClone(raw);
  const usable = keychainUsable(ss);
  for (const keys of SECRET_PATHS) {
    const parent = parentOf(out, keys);
    const key = keys.at(-1)!;
    const v = parent?.[key];
    if (!parent || typeof v !== 'string' || v === '') continue;
    const was = before && parentOf(before.stored, keys)?.[key];
    if (isSealedSecret(was) && parentOf(before!.opened, keys)?.[key] === v) {
      parent[key] = structuredClone(was);
      continue;
    }
    if (!usable) continue;
    try {
      parent[key] = { safeStorage: ss.encryptString(v).toString('base64') };
    } catch (e) {
      console.error(
        `postern: ${keys.join('.')} could not be sealed with the keychain, kept as typed in config.json (mode 0600): ${(e as Error)?.message ?? e}`,
      );
    }
  }
  return out;
}
