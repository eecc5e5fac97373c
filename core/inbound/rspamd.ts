// Spam scoring by rspamd (docs/design.md §2.12), over its HTTP protocol: `POST /checkv2`
// with the envelope in request headers (IP, Helo, Hostname, From, Rcpt, Queue-Id, MTA-Name) and
// the message as the body, streamed from the spool file; the answer is JSON with an
// `action`, a `score` and the symbols that made it. `rspamdVerdict` (pure) maps the
// action to what Postern does.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { foldHeader } from '../mail/header.ts';

export type RspamdAction = 'reject' | 'soft reject' | 'greylist' | 'add header' | 'rewrite subject' | 'no action';

export interface RspamdResult {
  action: RspamdAction | string;
  score: number;
  requiredScore: number;
  /** Symbol names, highest score first (at most 12, for the event). */
  symbols: string[];
  /** rspamd's own SMTP message, if it gave one (`messages.smtp_message`). */
  message?: string;
}

export interface RspamdRequest {
  url: string;
  timeoutMs: number;
  ip: string;
  helo: string;
  from: string;
  rcpts: string[];
  queueId: string;
  hostname: string;
  /** The client's forward-confirmed reverse DNS name, or null (rspamd: `Hostname: unknown`). */
  clientName?: string | null;
  user?: string;
  /** The message: the header section (with our trace headers) and the body, in memory or its spool file. */
  head: Buffer;
  bodyFile: string | null;
  body?: Buffer;
  bodyBytes: number;
}

/** Headers with only printable ASCII (a request header cannot carry CR/LF or 8-bit). */
const clean = (s: string): string => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 512);

export function scanWithRspamd(r: RspamdRequest): Promise<RspamdResult> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL('/checkv2', r.url);
    } catch {
      return reject(new Error(`rspamd.url is not a URL: ${r.url}`));
    }
    const headers: http.OutgoingHttpHeaders = {
      'Content-Length': String(r.head.length + (r.body ? r.body.length : r.bodyFile ? r.bodyBytes : 0)),
      IP: clean(r.ip),
      Helo: clean(r.helo || 'unknown'),
      From: clean(r.from),
      Rcpt: r.rcpts.map(clean),
      'Queue-Id': clean(r.queueId),
      // The client's verified name, as Postfix passes it (rspamd does no rDNS of its own).
      Hostname: clean(r.clientName || 'unknown'),
      'MTA-Name': clean(r.hostname),
    };
    if (r.user) headers.User = clean(r.user);
    const mod = url.protocol === 'https:' ? https : http;
    let done = false;
    const finish = (e: Error | null, v?: RspamdResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (e) {
        req.destroy();
        reject(e);
      } else resolve(v!);
    };
    const req = mod.request(url, { method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 4 * 1024 * 1024) return finish(new Error('rspamd answered more than 4 MiB'));
        chunks.push(c);
      });
      res.on('error', (e) => finish(e));
      res.on('end', () => {
        if (res.statusCode !== 200) return finish(new Error(`rspamd answered HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`));
        try {
          finish(null, parseRspamdReply(Buffer.concat(chunks).toString('utf8')));
        } catch (e) {
          finish(e as Error);
        }
      });
    });
    const timer = setTimeout(() => finish(new Error(`no answer from rspamd within ${r.timeoutMs} ms`)), r.timeoutMs);
    req.on('error', (e) => finish(e));
    req.write(r.head);
    if (r.body) return void req.end(r.body);
    if (!r.bodyFile || r.bodyBytes === 0) return void req.end();
    const body = fs.createReadStream(r.bodyFile);
    body.on('error', (e) => finish(e));
    body.pipe(req);
  });
}

export function parseRspamdReply(text: string): RspamdResult {
  const j = JSON.parse(text) as {
    action?: string;
    score?: number;
    required_score?: number;
    symbols?: Record<string, { name?: string; score?: number }>;
    messages?: { smtp_message?: string };
  };
  if (typeof j.action !== 'string') throw new Error('rspamd answered without an action');
  const symbols = Object.entries(j.symbols ?? {})
    .sort((a, b) => (b[1]?.score ?? 0) - (a[1]?.score ?? 0))
    .slice(0, 12)
    .map(([k]) => k);
  return { action: j.action, score: Number(j.score ?? 0), requiredScore: Number(j.required_score ?? 0), symbols, message: j.messages?.smtp_message };
}

export type SpamOutcome = { kind: 'refuse'; code: number; text: string } | { kind: 'junk' } | { kind: 'deliver' };

/** rspamd's action → Postern's answer (docs/design.md §2.12). */
export function rspamdVerdict(r: RspamdResult): SpamOutcome {
  switch (r.action) {
    case 'reject':
      return { kind: 'refuse', code: 550, text: `5.7.1 Message refused as spam (score ${fmt(r.score)})` };
    case 'soft reject':
      return { kind: 'refuse', code: 451, text: '4.7.1 Message deferred by the spam filter, try again later' };
    case 'greylist':
      return { kind: 'refuse', code: 451, text: '4.7.1 Greylisted, try again later' };
    case 'add header':
    case 'rewrite subject':
      return { kind: 'junk' };
    default:
      return { kind: 'deliver' };
  }
}

const fmt = (n: number): string => (Math.round(n * 100) / 100).toFixed(2);

/** X-Spam-Status / X-Spam-Score for a scanned message (SpamAssassin's names, which mail readers know). */
export function spamHeaders(r: RspamdResult | null, junk: boolean, hostname: string): string {
  if (!r) return `X-Spam-Status: Unknown, rspamd unreachable at ${hostname}\r\n`;
  const tests = r.symbols.length ? ` tests=${r.symbols.join(',')}` : '';
  return `${foldHeader(`X-Spam-Status: ${junk ? 'Yes' : 'No'}, score=${fmt(r.score)} required=${fmt(r.requiredScore)} action=${r.action.replace(/ /g, '_')}${tests}`)}X-Spam-Score: ${fmt(r.score)}\r\n`;
}

/** `ip` → `4.3.2.1.in-addr.arpa` / nibbles `.ip6.arpa`. */
function ptrName(ip: string, rev: (ip: string) => string | null): string | null {
  const r = rev(ip);
  if (!r) return null;
  return r.split('.').length === 4 ? `${r}.in-addr.arpa` : `${r}.ip6.arpa`;
}

/**
 * The client's forward-confirmed reverse DNS name (FCrDNS: a PTR name whose A/AAAA
 * records include the address), or null; lookup errors are null (never a refusal).
 */
export async function verifiedClientName(
  ip: string,
  resolve: (name: string, type: 'PTR' | 'A' | 'AAAA') => Promise<string[]>,
  rev: (ip: string) => string | null,
): Promise<string | null> {
  const name = ptrName(ip, rev);
  if (!name) return null;
  try {
    const ptrs = (await resolve(name, 'PTR')).slice(0, 3);
    const v6 = ip.includes(':') && !/^::ffff:/i.test(ip);
    const plain = ip.replace(/^::ffff:/i, '').toLowerCase();
    for (const host of ptrs) {
      const addrs = await resolve(host, v6 ? 'AAAA' : 'A').catch(() => [] as string[]);
      if (addrs.some((a) => a.toLowerCase() === plain)) return host.replace(/\.$/, '');
    }
  } catch {}
  return null;
}
