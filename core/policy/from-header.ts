// A family member's mail carries a From header that belongs to the login
// (docs/design.md §2.1, "From header"): every address in the message's one From field
// must be one of the account's own addresses or one it may send as (`sendAs`, §8.2).
// Pure: the header section and the directory in, a verdict out. The smtp hooks call it
// at the end of DATA for authenticated sessions, before anything is stored or signed.
import addressparser, { type Address } from 'nodemailer/lib/addressparser';
import { parseMailbox } from './address.ts';
import type { Directory } from './directory.ts';

export type FromVerdict = { accept: true; addresses: string[] } | { accept: false; reason: string; code: 550; text: string };

/** Header sections longer than this are not looked at further (the From field is near the top). */
const MAX_HEAD = 1024 * 1024;

/** The From fields' values (unfolded) in the header section of `message` (bytes up to the first blank line). */
export function fromFields(message: Buffer | string): string[] {
  const raw = typeof message === 'string' ? message : message.toString('latin1', 0, Math.min(message.length, MAX_HEAD));
  const blank = /\r?\n\r?\n/.exec(raw);
  const head = blank ? raw.slice(0, blank.index) : raw;
  const out: string[] = [];
  for (const field of head.split(/\r?\n(?![ \t])/)) {
    const colon = field.indexOf(':');
    // RFC 5322 §4.5.1 (obsolete syntax): white space may come before the colon.
    if (colon > 0 && field.slice(0, colon).trim().toLowerCase() === 'from') out.push(field.slice(colon + 1).replace(/\r?\n(?=[ \t])/g, ''));
  }
  return out;
}

function mailboxes(list: Address[]): string[] {
  const out: string[] = [];
  for (const a of list) {
    if (a.group) out.push(...mailboxes(a.group));
    else out.push(a.address);
  }
  return out;
}

/**
 * Checks the From header of a message sent by the authenticated account `user`.
 * Refused: no From field, more than one (RFC 5322 §3.6 allows one), an empty or
 * unparseable one, or any address that is not the account's (Directory.maySendAs).
 */
export function checkFromHeader(message: Buffer | string, user: string, dir: Directory): FromVerdict {
  const refuse = (reason: string, shown: string): FromVerdict => ({
    accept: false,
    reason,
    code: 550,
    text: `5.7.1 From header <${shown}> does not belong to user ${user}`,
  });
  const fields = fromFields(message);
  if (fields.length === 0)
    return { accept: false, reason: 'no From header', code: 550, text: `5.7.1 Message has no From header: user ${user} must name one of their addresses` };
  if (fields.length > 1)
    return { accept: false, reason: `${fields.length} From headers`, code: 550, text: `5.7.1 Message has ${fields.length} From headers: one is allowed` };
  const found = mailboxes(addressparser(fields[0].trim()));
  if (found.length === 0) return refuse('From header names no address', clean(fields[0]));
  const addresses: string[] = [];
  for (const a of found) {
    const mb = a ? parseMailbox(a) : null;
    if (!mb?.domain || mb.routing || !dir.maySendAs(user, mb))
      return refuse(mb ? `From ${mb.address} is not ${user}'s` : 'From address does not parse', clean(mb?.address ?? (a || fields[0])));
    addresses.push(mb.address);
  }
  return { accept: true, addresses };
}

/** Printable ASCII only, at most 100 characters: it goes into a reply line. */
function clean(s: string): string {
  return s
    .replace(/[^\x21-\x7e ]/g, '?')
    .replace(/[<>]/g, '')
    .trim()
    .slice(0, 100);
}
