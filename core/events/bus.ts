// The event bus: every decision becomes one GatewayEvent, kept in a bounded ring,
// appended to log/events.jsonl and handed to live subscribers (the dashboards).
// A subscriber never slows the gateway: delivery is synchronous and cheap, and a
// subscriber that throws is dropped.
import type { EventInput, GatewayEvent } from './types.ts';
import type { EventLog } from './log.ts';

export type Listener = (e: GatewayEvent) => void;

export class Ring<T> {
  private readonly buf: (T | undefined)[];
  private start = 0;
  private count = 0;
  readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
    this.buf = new Array(capacity);
  }
  push(item: T): void {
    const i = (this.start + this.count) % this.capacity;
    this.buf[i] = item;
    if (this.count < this.capacity) this.count++;
    else this.start = (this.start + 1) % this.capacity;
  }
  get length(): number {
    return this.count;
  }
  toArray(): T[] {
    const out: T[] = new Array(this.count);
    for (let k = 0; k < this.count; k++) out[k] = this.buf[(this.start + k) % this.capacity] as T;
    return out;
  }
}

export class EventBus {
  private nextId = 1;
  private readonly ring: Ring<GatewayEvent>;
  private readonly listeners = new Set<Listener>();
  private log: EventLog | null = null;

  constructor(capacity = 100_000) {
    this.ring = new Ring(capacity);
  }

  attachLog(log: EventLog | null, lastId = 0): void {
    this.log = log;
    if (lastId >= this.nextId) this.nextId = lastId + 1;
  }

  emit(input: EventInput): GatewayEvent {
    const e: GatewayEvent = {
      id: this.nextId++,
      time: new Date().toISOString(),
      session: input.session ?? '',
      client: input.client ?? '',
      listener: input.listener ?? '',
      stage: input.stage,
      verdict: input.verdict,
      rule: input.rule,
      code: input.code ?? 0,
      text: input.text ?? '',
    };
    // Optional fields only when present, so the JSONL stays compact.
    for (const k of ['from', 'to', 'user', 'spf', 'queueId', 'reason', 'subject'] as const) {
      const v = input[k];
      if (v !== undefined && v !== null && v !== '') e[k] = v;
    }
    this.ring.push(e);
    this.log?.append(e);
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        this.listeners.delete(l);
      }
    }
    return e;
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** The newest events (oldest first), optionally only those after an id. */
  recent(afterId = 0, limit = Infinity): GatewayEvent[] {
    const all = this.ring.toArray();
    let lo = 0;
    if (afterId > 0) {
      // ids are increasing: binary search for the first id > afterId
      let hi = all.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (all[mid].id <= afterId) lo = mid + 1;
        else hi = mid;
      }
    }
    const out = all.slice(lo);
    return out.length > limit ? out.slice(out.length - limit) : out;
  }

  get lastId(): number {
    return this.nextId - 1;
  }
}
