// The builtin password store: scrypt hashes in the config (`passwordHash`).
// Format: `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>`, so the cost can be raised
// later without invalidating existing hashes.
import crypto from 'node:crypto';

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

function scrypt(password: string, salt: Buffer, n: number, r: number, p: number, keylen: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    crypto.scrypt(password, salt, keylen, { N: n, r, p, maxmem: 256 * n * r }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(password, salt, N, R, P, KEYLEN);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function isPasswordHash(s: unknown): boolean {
  return typeof s === 'string' && /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(s);
}

// A hash to compare against when the account does not exist, so that an unknown
// login costs the same time as a wrong password.
let dummy: Promise<string> | null = null;

/** Constant-time verification. An absent or malformed hash never verifies. */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  if (!stored || !isPasswordHash(stored)) {
    dummy ??= hashPassword('postern-dummy');
    await verifyPassword(password, await dummy);
    return false;
  }
  const [, n, r, p, saltB64, hashB64] = stored.split('$');
  const expected = Buffer.from(hashB64, 'base64');
  const key = await scrypt(password, Buffer.from(saltB64, 'base64'), Number(n), Number(r), Number(p), expected.length);
  return key.length === expected.length && crypto.timingSafeEqual(key, expected);
}
