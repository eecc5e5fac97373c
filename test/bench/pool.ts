// `node test/bench/pool.ts <run.json>…`: the per-repetition throughput ratios of one or
// more `npm run bench` runs written with BENCH_JSON=<file>, pooled. The runs of one
// repetition are minutes apart, so each ratio is free of the machine's slow drift; a
// median over several runs says more than any one run (docs/benchmarks.md). Each line:
// the pair, the mode, how many repetitions, the median ratio and its 95 % interval
// (percentile bootstrap), and how many repetitions came out ≥ 1.
//
// The bootstrap is written out here (ten lines) rather than taken from a statistics
// package: resampling with replacement is all it needs, and a seeded generator keeps
// the output the same from one call to the next.
import fs from 'node:fs';

interface BenchRun {
  when: string;
  msgs: number;
  /** msg/s per "<server> <mode>", one entry per repetition in order. */
  direct: Record<string, number[]>;
}

const MODES = ['fresh', 'reuse (-d)'];
const RESAMPLES = 10_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** mulberry32: a small seeded generator, so the interval is the same on every call. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 95 % percentile-bootstrap interval of the median. */
function interval(xs: number[]): [number, number] {
  const rand = seeded(1);
  const meds: number[] = [];
  for (let i = 0; i < RESAMPLES; i++) meds.push(median(xs.map(() => xs[Math.floor(rand() * xs.length)])));
  meds.sort((a, b) => a - b);
  return [meds[Math.floor(RESAMPLES * 0.025)], meds[Math.floor(RESAMPLES * 0.975)]];
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node test/bench/pool.ts <run.json>… (files written by npm run bench with BENCH_JSON=<file>)');
  process.exit(2);
}
const runs = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as BenchRun);
// The servers every run has, in the first run's order ("Postern" first, Postfix left out).
const servers = Object.keys(runs[0].direct)
  .filter((k) => k.endsWith(' fresh'))
  .map((k) => k.slice(0, -' fresh'.length))
  .filter((s) => s !== 'Postfix' && runs.every((r) => MODES.every((m) => r.direct[`${s} ${m}`])));
console.log(`${runs.length} run(s): ${runs.map((r) => r.when).join(', ')}`);
for (let i = 0; i < servers.length; i++)
  for (let j = i + 1; j < servers.length; j++)
    for (const mode of MODES) {
      const ratios = runs.flatMap((r) => r.direct[`${servers[i]} ${mode}`].map((x, k) => x / r.direct[`${servers[j]} ${mode}`][k]));
      const [lo, hi] = interval(ratios);
      console.log(
        `${servers[i]} / ${servers[j]}, ${mode}: n ${ratios.length}, median ${median(ratios).toFixed(3)}× (95 % ${lo.toFixed(3)}–${hi.toFixed(3)}), ${ratios.filter((x) => x >= 1).length} of ${ratios.length} ≥ 1`,
      );
    }
