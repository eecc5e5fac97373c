// The builtin password store: scrypt hashes in the config (`passwordHash`).
// Format: `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>`, so the cost can be raised
// later without invalidating existing hashes (docs/design.md §2.4): a hash of a lower
// cost still verifies, and is rewritten at the cost below after its next successful login.
import crypto from 'node:crypto';

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/** OWASP Password Storage Cheat Sheet (2025): scrypt N=2^17, r=8, p=1 (≈128 MiB, ~0.3 s on a small server core). */
export const SCRYPT_COST: Readonly<ScryptCost> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });
/** What Postern wrote before issue 12; still verified, upgraded at the next login. */
export const LEGACY_SCRYPT_COST: Readonly<ScryptCost> = Object.freeze({ N: 2 ** 14, r: 8, p: 1 });
const KEYLEN = 32;
/** The largest cost a stored hash may ask for (2^20 × 8 = 1 GiB): a hand-edited config must not exhaust memory. */
const MAX_N = 2 ** 20;

function scrypt(password: string, salt: Buffer, cost: ScryptCost, keylen: number): Promise<Buffer> {
  // Node refuses unless maxmem exceeds 128·N·r·p bytes (the default 32 MiB covers only N=2^14).
  const maxmem = 128 * cost.N * cost.r * (cost.p + 1) + 1024 * 1024;
  return new Promise((resolve, reject) =>
    crypto.scrypt(password, salt, keylen, { N: cost.N, r: cost.r, p: cost.p, maxmem }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** A new hash; `cost` defaults to SCRYPT_COST (tests may pass a lower one to save time). */
export async function hashPassword(password: string, cost: ScryptCost = SCRYPT_COST): Promise<string> {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(password, salt, cost, KEYLEN);
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function isPasswordHash(s: unknown): boolean {
  return typeof s === 'string' && /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(s);
}

/** The cost a stored hash was made with, or null when it is not one of ours. */
export function hashCost(stored: string | undefined): ScryptCost | null {
  if (!stored || !isPasswordHash(stored)) return null;
  const [, n, r, p] = stored.split('$');
  return { N: Number(n), r: Number(r), p: Number(p) };
}

/** True when `stored` was made with less work than `cost` (it should be rewritten after a successful login). */
export function needsRehash(stored: string | undefined, cost: ScryptCost = SCRYPT_COST): boolean {
  const c = hashCost(stored);
  return !!c && c.N * c.r * c.p < cost.N * cost.r * cost.p;
}

// A hash to compare against when the account does not exist, so that an unknown
// login costs the same time as a wrong password.
let dummy: Promise<string> | null = null;

/** Constant-time verification. An absent or malformed hash never verifies. */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const cost = hashCost(stored);
  if (!cost || !(cost.N > 1 && cost.N <= MAX_N && (cost.N & (cost.N - 1)) === 0 && cost.r >= 1 && cost.r <= 32 && cost.p >= 1 && cost.p <= 16)) {
    dummy ??= hashPassword('postern-dummy');
    await verifyPassword(password, await dummy);
    return false;
  }
  const [, , , , saltB64, hashB64] = stored!.split('$');
  const expected = Buffer.from(hashB64, 'base64');
  const key = await scrypt(password, Buffer.from(saltB64, 'base64'), cost, expected.length);
  return key.length === expected.length && crypto.timingSafeEqual(key, expected);
}
