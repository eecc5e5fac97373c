// The shapes of the history (docs/design.md §4.4): one row per SMTP transaction, its
// query and page, the traffic picture, and a stored message opened for reading. The
// renderer sees them through core/api.ts.
import type { EventVerdict, GatewayEvent, Stage } from '../events/types.ts';
import type { ParsedView } from '../mail/view.ts';

/** The live log's event query (GatewayApi.events, the history index). */
export interface EventQuery {
  /** Only events with a larger id (for catching up after a reconnect). */
  afterId?: number;
  /** Only events with a smaller id (for paging back through history). */
  beforeId?: number;
  /** At most this many, the newest of those that match (default 500, max 5000). */
  limit?: number;
  verdict?: EventVerdict[];
  stage?: Stage[];
  rule?: string;
  /** Case-insensitive substring of text, from, to, client, user or reason. */
  text?: string;
  /** One SMTP session's events (the click-through of a row). */
  session?: string;
}

/** What the family reads: the message was taken, refused, or asked to come back later. */
export type MessageVerdict = 'accepted' | 'refused' | 'deferred' | 'incomplete';

/** What happened after the 250 (several for a message with local and remote recipients). */
export type MessageOutcome = 'maildir' | 'queued' | 'retrying' | 'delivered' | 'bounced';

/** What a transaction row and its tracked state share (core/history/transactions.ts). */
export interface TransactionFields {
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
  /** The id of the transaction's last SMTP event (its DATA, or the last refusal). */
  endId: number;
}

export interface MessageRow extends TransactionFields {
  verdict: MessageVerdict;
  outcome: MessageOutcome[];
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

/** A stored message opened for reading: which store it came from, and the parsed view (core/mail/view.ts). */
export interface MessageContent extends ParsedView {
  id: number;
  stored: 'maildir' | 'queue';
}

export type ExportFormat = 'csv' | 'json';

export interface ExportFile {
  filename: string;
  mime: string;
  body: string;
  rows: number;
}
