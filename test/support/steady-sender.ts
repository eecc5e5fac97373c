// A normal client that keeps sending while a test attacks the gateway: one message
// a second with nodemailer (a new connection each time, as a real MTA would), to a
// family address. It records every reply code and its latency, so an attack test can
// assert "the family's mail still got 250, with a bounded latency rise".
//
//   const s = startSteadySender({ port, localAddress: INTERNET, from: 'bob@pass.example' });
//   … the attack …
//   const r = await s.stop();
//   assert.deepEqual(r.codes.filter((c) => c !== 250), [], r.summary());
//   assert.ok(r.p99 < 2000, r.summary());
import nodemailer from 'nodemailer';

export interface SteadySenderOptions {
  port: number;
  host?: string;
  /** Source address; default 127.0.0.2 (the tests' "Internet", test/support/gateway.ts). */
  localAddress?: string;
  from?: string;
  /** A family address; default john.doe@doe-family.com. */
  to?: string;
  /** Time between the starts of two sends (ms); default 1000. */
  intervalMs?: number;
  /** One send's bound (connect, greeting, each reply); default 30000. */
  timeoutMs?: number;
  /** Extra transport options (secure, auth, tls …). */
  transport?: Record<string, unknown>;
}

export interface SteadySend {
  /** When the send started (ms since the epoch). */
  at: number;
  /** The final reply code, or 0 when the send failed without one (timeout, reset). */
  code: number;
  latencyMs: number;
  /** The server's reply, or the error. */
  text: string;
}

export interface SteadyReport {
  sends: SteadySend[];
  codes: number[];
  p50: number;
  p99: number;
  max: number;
  /** One line for assertion messages and test output. */
  summary(): string;
}

export interface SteadySender {
  /** Sends so far (live). */
  readonly sends: readonly SteadySend[];
  /** Stops starting new sends, waits for those in flight, and reports. */
  stop(): Promise<SteadyReport>;
}

/** The p-th percentile (0–100) of `values`, nearest rank; 0 for none. */
export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export function report(sends: SteadySend[]): SteadyReport {
  const lat = sends.map((s) => s.latencyMs);
  const r = {
    sends,
    codes: sends.map((s) => s.code),
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    max: lat.length ? Math.max(...lat) : 0,
  };
  const counts = new Map<number, number>();
  for (const c of r.codes) counts.set(c, (counts.get(c) ?? 0) + 1);
  const codes = [...counts].map(([c, n]) => `${c}×${n}`).join(' ');
  const bad = sends
    .filter((s) => s.code !== 250)
    .map((s) => `${s.code} ${s.text}`)
    .slice(0, 5);
  return {
    ...r,
    summary: () =>
      `steady sender: ${sends.length} sends, codes ${codes || 'none'}, p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms${bad.length ? `; not 250: ${bad.join(' | ')}` : ''}`,
  };
}

export function startSteadySender(o: SteadySenderOptions): SteadySender {
  const timeout = o.timeoutMs ?? 30_000;
  const interval = o.intervalMs ?? 1000;
  const transport = nodemailer.createTransport({
    host: o.host ?? '127.0.0.1',
    port: o.port,
    secure: false,
    ignoreTLS: true,
    localAddress: o.localAddress ?? '127.0.0.2',
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    ...o.transport,
  } as never);
  const sends: SteadySend[] = [];
  const inFlight = new Set<Promise<void>>();
  let n = 0;

  const sendOne = async (): Promise<void> => {
    const at = Date.now();
    const seq = ++n;
    let code = 0;
    let text = '';
    try {
      const info = await transport.sendMail({
        from: o.from ?? 'bob@pass.example',
        to: o.to ?? 'john.doe@doe-family.com',
        subject: `steady ${seq}`,
        messageId: `<steady-${seq}-${at}@test>`,
        text: `Steady message ${seq}.\n`,
      });
      text = String(info.response ?? '');
      code = Number(/^(\d{3})/.exec(text)?.[1] ?? 0);
    } catch (e) {
      const err = e as { responseCode?: number; response?: string; message: string };
      code = err.responseCode ?? 0;
      text = err.response ?? err.message;
    }
    sends.push({ at, code, latencyMs: Date.now() - at, text });
  };

  const tick = () => {
    const p = sendOne().finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  tick();
  const timer = setInterval(tick, interval);

  return {
    sends,
    async stop() {
      clearInterval(timer);
      while (inFlight.size) await Promise.all([...inFlight]);
      transport.close();
      return report([...sends].sort((a, b) => a.at - b.at));
    },
  };
}
