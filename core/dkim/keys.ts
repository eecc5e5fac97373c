// DKIM signing of outbound mail from the family's domains (mailauth dkimSign), with a
// key per domain and selector generated on first use into <data>/dkim/.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { dkimSign } from 'mailauth';

export interface DkimKey {
  domain: string;
  selector: string;
  privateKey: string;
  /** The p= value: base64 of the DER SubjectPublicKeyInfo. */
  publicKey: string;
}

export class DkimKeys {
  private readonly dir: string;
  private readonly cache = new Map<string, DkimKey>();

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'dkim');
  }

  /** The key for a domain and selector, generated (RSA 2048) and saved the first time. */
  get(domain: string, selector: string): DkimKey {
    // The pair names a file: nothing but a plain domain and selector may get there.
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(domain) || !/^[a-z0-9][a-z0-9-]*$/i.test(selector)) throw new Error(`not a domain and selector: ${domain} ${selector}`);
    const id = `${domain.toLowerCase()}.${selector}`;
    const hit = this.cache.get(id);
    if (hit) return hit;
    const file = path.join(this.dir, `${id}.key`);
    let privateKey: string;
    if (fs.existsSync(file)) privateKey = fs.readFileSync(file, 'utf8');
    else {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      privateKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      // O_EXCL: if two processes race, the first key wins and both use it.
      try {
        fs.writeFileSync(file, privateKey, { mode: 0o600, flag: 'wx' });
      } catch {
        privateKey = fs.readFileSync(file, 'utf8');
      }
    }
    const publicKey = crypto.createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
    const key = { domain: domain.toLowerCase(), selector, privateKey, publicKey };
    this.cache.set(id, key);
    return key;
  }
}

/** The TXT record value to publish at `<selector>._domainkey.<domain>`. */
export function dkimRecord(key: DkimKey): string {
  return `v=DKIM1; k=rsa; p=${key.publicKey}`;
}

/** A zone line; TXT strings are limited to 255 characters, so the value is split. */
export function dkimZoneLine(key: DkimKey): string {
  const value = dkimRecord(key);
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return `${key.selector}._domainkey.${key.domain}. TXT ${parts.join(' ')}`;
}

/** The domain of the From: header, lower-cased, or null. */
export function fromHeaderDomain(message: Buffer): string | null {
  const end = message.indexOf('\r\n\r\n');
  const head = message.subarray(0, end < 0 ? Math.min(message.length, 65536) : end).toString('latin1');
  const m = /^From:((?:.*)(?:\r\n[ \t].*)*)/im.exec(head);
  if (!m) return null;
  const value = m[1].replace(/\r\n[ \t]/g, ' ');
  const addr = /<([^<>]*)>/.exec(value)?.[1] ?? value;
  const at = addr.lastIndexOf('@');
  if (at < 0) return null;
  const domain = addr.slice(at + 1).trim().replace(/[>\s].*$/, '').toLowerCase();
  return domain || null;
}

/** Returns the DKIM-Signature header(s) to prepend, or '' when signing fails. */
export async function signMessage(message: Buffer, key: DkimKey): Promise<{ header: string; error: string | null }> {
  // mailauth's type lists signingDomain/selector/privateKey at the top level, but its signer
  // reads them from signatureData[] (lib/dkim/dkim-signer.js), so give them there.
  const r = await dkimSign(message, {
    canonicalization: 'relaxed/relaxed',
    algorithm: 'rsa-sha256',
    signatureData: [{ signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey }],
  } as unknown as Parameters<typeof dkimSign>[1]);
  const errors = (r.errors ?? []) as unknown[];
  if (errors.length || !r.signatures) return { header: '', error: errors.map((e) => (e as { err?: Error }).err?.message ?? String(e)).join('; ') || 'no signature produced' };
  return { header: r.signatures, error: null };
}
