// Reading, validating and writing the config file (docs/design.md §8.2). An invalid file is
// refused as a whole with the JSON path of each problem: the gateway never starts
// half-configured.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { ACME_DIRECTORY_NAMES, configSchema, type Config } from './schema.ts';
import { isSealedSecret } from './secrets.ts';
import { parseCidr } from '../net/cidr.ts';
import { cidrInputProblem, tooWideProblem } from '../net/trust.ts';
import { isValidDomain, mailboxKey, normalizeDomain, parseMailbox } from '../policy/address.ts';

export interface ConfigProblem {
  /** Where, as a JSON path (`$.accounts[0].name`): for logs and tests, never shown on a page. */
  path: string;
  /** The problem as a sentence that says where in words and what to type instead. */
  message: string;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  /** The file (or "config") the problems are in. */
  readonly source: string;
  /** Technical detail for the log (the parser's own words), if any. */
  readonly technical: string;
  constructor(source: string, problems: ConfigProblem[], technical = '') {
    super(`${source}: ${problems.map((p) => p.message).join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
    this.source = source;
    this.technical = technical;
  }
  /** The problems alone, numbered when there are several (for a banner or a page). */
  get plain(): string {
    if (this.problems.length === 1) return this.problems[0].message;
    return this.problems.map((p, i) => `(${i + 1}) ${p.message}`).join(' ');
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
const validateSchema = ajv.compile(configSchema);

function ajvPath(e: ErrorObject): string {
  const base = `$${e.instancePath.replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.')}`;
  if (e.keyword === 'additionalProperties') return `${base}.${(e.params as { additionalProperty: string }).additionalProperty}`;
  if (e.keyword === 'required') return `${base}.${(e.params as { missingProperty: string }).missingProperty}`;
  return base;
}

// ---- where, in words -------------------------------------------------------------

const SECTION: Record<string, string> = {
  hostname: 'The host name',
  publicAddress: 'The public address',
  domains: 'The list of domains',
  accounts: 'The list of accounts',
  sharedAddresses: 'The list of shared addresses',
  auth: 'The login settings ("auth")',
  listeners: 'The list of listeners',
  internalNetworks: 'The list of internal networks',
  trustedProxies: 'The list of trusted proxies',
  spf: 'The SPF settings ("spf")',
  tls: 'The certificate settings ("tls")',
  dns: 'The DNS settings ("dns")',
  outbound: 'The outgoing mail settings ("outbound")',
  dkim: 'The DKIM settings ("dkim")',
  limits: 'The limits ("limits")',
  dashboard: 'The dashboard settings ("dashboard")',
  dnsbl: 'The DNS blocklist settings ("dnsbl")',
  rspamd: 'The spam filter settings ("rspamd")',
  greylist: 'The greylisting settings ("greylist")',
  rateLimits: 'The rate limits ("rateLimits")',
};

const ITEM: Record<string, string> = {
  domains: 'Domain',
  accounts: 'Account',
  sharedAddresses: 'Shared address',
  listeners: 'Listener',
  internalNetworks: 'Internal network',
  trustedProxies: 'Trusted proxy',
  servers: 'DNS server',
  addresses: 'address',
  sendAs: 'send-as address',
  zones: 'DNS blocklist',
  allow: 'Allow-list zone',
  allowAddresses: 'Address never looked up in the blocklists',
};

/**
 * Where a problem is, in words: `$.accounts[0].addresses[1]` → `Account 1, address 2`,
 * `$.limits.maxClients` → `The setting "limits.maxClients"`, `$.hostname` → `The host name`.
 * `omitLeaf`: the sentence names the field itself (`the name "Jo Hn" …`).
 */
export function describePath(p: string, omitLeaf = false): string {
  const parts: (string | number)[] = [...p.replace(/^\$\.?/, '').matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]));
  if (!parts.length) return 'The file';
  if (parts.length === 1 && typeof parts[0] === 'string') return SECTION[parts[0]] ?? `The setting "${parts[0]}"`;
  const words: string[] = [];
  let keys: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const k = parts[i];
    const next = parts[i + 1];
    if (typeof k === 'string' && typeof next === 'number' && ITEM[k]) {
      words.push(`${ITEM[k]} ${next + 1}`);
      keys = [];
      i++;
    } else if (typeof k === 'string') keys.push(k);
  }
  if (keys.length && !(omitLeaf && keys.length === 1 && words.length)) words.push(words.length ? `"${keys.join('.')}"` : `The setting "${keys.join('.')}"`);
  const out = words.join(', ');
  return out.charAt(0).toUpperCase() + out.slice(1);
}

// ---- what is wrong, and what to type instead ----------------------------------------

/** An example value for a setting, by its last key (for "for example …"). */
const EXAMPLE: Record<string, string> = {
  port: '25',
  mxPort: '25',
  timeoutMs: '5000',
  maxFailures: '5',
  banSeconds: '900',
  maxMessageBytes: '26214400',
  maxRecipients: '100',
  maxClients: '200',
  maxConnectionsPerClient: '20',
  idleTimeoutSeconds: '300',
  hostname: '"mx.doe-family.com"',
  host: '"127.0.0.1"',
  cidr: '"192.168.1.0/24"',
  enabled: 'true',
  secure: 'false',
  requireTLS: 'true',
  selector: '"postern"',
};

/** Suggests a valid account name from what was typed: "Jo Hn" → "john". */
function suggestName(typed: unknown): string {
  const s = String(typed ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, '')
    .replace(/^[._-]+/, '')
    .slice(0, 64);
  return s || 'john';
}

function lastKey(p: string): string {
  const m = /\.([^.[\]]+)(?:\[\d+\])*$/.exec(p);
  return m ? m[1] : '';
}

function valueAt(cfg: unknown, p: string): unknown {
  let node = cfg;
  for (const m of p.replace(/^\$\.?/, '').matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[m[2] ?? m[1]];
  }
  return node;
}

function ajvSentence(e: ErrorObject, p: string, input: unknown): string {
  const key = lastKey(p);
  const example = EXAMPLE[key] ? `, for example ${EXAMPLE[key]}` : '';
  const value = valueAt(input, p);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const known = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {}).filter((k) => k !== '$schema');
      return `"${params.additionalProperty}" is not a setting Postern knows: check its spelling${known.length ? ` (the settings here are ${known.map((k) => `"${k}"`).join(', ')})` : ''}, or remove it`;
    }
    case 'required':
      return `is missing "${params.missingProperty}"${EXAMPLE[params.missingProperty as string] ? `: add it, for example "${params.missingProperty}": ${EXAMPLE[params.missingProperty as string]}` : ': add it'}`;
    case 'anyOf':
      // Never the value: it may be a secret.
      if (key === 'password') return 'must be the password as text in double quotes';
      return `is not valid here${example}`;
    case 'pattern':
      if (key === 'name')
        return `the name "${value}" may only contain lower-case letters, digits, dots, hyphens and underscores, and must start with a letter or digit — for example "${suggestName(value)}"`;
      if (key === 'selector') return `the DKIM selector "${value}" may only contain letters, digits and hyphens — for example "postern"`;
      return `"${value}" is not in the expected form${example}`;
    case 'enum':
      return `"${value}" is not one of the choices: write ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(' or ')}`;
    case 'type': {
      const want = String(params.type);
      const shown = value === undefined ? 'nothing' : JSON.stringify(value);
      if (want === 'integer' || want === 'number') return `must be a whole number without quotes${example || ', for example 25'} (it is ${shown})`;
      if (want === 'boolean') return `must be true or false, without quotes (it is ${shown})`;
      if (want === 'array') return `must be a list in square brackets, for example ["…"] (it is ${shown})`;
      if (want === 'object') return `must be a group of settings in curly braces { … } (it is ${shown})`;
      if (want.includes('null')) return `must be text in double quotes, or null (it is ${shown})`;
      return `must be text in double quotes${example} (it is ${shown})`;
    }
    case 'minimum':
      return `must be at least ${params.limit}${example} (it is ${JSON.stringify(value)})`;
    case 'maximum':
      return `must be at most ${params.limit}${example} (it is ${JSON.stringify(value)})`;
    case 'minLength':
      return value === '' ? 'must not be empty' : `"${value}" is too short to be right`;
    default:
      return `is not valid here${example}`;
  }
}

/** `where: what` as one sentence, capitalised. */
function sentence(where: string, what: string): string {
  const text = `${where}: ${what}`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A problem found by a check below (its `message` already says what, not where). */
function located(p: ConfigProblem): ConfigProblem {
  return { path: p.path, message: sentence(describePath(p.path, p.path.endsWith('.name') || p.path.endsWith('.cidr')), p.message) };
}

/**
 * Fills defaults into a parsed config object and validates it. Returns a new object;
 * throws ConfigError listing every problem at once — the schema's and the meaning's
 * (docs/design.md §8.2), each as a plain sentence.
 */
export function validateConfig(input: unknown, source = 'config'): Config {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(source, [{ path: '$', message: 'The file must hold one group of settings in curly braces: { "hostname": "mx.example.com", … }' }]);
  }
  const cfg = structuredClone(input) as Config;
  const problems: ConfigProblem[] = [];
  if (!validateSchema(cfg)) {
    for (const e of validateSchema.errors ?? []) {
      // One of several forms (the smarthost password: text, or sealed): one sentence for the place, not one per form.
      if (e.schemaPath.includes('/anyOf/')) continue;
      const p = ajvPath(e);
      if (problems.some((x) => x.path === p)) continue; // one sentence per place
      // An unknown setting is named in the sentence; the place is the group it is in.
      const where =
        e.keyword === 'additionalProperties'
          ? e.instancePath
            ? describePath(ajvPath({ ...e, keyword: 'x' }))
            : 'The file'
          : describePath(p, e.keyword === 'pattern');
      problems.push({ path: p, message: sentence(where, ajvSentence(e, p, input)) });
    }
  }
  // The meaning is checked even when the shape is not right, so that a file with four
  // mistakes names all four in one run; a place the schema already named is skipped.
  for (const p of semanticProblems(cfg)) {
    if (!problems.some((x) => x.path === p.path || p.path.startsWith(`${x.path}.`) || p.path.startsWith(`${x.path}[`))) problems.push(located(p));
  }
  if (problems.length) throw new ConfigError(source, problems);
  normalize(cfg);
  return cfg;
}

const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function semanticProblems(cfg: Config): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const add = (p: string, m: string) => out.push({ path: p, message: m });
  const guard = (fn: () => void) => {
    try {
      fn();
    } catch {
      // a part the schema refused already (a wrong type): named above
    }
  };
  guard(() => {
    const h = text(cfg.hostname);
    if (h !== null && h && !isValidDomain(h))
      add('$.hostname', `"${h}" is not a valid host name: write a name such as "mx.doe-family.com" (letters, digits, hyphens and dots)`);
  });
  guard(() => {
    const a = text(cfg.publicAddress);
    if (a !== null && !net.isIP(a))
      add('$.publicAddress', `"${a}" is not an IP address: write this server's Internet address, for example "203.0.113.7", or null`);
  });
  const domains = new Set<string>();
  for (const [i, d] of list<string>(cfg.domains).entries()) {
    guard(() => {
      if (typeof d !== 'string') return;
      if (!isValidDomain(d)) add(`$.domains[${i}]`, `"${d}" is not a valid domain: write it as "doe-family.com" (letters, digits, hyphens and dots)`);
      domains.add(normalizeDomain(d));
    });
  }
  const names = new Set<string>();
  const owners = new Map<string, string>();
  for (const [i, a] of list<Config['accounts'][number]>(cfg.accounts).entries()) {
    guard(() => {
      if (!a || typeof a !== 'object') return;
      if (typeof a.name === 'string') {
        if (names.has(a.name)) add(`$.accounts[${i}].name`, `the name "${a.name}" is used by another account too: give each account its own name`);
        names.add(a.name);
      }
      list<string>(a.addresses).forEach((addr, j) => {
        if (typeof addr !== 'string') return;
        const p = `$.accounts[${i}].addresses[${j}]`;
        const problem = accountAddressProblem(addr, domains);
        if (problem) {
          add(p, problem);
          return;
        }
        // Case-insensitive, as core/policy/directory.ts looks addresses up.
        const key = mailboxKey(parseMailbox(addr)!);
        const owner = owners.get(key);
        if (owner && owner !== a.name) add(p, addressTakenMessage(addr, owner));
        owners.set(key, a.name);
      });
      // sendAs: addresses the account may send as (shared ones); any local address, owned or not.
      list<string>(a.sendAs).forEach((addr, j) => {
        if (typeof addr !== 'string') return;
        const problem = accountAddressProblem(addr, domains);
        if (problem) add(`$.accounts[${i}].sendAs[${j}]`, problem);
      });
    });
  }
  // Shared addresses (docs/design.md §8.2): local, nobody's own address, listed once, for accounts that exist.
  const sharedSeen = new Set<string>();
  for (const [i, s] of list<Config['sharedAddresses'][number]>(cfg.sharedAddresses).entries()) {
    guard(() => {
      if (typeof s.address === 'string') {
        const problem = accountAddressProblem(s.address, domains);
        if (problem) add(`$.sharedAddresses[${i}].address`, problem);
        else {
          const key = mailboxKey(parseMailbox(s.address)!);
          const owner = owners.get(key);
          if (owner)
            add(
              `$.sharedAddresses[${i}].address`,
              `${addressTakenMessage(s.address, owner)}: a shared address is nobody's own — remove it from that account first`,
            );
          else if (sharedSeen.has(key))
            add(`$.sharedAddresses[${i}].address`, `"${s.address}" is listed twice: list each shared address once, with all its accounts`);
          sharedSeen.add(key);
        }
      }
      list<string>(s.accounts).forEach((name, j) => {
        if (typeof name === 'string' && !names.has(name))
          add(`$.sharedAddresses[${i}].accounts[${j}]`, `there is no account named "${name}": add the account first, or remove it from this list`);
      });
    });
  }
  const seen = new Set<string>();
  for (const [i, l] of list<Config['listeners'][number]>(cfg.listeners).entries()) {
    guard(() => {
      if (typeof l.host === 'string' && !net.isIP(l.host) && l.host !== 'localhost')
        add(
          `$.listeners[${i}].host`,
          `"${l.host}" is not an IP address: write "::" for every address, "0.0.0.0" for every IPv4 address, or "127.0.0.1" for this computer only`,
        );
      const key = `${l.host}|${l.port}`;
      if (l.port !== 0 && seen.has(key)) add(`$.listeners[${i}].port`, `port ${l.port} is listed twice on ${l.host}: give each listener its own port`);
      seen.add(key);
    });
  }
  for (const [i, n] of list<Config['internalNetworks'][number]>(cfg.internalNetworks).entries()) {
    guard(() => {
      if (typeof n.cidr !== 'string') return;
      const bad = cidrInputProblem(n.cidr);
      if (bad) return add(`$.internalNetworks[${i}].cidr`, bad);
      // Trust is explicit (docs/design.md §2.2): too wide a range is refused in the file too.
      const wide = tooWideProblem(parseCidr(n.cidr));
      if (wide) add(`$.internalNetworks[${i}].cidr`, wide);
    });
  }
  for (const [i, p] of list<string>(cfg.trustedProxies).entries()) {
    guard(() => {
      if (typeof p === 'string' && !net.isIP(p))
        add(`$.trustedProxies[${i}]`, `"${p}" is not an IP address: a trusted proxy is one machine, for example "203.0.113.7"`);
    });
  }
  guard(() => {
    if ((cfg.tls.certFile === null) !== (cfg.tls.keyFile === null))
      add('$.tls', 'set both "certFile" and "keyFile" (the certificate and its private key), or neither');
  });
  for (const [i, s] of list<string>(cfg.dns?.servers).entries()) {
    guard(() => {
      if (typeof s === 'string' && !parseHostPort(s))
        add(`$.dns.servers[${i}]`, `"${s}" is not an IP address or IP:port: write for example "192.168.1.1" or "192.168.1.1:53"`);
    });
  }
  guard(() => {
    // acme.directory: a known name or the directory's address (docs/design.md §2.5).
    const d = text((cfg as { acme?: { directory?: unknown } }).acme?.directory);
    if (d !== null && !ACME_DIRECTORY_NAMES.includes(d) && !/^https?:\/\/\S+$/.test(d)) {
      add(
        '$.acme.directory',
        `"${d}" is not an ACME directory Postern knows: write ${ACME_DIRECTORY_NAMES.map((n) => `"${n}"`).join(' or ')}, or the directory's https:// address`,
      );
    }
  });
  // DNS blocklists (docs/design.md §2.11): zones are domain names, allowAddresses networks.
  for (const [i, z] of list<Config['dnsbl']['zones'][number]>(cfg.dnsbl?.zones).entries()) {
    guard(() => {
      const zone = text(z?.zone);
      if (zone !== null && !isValidDomain(zone.replace(/\.$/, '')))
        add(`$.dnsbl.zones[${i}].zone`, `"${zone}" is not a domain name: write the list's zone as its provider gives it, for example "zen.spamhaus.org"`);
    });
  }
  for (const [i, zone] of list<string>(cfg.dnsbl?.allow).entries()) {
    guard(() => {
      if (typeof zone === 'string' && !isValidDomain(zone.replace(/\.$/, '')))
        add(`$.dnsbl.allow[${i}]`, `"${zone}" is not a domain name: write the allow-list's zone, for example "list.dnswl.org"`);
    });
  }
  for (const [i, a] of list<string>(cfg.dnsbl?.allowAddresses).entries()) {
    guard(() => {
      if (typeof a !== 'string') return;
      const bad = cidrInputProblem(a);
      if (bad) add(`$.dnsbl.allowAddresses[${i}]`, bad);
    });
  }
  guard(() => {
    const h = text(cfg.dashboard.host);
    if (h !== null && !net.isIP(h) && h !== 'localhost') add('$.dashboard.host', `"${h}" is not an IP address: write "127.0.0.1" (this computer only)`);
  });
  return out;
}

/**
 * Why `addr` cannot be an account's address given the local domains (normalized), or
 * null. The file check and the accounts service (core/accounts/service.ts) share it,
 * so a hand-edited file, the CLI and the dashboard refuse with the same words.
 */
export function accountAddressProblem(addr: string, localDomains: ReadonlySet<string>): string | null {
  const domainsText = [...localDomains].join(', ');
  const example = `for example "john@${[...localDomains][0] ?? 'doe-family.com'}"`;
  if (addr.includes(',') || addr.includes(';')) {
    const sep = addr.includes(',') ? 'comma' : 'semicolon';
    const at = addr.lastIndexOf('@');
    // john.doe@doe-family,com: a typo for a dot in the domain, not two addresses.
    if (at > 0 && !addr.slice(0, at).includes(',') && (addr.match(/@/g) ?? []).length === 1) {
      return `"${addr}" has a ${sep} in it, and a mail address has none: did you mean "${addr.slice(0, at)}@${addr.slice(at + 1).replace(/[,;]/g, '.')}"? (Several addresses are given one by one, separated by spaces.)`;
    }
    return `"${addr}" has a ${sep} in it, and a mail address has none: give several addresses one by one, separated by spaces`;
  }
  if (/\s/.test(addr.trim()) || !addr.includes('@')) return `"${addr}" is not a mail address: write it as name@domain, ${example}`;
  const mb = parseMailbox(addr);
  if (!mb || mb.routing) return `"${addr}" is not a plain mail address: write it as name@domain, ${example}`;
  if (!localDomains.has(mb.domain)) {
    return domainsText
      ? `"${addr}" is not in one of the family's domains (${domainsText}): use an address ending in @${[...localDomains][0]}, or add ${mb.domain} to the domains first`
      : `"${addr}" cannot be an account's address yet: no domain is set up — add ${mb.domain} to the domains first`;
  }
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
  for (const s of cfg.sharedAddresses) {
    s.address = parseMailbox(s.address)!.address;
    s.accounts = [...new Set(s.accounts)];
  }
  for (const n of cfg.internalNetworks) n.cidr = parseCidr(n.cidr).cidr;
  // Sealed by the desktop app's keychain and not opened (electron/secrets.ts opens it
  // before this): not set here, and said so (core/config/secrets.ts, docs/design.md §8.2).
  const sh = cfg.outbound.smarthost;
  if (isSealedSecret(sh.password)) {
    sh.password = '';
    sh.passwordSealed = true;
  }
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

/** A file-system error in plain words (the code stays for the log). */
export function fileProblem(e: unknown, file: string, doing: 'read' | 'write'): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const name = path.basename(file);
  switch (code) {
    case 'ENOENT':
      return doing === 'read' ? `${name} does not exist` : `the folder of ${name} does not exist`;
    case 'EACCES':
    case 'EPERM':
      return `Postern is not allowed to ${doing} ${name} or its folder (check the file's owner and permissions, and that it is not locked)`;
    case 'EROFS':
      return `${name} is on a read-only disk`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `the disk holding ${name} is full`;
    case 'EISDIR':
      return `${name} is a folder, not a file`;
    default:
      return `${name} could not be ${doing === 'read' ? 'read' : 'written'}${code ? ` (${code})` : ''}`;
  }
}

/** Where a JSON.parse error happened, as "line L, column C" (Node says "position N"). */
function jsonErrorPlace(message: string, text: string): string {
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return `line ${lc[1]}, column ${lc[2]}`;
  const pos = /position (\d+)/.exec(message);
  const at = pos ? Number(pos[1]) : text.length;
  const before = text.slice(0, at).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/** Parses a config file's text; a syntax error is a ConfigError in plain words (the parser's text for the log). */
export function parseConfigText(text: string, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const where = text.trim() ? jsonErrorPlace(msg, text) : null;
    const problem = where
      ? `The file is not valid JSON near ${where}: look there for a missing comma or quote, a comma after the last item, or a missing } or ]`
      : 'The file is empty: write at least {} (an empty group of settings)';
    throw new ConfigError(file, [{ path: '$', message: problem }], `JSON.parse: ${msg}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(file, [{ path: '$', message: 'The file must hold one group of settings in curly braces: { "hostname": "mx.example.com", … }' }]);
  }
  return parsed as Record<string, unknown>;
}

/** Reads and validates a config file. A missing file is a problem, not a default. */
export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [{ path: '$', message: `${fileProblem(e, file, 'read')}` }], String((e as Error).message));
  }
  return validateConfig(parseConfigText(text, file), file);
}

/** Reads the file as JSON without defaults (for commands that edit it). */
export function readRawConfig(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(file, [{ path: '$', message: fileProblem(e, file, 'read') }], String((e as Error).message));
  }
  return parseConfigText(text, file);
}

/**
 * Writes the file atomically (docs/design.md §8.2): a temp file in the same folder,
 * written and fsynced, renamed over the file, then the folder fsynced so the rename
 * itself survives a crash. Mode 0600: it holds password hashes and the smarthost
 * password. A failure leaves the old file as it was (and no temp file behind).
 */
export function writeConfigFile(file: string, data: unknown): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, `${JSON.stringify(data, null, 2)}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  if (process.platform !== 'win32') {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  }
}
