/**
 * `stampede bench flash-sale --report FILE.html`: one self-contained HTML
 * page (inline CSS and SVG, no script, nothing fetched) with the command and
 * machine, the figures table, each system's latency CDF on one chart, and
 * each system's throughput over time with its sell-out moment marked.
 * Pure string building; runs on the bench's main thread.
 */
import type { Histogram } from 'hdr-histogram-js';
import type { SystemFigures } from './flash-sale-figures.ts';
import { recorderLimits } from './flash-sale-recorder.ts';

/** What a system's charts need beyond its figures. */
export interface SystemSeries {
  system: string;
  /** (latency ms, cumulative fraction) points, latency ascending. */
  cdf: [number, number][];
  /** Place answers per second in each throughput bucket, from the first send. */
  answersPerSec: number[];
  bucketMs: number;
  sellOutAtMs: number | null;
}

/** CDF points of a histogram of microseconds: finer towards the tail (up to 99.999%), then the max. */
export function cdfOf(histogramUs: Histogram): [number, number][] {
  if (histogramUs.totalCount === 0) return [];
  const points: [number, number][] = [];
  for (let i = 0; i <= 100; i++) {
    const percentile = 100 * (1 - 10 ** (-i / 20));
    points.push([histogramUs.getValueAtPercentile(Math.max(percentile, 0.001)) / 1000, percentile / 100]);
  }
  points.push([histogramUs.maxValue / 1000, 1]);
  return points;
}

/** Answers per second per bucket, from the first send to the last place answer. */
export function throughputOf(
  answersPerBucket: Uint32Array,
  startAtMs: number,
  firstSendAtMs: number,
  lastAnswerAtMs: number,
): number[] {
  const bucketMs = recorderLimits.bucketMs;
  const first = Math.max(0, Math.floor((firstSendAtMs - startAtMs) / bucketMs));
  const last = Math.min(answersPerBucket.length - 1, Math.floor((lastAnswerAtMs - startAtMs) / bucketMs));
  const series: number[] = [];
  for (let i = first; i <= last; i++) series.push((answersPerBucket[i]! * 1000) / bucketMs);
  return series;
}

const colors = ['#1b6ac9', '#d1495b', '#edae49', '#00798c', '#66a182', '#8d5a97'];

const html = (text: string): string =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

const fmt = (n: number): string =>
  n >= 100 ? Math.round(n).toLocaleString('en-US') : String(Number(n.toPrecision(3)));

interface Box {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}
const box: Box = { width: 760, height: 320, left: 70, right: 20, top: 20, bottom: 45 };

function axes(
  b: Box,
  xTicks: { at: number; label: string }[],
  yTicks: { at: number; label: string }[],
  xTitle: string,
  yTitle: string,
): string {
  const x0 = b.left;
  const y0 = b.height - b.bottom;
  const parts = [
    `<line x1="${x0}" y1="${b.top}" x2="${x0}" y2="${y0}" stroke="#444"/>`,
    `<line x1="${x0}" y1="${y0}" x2="${b.width - b.right}" y2="${y0}" stroke="#444"/>`,
    ...xTicks.map(
      (t) =>
        `<line x1="${t.at}" y1="${b.top}" x2="${t.at}" y2="${y0}" stroke="#eee"/><text x="${t.at}" y="${y0 + 16}" text-anchor="middle">${t.label}</text>`,
    ),
    ...yTicks.map(
      (t) =>
        `<line x1="${x0}" y1="${t.at}" x2="${b.width - b.right}" y2="${t.at}" stroke="#eee"/><text x="${x0 - 6}" y="${t.at + 4}" text-anchor="end">${t.label}</text>`,
    ),
    `<text x="${(x0 + b.width - b.right) / 2}" y="${b.height - 8}" text-anchor="middle">${html(xTitle)}</text>`,
    `<text x="14" y="${(b.top + y0) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(b.top + y0) / 2})">${html(yTitle)}</text>`,
  ];
  return parts.join('');
}

/** Every system's latency CDF on one chart: log latency across, cumulative share up. */
function cdfChart(series: readonly SystemSeries[]): string {
  const all = series.flatMap((s) => s.cdf.map(([ms]) => ms)).filter((ms) => ms > 0);
  if (all.length === 0) return '<p>No latencies recorded.</p>';
  const lowLog = Math.floor(Math.log10(Math.min(...all)));
  const highLog = Math.ceil(Math.log10(Math.max(...all)));
  const span = Math.max(1, highLog - lowLog);
  const plotW = box.width - box.left - box.right;
  const plotH = box.height - box.top - box.bottom;
  const x = (ms: number): number =>
    box.left + ((Math.log10(Math.max(ms, 10 ** lowLog)) - lowLog) / span) * plotW;
  const y = (fraction: number): number => box.top + (1 - fraction) * plotH;
  const xTicks = Array.from({ length: span + 1 }, (_, i) => ({
    at: x(10 ** (lowLog + i)),
    label: fmt(10 ** (lowLog + i)),
  }));
  const yTicks = [0, 0.25, 0.5, 0.75, 0.9, 1].map((f) => ({ at: y(f), label: `${f * 100}%` }));
  const lines = series.map((s, i) => {
    const points = s.cdf.map(([ms, f]) => `${x(ms).toFixed(1)},${y(f).toFixed(1)}`).join(' ');
    return `<polyline fill="none" stroke="${colors[i % colors.length]}" stroke-width="2" points="${points}"/>`;
  });
  const legend = series.map(
    (s, i) =>
      `<rect x="${box.left + 10}" y="${box.top + 8 + i * 18}" width="12" height="12" fill="${colors[i % colors.length]}"/><text x="${box.left + 28}" y="${box.top + 18 + i * 18}">${html(s.system)}</text>`,
  );
  return `<svg viewBox="0 0 ${box.width} ${box.height}" width="${box.width}" height="${box.height}" role="img" aria-label="latency CDF">${axes(box, xTicks, yTicks, 'place → answer latency (ms, log scale)', 'share of buyers answered')}${lines.join('')}${legend.join('')}</svg>`;
}

/** One system's answers per second over time, with the moment it sold out. */
function throughputChart(s: SystemSeries, color: string): string {
  if (s.answersPerSec.length === 0) return '<p>No answers recorded.</p>';
  const plotW = box.width - box.left - box.right;
  const plotH = box.height - box.top - box.bottom;
  const durationMs = s.answersPerSec.length * s.bucketMs;
  const peak = Math.max(...s.answersPerSec, 1);
  const x = (ms: number): number => box.left + (ms / durationMs) * plotW;
  const y = (perSec: number): number => box.top + (1 - perSec / peak) * plotH;
  const stepMs = niceStep(durationMs / 8);
  const xTicks = Array.from({ length: Math.floor(durationMs / stepMs) + 1 }, (_, i) => ({
    at: x(i * stepMs),
    label: fmt((i * stepMs) / 1000),
  }));
  const yStep = niceStep(peak / 5);
  const yTicks = Array.from({ length: Math.floor(peak / yStep) + 1 }, (_, i) => ({
    at: y(i * yStep),
    label: fmt(i * yStep),
  }));
  const points = s.answersPerSec
    .flatMap((v, i) => [
      `${x(i * s.bucketMs).toFixed(1)},${y(v).toFixed(1)}`,
      `${x((i + 1) * s.bucketMs).toFixed(1)},${y(v).toFixed(1)}`,
    ])
    .join(' ');
  const sellOut =
    s.sellOutAtMs === null
      ? ''
      : `<line x1="${x(s.sellOutAtMs)}" y1="${box.top}" x2="${x(s.sellOutAtMs)}" y2="${box.height - box.bottom}" stroke="#000" stroke-dasharray="5 4"/><text x="${x(s.sellOutAtMs) + 5}" y="${box.top + 12}">sold out at ${fmt(s.sellOutAtMs / 1000)} s</text>`;
  return `<svg viewBox="0 0 ${box.width} ${box.height}" width="${box.width}" height="${box.height}" role="img" aria-label="throughput of ${html(s.system)}">${axes(box, xTicks, yTicks, 'seconds since the first request', 'place answers per second')}<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points}"/>${sellOut}</svg>`;
}

function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  return (normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10) * magnitude;
}

function figuresTable(rows: readonly SystemFigures[]): string {
  const head = [
    'system',
    'attempts/s',
    'sold-out answers/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'p99.9 ms',
    'max ms',
    'place→paid p99 ms',
    'sold',
    'client CPU s',
    'server CPU s',
    'server peak RSS MiB',
    'audit',
    'Stampede ×',
  ];
  const cell = (v: string | number | null): string =>
    `<td>${v === null ? '–' : html(typeof v === 'number' ? fmt(v) : v)}</td>`;
  const body = rows.map(
    (r) =>
      `<tr>${[
        r.system,
        r.attemptsPerSec,
        r.soldOutPerSec,
        r.placeToAnswerMs.p50,
        r.placeToAnswerMs.p90,
        r.placeToAnswerMs.p99,
        r.placeToAnswerMs.p999,
        r.placeToAnswerMs.max,
        r.placeToPaidMs?.p99 ?? null,
        r.stockEnd.sold,
        r.clientCpuSeconds,
        r.serverCpuSeconds,
        r.serverPeakRssMiB,
        r.auditOk ? 'ok' : 'FAILED',
        r.vsStampede === null
          ? null
          : `${r.vsStampede.attemptsPerSec}× attempts/s, ${r.vsStampede.soldOutPerSec}× sold-out/s`,
      ]
        .map(cell)
        .join('')}</tr>`,
  );
  return `<table><thead><tr>${head.map((h) => `<th>${html(h)}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

export function renderReport(input: {
  command: string;
  machine: string;
  seed: number;
  startedAt: string;
  rows: readonly SystemFigures[];
  series: readonly SystemSeries[];
}): string {
  const notes = input.rows.flatMap((r) => [
    `<li><b>${html(r.system)}</b>: ${html(
      Object.entries(r.answers)
        .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
        .join(', '),
    )}${r.notes === '' ? '' : ` — ${html(r.notes)}`}</li>`,
    ...r.auditProblems.map((p) => `<li class="bad">${html(r.system)} audit: ${html(p)}</li>`),
  ]);
  const throughput = input.series.map(
    (s, i) => `<h3>${html(s.system)}</h3>${throughputChart(s, colors[i % colors.length]!)}`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stampede flash-sale benchmark</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:12px 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}code{background:#f4f4f4;padding:2px 4px}
svg{font:11px system-ui,sans-serif;display:block;margin:8px 0}.bad{color:#b00020}
</style></head><body>
<h1>Stampede flash-sale benchmark</h1>
<p><code>${html(input.command)}</code><br>${html(input.machine)}; seed ${input.seed}; started ${html(input.startedAt)}</p>
${figuresTable(input.rows)}
<ul>${notes.join('')}</ul>
<h2>Latency: place → answer, cumulative</h2>
${cdfChart(input.series)}
<h2>Throughput over time</h2>
${throughput.join('\n')}
</body></html>
`;
}
