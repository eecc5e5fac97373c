// Reading, validating and writing the config file (docs/design.md §8.2). An invalid file is
// refused as a whole with the JSON path of each problem: the gateway never starts
// half-configured.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { configSchema, type Config } from './schema.ts';
import { parseCidr } from '../net/cidr.ts';
import { isValidDomain, mailboxKey, normalizeDomain, parseMailbox } from '../policy/address.ts';

export interface ConfigProblem {
  path: string;
  message: string;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(source: string, problems: ConfigProblem[]) {
    super(`${source}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validateSchema = ajv.compile(configSchema);

function ajvPath(e: ErrorObject): string {
  const base = '$' + e.instancePath.replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.');
  if (e.keyword === 'additionalProperties') return `${base}.${(e.params as { additionalProperty: string }).additionalProperty}`;
  return base;
}

function ajvMessage(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') return 'unknown setting';
  if (e.keyword === 'enum') return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return e.message ?? 'invalid';
}

/**
 * Fills defaults into a parsed config object and validates it. Returns a new object;
 * throws ConfigError listing every problem.
 */
export function validateConfig(input: unknown, source = 'config'): Config {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(source, [{ path: '$', message: 'must be a JSON object' }]);
  }
  const cfg = structuredClone(input) as Config;
  if (!validateSchema(cfg)) {
    throw new ConfigError(source, (validateSchema.errors ?? []).map((e) => ({ path: ajvPath(e), message: ajvMessage(e) })));
  }
  const problems = semanticProblems(cfg);
  if (problems.length) throw new ConfigError(source, problems);
  normalize(cfg);
  return cfg;
}

function semanticProblems(cfg: Config): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const add = (p: string, m: string) => out.push({ path: p, message: m });
  if (!isValidDomain(cfg.hostname)) add('$.hostname', `"${cfg.hostname}" is not a valid host name`);
  if (cfg.publicAddress !== null && !net.isIP(cfg.publicAddress)) add('$.publicAddress', `"${cfg.publicAddress}" is not an IP address`);
  const domains = new Set<string>();
  cfg.domains.forEach((d, i) => {
    if (!isValidDomain(d)) add(`$.domains[${i}]`, `"${d}" is not a valid domain`);
    domains.add(normalizeDomain(d));
  });
  const names = new Set<string>();
  const owners = new Map<string, string>();
  cfg.accounts.forEach((a, i) => {
    if (names.has(a.name)) add(`$.accounts[${i}].name`, `duplicate account "${a.name}"`);
    names.add(a.name);
    a.addresses.forEach((addr, j) => {
      const p = `$.accounts[${i}].addresses[${j}]`;
      const problem = accountAddressProblem(addr, domains);
      if (problem) return add(p, problem);
      // Case-insensitive, as core/policy/directory.ts looks addresses up.
      const key = mailboxKey(parseMailbox(addr)!);
      const owner = owners.get(key);
      if (owner && owner !== a.name) add(p, addressTakenMessage(addr, owner));
      owners.set(key, a.name);
    });
    // sendAs: addresses the account may send as (shared ones); any local address, owned or not.
    (a.sendAs ?? []).forEach((addr, j) => {
      const problem = accountAddressProblem(addr, domains);
      if (problem) add(`$.accounts[${i}].sendAs[${j}]`, problem);
    });
  });
  const seen = new Set<string>();
  cfg.listeners.forEach((l, i) => {
    if (!net.isIP(l.host) && l.host !== 'localhost') add(`$.listeners[${i}].host`, `"${l.host}" is not an IP address`);
    const key = `${l.host}|${l.port}`;
    if (l.port !== 0 && seen.has(key)) add(`$.listeners[${i}].port`, `port ${l.port} is listed twice on ${l.host}`);
    seen.add(key);
  });
  cfg.internalNetworks.forEach((n, i) => {
    try {
      parseCidr(n.cidr);
    } catch (e) {
      add(`$.internalNetworks[${i}].cidr`, (e as Error).message);
    }
  });
  cfg.trustedProxies.forEach((p, i) => {
    if (!net.isIP(p)) add(`$.trustedProxies[${i}]`, `"${p}" is not an IP address (a PROXY sender is one host)`);
  });
  if ((cfg.tls.certFile === null) !== (cfg.tls.keyFile === null)) {
    add('$.tls', 'set both certFile and keyFile, or neither');
  }
  cfg.dns.servers.forEach((s, i) => {
    if (!parseHostPort(s)) add(`$.dns.servers[${i}]`, `"${s}" is not an IP address or IP:port`);
  });
  if (!net.isIP(cfg.dashboard.host) && cfg.dashboard.host !== 'localhost') add('$.dashboard.host', `"${cfg.dashboard.host}" is not an IP address`);
  return out;
}

/**
 * Why `addr` cannot be an account's address given the local domains (normalized), or
 * null. The file check and the accounts service (core/accounts/service.ts) share it,
 * so a hand-edited file, the CLI and the dashboard refuse with the same words.
 */
export function accountAddressProblem(addr: string, localDomains: ReadonlySet<string>): string | null {
  const mb = parseMailbox(addr);
  if (!mb || mb.routing) return `"${addr}" is not a plain mail address`;
  if (!localDomains.has(mb.domain)) return `"${addr}" is not in one of the local domains (${[...localDomains].join(', ') || 'none configured'})`;
  return null;
}

export function addressTakenMessage(addr: string, owner: string): string {
  return `"${addr}" already belongs to account "${owner}"`;
}

function normalize(cfg: Config): void {
  cfg.hostname = normalizeDomain(cfg.hostname);
  cfg.domains = [...new Set(cfg.domains.map(normalizeDomain))];
  for (const a of cfg.accounts) {
    a.addresses = a.addresses.map((x) => parseMailbox(x)!.address);
    if (a.sendAs) a.sendAs = a.sendAs.map((x) => parseMailbox(x)!.address);
  }
  for (const n of cfg.internalNetworks) n.cidr = parseCidr(n.cidr).cidr;
}

/** `1.2.3.4`, `1.2.3.4:53`, `[::1]:53`, `::1` → {host, port}. */
export function parseHostPort(s: string, defaultPort = 53): { host: string; port: number } | null {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  if (m && net.isIP(m[1])) {
    const port = m[2] ? Number(m[2]) : defaultPort;
    return port > 0 && port < 65536 ? { host: m[1], port } : null;
  }
  if (net.isIPv6(s)) return { host: s, port: defaultPort };
  return null;
}

/** Reads and validates a config file. A missing file is a problem, not a default. */
export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [{ path: '$', message: `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` }]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, [{ path: '$', message: `not valid JSON: ${(e as Error).message}` }]);
  }
  return validateConfig(parsed, file);
}

/** Reads the file as JSON without defaults (for commands that edit it). */
export function readRawConfig(file: string): Record<string, unknown> {
  if (!fs.existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, [{ path: '$', message: `not valid JSON: ${(e as Error).message}` }]);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(file, [{ path: '$', message: 'must be a JSON object' }]);
  return parsed as Record<string, unknown>;
}

/** Writes the file atomically (temp file, fsync, rename), mode 0600: it holds password hashes. */
export function writeConfigFile(file: string, data: unknown): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(data, null, 2) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
