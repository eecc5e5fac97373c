// The SPF check as the SMTP hooks see it (docs/design.md §2.6).
import type { Mailbox } from '../policy/address.ts';

export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror';

export interface SpfOutcome {
  result: SpfResult;
  /** Header lines to prepend (CRLF-terminated), per the `spf.header` setting; '' for none. */
  headers: string;
  /** Set when the policy refuses the sender. */
  reject: { code: number; text: string } | null;
  /** The identity checked: `mailfrom` or `helo`. */
  identity: 'mailfrom' | 'helo';
  domain: string;
}

/** Checks the MAIL FROM identity (or HELO for the null sender) of an Internet client. */
export type MailFromCheck = (sender: Mailbox | null, ip: string, helo: string) => Promise<SpfOutcome>;
