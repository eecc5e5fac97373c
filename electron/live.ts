// Live pushes to the dashboard window: the same StreamMessage shapes as the HTTP
// stream (core/http/stream.ts), batched so the window gets at most one flush per
// `intervalMs` (100 ms: ≤10 per second) whatever the mail rate.
//   - The SMTP path only pushes an event reference into an array.
//   - While the window cannot take pushes (hidden, destroyed, still loading) nothing
//     is serialised or sent; when it can again, `resume()` sends what it missed,
//     read back from the gateway's in-memory ring, so its list has no gap (the
//     renderer drops ids it already has).
//   - Status (counters) goes out with a flush at most every `statusIntervalMs`; a
//     state change (start/stop/network toggle) with the next flush.
import type { GatewayEvent } from '../core/events/types.ts';
import type { GatewayStatus } from '../core/gateway.ts';

export type StreamMessage = { type: 'events'; events: GatewayEvent[] } | { type: 'status'; status: GatewayStatus };

/** What LivePush reads from the gateway. `Gateway` satisfies it. */
export interface LiveSource {
  bus: { subscribe(l: (e: GatewayEvent) => void): () => void; recent(afterId?: number, limit?: number): GatewayEvent[]; readonly lastId: number };
  onState(fn: (s: GatewayStatus) => void): () => void;
  status(): GatewayStatus;
}

/** Where pushes go: the dashboard window's webContents. */
export interface LiveTarget {
  canSend(): boolean;
  send(msg: StreamMessage): void;
}

export interface LiveOptions {
  intervalMs: number;
  statusIntervalMs: number;
  /** Events per push; a larger backlog goes out over several flushes. */
  maxBatch: number;
}

export const LIVE_DEFAULTS: LiveOptions = { intervalMs: 100, statusIntervalMs: 250, maxBatch: 5000 };

export class LivePush {
  private readonly source: LiveSource;
  private readonly target: LiveTarget;
  private readonly opts: LiveOptions;
  private pending: GatewayEvent[] = [];
  /** Pending overflowed (or the window was away): read from the ring instead. */
  private gap = false;
  private lastSentId: number;
  private statusDirty = false;
  private lastStatus = 0;
  private lastFlush = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly off: (() => void)[];
  pushes = 0;

  constructor(source: LiveSource, target: LiveTarget, opts: Partial<LiveOptions> = {}) {
    this.source = source;
    this.target = target;
    this.opts = { ...LIVE_DEFAULTS, ...opts };
    this.lastSentId = source.bus.lastId;
    this.off = [
      source.bus.subscribe((e) => {
        if (this.gap) {
          // nothing to keep: the ring has it
        } else if (this.pending.length >= this.opts.maxBatch) {
          this.pending = [];
          this.gap = true;
        } else this.pending.push(e);
        this.statusDirty = true;
        this.schedule();
      }),
      source.onState(() => {
        this.statusDirty = true;
        this.lastStatus = 0; // a state change is not throttled
        this.schedule();
      }),
    ];
  }

  /** The window can take pushes again (shown, reloaded): send what it missed, now. */
  resume(): void {
    this.gap = true;
    this.statusDirty = true;
    this.lastStatus = 0;
    this.lastFlush = 0;
    this.schedule();
  }

  close(): void {
    for (const f of this.off) f();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastFlush + this.opts.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  private flush(): void {
    if (!this.target.canSend()) {
      // Keep nothing but the position: resume() reads the backlog from the ring.
      if (this.pending.length) this.gap = true;
      this.pending = [];
      return;
    }
    const now = Date.now();
    this.lastFlush = now;
    let events: GatewayEvent[];
    if (this.gap) {
      events = this.source.bus.recent(this.lastSentId).slice(0, this.opts.maxBatch);
      this.gap = events.length > 0 && events[events.length - 1].id < this.source.bus.lastId;
    } else {
      events = this.pending.filter((e) => e.id > this.lastSentId);
    }
    this.pending = [];
    if (events.length) {
      if (this.send({ type: 'events', events })) this.lastSentId = events[events.length - 1].id;
      else this.gap = true; // not delivered: read them from the ring again on the next flush
    }
    if (this.statusDirty) {
      if (now - this.lastStatus >= this.opts.statusIntervalMs) {
        this.statusDirty = false;
        this.lastStatus = now;
        this.send({ type: 'status', status: this.source.status() });
      }
    }
    if (this.gap || this.statusDirty) this.schedule();
  }

  private send(msg: StreamMessage): boolean {
    this.pushes++;
    try {
      this.target.send(msg);
      return true;
    } catch {
      // A window torn down between canSend() and send(): resume() catches up later.
      return false;
    }
  }
}
