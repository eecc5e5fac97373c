// One delivery attempt to one server, through nodemailer's SMTP client (which
// normalises line endings and dot-stuffs: nothing we relay can smuggle), and the two
// routes: a smarthost, or the recipient domain's MX hosts.
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { Config } from '../config/schema.ts';
import type { DnsClient } from '../dns/client.ts';
import { tlsProblem } from '../doctor/tls-words.ts';

export interface RcptOutcome {
  address: string;
  ok: boolean;
  /** A 5xx (or equivalent): do not retry. */
  permanent: boolean;
  code?: number;
  text: string;
  /** The server that answered: the MX host's name, or the smarthost as configured. */
  remoteMta?: string;
  /** `text` is the remote server's SMTP reply to this recipient (not Postern's own words). */
  reply?: boolean;
}

export interface Target {
  /** What we connect to (an IP or a host name). */
  host: string;
  /** The name to present for TLS (SNI, certificate check). */
  servername: string;
  port: number;
  secure: boolean;
  requireTLS: boolean;
  verifyTls: boolean;
  auth?: { user: string; pass: string };
  /** `outbound.smarthost.caFile`: a CA (PEM file) trusted besides the public roots. */
  caFile?: string;
}

/**
 * What one attempt sends (docs/design.md §3.3): the message as DKIM-signed bytes, in the
 * form the next hop can take. An 8-bit message goes as it is, with BODY=8BITMIME, to a
 * server that offers 8BITMIME; to one that does not, converted to 7-bit first (RFC 6152
 * §3) and signed after the conversion. Forms are made when first asked for.
 */
export interface OutboundMessage {
  /** Bytes above 127 somewhere in the message (RFC 6152). */
  eightBit: boolean;
  bytes(form: '8bit' | '7bit'): Promise<Buffer>;
}

/** A message given as it is (7-bit, or sent unconverted): tests and the setup check. */
export function fixedMessage(message: Buffer): OutboundMessage {
  return { eightBit: false, bytes: async () => message };
}

/** The extensions the server announced in its (last) EHLO reply; nodemailer keeps them without a public getter. */
function extensions(conn: SMTPConnection): string[] {
  return (conn as unknown as { _supportedExtensions?: string[] })._supportedExtensions ?? [];
}

export interface SendOptions {
  heloName: string;
  timeoutMs: number;
}

type NmError = Error & { code?: string; responseCode?: number; response?: string; recipient?: string };

const fail = (address: string, permanent: boolean, text: string, code?: number, remoteMta?: string): RcptOutcome => ({
  address,
  ok: false,
  permanent,
  code,
  text,
  remoteMta,
});
/** A failure the server itself answered (its reply is the text). */
const refused = (address: string, r: NmError, remoteMta: string): RcptOutcome => ({
  ...fail(address, (r.responseCode ?? 0) >= 500, (r.response ?? r.message).trim(), r.responseCode, remoteMta),
  reply: r.responseCode !== undefined && r.response !== undefined,
});

/** A connection-level failure (before any recipient was answered): try the next host. */
export class ConnectError extends Error {
  readonly temporary = true;
}

/** An SMTP client for a target (used by delivery and by the setup check's login test). */
export function connectionFor(t: Target, o: SendOptions & { socketTimeoutMs?: number }): SMTPConnection {
  return new SMTPConnection({
    host: t.host,
    port: t.port,
    secure: t.secure,
    requireTLS: !t.secure && t.requireTLS,
    opportunisticTLS: !t.secure && !t.requireTLS,
    name: o.heloName,
    connectionTimeout: o.timeoutMs,
    greetingTimeout: o.timeoutMs,
    socketTimeout: o.socketTimeoutMs ?? o.timeoutMs * 4,
    tls: {
      servername: net.isIP(t.servername) ? undefined : t.servername,
      rejectUnauthorized: t.verifyTls,
      minVersion: 'TLSv1.2',
      // Node's `ca` replaces its roots: keep them, and add the configured CA (§3.3).
      ...(t.caFile ? { ca: [...tls.rootCertificates, fs.readFileSync(t.caFile, 'utf8')] } : {}),
    },
    logger: false,
  });
}

/**
 * A connection failure in words for the event and a bounce: a certificate problem in
 * plain words (core/doctor/tls-words.ts; Node's own text suggests command-line flags
 * that mean nothing here), with the setting that fixes a private CA.
 */
function connectProblem(t: Target, e: NmError): string {
  const text = `${e.code ?? ''} ${e.message}`;
  if (!/CERT|SELF_SIGNED|UNABLE_TO|ALTNAME|certificate/i.test(text)) return `${t.servername}: ${e.message}`;
  const hint =
    t.verifyTls && /SELF_SIGNED|UNABLE_TO|self[- ]signed|issuer|unable to (?:verify|get)/i.test(text)
      ? '; if it is a private or self-signed certificate, set outbound.smarthost.caFile to its CA certificate (PEM)'
      : '';
  return `${t.servername}: ${tlsProblem(e, t.servername)}${hint}`;
}

/** Runs `fn` once (the first caller wins) after saying QUIT, or dropping the connection. */
export function finishOnce(conn: SMTPConnection): (fn: () => void) => void {
  let settled = false;
  return (fn) => {
    if (settled) return;
    settled = true;
    try {
      conn.quit();
    } catch {
      conn.close();
    }
    fn();
  };
}

/** Sends one message to one server; resolves with an outcome per recipient. */
export function sendOnce(t: Target, from: string, rcpts: string[], message: OutboundMessage, o: SendOptions): Promise<RcptOutcome[]> {
  return new Promise((resolve, reject) => {
    let conn: SMTPConnection;
    try {
      conn = connectionFor(t, o);
    } catch (e) {
      // The CA file could not be read.
      return reject(new ConnectError(`${t.servername}: cannot read outbound.smarthost.caFile ${t.caFile}: ${(e as Error).message}`));
    }
    const done = finishOnce(conn);
    conn.once('error', (e: NmError) => done(() => reject(new ConnectError(connectProblem(t, e)))));
    conn.connect((err?: NmError) => {
      if (err) return done(() => reject(new ConnectError(connectProblem(t, err))));
      const send = async () => {
        // RFC 6152: BODY=8BITMIME only where offered; elsewhere the 7-bit form.
        const use8BitMime = message.eightBit && extensions(conn).includes('8BITMIME');
        let body: Buffer;
        try {
          body = await message.bytes(message.eightBit && !use8BitMime ? '7bit' : '8bit');
        } catch (e) {
          return done(() =>
            resolve(rcpts.map((a) => fail(a, false, `4.6.3 the 8-bit message could not be converted to 7-bit for ${t.servername}: ${(e as Error).message}`))),
          );
        }
        conn.send(
          { from: from || false, to: rcpts, use8BitMime },
          body,
          (e: NmError | null, info?: { accepted: string[]; rejected: string[]; rejectedErrors?: NmError[]; response: string }) => {
            if (e && !info) {
              // The whole transaction failed: MAIL FROM, DATA, or every recipient.
              const perRcpt = (e as NmError & { rejectedErrors?: NmError[] }).rejectedErrors;
              const byRcpt = new Map((perRcpt ?? []).map((r) => [r.recipient ?? '', r]));
              return done(() =>
                resolve(
                  rcpts.map((a) => {
                    const r = byRcpt.get(a) ?? e;
                    // EENVELOPE without a reply: our SMTP client refused the address itself; retrying cannot help.
                    if (r.responseCode === undefined) return fail(a, r.code === 'EENVELOPE', r.message.trim(), undefined, t.servername);
                    return refused(a, r, t.servername);
                  }),
                ),
              );
            }
            const rejected = new Map((info?.rejectedErrors ?? []).map((r) => [r.recipient ?? '', r]));
            done(() =>
              resolve(
                rcpts.map((a) => {
                  const r = rejected.get(a);
                  if (r) return refused(a, r, t.servername);
                  return { address: a, ok: true, permanent: false, code: 250, text: (info?.response ?? '250 OK').trim(), remoteMta: t.servername };
                }),
              ),
            );
          },
        );
      };
      if (!t.auth) return void send();
      conn.login({ user: t.auth.user, pass: t.auth.pass }, (e: NmError | null) => {
        // A refused login is the family's configuration, not the recipient's fault: retry
        // (and say so), never bounce.
        if (e)
          return done(() =>
            resolve(rcpts.map((a) => fail(a, false, `login to ${t.servername} failed: ${(e.response ?? e.message).trim()}`, e.responseCode, t.servername))),
          );
        void send();
      });
    });
  });
}

/** The smarthost route of the config. */
export function smarthostTarget(cfg: Config): Target {
  const s = cfg.outbound.smarthost;
  return {
    host: s.host,
    servername: s.host,
    port: s.port,
    secure: s.secure,
    requireTLS: s.requireTLS,
    // Verified when TLS is demanded; with requireTLS off it is opportunistic, as for MX hosts.
    verifyTls: s.secure || s.requireTLS,
    ...(s.user ? { auth: { user: s.user, pass: s.password } } : {}),
    ...(s.caFile ? { caFile: s.caFile } : {}),
  };
}

export type MxPlan = { ok: true; hosts: { name: string; addresses: string[] }[] } | { ok: false; permanent: boolean; text: string };

/** The hosts to try for a domain: MX by preference, null MX, or the implicit MX (A/AAAA). */
export async function planMx(domain: string, dns: DnsClient): Promise<MxPlan> {
  if (domain.startsWith('[')) {
    const ip = domain.slice(1, -1).replace(/^ipv6:/i, '');
    return { ok: true, hosts: [{ name: ip, addresses: [ip] }] };
  }
  let names: string[];
  try {
    const mx = (await dns.resolve(domain, 'MX')).sort((a, b) => a.priority - b.priority);
    // RFC 7505: a single MX of "." says the domain accepts no mail.
    if (mx.length === 1 && (mx[0].exchange === '' || mx[0].exchange === '.'))
      return { ok: false, permanent: true, text: `5.1.10 ${domain} does not accept mail (null MX)` };
    names = mx.map((m) => m.exchange.replace(/\.$/, '')).filter(Boolean);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOTFOUND') return { ok: false, permanent: true, text: `5.1.2 domain ${domain} does not exist` };
    if (code !== 'ENODATA') return { ok: false, permanent: false, text: `4.4.3 DNS lookup of ${domain} MX failed: ${code ?? (e as Error).message}` };
    names = [domain]; // RFC 5321 §5.1: no MX, the domain itself is the implicit MX
  }
  const hosts: { name: string; addresses: string[] }[] = [];
  for (const name of names) {
    const addresses: string[] = [];
    for (const type of ['A', 'AAAA'] as const) {
      try {
        addresses.push(...(await dns.resolve(name, type)));
      } catch {
        // a missing family is normal; no address at all is handled below
      }
    }
    if (addresses.length) hosts.push({ name, addresses });
  }
  if (!hosts.length) return { ok: false, permanent: false, text: `4.4.4 no address for the mail servers of ${domain} (${names.join(', ')})` };
  return { ok: true, hosts };
}
