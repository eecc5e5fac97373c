// RFC 3464 delivery status notifications (multipart/report; report-type=delivery-status).
// Built by hand: nodemailer has no multipart/report builder (docs/design.md §10.6),
// and the format is three fixed parts.
import crypto from 'node:crypto';
import net from 'node:net';
import { rfc5322Date } from '../smtp/message.ts';

export interface FailedRecipient {
  address: string;
  /** Enhanced status code, e.g. `5.1.1`. */
  status: string;
  /**
   * `smtp`: `diagnostic` is the remote server's reply (`550 5.1.1 …`). `X-Postern`:
   * it is Postern's own reason (no such domain, a loop, gave up) — RFC 3464 §2.3.6
   * names the diagnostic type, and a reason that no server sent is no `smtp` reply.
   */
  diagnosticType: 'smtp' | 'X-Postern';
  diagnostic: string;
  /** Said before the diagnostic in the human part (`gave up after 5 days`). */
  note?: string;
  /**
   * The server that answered (for the human part); `Remote-MTA: dns; <name>` only when
   * it is a host name — an IP address is no `dns` name (RFC 3464 §2.3.5).
   */
  remoteMta?: string;
  lastAttempt: Date;
}

export interface BounceInput {
  reportingMta: string;
  originalSender: string;
  originalId: string;
  arrival: Date;
  recipients: FailedRecipient[];
  /** The original message; its header section is returned (text/rfc822-headers). */
  original: Buffer;
}

/** One header line: no CR/LF can come through a remote server's reply. */
function clean(s: string): string {
  return s
    .replace(/[\r\n]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 900);
}

/** A DNS host name (not an IP address, not an address literal). */
function isHostName(s: string): boolean {
  return !net.isIP(s.replace(/^\[(?:IPv6:)?|\]$/gi, '')) && /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?\.?$/.test(s) && /[A-Za-z]/.test(s);
}

export function enhancedFromReply(code: number | undefined, text: string, permanent: boolean): string {
  const m = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(text);
  if (m) return m[1];
  if (code && code >= 500) return '5.0.0';
  if (code && code >= 400) return '4.0.0';
  return permanent ? '5.0.0' : '4.0.0';
}

export function buildBounce(b: BounceInput): Buffer {
  const boundary = `=_postern_${crypto.randomBytes(12).toString('hex')}`;
  const end = b.original.indexOf('\r\n\r\n');
  const originalHeaders = (end < 0 ? b.original : b.original.subarray(0, end)).toString('latin1');
  const human = [
    `This is the mail system at host ${b.reportingMta}.`,
    '',
    "I'm sorry to have to inform you that your message could not",
    'be delivered to one or more recipients. The details are below.',
    '',
    // Every field cleaned here too: a host name from DNS is no more trusted than a reply.
    ...b.recipients.map(
      (r) => `<${clean(r.address)}>: ${r.note ? `${clean(r.note)}: ` : ''}${r.remoteMta ? `host ${clean(r.remoteMta)} said: ` : ''}${clean(r.diagnostic)}`,
    ),
    '',
  ].join('\r\n');
  const perMessage = [`Reporting-MTA: dns; ${b.reportingMta}`, `X-Postern-Queue-ID: ${b.originalId}`, `Arrival-Date: ${rfc5322Date(b.arrival)}`].join('\r\n');
  const perRecipient = b.recipients
    .map((r) =>
      [
        // No Original-Recipient: it carries a DSN ORCPT parameter (RFC 3464 §2.3.1),
        // and Postern takes none (DSN is not offered, docs/design.md §10.1).
        `Final-Recipient: rfc822; ${clean(r.address)}`,
        'Action: failed',
        `Status: ${r.status}`,
        ...(r.remoteMta && isHostName(r.remoteMta) ? [`Remote-MTA: dns; ${clean(r.remoteMta)}`] : []),
        `Diagnostic-Code: ${r.diagnosticType}; ${clean(r.diagnostic)}`,
        `Last-Attempt-Date: ${rfc5322Date(r.lastAttempt)}`,
      ].join('\r\n'),
    )
    .join('\r\n\r\n');
  const msg = [
    `From: Mail Delivery System <MAILER-DAEMON@${b.reportingMta}>`,
    `To: <${b.originalSender}>`,
    `Subject: Undelivered Mail Returned to Sender`,
    `Date: ${rfc5322Date()}`,
    `Message-ID: <${Date.now()}.${crypto.randomBytes(6).toString('hex')}@${b.reportingMta}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    human,
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    perMessage,
    '',
    perRecipient,
    '',
    `--${boundary}`,
    'Content-Description: Undelivered Message Headers',
    'Content-Type: text/rfc822-headers',
    '',
    originalHeaders,
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return Buffer.from(msg, 'latin1');
}
