// Event-loop delay of this process, for attack tests and people who want to see it
// (docs/design.md §2.8): with POSTERN_LOOP_STATS=<file>, `postern serve` samples
// perf_hooks.monitorEventLoopDelay and rewrites <file> every 200 ms with
// {"p50","p99","max","count","since"} in milliseconds. Creating <file>.mark starts a
// new measurement (the histogram is reset and the mark removed).
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export function startLoopStats(file: string): () => void {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let since = Date.now();
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  const timer = setInterval(() => {
    if (fs.existsSync(`${file}.mark`)) {
      h.reset();
      since = Date.now();
      fs.rmSync(`${file}.mark`, { force: true });
    }
    const s = { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), count: h.count, since };
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(s));
    fs.renameSync(`${file}.tmp`, file);
  }, 200);
  timer.unref();
  return () => {
    clearInterval(timer);
    h.disable();
  };
}
