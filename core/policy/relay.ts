// The relay policy of docs/design.md §2.1 — the seed's `check_mail_relay` and
// `check_rcpt_relay` — as pure functions of (facts, directory) → verdict.
// The smtp hooks gather the facts, call these, send the reply and emit the event.
//
// RCPT order (first match wins):
//   1. sender-specified routing from a client neither internal nor authenticated → 554 5.7.1
//   2. local domain: a family address → accept (anyone may send to the family); else 550 5.1.1
//   3. authenticated client → accept any recipient
//   4. internal client → accept any recipient
//   5. otherwise → 554 5.7.1 Relay access denied
import type { Rule } from '../events/types.ts';
import type { Mailbox } from './address.ts';
import type { Directory } from './directory.ts';

export interface ClientFacts {
  /** Peer IP (or the address a trusted proxy reported). */
  ip: string;
  /** Inside an enabled internal network. */
  internal: boolean;
  /** Account name after a successful AUTH, else null. */
  user: string | null;
}

type RelayRule = Extract<Rule, 'relay mail from' | 'relay rcpt'>;

export type Verdict =
  | { accept: true; rule: RelayRule; reason: string; text: string; account?: string; accounts?: string[]; remote?: boolean }
  | { accept: false; rule: RelayRule; reason: string; code: number; text: string };

export const MAIL_RULE: RelayRule = 'relay mail from';
export const RCPT_RULE: RelayRule = 'relay rcpt';

const reject = (rule: RelayRule, reason: string, code: number, text: string): Verdict => ({ accept: false, rule, reason, code, text });

/** MAIL FROM. `sender` null means the null reverse-path `<>`. */
export function checkMailFrom(sender: Mailbox | null, client: ClientFacts, dir: Directory): Verdict {
  if (client.user !== null) {
    // An authenticated family member sends as themselves: the null sender is for
    // bounces, which servers write (Postern builds its own, §3.4), never a mail program.
    // (Postfix's reject_authenticated_sender_login_mismatch lets <> through; issue 12
    // asked for the same check on every sender, docs/design.md §2.1.)
    if (sender === null)
      return reject(MAIL_RULE, 'null sender from an authenticated client', 553, `5.7.1 The null sender <> is not allowed for user ${client.user}`);
    if (!dir.maySendAs(client.user, sender)) {
      return reject(MAIL_RULE, 'sender-login mismatch', 553, `5.7.1 Sender address <${sender.address}> is not owned by user ${client.user}`);
    }
    return { accept: true, rule: MAIL_RULE, reason: dir.accountFor(sender) === client.user ? 'own address' : 'send-as address', text: '2.1.0 OK' };
  }
  if (sender === null) return { accept: true, rule: MAIL_RULE, reason: 'null sender', text: '2.1.0 OK' };
  if (!client.internal && sender.domain && dir.isLocalDomain(sender.domain)) {
    return reject(MAIL_RULE, 'local sender from outside', 554, `5.7.1 Sender address <${sender.address}> is in our own domain: authenticate first`);
  }
  return { accept: true, rule: MAIL_RULE, reason: client.internal ? 'internal' : 'foreign sender', text: '2.1.0 OK' };
}

/** RCPT TO, for one recipient. */
export function checkRcpt(rcpt: Mailbox, client: ClientFacts, dir: Directory): Verdict {
  const trusted = client.internal || client.user !== null;
  if (rcpt.routing && !trusted) {
    return reject(RCPT_RULE, 'sender-specified routing', 554, `5.7.1 <${rcpt.address}>: Relay access denied (${rcpt.routing})`);
  }
  const isLocal = rcpt.domain ? !rcpt.literal && dir.isLocalDomain(rcpt.domain) : rcpt.local.toLowerCase() === 'postmaster';
  if (isLocal) {
    const account = dir.accountFor(rcpt);
    if (account) return { accept: true, rule: RCPT_RULE, reason: 'local recipient', text: '2.1.5 OK', account };
    // A shared address (docs/design.md §8.2): a copy for each of its accounts.
    const members = dir.recipientsFor(rcpt);
    if (members.length) return { accept: true, rule: RCPT_RULE, reason: 'shared address', text: '2.1.5 OK', account: members[0], accounts: members };
    return reject(RCPT_RULE, 'unknown local user', 550, `5.1.1 <${rcpt.address}>: Recipient address rejected: User unknown`);
  }
  if (!rcpt.domain) {
    if (!trusted) return reject(RCPT_RULE, 'not relaying', 554, `5.7.1 <${rcpt.address}>: Relay access denied`);
    return reject(RCPT_RULE, 'no domain', 553, `5.1.3 <${rcpt.address}>: Recipient address needs a domain`);
  }
  if (client.user !== null) return { accept: true, rule: RCPT_RULE, reason: 'authenticated', text: '2.1.5 OK', remote: true };
  if (client.internal) return { accept: true, rule: RCPT_RULE, reason: 'internal network', text: '2.1.5 OK', remote: true };
  return reject(RCPT_RULE, 'not relaying', 554, `5.7.1 <${rcpt.address}>: Relay access denied`);
}
