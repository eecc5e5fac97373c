// The live stream of the headless dashboard: Server-Sent Events fanned out to every
// open page. Rules (docs/design.md §7.2, after Mailpit's hub.go):
//   - the SMTP path only pushes an event reference into an array; the serialising
//     and writing happen later, on a timer, at most ~10 batches per second;
//   - nothing is subscribed, collected or serialised while no page listens;
//   - one batch is serialised once, whatever the number of pages;
//   - a page that cannot keep up (its socket buffer exceeds a bound) is dropped,
//     never waited for: its EventSource reconnects and catches up with
//     `events({afterId})`.
import type http from 'node:http';
import type { GatewayEvent } from '../events/types.ts';
import type { GatewayStatus } from '../status.ts';

/** One `data:` message of the stream (the same shape as the Electron bridge's pushes). */
export type StreamMessage = { type: 'events'; events: GatewayEvent[] } | { type: 'status'; status: GatewayStatus };

/** What the hub needs from the gateway. `Gateway` satisfies it. */
export interface DashboardSource {
  bus: { subscribe(listener: (e: GatewayEvent) => void): () => void };
  onState(fn: (s: GatewayStatus) => void): () => void;
  status(): GatewayStatus;
}

export interface StreamOptions {
  /** Minimum time between two event batches (ms). */
  intervalMs: number;
  /** A batch is flushed early when this many events are pending. */
  maxBatch: number;
  /** Minimum time between two status pushes caused by events (counters) (ms). */
  statusIntervalMs: number;
  /** Bytes queued on one page's socket before that page is dropped. */
  clientBufferBytes: number;
  /** Comment line sent to idle pages so proxies and dead peers are noticed (ms). */
  heartbeatMs: number;
}

export const STREAM_DEFAULTS: StreamOptions = {
  intervalMs: 100,
  maxBatch: 5000,
  statusIntervalMs: 250,
  clientBufferBytes: 4 * 1024 * 1024,
  heartbeatMs: 15_000,
};

export interface StreamStats {
  clients: number;
  batches: number;
  eventsSent: number;
  dropped: number;
  subscribed: boolean;
}

export class StreamHub {
  private readonly source: DashboardSource;
  private readonly opts: StreamOptions;
  private readonly clients = new Set<http.ServerResponse>();
  private pending: GatewayEvent[] = [];
  private statusDirty = false;
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastFlush = 0;
  private lastStatus = 0;
  private readonly counts = { batches: 0, eventsSent: 0, dropped: 0 };

  constructor(source: DashboardSource, opts: Partial<StreamOptions> = {}) {
    this.source = source;
    this.opts = { ...STREAM_DEFAULTS, ...opts };
  }

  /** Takes over an authorised GET /api/stream response. */
  add(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    this.clients.add(res);
    const gone = () => this.remove(res);
    req.on('close', gone);
    res.on('error', gone);
    if (!this.unsubscribe) this.subscribe();
    // The reconnect delay the browser uses after a drop, then the current status.
    this.write(res, `retry: 1000\ndata: ${JSON.stringify({ type: 'status', status: this.source.status() } satisfies StreamMessage)}\n\n`);
  }

  stats(): StreamStats {
    return { clients: this.clients.size, ...this.counts, subscribed: this.unsubscribe !== null };
  }

  close(): void {
    for (const res of this.clients) res.destroy();
    this.clients.clear();
    this.unsubscribeAll();
  }

  private subscribe(): void {
    const offBus = this.source.bus.subscribe((e) => {
      this.pending.push(e);
      this.statusDirty = true;
      if (this.pending.length >= this.opts.maxBatch) this.flush(true);
      else this.schedule();
    });
    const offState = this.source.onState(() => {
      this.statusDirty = true;
      this.lastStatus = 0; // a state change goes out with the next flush, not throttled
      this.schedule();
    });
    this.unsubscribe = () => {
      offBus();
      offState();
    };
    this.heartbeat = setInterval(() => {
      for (const res of this.clients) this.write(res, ':\n\n');
    }, this.opts.heartbeatMs);
    this.heartbeat.unref();
  }

  private unsubscribeAll(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.timer = null;
    this.heartbeat = null;
    this.pending = [];
    this.statusDirty = false;
  }

  private remove(res: http.ServerResponse): void {
    if (!this.clients.delete(res)) return;
    if (this.clients.size === 0) this.unsubscribeAll();
  }

  /** Arms the flush timer for `at` (ms epoch), unless it already fires earlier. */
  private schedule(at = this.lastFlush + this.opts.intervalMs): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.flush(), Math.max(0, at - Date.now()));
  }

  /** Sends what is due: events at most every intervalMs (or at once when `full`), status at most every statusIntervalMs. */
  private flush(full = false): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const now = Date.now();
    let chunk = '';
    const eventsDue = this.lastFlush + this.opts.intervalMs;
    if (this.pending.length && !full && now < eventsDue) this.schedule(eventsDue);
    else if (this.pending.length) {
      const events = this.pending;
      this.pending = [];
      chunk += `data: ${JSON.stringify({ type: 'events', events } satisfies StreamMessage)}\n\n`;
      this.counts.batches++;
      this.counts.eventsSent += events.length;
      this.lastFlush = now;
    }
    if (this.statusDirty) {
      if (now - this.lastStatus >= this.opts.statusIntervalMs) {
        this.statusDirty = false;
        this.lastStatus = now;
        chunk += `data: ${JSON.stringify({ type: 'status', status: this.source.status() } satisfies StreamMessage)}\n\n`;
      } else this.schedule(this.lastStatus + this.opts.statusIntervalMs);
    }
    if (!chunk) return;
    for (const res of [...this.clients]) this.write(res, chunk);
  }

  /** Writes without waiting; a page whose unsent backlog exceeds the bound is dropped. */
  private write(res: http.ServerResponse, chunk: string): void {
    if (res.destroyed || res.writableEnded) return this.remove(res);
    if (res.writableLength > this.opts.clientBufferBytes) {
      this.counts.dropped++;
      res.destroy();
      this.remove(res);
      return;
    }
    res.write(chunk);
  }
}
