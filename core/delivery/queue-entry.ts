// One outbound-queue message as the dashboard shows it. Defined here, beside the queue
// that produces it (core/delivery/outbound.ts), so that the queue does not import the
// API contract; core/api.ts re-exports it for the transports and the renderer.
import type { OutboundRecipient } from '../spool/store.ts';

export interface QueueEntry {
  id: string;
  from: string;
  /** ISO 8601 time the message was accepted. */
  received: string;
  client: string;
  recipients: OutboundRecipient[];
}
