// DNS messages: the query we send and what we take from a reply, on dns-packet.
// dns-packet encodes names without checking them (a 64-byte label would be written
// as a compression pointer, an empty label ends the name early), so names are
// checked here first.
import { randomInt } from 'node:crypto';
import packet from 'dns-packet';
import type { Answer, DecodedPacket, RecordType as PacketType } from 'dns-packet';

export type RecordType = 'A' | 'AAAA' | 'TXT' | 'MX' | 'PTR' | 'CNAME';
export const RECORD_TYPES: readonly RecordType[] = ['A', 'AAAA', 'TXT', 'MX', 'PTR', 'CNAME'];

export interface MxRecord {
  exchange: string;
  priority: number;
}

/** The shapes `dns.promises.resolve*` returns, which mailauth expects of a resolver. */
export interface RecordData {
  A: string[];
  AAAA: string[];
  TXT: string[][];
  MX: MxRecord[];
  PTR: string[];
  CNAME: string[];
}

/** EDNS0 buffer size recommended by DNS Flag Day 2020: no IP fragmentation. */
export const EDNS_UDP_SIZE = 1232;

/** Lower-case, no trailing dot: the form names are compared and cached in. */
export function canonicalName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** Why `name` can't be sent on the wire, or null. Any byte is allowed inside a label. */
export function nameProblem(name: string): string | null {
  const n = name.replace(/\.$/, '');
  if (n === '') return 'empty name'; // the root: nothing we look up lives there
  if (/[\r\n]/.test(n)) return 'line break in name'; // dns-packet's multiline regexp would cut the name there
  const labels = n.split('.');
  let wire = 1;
  for (const label of labels) {
    const len = Buffer.byteLength(label);
    if (len === 0) return 'empty label';
    if (len > 63) return `label longer than 63 octets (${len})`;
    wire += len + 1;
  }
  if (wire > 255) return `name longer than 255 octets (${wire})`;
  return null;
}

export function newQueryId(): number {
  return randomInt(0, 0x10000);
}

export function encodeQuery(id: number, name: string, type: RecordType, edns: boolean): Buffer {
  return packet.encode({
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type: type as PacketType, name: name.replace(/\.$/, ''), class: 'IN' }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, flags: 0, options: [] } as unknown as Answer] : [],
  });
}

export interface Reply {
  rcode: string;
  truncated: boolean;
  answers: Answer[];
  authorities: Answer[];
}

/**
 * Decodes a reply and checks it answers our question (id, name, type): anything else
 * is someone else's packet or a spoofing attempt, and is ignored (null).
 */
export function decodeReply(buf: Buffer, id: number, name: string, type: RecordType): Reply | null {
  let p: DecodedPacket & { rcode?: string };
  try {
    p = packet.decode(buf) as DecodedPacket & { rcode?: string };
  } catch {
    return null;
  }
  if (!p.flag_qr || p.id !== id) return null;
  const q = p.questions?.[0];
  // A truncated reply may come without the question (some servers send only the header).
  if (q && (canonicalName(q.name) !== canonicalName(name) || q.type !== type)) return null;
  if (!q && !p.flag_tc) return null;
  return { rcode: p.rcode ?? 'NOERROR', truncated: p.flag_tc, answers: p.answers ?? [], authorities: p.authorities ?? [] };
}

export interface Extracted<T extends RecordType> {
  records: RecordData[T];
  /** Smallest TTL of the records and CNAMEs used. */
  ttl: number;
  /** Where a CNAME chain ended without records of the type (to be followed further), or null. */
  cname: string | null;
}

function txtString(d: unknown): string {
  return Buffer.isBuffer(d) ? d.toString('utf8') : String(d);
}

function mapRecord(type: RecordType, a: Answer): unknown {
  const data = (a as { data: unknown }).data;
  switch (type) {
    case 'TXT':
      return (Array.isArray(data) ? data : [data]).map(txtString);
    case 'MX': {
      const mx = data as { exchange: string; preference?: number };
      // Node returns '' for the root, as in a null MX (RFC 7505): no host at all.
      return { exchange: mx.exchange === '.' ? '' : mx.exchange.replace(/\.$/, ''), priority: mx.preference ?? 0 };
    }
    case 'PTR':
    case 'CNAME':
      return String(data).replace(/\.$/, '');
    default:
      return String(data);
  }
}

/** The records of `type` for `name`, following the CNAME chain inside the answer. */
export function extract<T extends RecordType>(reply: Reply, name: string, type: T): Extracted<T> {
  let current = canonicalName(name);
  let ttl = Infinity;
  const seen = new Set<string>();
  for (;;) {
    const own = reply.answers.filter((a) => a.type === type && canonicalName(a.name) === current);
    if (own.length) {
      for (const a of own) ttl = Math.min(ttl, (a as { ttl?: number }).ttl ?? 0);
      return { records: own.map((a) => mapRecord(type, a)) as RecordData[T], ttl, cname: null };
    }
    if (type === 'CNAME' || seen.has(current)) break;
    seen.add(current);
    const alias = reply.answers.find((a) => a.type === 'CNAME' && canonicalName(a.name) === current);
    if (!alias) break;
    ttl = Math.min(ttl, (alias as { ttl?: number }).ttl ?? 0);
    current = canonicalName(String((alias as { data: unknown }).data));
  }
  return { records: [] as unknown as RecordData[T], ttl: Number.isFinite(ttl) ? ttl : 0, cname: current === canonicalName(name) ? null : current };
}

/** RFC 2308 §5: a negative answer lives for min(SOA TTL, SOA MINIMUM); no SOA, no caching. */
export function negativeTtl(reply: Reply): number {
  const soa = reply.authorities.find((a) => a.type === 'SOA') as { ttl?: number; data: { minimum?: number } } | undefined;
  if (!soa) return 0;
  return Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0);
}
