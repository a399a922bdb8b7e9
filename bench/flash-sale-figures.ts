/**
 * The flash-sale benchmark's figures: one `SystemFigures` per system (one
 * JSON line each with --json), latency summaries from the hdr histograms,
 * the ratios to Stampede, and the console table. Pure; runs on the bench's
 * main thread.
 */
import type { Histogram } from 'hdr-histogram-js';
import { type AuditResult, type SaleOutcome, toldSummary } from './flash-sale-audit.ts';
import { type MergedRecord, Outcome, outcomeTotal } from './flash-sale-recorder.ts';

export interface LatencySummaryMs {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  count: number;
}

const roundMs = (us: number): number => Math.round(us) / 1000;

/** Percentiles of a histogram of microseconds, in milliseconds (µs resolution). */
export function latencySummary(histogramUs: Histogram): LatencySummaryMs {
  const count = histogramUs.totalCount;
  const at = (percentile: number): number =>
    count === 0 ? 0 : roundMs(histogramUs.getValueAtPercentile(percentile));
  return {
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: count === 0 ? 0 : roundMs(histogramUs.maxValue),
    count,
  };
}

export interface LoadShape {
  loadModel: 'closed' | 'open';
  /** Place requests in flight at most (closed loop). */
  concurrency: number;
  /** Arrivals per second (open loop), else null. */
  ratePerSec: number | null;
  buyers: number;
  stock: number;
  skus: number;
}

/** Where the CPU went; seconds over the sale (from the first send to the last answer). */
export interface Resources {
  clientCpuSeconds: number;
  clientPeakRssMiB: number;
  serverCpuSeconds: number | null;
  /** The server's busiest threads (the gateway is the main thread), CPU seconds each. */
  serverThreadsCpuSeconds: { thread: string; cpuSeconds: number }[] | null;
  serverPeakRssMiB: number | null;
  /** Stampede's group commits over the sale, from its /metrics (null for the baselines). */
  journal: JournalFigures | null;
}

/** The journal's group commits (one write + one fdatasync each) between the sale's start and its last answer. */
export interface JournalFigures {
  commits: number;
  recordsPerCommit: number;
  /** Mean time of one commit, write and fdatasync. */
  commitMsMean: number;
  /** Time in commits over the sale's wall time: how much of it the journal thread waited on the disk. */
  commitShare: number;
}

/** What running one system's sale gives: the clients' record, the audit's input, the resources used. */
export interface SystemRun {
  record: MergedRecord;
  outcome: SaleOutcome;
  resources: Resources;
  notes: string;
}

/** One system's figures: a table row, one JSON line. */
export interface SystemFigures extends LoadShape, Resources {
  system: string;
  seconds: number;
  attempts: number;
  attemptsPerSec: number;
  soldOutAnswers: number;
  /** Sold-out answers per second, from the first to the last one. */
  soldOutPerSec: number;
  /** When the first sold-out answer came, ms after the first send (null: never sold out). */
  sellOutAtMs: number | null;
  /** Place answers per second from the first send to the sell-out (the phase where every attempt reaches the store). */
  beforeSellOutPerSec: number | null;
  placeToAnswerMs: LatencySummaryMs;
  placeToPaidMs: LatencySummaryMs | null;
  answers: Record<string, number>;
  stockEnd: { sold: number; reserved: number; available: number };
  auditOk: boolean;
  auditProblems: string[];
  /** Stampede's figure divided by this system's (above 1: Stampede is ahead); null for Stampede itself. */
  vsStampede: { attemptsPerSec: number; soldOutPerSec: number; p99Ms: number } | null;
  notes: string;
}

const perSec = (count: number, fromMs: number, toMs: number): number =>
  toMs > fromMs ? count / ((toMs - fromMs) / 1000) : 0;

export function systemFigures(input: {
  system: string;
  shape: LoadShape;
  record: MergedRecord;
  outcome: SaleOutcome;
  audit: AuditResult;
  resources: Resources;
  notes: string;
}): SystemFigures {
  const { record, outcome } = input;
  const soldOutAnswers = outcomeTotal(record.outcomesBySku, Outcome.soldOut);
  const seconds = Math.max(0, (record.lastPlaceAnswerAtMs - record.firstSendAtMs) / 1000);
  const sum = (pick: (s: SaleOutcome['store']['skus'][number]) => number): number =>
    outcome.store.skus.reduce((n, s) => n + pick(s), 0);
  return {
    system: input.system,
    ...input.shape,
    seconds: Math.round(seconds * 1000) / 1000,
    attempts: record.placeAnswered,
    attemptsPerSec: Math.round(
      perSec(record.placeAnswered, record.firstSendAtMs, record.lastPlaceAnswerAtMs),
    ),
    soldOutAnswers,
    soldOutPerSec: Math.round(perSec(soldOutAnswers, record.soldOutFirstAtMs, record.soldOutLastAtMs)),
    sellOutAtMs:
      record.soldOutFirstAtMs === 0 ? null : Math.round(record.soldOutFirstAtMs - record.firstSendAtMs),
    beforeSellOutPerSec:
      record.soldOutFirstAtMs === 0
        ? null
        : Math.round(
            perSec(record.placeAnsweredBeforeSoldOut, record.firstSendAtMs, record.soldOutFirstAtMs),
          ),
    placeToAnswerMs: latencySummary(record.placeToAnswerUs),
    placeToPaidMs: record.placeToPaidUs.totalCount === 0 ? null : latencySummary(record.placeToPaidUs),
    answers: toldSummary(outcome),
    stockEnd: {
      sold: sum((s) => s.sold),
      reserved: sum((s) => s.reserved),
      available: sum((s) => s.available),
    },
    ...input.resources,
    auditOk: input.audit.ok,
    auditProblems: input.audit.problems,
    vsStampede: null,
    notes: input.notes,
  };
}

/** Fills in each baseline's ratios to the Stampede row (when there is one). */
export function withRatios(rows: readonly SystemFigures[]): SystemFigures[] {
  const reference = rows.find((r) => r.system === 'stampede');
  const ratio = (a: number, b: number): number => (b > 0 ? Math.round((a / b) * 100) / 100 : 0);
  return rows.map((r) =>
    reference === undefined || r === reference
      ? r
      : {
          ...r,
          vsStampede: {
            attemptsPerSec: ratio(reference.attemptsPerSec, r.attemptsPerSec),
            soldOutPerSec: ratio(reference.soldOutPerSec, r.soldOutPerSec),
            p99Ms: ratio(reference.placeToAnswerMs.p99, r.placeToAnswerMs.p99),
          },
        },
  );
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (n < 10 ? n.toFixed(2) : n < 1000 ? n.toFixed(1) : int(n));
const cpu = (n: number | null): string => (n === null ? '-' : n.toFixed(1));

const answersText = (r: SystemFigures): string =>
  Object.entries(r.answers)
    .map(([k, v]) => `${k} ${int(v)}`)
    .join(', ');

const sellOutText = (r: SystemFigures): string =>
  r.sellOutAtMs === null
    ? ''
    : `; sold out after ${int(r.sellOutAtMs)} ms (${int(r.beforeSellOutPerSec ?? 0)} attempts/s until then)`;

export function formatTable(rows: readonly SystemFigures[]): string {
  const header = [
    'system',
    'attempts/s',
    'sold-out/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'p99.9 ms',
    'max ms',
    'paid p99 ms',
    'sold',
    'client cpu s',
    'server cpu s',
    'server rss MiB',
    'audit',
  ];
  const body = rows.map((r) => [
    r.system,
    int(r.attemptsPerSec),
    int(r.soldOutPerSec),
    ms(r.placeToAnswerMs.p50),
    ms(r.placeToAnswerMs.p90),
    ms(r.placeToAnswerMs.p99),
    ms(r.placeToAnswerMs.p999),
    ms(r.placeToAnswerMs.max),
    r.placeToPaidMs === null ? '-' : ms(r.placeToPaidMs.p99),
    int(r.stockEnd.sold),
    cpu(r.clientCpuSeconds),
    cpu(r.serverCpuSeconds),
    r.serverPeakRssMiB === null ? '-' : int(r.serverPeakRssMiB),
    r.auditOk ? 'ok' : 'FAILED',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
  for (const r of rows) {
    if (r.vsStampede !== null)
      out.push(
        `  stampede vs ${r.system}: ${r.vsStampede.attemptsPerSec}x attempts/s, ${r.vsStampede.soldOutPerSec}x sold-out answers/s, p99 ${r.vsStampede.p99Ms}x`,
      );
  }
  for (const r of rows) {
    out.push(`  ${r.system}: ${answersText(r)}${sellOutText(r)}${r.notes === '' ? '' : `; ${r.notes}`}`);
    if (r.serverThreadsCpuSeconds !== null && r.serverThreadsCpuSeconds.length > 0)
      out.push(
        `  ${r.system} server threads (cpu s): ${r.serverThreadsCpuSeconds.map((t) => `${t.thread} ${t.cpuSeconds.toFixed(1)}`).join(', ')}`,
      );
    if (r.journal !== null)
      out.push(
        `  ${r.system} journal: ${int(r.journal.commits)} group commits (write + fdatasync), ${int(r.journal.recordsPerCommit)} records each, ${r.journal.commitMsMean.toFixed(2)} ms each, ${Math.round(r.journal.commitShare * 100)}% of the sale`,
      );
    for (const p of r.auditProblems) out.push(`  ${r.system} AUDIT FAILED: ${p}`);
  }
  return out.join('\n');
}
