// The certificate the listeners serve (docs/design.md §2.5): built-in ACME's, the
// configured files, or a generated self-signed one — loaded, watched for renewal by
// another program, switched when ACME installs a new one or the settings change, and
// never replaced by one that does not load.
import type { CertificateManager, AcmeStatus } from '../acme/manager.ts';
import type { Config } from '../config/schema.ts';
import type { EventVerdict, Rule } from '../events/types.ts';
import { ensureSelfSigned, TlsWatcher, type TlsMaterial } from './tls.ts';

export interface ServedCertificateDeps {
  dataDir: string;
  config(): Config;
  acme: CertificateManager;
  /** Hands a new certificate to every listener. */
  serve(m: TlsMaterial): void;
  say(text: string, verdict: EventVerdict, rule: Rule): void;
  /** Is the gateway running? (ACME may finish an order after a stop.) */
  running(): boolean;
  /** Something the status shows changed. */
  changed(): void;
}

const describe = (m: TlsMaterial) => `${m.subject.replace(/\n/g, ', ')}, valid until ${m.notAfter.toISOString()}`;

export class ServedCertificate {
  private tls: TlsMaterial | null = null;
  private watcher: TlsWatcher | null = null;
  private readonly d: ServedCertificateDeps;

  constructor(d: ServedCertificateDeps) {
    this.d = d;
  }

  /** The certificate now served (null before the first load). */
  material(): TlsMaterial | null {
    return this.tls;
  }

  status(): { subject: string; notAfter: string; selfSigned: boolean; acme?: AcmeStatus | null } | null {
    const m = this.tls;
    return m ? { subject: m.subject, notAfter: m.notAfter.toISOString(), selfSigned: m.files.generated, acme: this.d.acme.status() } : null;
  }

  /** Notices files replaced by another program (certbot) before a connection is served. */
  check(): Promise<void> {
    return this.watcher?.check() ?? Promise.resolve();
  }

  /** Chooses and loads the certificate (throws when it does not load). */
  async load(): Promise<void> {
    const cfg = this.d.config();
    const files =
      this.d.acme.tlsFiles() ??
      (cfg.tls.certFile && cfg.tls.keyFile
        ? { certFile: cfg.tls.certFile, keyFile: cfg.tls.keyFile, generated: false }
        : await ensureSelfSigned(this.d.dataDir, cfg.hostname));
    this.watcher = new TlsWatcher(
      files,
      (m) => {
        this.tls = m;
        this.d.serve(m);
        this.d.say(`TLS certificate reloaded: ${describe(m)}`, 'info', 'tls');
      },
      (e) => this.d.say(`TLS certificate could not be reloaded: ${e.message}`, 'reject', 'tls'),
    );
    this.tls = await this.watcher.prime();
  }

  /** ACME's hook: a new certificate in <data>/acme/, served through the reload path (a switch to those files the first time). */
  async installed(): Promise<void> {
    const files = this.d.acme.tlsFiles();
    if (!files || !this.watcher || !this.d.running()) return;
    if (this.tls?.files.certFile === files.certFile) {
      this.watcher.expire();
      return this.watcher.check();
    }
    await this.load();
    const m = this.tls!;
    this.d.serve(m);
    this.d.say(`TLS certificate now ${files.certFile}: ${describe(m)}`, 'info', 'tls');
    this.d.changed();
  }

  /**
   * After a change of the certificate settings: loads and serves the certificate without a
   * restart; one that does not load leaves the old one serving and throws (the caller says why).
   */
  async reload(): Promise<void> {
    if (!this.d.running()) return;
    const before = { tls: this.tls, watcher: this.watcher };
    try {
      await this.load();
    } catch (e) {
      this.tls = before.tls;
      this.watcher = before.watcher;
      this.d.say(`TLS certificate could not be loaded, the old one stays: ${(e as Error).message}`, 'reject', 'tls');
      throw e;
    }
    const m = this.tls!;
    this.d.serve(m);
    this.d.say(`TLS certificate now ${m.files.certFile}: ${describe(m)}`, 'info', 'tls');
    this.d.changed();
  }

  /**
   * The ACME settings changed: the certificate manager stops (an open order is abandoned)
   * and starts again with the new settings; the certificate to serve is chosen again.
   */
  async restartAcme(): Promise<void> {
    await this.d.acme.stop();
    this.d.acme.start();
    const acme = this.d.config().acme;
    this.d.say(
      acme.enabled ? `built-in ACME restarted with the new settings (${acme.directory}, ${acme.challenge})` : 'built-in ACME turned off',
      'info',
      'acme',
    );
    await this.reload();
  }
}
