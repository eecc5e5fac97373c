// The desktop app's config: core's ConfigStore over electron-store, in
// <userData>/config.json — the same file `postern serve` and `postern user add` use
// by default (core/config/paths.ts), with the same schema (core/config/schema.ts).
//   - electron-store checks the schema on every read and write; core's
//     validateConfig() then fills defaults and checks meaning (addresses in local
//     domains, CIDRs…), and an invalid change is refused whole, nothing written.
//   - Defaults are NOT written into the file (useDefaults off): like FileConfigStore,
//     only what the user or a change set is stored, so new defaults reach old files.
//   - Mode 0600: the file holds password hashes and the smarthost password.
//   - The smarthost password is sealed with the OS keychain (Electron's safeStorage)
//     when there is one: sealed on update, opened on load (electron/secrets.ts,
//     docs/design.md §8.2). The file keeps the sealed form; core sees it opened.
//   - No electron-store migrations (its readme calls them buggy; docs/design.md §10.4).
//   - `watch`: an edit from outside (the CLI's `postern user add`) is noticed and
//     handed to onExternalChange, so the running gateway reloads it.
//   - Reads go to the file, not to electron-store's copy: with `watch` on, conf
//     serves a cache until its poll notices an outside edit (~1.5 s on Linux), and
//     an update made from that cache would write the CLI's change away.
// The Store class is passed in, so this module runs in plain Node (tests) too.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRawConfig, validateConfig } from '../core/config/load.ts';
import { configSchema, type Config } from '../core/config/schema.ts';
import type { ConfigStore } from '../core/config/store.ts';
import { sealSecrets, unsealSecrets, type SafeStorageLike } from './secrets.ts';

/** The part of electron-store (conf) this module uses. */
export interface KeyValueStore {
  readonly path: string;
  store: Record<string, unknown>;
  onDidAnyChange(cb: () => void): () => void;
  _closeWatcher?(): void;
}

export interface StoreOptions {
  cwd: string;
  name: string;
  schema: Record<string, unknown>;
  rootSchema: Record<string, unknown>;
  ajvOptions: Record<string, unknown>;
  clearInvalidConfig: boolean;
  configFileMode: number;
  watch: boolean;
}

export type StoreClass = new (opts: StoreOptions) => KeyValueStore;

/** A first config: safe defaults (only this computer trusted) for this host's name (as core/serve.ts). */
export function starterConfig(hostname = os.hostname()): Record<string, unknown> {
  const host = hostname.toLowerCase();
  return { hostname: /^[a-z0-9.-]+$/.test(host) && !host.startsWith('.') ? host : 'localhost', domains: [], accounts: [] };
}

export function storeOptions(cwd: string, watch = true): StoreOptions {
  return {
    cwd,
    name: 'config',
    schema: configSchema.properties as unknown as Record<string, unknown>,
    rootSchema: { additionalProperties: false },
    ajvOptions: { useDefaults: false, strict: false },
    clearInvalidConfig: false, // never throw a family's accounts away
    configFileMode: 0o600,
    watch,
  };
}

export class ElectronConfigStore implements ConfigStore {
  readonly file: string;
  /** True when this run created the file (first run). */
  readonly created: boolean;
  private readonly kv: KeyValueStore;
  private lastRaw: string;
  private externalListener: (() => void) | null = null;
  private readonly safeStorage: SafeStorageLike | null;
  /** The last unseal problem logged, so a file that stays unreadable is logged once. */
  private loggedUnseal = '';

  /**
   * Opens <cwd>/config.json, creating it with starterConfig() on first run. A file
   * that is invalid throws ConfigError with the JSON path of each problem (before
   * electron-store sees it: its messages name no file).
   */
  constructor(Store: StoreClass, cwd: string, opts: { watch?: boolean; starter?: Record<string, unknown>; safeStorage?: SafeStorageLike | null } = {}) {
    this.file = path.join(cwd, 'config.json');
    this.safeStorage = opts.safeStorage ?? null;
    this.created = !fs.existsSync(this.file);
    if (!this.created) validateConfig(readRawConfig(this.file), this.file);
    fs.mkdirSync(cwd, { recursive: true, mode: 0o700 });
    this.kv = new Store(storeOptions(cwd, opts.watch ?? true));
    if (this.created) this.kv.store = sealSecrets(opts.starter ?? starterConfig(), this.safeStorage);
    else this.sealInPlace();
    this.lastRaw = JSON.stringify(this.raw());
    this.kv.onDidAnyChange(() => {
      let now: string;
      try {
        now = JSON.stringify(this.raw());
      } catch {
        now = 'unreadable'; // a broken edit is a change too: reload() reports it
      }
      if (now === this.lastRaw) return;
      this.lastRaw = now;
      this.externalListener?.();
    });
  }

  /** The file as stored (no defaults); ConfigError names the file. */
  private raw(): Record<string, unknown> {
    return readRawConfig(this.file);
  }

  /** The file with its secrets opened; one that stays sealed is logged (once) and core treats it as not set. */
  private opened(stored: Record<string, unknown>): Record<string, unknown> {
    const { raw, problems } = unsealSecrets(stored, this.safeStorage);
    const said = problems.map((p) => `${p.path}: ${p.reason} (${p.technical})`).join('; ');
    if (said && said !== this.loggedUnseal) console.error(`postern: a secret in ${this.file} could not be opened with the keychain: ${said}`);
    this.loggedUnseal = said;
    return raw;
  }

  /** A password left in clear (by `postern serve`, or before a keychain was there) is sealed now. */
  private sealInPlace(): void {
    const stored = this.raw();
    const opened = this.opened(stored);
    const sealed = sealSecrets(opened, this.safeStorage, { stored, opened });
    if (JSON.stringify(sealed) !== JSON.stringify(stored)) this.kv.store = sealed;
  }

  load(): Config {
    return validateConfig(this.opened(this.raw()), this.file);
  }

  update(mutate: (raw: Record<string, unknown>) => void): Config {
    const stored = this.raw();
    const opened = this.opened(stored);
    const raw = structuredClone(opened);
    mutate(raw);
    const cfg = validateConfig(raw, this.file);
    const sealed = sealSecrets(raw, this.safeStorage, { stored, opened });
    this.lastRaw = JSON.stringify(sealed);
    this.kv.store = sealed;
    return cfg;
  }

  /** Called when the file changed from outside this process (debounced by electron-store). */
  onExternalChange(fn: () => void): void {
    this.externalListener = fn;
  }

  /** Stops watching the file. */
  close(): void {
    this.kv._closeWatcher?.();
  }
}
