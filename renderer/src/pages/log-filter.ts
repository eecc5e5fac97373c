// Filtering the live log in the page: the loaded events (as many as the gateway
// keeps) are filtered here, so a filter or a search answers at once. New events are
// tested incrementally; a change of filter, or events dropped or inserted, rescans.
import type { EventVerdict, GatewayEvent, Stage } from '../api.ts';
import type { LiveStore } from '../live.ts';

export interface LogFilter {
  verdicts: EventVerdict[];
  stage: Stage | '';
  rule: string;
  text: string;
}

export const NO_FILTER: LogFilter = { verdicts: [], stage: '', rule: '', text: '' };

const hayCache = new WeakMap<GatewayEvent, string>();
function hay(e: GatewayEvent): string {
  let h = hayCache.get(e);
  if (h === undefined) {
    h =
      `${e.text}\u0000${e.from ?? ''}\u0000${e.to ?? ''}\u0000${e.client}\u0000${e.user ?? ''}\u0000${e.reason ?? ''}\u0000${e.queueId ?? ''}\u0000${e.rule}\u0000${e.session}\u0000${e.code || ''}`.toLowerCase();
    hayCache.set(e, h);
  }
  return h;
}

export function matcher(f: LogFilter): ((e: GatewayEvent) => boolean) | null {
  const text = f.text.trim().toLowerCase();
  if (!f.verdicts.length && !f.stage && !f.rule && !text) return null;
  const verdicts = new Set(f.verdicts);
  return (e) =>
    (!verdicts.size || verdicts.has(e.verdict)) && (!f.stage || e.stage === f.stage) && (!f.rule || e.rule === f.rule) && (!text || hay(e).includes(text));
}

export function filterKey(f: LogFilter): string {
  return JSON.stringify([[...f.verdicts].sort(), f.stage, f.rule, f.text.trim().toLowerCase()]);
}

export class FilteredView {
  rows: GatewayEvent[] = [];
  /** Bumped when `rows` was rebuilt rather than appended to. */
  resets = 0;
  private key = '\u0000';
  private generation = -1;
  private source: GatewayEvent[] | null = null;
  private scanned = 0;

  update(live: LiveStore, f: LogFilter): void {
    const key = filterKey(f);
    const match = matcher(f);
    if (key !== this.key || live.generation !== this.generation || live.events !== this.source) {
      this.key = key;
      this.generation = live.generation;
      this.source = live.events;
      this.rows = match ? live.events.filter(match) : live.events.slice();
      this.scanned = live.events.length;
      this.resets++;
      return;
    }
    const ev = live.events;
    for (let i = this.scanned; i < ev.length; i++) if (!match || match(ev[i])) this.rows.push(ev[i]);
    this.scanned = ev.length;
  }
}
