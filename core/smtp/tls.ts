// TLS material for the listeners (docs/design.md §2.5): the configured certificate, else a
// self-signed one generated once into <data>/tls/. smtp-server's built-in certificate
// has a published private key and is never served. A replaced certificate file is
// noticed (mtime, checked at most once a second per new connection) and loaded
// without a restart.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { constants as cryptoConstants, X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  generated: boolean;
}

export interface TlsMaterial {
  key: string;
  cert: string;
  files: TlsFiles;
  notAfter: Date;
  subject: string;
  names: string[];
}

/**
 * docs/design.md §2.5: TLS 1.2 or 1.3 only; for TLS 1.2 only ECDHE key exchange with AEAD
 * ciphers (Mozilla's "intermediate" list without its DHE suites): no static-RSA key
 * exchange, no CBC. The TLS 1.3 suites are named too, so that the list is the whole truth.
 * The client's preference order is kept (Mozilla: ChaCha20 for phones without AES hardware).
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const TLS_OPTIONS = {
  minVersion: 'TLSv1.2' as const,
  ciphers: TLS_CIPHERS,
  ecdhCurve: 'X25519:prime256v1:secp384r1',
  honorCipherOrder: false,
  // OpenSSL refuses a client's renegotiation with a no_renegotiation alert (§2.5).
  secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
};

/**
 * No client-initiated renegotiation (§2.5), a second layer under SSL_OP_NO_RENEGOTIATION:
 * called on every secure socket once its handshake is over (STARTTLS and implicit TLS
 * alike, from the onSecure hook). A client that asks anyway gets its connection closed.
 * (TLS 1.3 has no renegotiation at all.)
 */
export function refuseRenegotiation(socket: unknown): void {
  const s = socket as { disableRenegotiation?: () => void; on?: (ev: string, fn: (e: NodeJS.ErrnoException) => void) => void; destroy?: () => void };
  if (typeof s.disableRenegotiation !== 'function') return;
  s.disableRenegotiation();
  // Node reports the attempt as an 'error' but leaves an established server socket open
  // (on the implicit-TLS path nothing else closes it): close it here.
  s.on?.('error', (e) => {
    if (e.code === 'ERR_TLS_RENEGOTIATION_DISABLED') s.destroy?.();
  });
}

/** Ensures a self-signed certificate exists in `<dataDir>/tls`; returns its files. */
export async function ensureSelfSigned(dataDir: string, hostname: string): Promise<TlsFiles> {
  const dir = path.join(dataDir, 'tls');
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) return { certFile, keyFile, generated: true };
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    // RSA: selfsigned 5.5's EC path fails here ("Cannot get schema for 'AlgorithmIdentifier'").
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 825 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: hostname }] },
    ],
  });
  fs.writeFileSync(keyFile, pems.private, { mode: 0o600 });
  fs.writeFileSync(certFile, pems.cert, { mode: 0o644 });
  return { certFile, keyFile, generated: true };
}

export async function loadTls(files: TlsFiles): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([fsp.readFile(files.certFile, 'utf8'), fsp.readFile(files.keyFile, 'utf8')]);
  const x = new X509Certificate(cert);
  const names = (x.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  return { key, cert, files, notAfter: new Date(x.validTo), subject: x.subject, names };
}

/** Watches the certificate files by mtime; `check()` calls `onChange` when they changed. */
export class TlsWatcher {
  private lastCheck = 0;
  private mtimes = '';
  private checking: Promise<void> | null = null;
  private readonly files: TlsFiles;
  private readonly onChange: (m: TlsMaterial) => void;
  private readonly onError: (e: Error) => void;

  constructor(files: TlsFiles, onChange: (m: TlsMaterial) => void, onError: (e: Error) => void) {
    this.files = files;
    this.onChange = onChange;
    this.onError = onError;
  }

  async prime(): Promise<TlsMaterial> {
    this.mtimes = await this.stamp();
    this.lastCheck = Date.now();
    return loadTls(this.files);
  }

  private async stamp(): Promise<string> {
    const [c, k] = await Promise.all([fsp.stat(this.files.certFile), fsp.stat(this.files.keyFile)]);
    return `${c.mtimeMs}:${c.size}:${k.mtimeMs}:${k.size}`;
  }

  /** Cheap to call on every connection: stats the files at most once a second. */
  check(): Promise<void> {
    if (Date.now() - this.lastCheck < 1000) return Promise.resolve();
    if (this.checking) return this.checking;
    this.lastCheck = Date.now();
    this.checking = (async () => {
      try {
        const s = await this.stamp();
        if (s === this.mtimes) return;
        const m = await loadTls(this.files);
        this.mtimes = s;
        this.onChange(m);
      } catch (e) {
        this.onError(e as Error);
      } finally {
        this.checking = null;
      }
    })();
    return this.checking;
  }

  /** Forces the next check() to look at the files (for tests and "reload" buttons). */
  expire(): void {
    this.lastCheck = 0;
  }
}
