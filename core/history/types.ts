// The shapes of the history (docs/design.md §4.4): one row per SMTP transaction, its
// query and page, the traffic picture, and a stored message opened for reading. The
// renderer sees them through core/api.ts.
import type { GatewayEvent } from '../events/types.ts';

/** What the family reads: the message was taken, refused, or asked to come back later. */
export type MessageVerdict = 'accepted' | 'refused' | 'deferred' | 'incomplete';

/** What happened after the 250 (several for a message with local and remote recipients). */
export type MessageOutcome = 'maildir' | 'queued' | 'retrying' | 'delivered' | 'bounced';

export interface MessageRow {
  /** The id of the transaction's first event (its MAIL FROM). */
  id: number;
  time: string;
  session: string;
  client: string;
  listener: string;
  user: string;
  from: string;
  /** Every recipient asked for, accepted or not. */
  to: string[];
  subject: string;
  /** Bytes stored (0 when nothing was stored). */
  size: number;
  queueId: string;
  verdict: MessageVerdict;
  /** The reply that decided it (the 250 at DATA, or the refusal). */
  code: number;
  rule: string;
  reason: string;
  text: string;
  local: number;
  remote: number;
  delivered: number;
  failed: number;
  /** Delivery attempts that were deferred (4xx, connection trouble). */
  deferrals: number;
  outcome: MessageOutcome[];
  /** The id of the transaction's last SMTP event (its DATA, or the last refusal). */
  endId: number;
}

export interface MessageQuery {
  /** Free text and fields: `from:` `to:` `subject:` `ip:` `rule:` `verdict:` `after:` `before:` (docs/design.md §4.4). */
  q?: string;
  /** Only rows with a smaller id (paging back). */
  beforeId?: number;
  /** Default 200, at most 5000. */
  limit?: number;
}

export interface MessagePage {
  messages: MessageRow[];
  /** More rows match beyond this page. */
  more: boolean;
}

export interface MessageDetail {
  message: MessageRow;
  /** Its SMTP session up to its end, then its queue and delivery events. */
  events: GatewayEvent[];
  /** A stored copy can be opened (Maildir or outbound queue). */
  stored: 'maildir' | 'queue' | null;
}

export interface TrafficBucket {
  /** ISO start of the hour or day (UTC). */
  start: string;
  accepted: number;
  refused: number;
  deferred: number;
}

export interface TrafficReport {
  hours: TrafficBucket[];
  days: TrafficBucket[];
  /** Most frequent refusal reasons over the last 30 days. */
  topReasons: { rule: string; reason: string; count: number }[];
}

export interface MessageContent {
  id: number;
  stored: 'maildir' | 'queue';
  headers: { name: string; value: string }[];
  subject: string;
  from: string;
  to: string;
  date: string | null;
  text: string;
  /** The HTML part, unchanged: render only in a sandboxed frame (renderer MessageViewer). */
  html: string | null;
  attachments: { filename: string; contentType: string; size: number }[];
  /** Authentication-Results as plain verdicts. */
  auth: { method: string; result: string; detail: string }[];
  /** The raw source (cut at 2 MiB). */
  raw: string;
  truncated: boolean;
}

export type ExportFormat = 'csv' | 'json';

export interface ExportFile {
  filename: string;
  mime: string;
  body: string;
  rows: number;
}
