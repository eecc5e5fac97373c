// Built-in ACME (docs/design.md §2.5): a certificate for `hostname` from Let's Encrypt (or
// any ACME directory), issued at start when there is none and renewed 30 days before
// expiry (1/3 of the lifetime for short-lived ones). HTTP-01 opens acme.httpPort only
// while an order is open; DNS-01 is by hand: the TXT record is shown (status, doctor,
// an event) and Postern waits until its own DNS client sees it.
//
// The certificate lands in <data>/acme/{cert,key}.pem, which are then the gateway's TLS
// files: the gateway's reload path (TlsWatcher, core/smtp/tls.ts) serves a renewed one
// without a restart; `installed()` tells the gateway to look now. A failed attempt
// keeps the old certificate serving, is an event (rule `acme`) and stays in the status
// (lastError) until an attempt succeeds; it is retried on a growing schedule.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import tls from 'node:tls';
import * as acme from 'acme-client';
import { ACME_DIRECTORIES, type Config } from '../config/schema.ts';
import { DnsClient } from '../dns/client.ts';
import type { EventInput } from '../events/types.ts';
import type { TlsFiles } from '../smtp/tls.ts';
import { acmePaths, readCert, readJson, writeAtomic, type AccountFile, type AcmePaths, type AcmeStatus, type CertInfo } from './files.ts';
import { startHttpResponder, type HttpResponder } from './http-responder.ts';
import { nextAttempt, RETRY_MS } from './schedule.ts';

export type { AcmeStatus } from './files.ts';

/** Knobs for tests (a fake clock, short waits); production uses the defaults. */
export interface AcmeTuning {
  now?: () => number;
  /** Waits after consecutive failures (schedule.ts RETRY_MS). */
  retryMs?: readonly number[];
  /** DNS-01: how often to look for the TXT record, and for how long. */
  dnsPollMs?: number;
  dnsWaitMs?: number;
  /** acme-client's polling of pending orders (ms) and its HTTP retries on a server error. */
  pollMinMs?: number;
  httpRetries?: number;
  /** Ask the CA for this lifetime (RFC 8555 order notAfter; pebble honours it, Let's Encrypt does not). */
  validityMs?: number;
  /** The longest single timer (re-evaluated when it fires). */
  maxTimerMs?: number;
}

export interface CertificateManagerOptions {
  dataDir: string;
  config: () => Config;
  emit: (e: EventInput) => void;
  /** A new certificate is in <data>/acme/: serve it (the gateway's one hook). */
  installed: () => Promise<void> | void;
  /** Status changed (for the dashboard's live status). */
  changed?: () => void;
  tuning?: AcmeTuning;
}

export function directoryUrl(directory: string): string {
  return ACME_DIRECTORIES[directory] ?? directory;
}

export class CertificateManager {
  readonly paths: AcmePaths;
  private readonly opts: CertificateManagerOptions;
  private readonly tuning: AcmeTuning;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private started = false;
  private failures = 0;
  private lastFailure: Date | null = null;
  private lastError: string | null = null;
  private lastSuccess: string | null = null;
  private phase: AcmeStatus['state'] = 'idle';
  private dnsRecord: AcmeStatus['dnsRecord'] = null;
  private next: Date | null = null;
  private responder: HttpResponder | null = null;
  private abort: AbortController | null = null;

  constructor(opts: CertificateManagerOptions) {
    this.opts = opts;
    this.tuning = opts.tuning ?? {};
    this.paths = acmePaths(opts.dataDir);
    const saved = readJson<AcmeStatus>(this.paths.state);
    if (saved) {
      this.failures = saved.failures ?? 0;
      this.lastError = saved.lastError ?? null;
      this.lastFailure = saved.lastErrorAt ? new Date(saved.lastErrorAt) : null;
      this.lastSuccess = saved.lastSuccess ?? null;
    }
  }

  get enabled(): boolean {
    return this.opts.config().acme.enabled;
  }

  private now(): Date {
    return new Date(this.tuning.now ? this.tuning.now() : Date.now());
  }

  /** The certificate in <data>/acme/ when ACME is on and one is there for the hostname; else null (the gateway uses its other files). */
  tlsFiles(): TlsFiles | null {
    if (!this.enabled) return null;
    const c = this.usableCert();
    return c ? { certFile: this.paths.cert, keyFile: this.paths.key, generated: false } : null;
  }

  private certCache: { stamp: string; info: CertInfo | null } | null = null;

  /** The certificate in <data>/acme/ if it is for the hostname (read again only when the file changed). */
  private usableCert(): CertInfo | null {
    let stamp: string;
    try {
      const st = fs.statSync(this.paths.cert);
      fs.statSync(this.paths.key);
      stamp = `${st.mtimeMs}:${st.size}`;
    } catch {
      return null;
    }
    if (this.certCache?.stamp !== stamp) this.certCache = { stamp, info: readCert(this.paths.cert) };
    const c = this.certCache.info;
    return c?.names.includes(this.opts.config().hostname.toLowerCase()) ? c : null;
  }

  status(): AcmeStatus | null {
    const cfg = this.opts.config();
    if (!cfg.acme.enabled) return null;
    const c = this.usableCert();
    return {
      state: this.phase,
      directory: directoryUrl(cfg.acme.directory),
      challenge: cfg.acme.challenge,
      issuer: c?.issuer ?? null,
      notAfter: c?.notAfter.toISOString() ?? null,
      nextRenewal: this.next?.toISOString() ?? null,
      lastSuccess: this.lastSuccess,
      lastError: this.lastError,
      lastErrorAt: this.lastFailure?.toISOString() ?? null,
      failures: this.failures,
      dnsRecord: this.dnsRecord,
    };
  }

  /** Starts the schedule (an attempt at once when there is no certificate for the hostname). */
  start(): void {
    if (this.started || !this.enabled) return;
    this.started = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
    await this.running?.catch(() => {});
    await this.responder?.close();
    this.responder = null;
  }

  /** An attempt now, whatever the schedule says (a "renew now" button; tests). */
  renewNow(): Promise<void> {
    return this.attempt();
  }

  private changed(): void {
    this.saveState();
    this.opts.changed?.();
  }

  private saving: Promise<void> = Promise.resolve();

  /**
   * One write at a time (they share a temp file: two at once could leave an older
   * state on disk), each taking the state as it is when it runs, so the last file
   * written is the newest state. `postern doctor` reads it from another process.
   */
  private saveState(): void {
    this.saving = this.saving
      .then(() => {
        const s = this.status();
        return s ? writeAtomic(this.paths.state, `${JSON.stringify(s, null, 2)}\n`, 0o600) : undefined;
      })
      .catch(() => {});
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.started) return;
    const now = this.now();
    const cert = this.usableCert();
    const plan = nextAttempt({ cert, now, failures: this.failures, lastFailure: this.lastFailure, retry: this.tuning.retryMs ?? RETRY_MS });
    this.next = plan.at;
    this.changed();
    // setTimeout holds at most ~24.8 days; a long wait is re-planned when a shorter timer fires.
    const wait = Math.min(Math.max(0, plan.at.getTime() - now.getTime()), this.tuning.maxTimerMs ?? 6 * 3_600_000);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.now() >= plan.at) this.attempt().catch(() => {});
      else this.schedule();
    }, wait);
    this.timer.unref();
  }

  /** One issuance or renewal; never throws (the outcome is in the status and an event). */
  private attempt(): Promise<void> {
    this.running ??= this.issue()
      .then(
        async () => {
          this.failures = 0;
          this.lastError = null;
          this.lastFailure = null;
          this.lastSuccess = this.now().toISOString();
          this.phase = 'idle';
          const c = this.usableCert();
          try {
            await this.opts.installed();
          } catch (e) {
            this.opts.emit({ stage: 'system', verdict: 'reject', rule: 'acme', text: `the new certificate could not be served: ${(e as Error).message}` });
          }
          this.running = null;
          this.schedule();
          this.opts.emit({
            stage: 'system',
            verdict: 'accept',
            rule: 'acme',
            text: `certificate for ${this.opts.config().hostname} issued by ${c?.issuer ?? '?'}, valid until ${c?.notAfter.toISOString() ?? '?'}; next renewal ${this.next?.toISOString() ?? '?'}`,
          });
        },
        (e: Error) => {
          this.failures++;
          this.lastFailure = this.now();
          this.lastError = e.message;
          this.phase = 'failed';
          this.dnsRecord = null;
          this.running = null;
          this.schedule();
          const c = this.usableCert();
          const keeps = c ? `; the current certificate (valid until ${c.notAfter.toISOString()}) keeps serving` : '';
          this.opts.emit({
            stage: 'system',
            verdict: 'reject',
            rule: 'acme',
            reason: c ? 'renewal failed' : 'issuing failed',
            text: `certificate ${c ? 'renewal' : 'issuing'} for ${this.opts.config().hostname} failed: ${e.message}${keeps}; next attempt ${this.next?.toISOString() ?? '?'}`,
          });
        },
      )
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  /** RFC 8555 from account to certificate; throws with a sentence. */
  private async issue(): Promise<void> {
    const cfg = this.opts.config();
    const host = cfg.hostname.toLowerCase();
    const url = directoryUrl(cfg.acme.directory);
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.phase = 'issuing';
    this.changed();
    const agent = this.trustFor(cfg);
    try {
      await probe(url, agent);
      const accountKey = await this.accountKey();
      const account = readJson<AccountFile>(this.paths.account);
      const client = new acme.Client({
        directoryUrl: url,
        accountKey,
        accountUrl: account && account.directory === url ? account.url : undefined,
        backoffMin: this.tuning.pollMinMs ?? 5000,
        backoffMax: Math.max(this.tuning.pollMinMs ?? 5000, 30_000),
      });
      if (!account || account.directory !== url) {
        await client.createAccount({ termsOfServiceAgreed: true, ...(cfg.acme.email ? { contact: [`mailto:${cfg.acme.email}`] } : {}) });
        await writeAtomic(this.paths.account, `${JSON.stringify({ directory: url, url: client.getAccountUrl() } satisfies AccountFile)}\n`, 0o600);
      }
      const validity = this.tuning.validityMs;
      const order = await client.createOrder({
        identifiers: [{ type: 'dns', value: host }],
        ...(validity ? { notAfter: new Date(this.now().getTime() + validity).toISOString() } : {}),
      });
      const authzs = await client.getAuthorizations(order);
      for (const authz of authzs) {
        if (authz.status === 'valid') continue;
        const challenge = authz.challenges.find((c) => c.type === cfg.acme.challenge);
        if (!challenge) throw new Error(`the CA offers no ${cfg.acme.challenge} challenge for ${authz.identifier.value}`);
        const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
        try {
          if (challenge.type === 'http-01') {
            this.responder ??= await startHttpResponder(cfg.acme.httpPort);
            this.responder.set((challenge as { token: string }).token, keyAuthorization);
          } else {
            await this.waitForTxt(cfg, `_acme-challenge.${authz.identifier.value}`, keyAuthorization, signal);
          }
          if (signal.aborted) throw new Error('stopped');
          await client.completeChallenge(challenge);
          await client.waitForValidStatus(challenge);
        } catch (e) {
          await client.deactivateAuthorization(authz).catch(() => {});
          throw e;
        }
      }
      const [key, csr] = await acme.crypto.createCsr({ commonName: host, altNames: [host] });
      const finalized = await client.finalizeOrder(order, csr);
      const chain = await client.getCertificate(finalized);
      // The key first: the gateway's watcher reloads when the certificate changes.
      await writeAtomic(this.paths.key, key.toString(), 0o600);
      await writeAtomic(this.paths.cert, chain, 0o644);
    } catch (e) {
      throw new Error(describeAcmeError(e, url));
    } finally {
      this.dnsRecord = null;
      this.abort = null;
      await this.responder?.close();
      this.responder = null;
    }
  }

  private async accountKey(): Promise<Buffer> {
    try {
      return fs.readFileSync(this.paths.accountKey);
    } catch {
      const key = await acme.crypto.createPrivateEcdsaKey('P-256');
      await writeAtomic(this.paths.accountKey, key.toString(), 0o600);
      return key;
    }
  }

  /** acme.caFile: trusted for the ACME server besides the bundled roots (acme-client has one axios instance per process). */
  private trustFor(cfg: Config): https.Agent {
    const ca = cfg.acme.caFile ? [...tls.rootCertificates, fs.readFileSync(cfg.acme.caFile, 'utf8')] : undefined;
    const agent = new https.Agent({ ca, keepAlive: false });
    acme.axios.defaults.httpsAgent = agent;
    const settings = (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings;
    settings.retryMaxAttempts = this.tuning.httpRetries ?? 5;
    return agent;
  }

  /** DNS-01 by hand: show the record, then look for it through Postern's own DNS client (no cache) until it is there. */
  private async waitForTxt(cfg: Config, name: string, value: string, signal: AbortSignal): Promise<void> {
    this.dnsRecord = { name, value };
    this.phase = 'waiting-dns';
    this.changed();
    this.opts.emit({
      stage: 'system',
      verdict: 'info',
      rule: 'acme',
      text: `publish this DNS record for the certificate: ${name}. 3600 IN TXT "${value}" — Postern checks every few seconds and continues when it is there`,
    });
    const dns = new DnsClient({ servers: cfg.dns.servers, timeoutMs: cfg.dns.timeoutMs, cache: false });
    const every = this.tuning.dnsPollMs ?? 15_000;
    const until = Date.now() + (this.tuning.dnsWaitMs ?? 24 * 3_600_000);
    for (;;) {
      if (signal.aborted) throw new Error('stopped while waiting for the DNS record');
      const found = await dns.resolve(name, 'TXT').then(
        (rs) => rs.some((strings) => strings.join('') === value),
        () => false,
      );
      if (this.dnsRecord) {
        this.dnsRecord = { name, value, checkedAt: this.now().toISOString(), published: found };
        this.changed();
      }
      if (found) break;
      if (Date.now() > until) throw new Error(`the TXT record ${name} was not published with the value "${value}"`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, every);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
    }
    this.phase = 'issuing';
    this.changed();
  }
}

/**
 * GET the directory first: acme-client 5.4.0 turns a network error that outlives its
 * retries into "Cannot read properties of undefined (reading 'config')", so an
 * unreachable server is found and named here.
 */
function probe(url: string, agent: https.Agent): Promise<void> {
  const get = url.startsWith('https:') ? https.get : http.get;
  return new Promise((resolve, reject) => {
    const req = get(url, url.startsWith('https:') ? { agent, timeout: 30_000 } : { timeout: 30_000 }, (res) => {
      res.resume();
      if ((res.statusCode ?? 0) >= 400) reject(new Error(`the ACME directory ${url} answered HTTP ${res.statusCode}`));
      else resolve();
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/** One sentence for the status and the event: what went wrong, in the CA's words where it has some. */
export function describeAcmeError(e: unknown, url: string): string {
  const err = e as Error & { code?: string; response?: { status?: number } };
  if (err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === 'ETIMEDOUT' || err.code === 'ECONNRESET') {
    return `the ACME server ${url} could not be reached (${err.code})`;
  }
  if (/reading 'config'/.test(err.message ?? '')) return `the ACME server ${url} stopped answering`;
  if (err.code && /CERT|SELF_SIGNED|UNABLE_TO/.test(err.code))
    return `the ACME server's certificate is not trusted (${err.code}); set acme.caFile for a private CA`;
  return err.message || String(e);
}
