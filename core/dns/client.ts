// A small stub resolver on dns-packet: UDP with TCP fallback on truncation, several
// servers in turn, a bounded time per lookup, answers cached by TTL.
//
// Why not dns.promises: SPF macros expand to names with any bytes in a label —
// `%{l}` of `"john smith"@example.org` gives `"john smith".example.org` — and Node's
// c-ares stub resolver refuses those (EBADNAME) before sending a query, turning a
// valid SPF evaluation into an error. DNS itself allows any octet in a label
// (RFC 2181 §11), so we build the query ourselves.
import dns from 'node:dns';
import type { Config } from '../config/schema.ts';
import { parseHostPort } from '../config/load.ts';
import { DnsCache, DEFAULT_CACHE_LIMITS, type CacheLimits } from './cache.ts';
import {
  canonicalName,
  decodeReply,
  encodeQuery,
  extract,
  nameProblem,
  negativeTtl,
  newQueryId,
  RECORD_TYPES,
  type MxRecord,
  type RecordData,
  type RecordType,
  type Reply,
} from './message.ts';
import { tcpExchange, udpExchange, type ServerAddress } from './transport.ts';

export type { MxRecord, RecordType, RecordData, ServerAddress };

export type DnsErrorCode =
  | 'ENOTFOUND' // NXDOMAIN
  | 'ENODATA' // the name exists, no records of the type
  | 'ETIMEOUT'
  | 'ESERVFAIL'
  | 'EREFUSED'
  | 'ECONNREFUSED'
  | 'EFORMERR'
  | 'ENOTIMP'
  | 'EBADNAME' // can't be put on the wire (label over 63 octets, empty label…)
  | 'EBADQUERY'; // a record type this client doesn't speak

export class DnsError extends Error {
  readonly code: DnsErrorCode;
  readonly hostname: string;
  readonly syscall: string;
  readonly detail: string;
  constructor(code: DnsErrorCode, type: string, hostname: string, detail = '') {
    const syscall = `query${type.charAt(0)}${type.slice(1).toLowerCase()}`;
    super(`${syscall} ${code} ${hostname}${detail ? ` (${detail})` : ''}`);
    this.name = 'DnsError';
    this.code = code;
    this.hostname = hostname;
    this.syscall = syscall;
    this.detail = detail;
  }
}

export interface DnsClientOptions {
  /** `ip`, `ip:port` or `[v6]:port`; empty or missing: the system's resolvers. */
  servers?: string[];
  /** Upper bound for one resolve(), every retry, server and CNAME step included. */
  timeoutMs?: number;
  /** false: no caching (tests that count queries). */
  cache?: CacheLimits | false;
}

/**
 * The resolver signature mailauth takes (that of `dns.promises.resolve`). The answer's
 * shape depends on `type`; mailauth's typings (`string[] | string[][]`) can't express
 * MX objects, so it is `any` here, which keeps it assignable to theirs.
 */
// biome-ignore lint/suspicious/noExplicitAny: mailauth's DNSResolver type cannot express MX answers (see above)
export type Resolver = (name: string, type: string) => Promise<any>;

const RCODE_ERRORS: Record<string, DnsErrorCode> = { SERVFAIL: 'ESERVFAIL', REFUSED: 'EREFUSED', FORMERR: 'EFORMERR', NOTIMP: 'ENOTIMP' };
const MAX_CNAME_STEPS = 8;

function parseServers(list: string[]): ServerAddress[] {
  const out: ServerAddress[] = [];
  for (const s of list) {
    const hp = parseHostPort(s);
    if (hp) out.push(hp);
  }
  return out;
}

type Outcome = { value: unknown } | { error: DnsError };

export class DnsClient {
  readonly servers: ServerAddress[];
  readonly timeoutMs: number;
  private readonly cache: DnsCache | null;
  private readonly inflight = new Map<string, Promise<Outcome>>();

  constructor(opts: DnsClientOptions = {}) {
    const configured = parseServers(opts.servers ?? []);
    // c-ares uses 127.0.0.1 when the system lists no server; so do we.
    this.servers = configured.length ? configured : parseServers(dns.getServers());
    if (!this.servers.length) this.servers = [{ host: '127.0.0.1', port: 53 }];
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.cache = opts.cache === false ? null : new DnsCache(opts.cache ?? DEFAULT_CACHE_LIMITS);
  }

  /** For mailauth's `resolver` option. */
  readonly resolver: Resolver = (name, type) => this.resolve(name, type as RecordType);

  resolve(name: string, type: 'TXT'): Promise<string[][]>;
  resolve(name: string, type: 'MX'): Promise<MxRecord[]>;
  resolve(name: string, type: 'A' | 'AAAA' | 'PTR' | 'CNAME'): Promise<string[]>;
  resolve(name: string, type: RecordType): Promise<RecordData[RecordType]>;
  async resolve(name: string, type: RecordType): Promise<unknown> {
    name = String(name ?? '');
    type = String(type ?? '').toUpperCase() as RecordType;
    if (!RECORD_TYPES.includes(type)) throw new DnsError('EBADQUERY', String(type) || 'query', name, 'unsupported record type');
    const problem = nameProblem(name);
    if (problem) throw new DnsError('EBADNAME', type, name, problem);
    const key = `${type} ${canonicalName(name)}`;
    const cached = this.cache?.get(key);
    if (cached) {
      if (cached.error) throw new DnsError(cached.error.code as DnsErrorCode, type, name);
      return structuredClone(cached.value);
    }
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.lookup(name, type, Date.now() + this.timeoutMs, 0).then(
        (value) => ({ value }),
        (error: unknown) => ({ error: error instanceof DnsError ? error : new DnsError('ESERVFAIL', type, name, (error as Error)?.message ?? String(error)) }),
      );
      this.inflight.set(key, pending);
      pending.finally(() => this.inflight.delete(key));
    }
    const out = await pending;
    // Each caller gets its own error: mailauth writes its verdict onto the one it gets.
    if ('error' in out) throw new DnsError(out.error.code, type, name, out.error.detail);
    return structuredClone(out.value);
  }

  clearCache(): void {
    this.cache?.clear();
  }

  private async lookup(name: string, type: RecordType, deadline: number, steps: number): Promise<unknown> {
    const key = `${type} ${canonicalName(name)}`;
    const reply = await this.ask(name, type, deadline);
    const found = extract(reply, name, type);
    if (reply.rcode === 'NXDOMAIN') {
      const e = new DnsError('ENOTFOUND', type, name);
      this.cache?.setNegative(key, { code: e.code, message: '' }, negativeTtl(reply));
      throw e;
    }
    if (reply.rcode !== 'NOERROR') throw new DnsError(RCODE_ERRORS[reply.rcode] ?? 'ESERVFAIL', type, name, `server said ${reply.rcode}`);
    if (found.records.length) {
      this.cache?.setValue(key, found.records, found.ttl);
      return found.records;
    }
    if (found.cname && steps < MAX_CNAME_STEPS) {
      // A CNAME the server didn't follow (an authoritative server, the target elsewhere).
      return this.lookup(found.cname, type, deadline, steps + 1);
    }
    const e = new DnsError('ENODATA', type, name);
    this.cache?.setNegative(key, { code: e.code, message: '' }, negativeTtl(reply));
    throw e;
  }

  /**
   * Asks the servers in turn, two rounds, until one answers with NOERROR or NXDOMAIN.
   * A server that fails (SERVFAIL, REFUSED, unreachable) hands over to the next; the
   * time left is shared out among the attempts still to make.
   */
  private async ask(name: string, type: RecordType, deadline: number): Promise<Reply> {
    const rounds = 2;
    const total = this.servers.length * rounds;
    let failure: DnsError | null = null;
    for (let i = 0; i < total; i++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const server = this.servers[i % this.servers.length];
      const slice = Math.max(Math.floor(left / (total - i)), Math.min(left, 100));
      try {
        const reply = await this.exchange(server, name, type, slice, deadline);
        if (reply.rcode === 'NOERROR' || reply.rcode === 'NXDOMAIN') return reply;
        failure ??= new DnsError(RCODE_ERRORS[reply.rcode] ?? 'ESERVFAIL', type, name, `${server.host}:${server.port} said ${reply.rcode}`);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code !== 'ETIMEOUT') failure ??= new DnsError(code === 'ECONNREFUSED' ? 'ECONNREFUSED' : 'ESERVFAIL', type, name, (e as Error).message);
      }
    }
    throw failure ?? new DnsError('ETIMEOUT', type, name, `no answer within ${this.timeoutMs} ms`);
  }

  /** One question to one server: UDP, then TCP if the reply was truncated (RFC 7766). */
  private async exchange(server: ServerAddress, name: string, type: RecordType, slice: number, deadline: number): Promise<Reply> {
    let edns = true;
    for (;;) {
      const id = newQueryId();
      const query = encodeQuery(id, name, type, edns);
      const accept = (buf: Buffer) => decodeReply(buf, id, name, type);
      const reply = await udpExchange(server, query, slice, accept);
      if (reply.rcode === 'FORMERR' && edns) {
        // An old server that doesn't speak EDNS0 (RFC 6891 §7): ask again without it.
        edns = false;
        continue;
      }
      if (!reply.truncated) return reply;
      return tcpExchange(server, query, Math.max(deadline - Date.now(), 1), accept);
    }
  }
}

/** The DNS client the config asks for (`dns.servers`, `dns.timeoutMs`). */
export function dnsClientFor(cfg: Pick<Config, 'dns'>): DnsClient {
  return new DnsClient({ servers: cfg.dns.servers, timeoutMs: cfg.dns.timeoutMs });
}
