// What ACME keeps in <data>/acme/ (docs/design.md §2.5, §8.3): the account key and URL,
// the certificate (full chain) and its key, and the last state for `postern doctor`
// (another process). Every file is replaced atomically (temp file, fsync, rename,
// directory fsync); keys are mode 0600 in a 0700 directory.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { fsyncDirSync } from '../spool/durable.ts';

export interface AcmePaths {
  dir: string;
  accountKey: string;
  account: string;
  cert: string;
  key: string;
  state: string;
}

export function acmePaths(dataDir: string): AcmePaths {
  const dir = path.join(dataDir, 'acme');
  return {
    dir,
    accountKey: path.join(dir, 'account-key.pem'),
    account: path.join(dir, 'account.json'),
    cert: path.join(dir, 'cert.pem'),
    key: path.join(dir, 'key.pem'),
    state: path.join(dir, 'state.json'),
  };
}

/** Where the certificate work stands; also written to state.json. */
export interface AcmeStatus {
  /** `idle` (nothing to do until nextRenewal), `issuing`, `waiting-dns` (a TXT record to publish), `failed` (the last attempt). */
  state: 'idle' | 'issuing' | 'waiting-dns' | 'failed';
  directory: string;
  challenge: 'http-01' | 'dns-01';
  /** The certificate in <data>/acme/, if any. */
  issuer: string | null;
  notAfter: string | null;
  /** When the next attempt (renewal, or retry after a failure) is due. */
  nextRenewal: string | null;
  lastSuccess: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  failures: number;
  /**
   * DNS-01 by hand: the TXT record to publish, while Postern waits for it; `checkedAt` and
   * `published`: the last look through Postern's DNS client (the Setup page's "checked").
   */
  dnsRecord: { name: string; value: string; checkedAt?: string | null; published?: boolean } | null;
}

export interface AccountFile {
  directory: string;
  url: string;
}

export async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await fsp.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  fsyncDirSync(path.dirname(file));
}

export function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

export interface CertInfo {
  notBefore: Date;
  notAfter: Date;
  issuer: string;
  names: string[];
}

/** The leaf of a PEM chain: dates, issuer (one line) and DNS names; null when absent or unreadable. */
export function readCert(file: string): CertInfo | null {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const x = new X509Certificate(pem);
    const names = (x.subjectAltName ?? '')
      .split(/,\s*/)
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4).toLowerCase());
    return { notBefore: new Date(x.validFrom), notAfter: new Date(x.validTo), issuer: x.issuer.replace(/\n/g, ', '), names };
  } catch {
    return null;
  }
}

/** The last state a gateway wrote (for `postern doctor` in another process). */
export function readState(dataDir: string): AcmeStatus | null {
  return readJson<AcmeStatus>(acmePaths(dataDir).state);
}
