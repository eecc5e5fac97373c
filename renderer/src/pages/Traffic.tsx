// The picture of the traffic (docs/design.md §7.4): messages accepted, refused and deferred
// per hour over the last day and per day over the last month (stacked bars, uPlot), and
// the most frequent reasons for refusing. From the history index (GatewayApi.traffic).
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { TrafficBucket, TrafficReport } from '../api.ts';
import { useApp } from '../hooks.ts';
import { num } from '../format.ts';
import '../history.css';

const KINDS = ['accepted', 'refused', 'deferred'] as const;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

function StackedBars({ buckets, unit, label }: { buckets: TrafficBucket[]; unit: 'hour' | 'day'; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const xs = buckets.map((b) => new Date(b.start).getTime() / 1000);
    const raw = KINDS.map((k) => buckets.map((b) => b[k]));
    // Drawn tallest first: each bar is the sum of its own kind and those below it.
    const stacked = [raw[0].map((v, i) => v + raw[1][i] + raw[2][i]), raw[0].map((v, i) => v + raw[1][i]), raw[0]];
    const colors = [cssVar('--defer-fg'), cssVar('--reject-fg'), cssVar('--accept-fg')];
    const names = ['Deferred', 'Refused', 'Accepted'];
    const rawOf = [raw[2], raw[1], raw[0]];
    const bars = uPlot.paths.bars!({ size: [0.7, 40] });
    const text = cssVar('--text');
    const grid = cssVar('--border');
    const opts: uPlot.Options = {
      width: el.clientWidth,
      height: 220,
      title: label,
      cursor: { points: { show: false } },
      legend: { show: true },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
      axes: [
        {
          stroke: text,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid },
          values: (_u, ticks) =>
            ticks.map((t) =>
              unit === 'hour'
                ? `${String(new Date(t * 1000).getHours()).padStart(2, '0')}:00`
                : new Date(t * 1000).toLocaleDateString(undefined, { day: 'numeric', month: 'short' }),
            ),
        },
        {
          stroke: text,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid },
          values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? num(t) : '')),
        },
      ],
      series: [
        {
          value: (_u, v) =>
            v == null
              ? ''
              : unit === 'hour'
                ? new Date(v * 1000).toLocaleString(undefined, { hour: '2-digit', minute: '2-digit', day: 'numeric', month: 'short' })
                : new Date(v * 1000).toLocaleDateString(),
        },
        ...names.map((n, s) => ({
          label: n,
          fill: colors[s],
          stroke: colors[s],
          width: 0,
          paths: bars,
          points: { show: false },
          value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) => (idx == null ? '' : num(rawOf[s][idx])),
        })),
      ],
    };
    const plot = new uPlot(opts, [xs, ...stacked], el);
    const ro = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 220 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [buckets, unit, label]);
  return <div className="chart" ref={box} data-testid={`chart-${unit}`} />;
}

export function Traffic() {
  const { client } = useApp();
  const [report, setReport] = useState<TrafficReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    void client.call('traffic').then((r) => (r.ok ? setReport(r.value) : setError(r.error.message)));
  }, [client]);
  const total = (bs: TrafficBucket[], k: (typeof KINDS)[number]) => bs.reduce((n, b) => n + b[k], 0);
  return (
    <div className="page-body traffic">
      <h1>Traffic</h1>
      {error && <p className="error">{error}</p>}
      {!report && !error && <p className="muted">Loading…</p>}
      {report && (
        <>
          <p className="lead">
            Last 24 hours: <strong>{num(total(report.hours, 'accepted'))}</strong> accepted, <strong>{num(total(report.hours, 'refused'))}</strong> refused,{' '}
            <strong>{num(total(report.hours, 'deferred'))}</strong> deferred. Last 30 days: {num(total(report.days, 'accepted'))} accepted,{' '}
            {num(total(report.days, 'refused'))} refused, {num(total(report.days, 'deferred'))} deferred.
          </p>
          <div className="card">
            <StackedBars buckets={report.hours} unit="hour" label="Messages per hour, last 24 hours" />
          </div>
          <div className="card">
            <StackedBars buckets={report.days} unit="day" label="Messages per day, last 30 days" />
          </div>
          <div className="card">
            <h2>Why messages were refused (30 days)</h2>
            {report.topReasons.length === 0 ? (
              <p className="muted">Nothing was refused.</p>
            ) : (
              <table className="table" aria-label="Top refusal reasons">
                <thead>
                  <tr>
                    <th scope="col">Reason</th>
                    <th scope="col">Rule</th>
                    <th scope="col" className="num">
                      Messages
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {report.topReasons.map((r) => (
                    <tr key={`${r.rule} ${r.reason}`}>
                      <td>
                        <a href={`#/messages?q=${encodeURIComponent(`verdict:refused rule:"${r.rule}"`)}`}>{r.reason || r.rule}</a>
                      </td>
                      <td className="mono">{r.rule}</td>
                      <td className="num">{num(r.count)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        </>
      )}
    </div>
  );
}
