/**
 * File journal benchmark: append + group commit throughput for a given batch size (how many records share
 * one write and one fdatasync), commit latency percentiles, then a full scanJournal of what was written.
 * A program, not a test: `npx tsx journal/file-journal.bench.ts` runs every case in its own process (after
 * a warm-up in that process) in a temp directory under os.tmpdir(), so the figures are those of the disk
 * behind /tmp. One case: `npx tsx journal/file-journal.bench.ts --case '{"records":…,"payloadBytes":…,
 * "batchRecords":…}'`. Each case checks at the end that the scan returned exactly what was appended.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeJournal, FileJournal, scanJournal } from './file-journal.ts';

export interface JournalAppendBenchOptions {
  records: number;
  payloadBytes: number;
  /** Records per commit (one write + one fdatasync). */
  batchRecords: number;
  /** Default: the journal's default (256 MiB). */
  segmentBytesMax?: number;
  /** Print the JSON line (default true). */
  print?: boolean;
}

export interface JournalAppendBenchResult {
  bench: 'journal.append';
  recordsPerSec: number;
  fsyncsPerSec: number;
  batchRecords: number;
  payloadBytes: number;
  records: number;
  commits: number;
  segments: number;
  megabytesPerSec: number;
  commitMsP50: number;
  commitMsP99: number;
  commitMsP999: number;
  commitMsMax: number;
  /** Time in append() alone (elapsed minus commits): header, payload copy and CRC32C. */
  appendNsPerRecord: number;
  /** Full scanJournal of the records just written (page cache warm: this is CPU, CRC and copying). */
  scanRecordsPerSec: number;
  scanMegabytesPerSec: number;
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits));

/** Payload byte i of record seq: cheap to generate and to check. */
const payloadByte = (seq: number, i: number): number => (seq + i * 13) & 0xff;

/**
 * Appends `records` records of `payloadBytes` each to a new journal in `dir`, committing every
 * `batchRecords`, then scans them all back. Throws if the scan does not return exactly what was written.
 */
export function benchJournalAppend(
  dir: string,
  options: JournalAppendBenchOptions,
): JournalAppendBenchResult {
  const { records, payloadBytes, batchRecords } = options;
  const journal = FileJournal.open(dir, {
    ...(options.segmentBytesMax === undefined ? {} : { segmentBytesMax: options.segmentBytesMax }),
    log: (message) => process.stderr.write(`${message}\n`),
  });
  if (journal.durableSeq !== 0) throw new Error(`benchJournalAppend needs an empty directory, ${dir} is not`);
  // Records take their payload from a ring-like source buffer, as the journal thread does.
  const sourceRecords = 256;
  const source = new Uint8Array(sourceRecords * payloadBytes);
  const commitMs = new Float64Array(Math.ceil(records / batchRecords) + 1);
  let commits = 0;

  const commit = (): void => {
    const started = performance.now();
    journal.commit();
    commitMs[commits++] = performance.now() - started;
  };
  const startedMs = performance.now();
  for (let seq = 1; seq <= records; seq++) {
    const at = (seq % sourceRecords) * payloadBytes;
    source[at] = payloadByte(seq, 0);
    source[at + payloadBytes - 1] = payloadByte(seq, payloadBytes - 1);
    if (!journal.append(seq, 1, seq, source, at, payloadBytes)) {
      commit();
      journal.append(seq, 1, seq, source, at, payloadBytes);
    }
    if (journal.pendingRecordCount >= batchRecords) commit();
  }
  commit();
  const elapsedMs = performance.now() - startedMs;
  const bytesWritten = journal.committedByteCount;
  journal.close();
  const segments = describeJournal(dir).segments.length;

  // Full scan, checking every record's seq and the two payload bytes we set.
  let scanned = 0;
  let wrong = 0;
  const scanStartedMs = performance.now();
  const last = scanJournal(dir, 1, (seq, _type, timestampMs, bytes, at, length) => {
    scanned++;
    if (
      timestampMs !== seq ||
      length !== payloadBytes ||
      bytes[at] !== payloadByte(seq, 0) ||
      bytes[at + length - 1] !== payloadByte(seq, payloadBytes - 1)
    ) {
      wrong++;
    }
  });
  const scanMs = performance.now() - scanStartedMs;
  if (last !== records || scanned !== records || wrong !== 0) {
    throw new Error(`benchJournalAppend: scan returned ${scanned} records up to ${last}, ${wrong} wrong`);
  }

  const sorted = commitMs.slice(0, commits).sort();
  const result: JournalAppendBenchResult = {
    bench: 'journal.append',
    recordsPerSec: Math.round((records * 1000) / elapsedMs),
    fsyncsPerSec: Math.round((commits * 1000) / elapsedMs),
    batchRecords,
    payloadBytes,
    records,
    commits,
    segments,
    megabytesPerSec: round((bytesWritten * 1000) / elapsedMs / 1e6, 1),
    commitMsP50: round(percentile(sorted, 0.5), 3),
    commitMsP99: round(percentile(sorted, 0.99), 3),
    commitMsP999: round(percentile(sorted, 0.999), 3),
    commitMsMax: round(sorted[sorted.length - 1] ?? 0, 3),
    appendNsPerRecord: round(((elapsedMs - sorted.reduce((sum, ms) => sum + ms, 0)) * 1e6) / records, 0),
    scanRecordsPerSec: Math.round((records * 1000) / scanMs),
    scanMegabytesPerSec: round((bytesWritten * 1000) / scanMs / 1e6, 1),
  };
  if (options.print !== false) console.log(JSON.stringify(result));
  return result;
}

function runCase(options: JournalAppendBenchOptions): void {
  const root = mkdtempSync(join(tmpdir(), 'stampede-journal-bench-'));
  try {
    // Warm-up in this process (JIT, page cache, file system metadata), not measured.
    benchJournalAppend(join(root, 'warm-up'), {
      ...options,
      records: Math.min(options.records, Math.max(1_000, 20 * options.batchRecords), 20_000),
      print: false,
    });
    benchJournalAppend(join(root, 'measured'), options);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function main(): void {
  const caseIndex = process.argv.indexOf('--case');
  if (caseIndex >= 0) {
    runCase(JSON.parse(process.argv[caseIndex + 1] ?? '{}') as JournalAppendBenchOptions);
    return;
  }
  const cpu = cpus();
  console.log(
    JSON.stringify({
      command: 'npx tsx journal/file-journal.bench.ts',
      machine: `${cpu[0]?.model ?? 'unknown cpu'} x${cpu.length}`,
      node: process.version,
      dir: tmpdir(),
    }),
  );
  const cases: JournalAppendBenchOptions[] = [
    { records: 3_000, payloadBytes: 128, batchRecords: 1 },
    { records: 40_000, payloadBytes: 128, batchRecords: 16 },
    { records: 400_000, payloadBytes: 128, batchRecords: 256 },
    { records: 1_000_000, payloadBytes: 128, batchRecords: 4096 },
    { records: 300_000, payloadBytes: 1024, batchRecords: 256 },
  ];
  const self = fileURLToPath(import.meta.url);
  for (const options of cases) {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, self, '--case', JSON.stringify(options)],
      {
        stdio: 'inherit',
      },
    );
    if (child.status !== 0) throw new Error(`case ${JSON.stringify(options)} failed (exit ${child.status})`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
