// The dashboard's live state: the events (snapshot, then live batches), the status
// and the connection. Order of work on every (re)connection: the stream is open
// first, live batches are held, `events({afterId: lastId})` fetches what was missed
// (paging back if more than a page was missed), then the held batches follow — so
// nothing is lost or shown twice, whatever the timing.
import type { GatewayEvent, GatewayStatus } from './api.ts';
import type { ConnectionState, GatewayClient } from './client.ts';
import type { StreamMessage } from './bridge.ts';

/** As many events as the gateway keeps in memory. */
export const MAX_EVENTS = 100_000;
const PAGE = 5000;

export class LiveStore {
  readonly client: GatewayClient;
  /** Oldest first, ids increasing. Appended to in place. */
  events: GatewayEvent[] = [];
  /** Bumped whenever events were removed or inserted anywhere but at the end. */
  generation = 0;
  /** Bumped on every change of `events`. */
  version = 0;
  lastId = 0;
  status: GatewayStatus | null = null;
  connection: ConnectionState = 'connecting';
  /** True until the first history page arrived. */
  loading = true;
  /** Rule names seen, for the filter menu. */
  readonly rules = new Set<string>();
  private held: GatewayEvent[] | null = null;
  private run = 0;
  private readonly listeners = new Set<() => void>();

  constructor(client: GatewayClient) {
    this.client = client;
  }

  start(): () => void {
    return this.client.subscribe({ onMessage: (m) => this.onMessage(m), onConnection: (s) => this.onConnection(s) });
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private notify(): void {
    for (const fn of this.listeners) fn();
  }

  /** The transport saw a 401: the access link is wrong or from an earlier start. */
  markUnauthorized(): void {
    this.connection = 'unauthorized';
    this.notify();
  }

  private onMessage(m: StreamMessage): void {
    if (m.type === 'status') {
      this.status = m.status;
      this.notify();
      return;
    }
    if (this.held) {
      this.held.push(...m.events);
      if (this.held.length > MAX_EVENTS) this.held.splice(0, this.held.length - MAX_EVENTS);
      return;
    }
    this.append(m.events);
  }

  private onConnection(s: ConnectionState): void {
    this.connection = s;
    this.notify();
    if (s === 'live') void this.catchUp();
  }

  private async catchUp(): Promise<void> {
    const run = ++this.run;
    this.held ??= [];
    void this.client.call('status').then((r) => {
      if (r.ok) {
        this.status = r.value;
        this.notify();
      }
    });
    const after = this.lastId;
    const progressive = this.events.length === 0;
    const older: GatewayEvent[][] = [];
    let beforeId: number | undefined;
    let total = 0;
    for (;;) {
      const r = await this.client.call('events', { afterId: after, limit: PAGE, ...(beforeId !== undefined ? { beforeId } : {}) });
      if (run !== this.run) return; // a newer connection took over
      if (!r.ok) {
        if (r.error.code === 'unauthorized') return;
        await new Promise((res) => setTimeout(res, 2000));
        if (run !== this.run) return;
        continue;
      }
      const page = r.value.events;
      total += page.length;
      if (progressive && beforeId === undefined) {
        // First look: show the newest page at once, older pages when they are all in.
        this.append(page);
        this.loading = false;
        this.notify();
      } else older.push(page);
      if (page.length < PAGE || page[0].id <= after + 1 || total >= MAX_EVENTS) break;
      beforeId = page[0].id;
    }
    if (progressive) {
      const before = older.reverse().flat();
      if (before.length) {
        this.events = before.concat(this.events);
        for (const e of before) this.rules.add(e.rule);
        this.generation++;
        this.version++;
      }
    } else this.append(older.reverse().flat());
    this.loading = false;
    const held = this.held ?? [];
    this.held = null;
    this.append(held);
    this.notify();
  }

  private append(batch: GatewayEvent[]): void {
    let added = false;
    for (const e of batch) {
      if (e.id <= this.lastId) continue;
      this.events.push(e);
      this.lastId = e.id;
      this.rules.add(e.rule);
      added = true;
    }
    if (!added) return;
    if (this.events.length > MAX_EVENTS + PAGE) {
      this.events.splice(0, this.events.length - MAX_EVENTS);
      this.generation++;
    }
    this.version++;
    this.notify();
  }
}
