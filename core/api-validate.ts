// Input validation for every GatewayApi method, shared by the IPC and HTTP
// transports: whatever a renderer or an HTTP client sends is checked here before it
// reaches the gateway. Unknown keys are refused, not ignored.
import { ApiError, type ApiMethod, type EventQuery } from './api.ts';
import { API_METHODS } from './api-methods.ts';
import { STAGES, VERDICTS } from './events/types.ts';
import type { SpfChoices } from './spf/record-types.ts';

type Obj = Record<string, unknown>;

function fail(msg: string): never {
  throw new ApiError('invalid-input', msg);
}

function obj(v: unknown, allowed: string[], what: string): Obj {
  if (v === undefined || v === null) v = {};
  if (typeof v !== 'object' || Array.isArray(v)) fail(`${what}: expected an object`);
  for (const k of Object.keys(v as Obj)) if (!allowed.includes(k)) fail(`${what}: unknown field "${k}"`);
  return v as Obj;
}

function str(v: unknown, what: string, max = 1000, optional = false): string | undefined {
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string') fail(`${what}: expected a string`);
  if ((v as string).length > max) fail(`${what}: longer than ${max} characters`);
  return v as string;
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') fail(`${what}: expected true or false`);
  return v as boolean;
}

function int(v: unknown, what: string, min: number, max: number, optional = false): number | undefined {
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${what}: expected a whole number from ${min} to ${max}`);
  return v as number;
}

function strList(v: unknown, what: string, maxItems = 100, maxLen = 300): string[] {
  if (!Array.isArray(v)) fail(`${what}: expected a list`);
  if ((v as unknown[]).length > maxItems) fail(`${what}: more than ${maxItems} items`);
  return (v as unknown[]).map((x, i) => str(x, `${what}[${i}]`, maxLen)!);
}

function enumList<T extends string>(v: unknown, allowed: readonly T[], what: string): T[] | undefined {
  if (v === undefined) return undefined;
  const list = strList(v, what, allowed.length);
  for (const x of list) if (!(allowed as readonly string[]).includes(x)) fail(`${what}: "${x}" is not one of ${allowed.join(', ')}`);
  return list as T[];
}

function eventQuery(v: unknown): EventQuery {
  const o = obj(v, ['afterId', 'beforeId', 'limit', 'verdict', 'stage', 'rule', 'text', 'session'], 'events');
  const q: EventQuery = {};
  const afterId = int(o.afterId, 'afterId', 0, Number.MAX_SAFE_INTEGER, true);
  const beforeId = int(o.beforeId, 'beforeId', 0, Number.MAX_SAFE_INTEGER, true);
  const limit = int(o.limit, 'limit', 1, 5000, true);
  if (afterId !== undefined) q.afterId = afterId;
  if (beforeId !== undefined) q.beforeId = beforeId;
  if (limit !== undefined) q.limit = limit;
  const verdict = enumList(o.verdict, VERDICTS, 'verdict');
  const stage = enumList(o.stage, STAGES, 'stage');
  if (verdict) q.verdict = verdict;
  if (stage) q.stage = stage;
  const rule = str(o.rule, 'rule', 100, true);
  const text = str(o.text, 'text', 200, true);
  const session = str(o.session, 'session', 64, true);
  if (rule) q.rule = rule;
  if (text) q.text = text;
  if (session) q.session = session;
  return q;
}

export function spfChoices(v: unknown): SpfChoices {
  const o = obj(v, ['domain', 'mx', 'a', 'ip4', 'ip6', 'include', 'soft'], 'spf choices');
  return {
    domain: str(o.domain, 'domain', 253)!,
    mx: bool(o.mx ?? false, 'mx'),
    a: bool(o.a ?? false, 'a'),
    ip4: strList(o.ip4 ?? [], 'ip4', 20, 50),
    ip6: strList(o.ip6 ?? [], 'ip6', 20, 50),
    include: strList(o.include ?? [], 'include', 10, 253),
    soft: bool(o.soft ?? false, 'soft'),
  };
}

function nullableStr(v: unknown, what: string, max: number): string | null {
  return v === null ? null : str(v, what, max)!;
}

const MODES = ['mx', 'submission', 'submissions'] as const;

/** The smarthost fields of saveSettings.outbound and testSmarthost (docs/design.md §7.1). */
function outboundFields(v: unknown, what: string, withMode: boolean): Obj {
  const o = obj(v, [...(withMode ? ['mode'] : []), 'host', 'port', 'secure', 'requireTLS', 'user', 'password'], what);
  const out: Obj = {};
  if (withMode && o.mode !== undefined) {
    if (o.mode !== 'smarthost' && o.mode !== 'mx') fail(`${what}.mode: expected "smarthost" or "mx"`);
    out.mode = o.mode;
  }
  if (o.host !== undefined) out.host = str(o.host, `${what}.host`, 253);
  if (o.port !== undefined) out.port = int(o.port, `${what}.port`, 1, 65535);
  if (o.secure !== undefined) out.secure = bool(o.secure, `${what}.secure`);
  if (o.requireTLS !== undefined) out.requireTLS = bool(o.requireTLS, `${what}.requireTLS`);
  if (o.user !== undefined) out.user = str(o.user, `${what}.user`, 320);
  if (o.password !== undefined) out.password = str(o.password, `${what}.password`, 1024);
  return out;
}

/** saveSettings: only known groups, each of the right shape; meaning is checked by the config rules. */
function settingsChange(v: unknown): Obj {
  const o = obj(
    v,
    [
      'hostname',
      'publicAddress',
      'domains',
      'sharedAddresses',
      'trustedProxies',
      'outbound',
      'listeners',
      'spf',
      'dkim',
      'limits',
      'tls',
      'acme',
      'auth',
      'dns',
      'dashboard',
      'history',
      'dmarc',
      'dnsbl',
      'rspamd',
      'rateLimits',
      'greylist',
    ],
    'saveSettings',
  );
  const out: Obj = {};
  if (o.hostname !== undefined) out.hostname = str(o.hostname, 'hostname', 253);
  if (o.publicAddress !== undefined) out.publicAddress = nullableStr(o.publicAddress, 'publicAddress', 64);
  if (o.domains !== undefined) out.domains = strList(o.domains, 'domains', 50, 253);
  if (o.trustedProxies !== undefined) out.trustedProxies = strList(o.trustedProxies, 'trustedProxies', 50, 64);
  if (o.sharedAddresses !== undefined) {
    if (!Array.isArray(o.sharedAddresses) || o.sharedAddresses.length > 100) fail('sharedAddresses: expected a list of at most 100');
    out.sharedAddresses = (o.sharedAddresses as unknown[]).map((x, i) => {
      const s = obj(x, ['address', 'accounts'], `sharedAddresses[${i}]`);
      return { address: str(s.address, `sharedAddresses[${i}].address`, 254)!, accounts: strList(s.accounts, `sharedAddresses[${i}].accounts`, 100, 64) };
    });
  }
  if (o.outbound !== undefined) out.outbound = outboundFields(o.outbound, 'outbound', true);
  if (o.listeners !== undefined) {
    if (!Array.isArray(o.listeners) || o.listeners.length > 20) fail('listeners: expected a list of at most 20');
    out.listeners = (o.listeners as unknown[]).map((x, i) => {
      const l = obj(x, ['port', 'host', 'mode', 'fallbackPort'], `listeners[${i}]`);
      const mode = str(l.mode, `listeners[${i}].mode`, 20)!;
      if (!(MODES as readonly string[]).includes(mode)) fail(`listeners[${i}].mode: expected ${MODES.join(', ')}`);
      const fallbackPort = int(l.fallbackPort, `listeners[${i}].fallbackPort`, 1, 65535, true);
      return {
        port: int(l.port, `listeners[${i}].port`, 0, 65535)!,
        host: str(l.host, `listeners[${i}].host`, 64)!,
        mode,
        ...(fallbackPort ? { fallbackPort } : {}),
      };
    });
  }
  if (o.spf !== undefined) {
    const s = obj(o.spf, ['enabled', 'policy'], 'spf');
    if (s.policy !== undefined && s.policy !== 'soft' && s.policy !== 'strict') fail('spf.policy: expected "soft" or "strict"');
    out.spf = { ...(s.enabled !== undefined ? { enabled: bool(s.enabled, 'spf.enabled') } : {}), ...(s.policy !== undefined ? { policy: s.policy } : {}) };
  }
  if (o.dkim !== undefined) out.dkim = { selector: str(obj(o.dkim, ['selector'], 'dkim').selector, 'dkim.selector', 63)! };
  if (o.limits !== undefined) {
    const keys = LIMIT_KEYS;
    const l = obj(o.limits, keys, 'limits');
    const limits: Obj = {};
    for (const k of keys) if (l[k] !== undefined) limits[k] = int(l[k], `limits.${k}`, 0, Number.MAX_SAFE_INTEGER);
    out.limits = limits;
  }
  if (o.tls !== undefined) {
    const t = obj(o.tls, ['certFile', 'keyFile'], 'tls');
    out.tls = { certFile: nullableStr(t.certFile ?? null, 'tls.certFile', 4096), keyFile: nullableStr(t.keyFile ?? null, 'tls.keyFile', 4096) };
  }
  if (o.acme !== undefined) {
    const a = obj(o.acme, ['enabled', 'directory', 'email', 'challenge'], 'acme');
    if (a.challenge !== undefined && a.challenge !== 'http-01' && a.challenge !== 'dns-01') fail('acme.challenge: expected "http-01" or "dns-01"');
    out.acme = {
      ...(a.enabled !== undefined ? { enabled: bool(a.enabled, 'acme.enabled') } : {}),
      ...(a.directory !== undefined ? { directory: str(a.directory, 'acme.directory', 2048) } : {}),
      ...(a.email !== undefined ? { email: str(a.email, 'acme.email', 320) } : {}),
      ...(a.challenge !== undefined ? { challenge: a.challenge } : {}),
    };
  }
  if (o.auth !== undefined) {
    const a = obj(o.auth, ['backend', 'saslauthd'], 'auth');
    if (a.backend !== undefined && a.backend !== 'builtin' && a.backend !== 'saslauthd') fail('auth.backend: expected "builtin" or "saslauthd"');
    const sasl = a.saslauthd === undefined ? undefined : obj(a.saslauthd, ['socket', 'service'], 'auth.saslauthd');
    out.auth = {
      ...(a.backend !== undefined ? { backend: a.backend } : {}),
      ...(sasl
        ? {
            saslauthd: {
              ...(sasl.socket !== undefined ? { socket: str(sasl.socket, 'auth.saslauthd.socket', 4096) } : {}),
              ...(sasl.service !== undefined ? { service: str(sasl.service, 'auth.saslauthd.service', 64) } : {}),
            },
          }
        : {}),
    };
  }
  if (o.dns !== undefined) {
    const d = obj(o.dns, ['servers', 'timeoutMs'], 'dns');
    out.dns = {
      ...(d.servers !== undefined ? { servers: strList(d.servers, 'dns.servers', 10, 64) } : {}),
      ...(d.timeoutMs !== undefined ? { timeoutMs: int(d.timeoutMs, 'dns.timeoutMs', 0, 3_600_000) } : {}),
    };
  }
  if (o.dashboard !== undefined) {
    const d = obj(o.dashboard, ['host', 'port'], 'dashboard');
    out.dashboard = {
      ...(d.host !== undefined ? { host: str(d.host, 'dashboard.host', 64) } : {}),
      ...(d.port !== undefined ? { port: int(d.port, 'dashboard.port', 0, 65535) } : {}),
    };
  }
  if (o.history !== undefined) {
    const h = obj(o.history, ['retentionDays'], 'history');
    out.history = h.retentionDays !== undefined ? { retentionDays: int(h.retentionDays, 'history.retentionDays', 0, 100_000) } : {};
  }
  Object.assign(out, inboundChange(o));
  return out;
}

function num(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) fail(`${what}: expected a number from ${min} to ${max}`);
  return v as number;
}

/** saveSettings' inbound groups (docs/design.md §2.10–§2.14): shapes here, meaning by the config rules. */
function inboundChange(o: Obj): Obj {
  const out: Obj = {};
  if (o.dmarc !== undefined) out.dmarc = { enforce: bool(obj(o.dmarc, ['enforce'], 'dmarc').enforce, 'dmarc.enforce') };
  if (o.dnsbl !== undefined) {
    const d = obj(o.dnsbl, ['zones', 'threshold', 'allow', 'allowAddresses'], 'dnsbl');
    const r: Obj = {};
    if (d.zones !== undefined) {
      if (!Array.isArray(d.zones) || d.zones.length > 20) fail('dnsbl.zones: expected a list of at most 20');
      r.zones = (d.zones as unknown[]).map((x, i) => {
        const z = obj(x, ['zone', 'weight'], `dnsbl.zones[${i}]`);
        return { zone: str(z.zone, `dnsbl.zones[${i}].zone`, 253)!, weight: num(z.weight ?? 1, `dnsbl.zones[${i}].weight`, 0, 1000) };
      });
    }
    if (d.threshold !== undefined) r.threshold = num(d.threshold, 'dnsbl.threshold', 0, 1000);
    if (d.allow !== undefined) r.allow = strList(d.allow, 'dnsbl.allow', 20, 253);
    if (d.allowAddresses !== undefined) r.allowAddresses = strList(d.allowAddresses, 'dnsbl.allowAddresses', 200, 64);
    out.dnsbl = r;
  }
  if (o.rspamd !== undefined) {
    const x = obj(o.rspamd, ['enabled', 'url', 'timeoutMs', 'onUnreachable'], 'rspamd');
    if (x.onUnreachable !== undefined && x.onUnreachable !== 'accept' && x.onUnreachable !== 'defer')
      fail('rspamd.onUnreachable: expected "accept" or "defer"');
    out.rspamd = {
      ...(x.enabled !== undefined ? { enabled: bool(x.enabled, 'rspamd.enabled') } : {}),
      ...(x.url !== undefined ? { url: str(x.url, 'rspamd.url', 2048) } : {}),
      ...(x.timeoutMs !== undefined ? { timeoutMs: int(x.timeoutMs, 'rspamd.timeoutMs', 0, 3_600_000) } : {}),
      ...(x.onUnreachable !== undefined ? { onUnreachable: x.onUnreachable } : {}),
    };
  }
  if (o.rateLimits !== undefined) {
    const keys = [
      'connectionsPerMinute',
      'networkConnectionsPerMinute',
      'messagesPerMinute',
      'networkMessagesPerMinute',
      'accountMessagesPerHour',
      'accountRecipientsPerHour',
    ];
    const l = obj(o.rateLimits, keys, 'rateLimits');
    const r: Obj = {};
    for (const k of keys) if (l[k] !== undefined) r[k] = int(l[k], `rateLimits.${k}`, 0, Number.MAX_SAFE_INTEGER);
    out.rateLimits = r;
  }
  if (o.greylist !== undefined) {
    const g = obj(o.greylist, ['enabled', 'delayMinutes', 'expireDays'], 'greylist');
    out.greylist = {
      ...(g.enabled !== undefined ? { enabled: bool(g.enabled, 'greylist.enabled') } : {}),
      ...(g.delayMinutes !== undefined ? { delayMinutes: num(g.delayMinutes, 'greylist.delayMinutes', 0, 100_000) } : {}),
      ...(g.expireDays !== undefined ? { expireDays: num(g.expireDays, 'greylist.expireDays', 0, 100_000) } : {}),
    };
  }
  return out;
}

const LIMIT_KEYS = [
  'maxMessageBytes',
  'maxRecipients',
  'maxClients',
  'maxConnectionsPerClient',
  'idleTimeoutSeconds',
  'minFreeBytes',
  'maxHeaderLines',
  'maxHeaderBytes',
  'maxSubmissionClients',
  'reservedInternalSlots',
  'maxConnectionsPerNetwork',
  'commandSeconds',
  'sessionSeconds',
  'minDataRate',
  'dataRateWindowSeconds',
  'maxUnknownRecipients',
];

const none = (m: string) => (v: unknown) => {
  obj(v, [], m);
  return undefined;
};

const validators: { [K in ApiMethod]: (v: unknown) => unknown } = {
  status: none('status'),
  start: none('start'),
  stop: none('stop'),
  events: eventQuery,
  networks: none('networks'),
  setNetwork: (v) => {
    const o = obj(v, ['cidr', 'enabled', 'label', 'confirmPublic'], 'setNetwork');
    return {
      cidr: str(o.cidr, 'cidr', 64)!,
      enabled: bool(o.enabled, 'enabled'),
      ...(o.label !== undefined ? { label: str(o.label, 'label', 80)! } : {}),
      ...(o.confirmPublic !== undefined ? { confirmPublic: bool(o.confirmPublic, 'confirmPublic') } : {}),
    };
  },
  removeNetwork: (v) => ({ cidr: str(obj(v, ['cidr'], 'removeNetwork').cidr, 'cidr', 64)! }),
  spfBuild: spfChoices,
  spfValidate: (v) => ({ record: str(obj(v, ['record'], 'spfValidate').record, 'record', 4096)! }),
  spfCheck: (v) => {
    const o = obj(v, ['domain', 'ip', 'expected'], 'spfCheck');
    return {
      domain: str(o.domain, 'domain', 253)!,
      ...(o.ip !== undefined ? { ip: str(o.ip, 'ip', 50)! } : {}),
      ...(o.expected !== undefined ? { expected: spfChoices(o.expected) } : {}),
    };
  },
  accounts: none('accounts'),
  addAccount: (v) => {
    const o = obj(v, ['name', 'addresses', 'password'], 'addAccount');
    return { name: str(o.name, 'name', 64)!, addresses: strList(o.addresses ?? [], 'addresses', 50, 254), password: str(o.password, 'password', 1024)! };
  },
  removeAccount: (v) => ({ name: str(obj(v, ['name'], 'removeAccount').name, 'name', 64)! }),
  queue: none('queue'),
  retryQueue: (v) => ({ id: str(obj(v, ['id'], 'retryQueue').id, 'id', 40)! }),
  deleteQueue: (v) => ({ id: str(obj(v, ['id'], 'deleteQueue').id, 'id', 40)! }),
  settings: none('settings'),
  saveSettings: settingsChange,
  testSmarthost: (v) => outboundFields(v, 'testSmarthost', false),
  dnsRecords: none('dnsRecords'),
  setPassword: (v) => {
    const o = obj(v, ['name', 'password'], 'setPassword');
    return { name: str(o.name, 'name', 64)!, password: str(o.password, 'password', 1024)! };
  },
  setAddresses: (v) => {
    const o = obj(v, ['name', 'addresses'], 'setAddresses');
    return { name: str(o.name, 'name', 64)!, addresses: strList(o.addresses, 'addresses', 50, 254) };
  },
  doctor: none('doctor'),
  messages: (v) => {
    const o = obj(v, ['q', 'beforeId', 'limit'], 'messages');
    const q = str(o.q, 'q', 500, true);
    const beforeId = int(o.beforeId, 'beforeId', 0, Number.MAX_SAFE_INTEGER, true);
    const limit = int(o.limit, 'limit', 1, 5000, true);
    return { ...(q ? { q } : {}), ...(beforeId !== undefined ? { beforeId } : {}), ...(limit !== undefined ? { limit } : {}) };
  },
  message: (v) => ({ id: int(obj(v, ['id'], 'message').id, 'id', 1, Number.MAX_SAFE_INTEGER)! }),
  messageContent: (v) => ({ id: int(obj(v, ['id'], 'messageContent').id, 'id', 1, Number.MAX_SAFE_INTEGER)! }),
  exportMessages: (v) => {
    const o = obj(v, ['q', 'format'], 'exportMessages');
    const format = str(o.format, 'format', 10)!;
    if (format !== 'csv' && format !== 'json') fail('format: expected "csv" or "json"');
    const q = str(o.q, 'q', 500, true);
    return { ...(q ? { q } : {}), format };
  },
  traffic: none('traffic'),
  bans: none('bans'),
  liftBan: (v) => ({ address: str(obj(v, ['address'], 'liftBan').address, 'address', 64)! }),
  rateLimits: none('rateLimits'),
  liftRateLimit: (v) => ({ account: str(obj(v, ['account'], 'liftRateLimit').account, 'account', 64)! }),
  blockAccount: (v) => {
    const o = obj(v, ['account', 'blocked'], 'blockAccount');
    return { account: str(o.account, 'account', 64)!, blocked: bool(o.blocked, 'blocked') };
  },
  newDashboardToken: none('newDashboardToken'),
  renewCertificate: none('renewCertificate'),
};

export function isApiMethod(m: unknown): m is ApiMethod {
  return typeof m === 'string' && (API_METHODS as readonly string[]).includes(m);
}

/** Validates the argument of `method`; throws ApiError('invalid-input'). */
export function validateInput(method: ApiMethod, input: unknown): unknown {
  return validators[method](input);
}
