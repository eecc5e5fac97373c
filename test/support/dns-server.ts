// An authoritative DNS server for tests, on 127.0.0.1 (UDP and TCP on one random
// port), serving a zone written as a plain object. It answers NXDOMAIN and NODATA
// the way real servers do (empty non-terminals exist, RFC 8020), follows CNAMEs
// inside its data, truncates UDP replies that don't fit, and can be told to
// misbehave: drop queries (a timeout), SERVFAIL, REFUSED, truncate everything, or
// refuse EDNS with FORMERR.
import dgram from 'node:dgram';
import net from 'node:net';
import packet from 'dns-packet';
import type { Answer, DecodedPacket, Packet, Question } from 'dns-packet';

export interface ZoneRecords {
  /** One entry per TXT record; an array is one record made of several strings (each ≤ 255 bytes). */
  TXT?: (string | string[])[];
  A?: string[];
  AAAA?: string[];
  /** `{ priority, exchange }`; exchange `.` is a null MX (RFC 7505). */
  MX?: { priority: number; exchange: string }[];
  PTR?: string[];
  CNAME?: string;
  /** TTL of this name's records (default 300). */
  ttl?: number;
}

/** Names (any case, trailing dot optional) → records. */
export type Zone = Record<string, ZoneRecords>;

export type Fault = 'drop' | 'servfail' | 'refused' | 'truncate' | 'formerr-edns';

export interface QueryLog {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
}

export interface DnsServer {
  port: number;
  /** `127.0.0.1:PORT`, ready for `dns.servers`. */
  address: string;
  setZone(zone: Zone): void;
  /**
   * Misbehave for every name, or only for `names` (and their subdomains; these add up
   * across calls). `setFault(null)` clears everything, `setFault(null, names)` those names.
   */
  setFault(fault: Fault | null, names?: string[]): void;
  /** Wait this long before each answer. */
  setDelay(ms: number): void;
  /** Every query received, in order. */
  queries: QueryLog[];
  close(): Promise<void>;
}

const SOA_MINIMUM = 60;

function canon(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

function checkZone(zone: Zone): Map<string, ZoneRecords> {
  const out = new Map<string, ZoneRecords>();
  for (const [name, rr] of Object.entries(zone)) {
    for (const t of rr.TXT ?? []) {
      for (const s of Array.isArray(t) ? t : [t]) {
        if (Buffer.byteLength(s) > 255) throw new Error(`test zone: a TXT string of ${name} is over 255 bytes; split it into several strings`);
      }
    }
    out.set(canon(name), rr);
  }
  return out;
}

export async function startDnsServer(initial: Zone = {}): Promise<DnsServer> {
  let zone = checkZone(initial);
  let globalFault: Fault | null = null;
  const nameFaults = new Map<string, Fault>();
  let delay = 0;
  const queries: QueryLog[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const exists = (name: string) => {
    if (zone.has(name)) return true;
    for (const k of zone.keys()) if (k.endsWith(`.${name}`)) return true;
    return false;
  };

  const faultFor = (name: string): Fault | null => {
    for (const [n, kind] of nameFaults) if (name === n || name.endsWith(`.${n}`)) return kind;
    return globalFault;
  };

  const soa = (name: string): Answer => {
    const apex = name.split('.').slice(-2).join('.') || '.';
    return {
      type: 'SOA',
      name: apex,
      ttl: SOA_MINIMUM,
      data: { mname: `ns.${apex}`, rname: `hostmaster.${apex}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: SOA_MINIMUM },
    } as Answer;
  };

  const records = (name: string, type: string, rr: ZoneRecords): Answer[] => {
    const ttl = rr.ttl ?? 300;
    switch (type) {
      case 'TXT':
        return (rr.TXT ?? []).map((t) => ({ type: 'TXT', name, ttl, data: (Array.isArray(t) ? t : [t]).map((s) => Buffer.from(s)) }) as Answer);
      case 'A':
      case 'AAAA':
      case 'PTR':
        return (rr[type] ?? []).map((d) => ({ type, name, ttl, data: d }) as Answer);
      case 'MX':
        return (rr.MX ?? []).map((m) => ({ type: 'MX', name, ttl, data: { preference: m.priority, exchange: m.exchange } }) as Answer);
      case 'CNAME':
        return rr.CNAME ? [{ type: 'CNAME', name, ttl, data: rr.CNAME } as Answer] : [];
      default:
        return [];
    }
  };

  /** The reply to one query, or null to stay silent. */
  const answer = (query: DecodedPacket, transport: 'udp' | 'tcp'): Buffer | null => {
    const q = query.questions?.[0] as Question | undefined;
    const base = { type: 'response' as const, id: query.id, questions: q ? [q] : [] };
    const rcode = (code: number) => packet.AUTHORITATIVE_ANSWER | (query.flags! & packet.RECURSION_DESIRED) | code;
    if (!q) return packet.encode({ ...base, flags: rcode(1) });
    const name = canon(q.name);
    queries.push({ name, type: q.type, transport });
    const edns = (query.additionals ?? []).find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    switch (faultFor(name)) {
      case 'drop':
        return null;
      case 'servfail':
        return packet.encode({ ...base, flags: rcode(2) });
      case 'refused':
        return packet.encode({ ...base, flags: rcode(5) });
      case 'formerr-edns':
        if (edns) return packet.encode({ ...base, flags: rcode(1) });
        break;
      case 'truncate':
        if (transport === 'udp') return packet.encode({ ...base, flags: rcode(0) | packet.TRUNCATED_RESPONSE });
        break;
    }

    const answers: Answer[] = [];
    let current = name;
    for (let steps = 0; steps < 8; steps++) {
      const rr = zone.get(current);
      if (!rr) break;
      const own = records(current, q.type, rr);
      if (own.length) {
        answers.push(...own);
        break;
      }
      if (!rr.CNAME || q.type === 'CNAME') break;
      answers.push(...records(current, 'CNAME', rr));
      current = canon(rr.CNAME);
    }
    const found = answers.some((a) => a.type === q.type);
    const p: Packet = {
      ...base,
      flags: rcode(found || exists(current) ? 0 : 3),
      answers,
      authorities: found ? [] : [soa(current)],
    };
    let out = packet.encode(p);
    const limit = transport === 'tcp' ? 65535 : Math.max(edns?.udpPayloadSize ?? 512, 512);
    if (out.length > limit) out = packet.encode({ ...base, flags: rcode(0) | packet.TRUNCATED_RESPONSE });
    return out;
  };

  const respond = (msg: Buffer, transport: 'udp' | 'tcp', send: (b: Buffer) => void) => {
    let query: DecodedPacket;
    try {
      query = packet.decode(msg);
    } catch {
      return;
    }
    const out = answer(query, transport);
    if (!out) return;
    const reply = () => {
      if (closed) return;
      try {
        send(out);
      } catch {
        // the client went away
      }
    };
    if (delay > 0) {
      const t = setTimeout(() => {
        timers.delete(t);
        reply();
      }, delay);
      timers.add(t);
    } else reply();
  };

  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    let buf = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        respond(msg, 'tcp', (b) => {
          if (s.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(b.length);
          s.write(Buffer.concat([len, b]));
        });
      }
    });
  });

  // UDP picks a free port; TCP must get the same one (rarely taken: try again).
  let port = 0;
  let udp: dgram.Socket;
  for (let attempt = 0; ; attempt++) {
    const sock = dgram.createSocket('udp4');
    udp = sock;
    sock.on('message', (msg, rinfo) => respond(msg, 'udp', (b) => sock.send(b, rinfo.port, rinfo.address)));
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    port = udp.address().port;
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) break;
    if (attempt > 20) throw new Error('test DNS server: no port free for both UDP and TCP');
    await new Promise<void>((resolve) => udp.close(() => resolve()));
  }

  return {
    port,
    address: `127.0.0.1:${port}`,
    queries,
    setZone(z) {
      zone = checkZone(z);
    },
    setFault(kind, names) {
      if (!names) {
        globalFault = kind;
        if (!kind) nameFaults.clear();
        return;
      }
      for (const n of names) {
        if (kind) nameFaults.set(canon(n), kind);
        else nameFaults.delete(canon(n));
      }
    },
    setDelay(ms) {
      delay = ms;
    },
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise<void>((resolve) => udp.close(() => resolve())), new Promise<void>((resolve) => tcp.close(() => resolve()))]);
    },
  };
}
