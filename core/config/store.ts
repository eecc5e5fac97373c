// Where the gateway's config lives and how changes made at run time (network
// toggles, accounts) are saved. The CLI uses a JSON file; the desktop app an
// electron-store file with the same schema (electron/store.ts).
import { readRawConfig, validateConfig, writeConfigFile } from './load.ts';
import type { Config } from './schema.ts';

export interface ConfigStore {
  /** The current config (validated, defaults filled). */
  load(): Config;
  /**
   * Applies a change to the stored form and returns the new validated config.
   * Throws ConfigError (and stores nothing) if the result is invalid.
   */
  update(mutate: (raw: Record<string, unknown>) => void): Config;
}

/** A JSON file. Only the keys a change touches are written; the rest stays as the user wrote it. */
export class FileConfigStore implements ConfigStore {
  readonly file: string;
  constructor(file: string) {
    this.file = file;
  }

  load(): Config {
    return validateConfig(readRawConfig(this.file), this.file);
  }

  update(mutate: (raw: Record<string, unknown>) => void): Config {
    const raw = readRawConfig(this.file);
    mutate(raw);
    const cfg = validateConfig(raw, this.file);
    writeConfigFile(this.file, raw);
    return cfg;
  }
}

/** In memory only (tests, and a serve without --config). */
export class MemoryConfigStore implements ConfigStore {
  private raw: Record<string, unknown>;
  constructor(raw: Record<string, unknown> = {}) {
    this.raw = structuredClone(raw);
    validateConfig(this.raw);
  }
  load(): Config {
    return validateConfig(this.raw);
  }
  update(mutate: (raw: Record<string, unknown>) => void): Config {
    const next = structuredClone(this.raw);
    mutate(next);
    const cfg = validateConfig(next);
    this.raw = next;
    return cfg;
  }
}
