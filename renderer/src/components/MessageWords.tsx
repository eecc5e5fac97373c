// The words of the Messages view (docs/design.md §4.4): a verdict a family understands,
// and what happened to the message after it was accepted. Never colour alone.
import type { MessageOutcome, MessageRow, MessageVerdict } from '../api.ts';

export const MESSAGE_VERDICT: Record<MessageVerdict, { word: string; cls: string; icon: string }> = {
  accepted: { word: 'Accepted', cls: 'v-accept', icon: '✓' },
  refused: { word: 'Refused', cls: 'v-reject', icon: '✕' },
  deferred: { word: 'Deferred', cls: 'v-defer', icon: '↻' },
  incomplete: { word: 'Not sent', cls: 'v-info', icon: '…' },
};

export const OUTCOME_WORD: Record<MessageOutcome, string> = {
  maildir: 'in the Maildir',
  queued: 'queued',
  retrying: 'retrying',
  delivered: 'delivered',
  bounced: 'bounced',
};

export function MessageVerdictBadge({ verdict }: { verdict: MessageVerdict }) {
  const v = MESSAGE_VERDICT[verdict];
  return (
    <span className={`badge ${v.cls}`} data-verdict={verdict}>
      <span aria-hidden="true">{v.icon}</span> {v.word}
    </span>
  );
}

/** What happened: `in the Maildir`, `delivered`, `retrying (2 tries)`, `bounced`; for a refusal, why. */
export function outcomeText(m: MessageRow): string {
  if (m.verdict !== 'accepted') return m.reason || m.text;
  return m.outcome.map((o) => (o === 'retrying' ? `retrying (${m.deferrals} ${m.deferrals === 1 ? 'try' : 'tries'})` : OUTCOME_WORD[o])).join(', ');
}
