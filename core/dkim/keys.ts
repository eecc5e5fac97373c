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
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(domain) || !/^[a-z0-9][a-z0-9-]*$/i.test(selector))
      throw new Error(`not a domain and selector: ${domain} ${selector}`);
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
  const domain = addr
    .slice(at + 1)
    .trim()
    .replace(/[>\s].*$/, '')
    .toLowerCase();
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
  if (errors.length || !r.signatures)
    return { header: '', error: errors.map((e) => (e as { err?: Error }).err?.message ?? String(e)).join('; ') || 'no signature produced' };
  try {
    return { header: overSignFrom(message, r.signatures, key.privateKey), error: null };
  } catch (e) {
    return { header: '', error: `over-signing From: ${(e as Error).message}` };
  }
}

/**
 * The signature again, with `From` listed once more in h= than the message has From
 * fields (docs/design.md §3.5). A verifier takes each h= name from the bottom of the
 * header section up, and a name with no field left signs "nothing" (RFC 6376 §5.4.2):
 * so a From field added above ours later — a second author shown by a mail reader —
 * breaks the signature. mailauth's signer lists each field once, as many times as it
 * occurs, and has no option for this; it still computes the body hash (bh=, the large
 * part), and the header hash is redone here: relaxed header canonicalization (RFC 6376
 * §3.4.2) of the fields h= names, then of this DKIM-Signature with an empty b=.
 * Checked against mailauth's own verifier in test/integration/standards.test.ts.
 */
export function overSignFrom(message: Buffer, signature: string, privateKey: string): string {
  const tags = new Map<string, string>();
  for (const part of signature
    .replace(/^DKIM-Signature:/i, '')
    .replace(/\r\n(?=[ \t])/g, '')
    .split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) tags.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const names = (tags.get('h') ?? '')
    .split(':')
    .map((n) => n.trim())
    .filter(Boolean);
  if (!names.some((n) => n.toLowerCase() === 'from')) throw new Error('the signature does not cover From');
  const h = [...names, 'From'];
  const fields = headerSection(message);
  const used = new Set<number>();
  const signed: string[] = [];
  for (const name of h) {
    // The bottom-most field of that name not yet used; none: the null string (RFC 6376 §5.4.2).
    for (let i = fields.length - 1; i >= 0; i--) {
      if (used.has(i) || fields[i].name !== name.toLowerCase()) continue;
      used.add(i);
      signed.push(relaxed(fields[i].raw));
      break;
    }
  }
  const head = [
    'v=1',
    `a=${tags.get('a')}`,
    `c=${tags.get('c')}`,
    `d=${tags.get('d')}`,
    `s=${tags.get('s')}`,
    ...(tags.has('t') ? [`t=${tags.get('t')}`] : []),
    `h=${h.join(':')}`,
    `bh=${tags.get('bh')?.replace(/\s+/g, '')}`,
    'b=',
  ];
  // Folded at "; " only: relaxed canonicalization turns each fold back into one space.
  let field = 'DKIM-Signature:';
  let line = field.length;
  head.forEach((tag, i) => {
    const text = ` ${tag}${i < head.length - 1 ? ';' : ''}`;
    if (line + text.length > 76) {
      field += '\r\n';
      line = 0;
    }
    field += text;
    line += text.length;
  });
  const data = Buffer.from(signed.join('') + relaxed(field).replace(/\r\n$/, ''), 'latin1');
  const b = crypto.sign('sha256', data, privateKey).toString('base64');
  return `${field}${b.replace(/.{1,72}/g, '\r\n $&')}\r\n`;
}

/** The fields of a message's header section: lower-case name and the raw field (with its CRLF). */
function headerSection(message: Buffer): { name: string; raw: string }[] {
  const end = message.indexOf('\r\n\r\n');
  const text = message.subarray(0, end < 0 ? message.length : end + 2).toString('latin1');
  return (text.match(/[^\r\n]+(?:\r\n[ \t][^\r\n]*)*(?:\r\n|$)/g) ?? []).map((raw) => ({ name: raw.slice(0, raw.indexOf(':')).trim().toLowerCase(), raw }));
}

/** RFC 6376 §3.4.2 relaxed header canonicalization of one field, CRLF-terminated. */
function relaxed(raw: string): string {
  const colon = raw.indexOf(':');
  const value = raw
    .slice(colon + 1)
    .replace(/\r\n(?=[ \t])/g, '')
    .replace(/\r\n$/, '')
    .replace(/[ \t]+/g, ' ')
    .trim();
  return `${raw.slice(0, colon).trim().toLowerCase()}:${value}\r\n`;
}
