/**
 * ring.spsc: messages per second through one SPSC ring (engine/ring.ts) between two threads, the topology
 * of gateway -> engine: a producer worker claims, fills and publishes slots in batches of B; a consumer
 * worker drains with available()/release() and an IdleStrategy, checking every record.
 *
 *   npx tsx bench/ring-spsc.ts [--messages N] [--batch B] [--slots S] [--runs R]
 *
 *   producer worker ──claim/fill/publish(every B)──▶ ring (S slots × 8 words) ──available/release──▶ consumer worker
 *                   ◀──────────────── doorbell (rung only while the consumer is parked) ──────────────
 *
 * Each case (batch size) gets fresh worker threads (their own isolates, so one case's JIT state cannot help
 * another), one warm-up run, then R measured runs of N / R messages timed at the consumer; opsPerSec is the
 * median run. The consumer checks each record's sequence and last word; any mismatch or count short of
 * the total fails the program. The main thread only waits: the two workers are the only busy threads, as
 * there are two cores.
 *
 * Output: a few `#` lines (command, machine, parameters), one JSON line per case, then a table that adds
 * min/max runs, consumer parks, full-ring polls and each thread's core share (CPU time / wall time: under
 * about 90% means another process took the core and the case measured the machine, not the ring).
 * `runRingBench(options)` runs the same cases for `stampede bench engine` and returns the results.
 */

import { readFileSync } from 'node:fs';
import { cpus, loadavg, release as osRelease, platform } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  createDoorbell,
  createRing,
  Doorbell,
  IdleStrategy,
  RingConsumer,
  RingProducer,
} from '../engine/ring.ts';
import { startWorker } from '../lib/start-worker.ts';

/** Defaults, with units. 32-byte records as in the architecture's ring figures. */
const benchDefaults = {
  messages: 20_000_000,
  batches: [1, 16, 256],
  slots: 4096,
  slotWords: 8,
  runs: 5,
  /** Consumer spins this many empty polls before parking: the pair owns both cores while it runs. */
  spinCountMax: 100_000,
  parkTimeoutMs: 100,
} as const;

export interface RingBenchOptions {
  /** Measured messages per case, split evenly over `runs` (a warm-up run of the same size comes first). */
  readonly messages?: number;
  /** Producer publish batch sizes, one case each. */
  readonly batches?: readonly number[];
  /** Ring capacity in slots (power of two, at least the largest batch). */
  readonly slots?: number;
  readonly runs?: number;
}

export interface RingBenchResult {
  readonly bench: 'ring.spsc';
  /** Median over the measured runs. */
  readonly opsPerSec: number;
  readonly batch: number;
  readonly slotWords: number;
  readonly slots: number;
  readonly messages: number;
}

/** What runRingBench measured beyond the JSON line (for the table). */
interface CaseDetail {
  readonly result: RingBenchResult;
  readonly runOpsPerSec: readonly number[];
  readonly parkCount: number;
  readonly parkTimeoutCount: number;
  readonly ringFullCount: number;
  readonly producerCpu: CpuShare;
  readonly consumerCpu: CpuShare;
}

interface ProducerData {
  readonly kind: 'ring.spsc.producer';
  readonly ring: SharedArrayBuffer;
  readonly doorbell: SharedArrayBuffer;
  readonly batch: number;
  readonly totalMessages: number;
  readonly startGate: SharedArrayBuffer;
}

interface ConsumerData {
  readonly kind: 'ring.spsc.consumer';
  readonly ring: SharedArrayBuffer;
  readonly doorbell: SharedArrayBuffer;
  readonly totalMessages: number;
  readonly messagesPerRun: number;
  readonly startGate: SharedArrayBuffer;
}

/** A worker's own CPU time and wall time over its whole loop: the share shows whether it had a core to itself. */
interface CpuShare {
  readonly cpuMs: number;
  readonly wallMs: number;
}

interface ProducerReport {
  readonly ringFullCount: number;
  readonly cpu: CpuShare;
}

interface ConsumerReport {
  readonly received: number;
  readonly error: string;
  /** performance.now() each time a run's worth of messages had arrived: warm-up end, then each run's end. */
  readonly boundaryMs: readonly number[];
  readonly cpu: CpuShare;
}

/**
 * CPU time of the calling thread in ms, from /proc/thread-self/stat (utime + stime, in USER_HZ = 100 ticks
 * per second on Linux); NaN elsewhere. Node 20 has no per-thread CPU clock (process.threadCpuUsage is 23.9+).
 */
function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

function cpuShareSince(cpuStartMs: number, wallStartMs: number): CpuShare {
  return { cpuMs: threadCpuMs() - cpuStartMs, wallMs: performance.now() - wallStartMs };
}

/** The last word of a record: a function of its sequence that a torn or stale slot would not match. */
function lastWordOf(sequence: number, slotWords: number): number {
  return (sequence ^ Math.imul(slotWords - 1, 0x9e3779b1)) | 0;
}

function runProducer(data: ProducerData): ProducerReport {
  const producer = new RingProducer(data.ring, new Doorbell(data.doorbell));
  const words = producer.words;
  const slotWords = producer.slotWords;
  const total = data.totalMessages;
  const cpuStartMs = threadCpuMs();
  const wallStartMs = performance.now();
  let sequence = 0;
  let ringFullCount = 0;
  while (sequence < total) {
    const batchEnd = Math.min(sequence + data.batch, total);
    let next = sequence;
    while (next < batchEnd) {
      const offset = producer.claim();
      if (offset < 0) break;
      words[offset] = next;
      for (let word = 1; word < slotWords - 1; word++) words[offset + word] = next + word;
      words[offset + slotWords - 1] = lastWordOf(next, slotWords);
      next++;
    }
    if (next === sequence) {
      ringFullCount++; // backpressure: a gateway would stop reading its socket; here we poll again
      continue;
    }
    producer.publish();
    sequence = next;
  }
  return { ringFullCount, cpu: cpuShareSince(cpuStartMs, wallStartMs) };
}

function runConsumer(data: ConsumerData): ConsumerReport {
  const consumer = new RingConsumer(data.ring);
  const words = consumer.words;
  const slotWords = consumer.slotWords;
  const idle = new IdleStrategy(
    new Doorbell(data.doorbell),
    { spinCountMax: benchDefaults.spinCountMax, parkTimeoutMs: benchDefaults.parkTimeoutMs },
    () => consumer.available(1) > 0,
  );
  const cpuStartMs = threadCpuMs();
  const wallStartMs = performance.now();
  const boundaryMs: number[] = [];
  let nextBoundary = data.messagesPerRun;
  let expected = 0;
  let error = '';
  while (expected < data.totalMessages) {
    const available = consumer.available(consumer.slotCount);
    for (let i = 0; i < available; i++) {
      const offset = consumer.slotOffset(i);
      if (words[offset] !== expected || words[offset + slotWords - 1] !== lastWordOf(expected, slotWords)) {
        if (error === '') error = `slot for sequence ${expected} holds sequence ${words[offset]}`;
      }
      expected++;
    }
    consumer.release(available);
    while (expected >= nextBoundary) {
      boundaryMs.push(performance.now());
      nextBoundary += data.messagesPerRun;
    }
    idle.idle(available);
  }
  return { received: expected, error, boundaryMs, cpu: cpuShareSince(cpuStartMs, wallStartMs) };
}

/** What a worker posts when it has loaded and waits at the start gate. */
const readyMessage = 'ready';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

// Worker entry: this module is its own worker script (it runs a role only when started with one).
if (!isMainThread && parentPort !== null && isRecord(workerData)) {
  const data: Record<string, unknown> = workerData;
  if (
    (data.kind === 'ring.spsc.producer' || data.kind === 'ring.spsc.consumer') &&
    data.startGate instanceof SharedArrayBuffer
  ) {
    // Both workers are loaded and compiled before either starts, so neither times the other's start-up.
    parentPort.postMessage(readyMessage);
    Atomics.wait(new Int32Array(data.startGate), 0, 0);
    // The main thread below built these objects; the kind tag is the whole decoding needed.
    parentPort.postMessage(
      data.kind === 'ring.spsc.producer'
        ? runProducer(data as unknown as ProducerData)
        : runConsumer(data as unknown as ConsumerData),
    );
  }
}

/** Starts a role in a worker: `ready` settles when it waits at the start gate, `report` when it is done. */
function runWorker<Report>(data: ProducerData | ConsumerData): {
  ready: Promise<void>;
  report: Promise<Report>;
} {
  let markReady = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const report = new Promise<Report>((resolve, reject) => {
    // This module is its own worker script (lib/start-worker.ts boots it through tsx when it is .ts).
    const worker = startWorker(import.meta.url, './ring-spsc', { workerData: data });
    let reported = false;
    worker.on('message', (message: unknown) => {
      if (message === readyMessage) return markReady();
      reported = true;
      resolve(message as Report);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!reported) reject(new Error(`${data.kind} worker exited with code ${code} before reporting`));
    });
  });
  return { ready, report };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function validatePositiveInteger(name: string, value: number, max: number): void {
  if (!(Number.isInteger(value) && value >= 1 && value <= max)) {
    throw new RangeError(`${name} must be an integer from 1 to ${max}, got ${String(value)}`);
  }
}

async function runCase(batch: number, slots: number, messages: number, runs: number): Promise<CaseDetail> {
  const messagesPerRun = Math.floor(messages / runs);
  const totalMessages = messagesPerRun * (runs + 1); // + the warm-up run
  const ring = createRing(slots, benchDefaults.slotWords);
  const doorbellSab = createDoorbell();
  const startGate = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  const producer = runWorker<ProducerReport>({
    kind: 'ring.spsc.producer',
    ring,
    doorbell: doorbellSab,
    batch,
    totalMessages,
    startGate,
  });
  const consumer = runWorker<ConsumerReport>({
    kind: 'ring.spsc.consumer',
    ring,
    doorbell: doorbellSab,
    totalMessages,
    messagesPerRun,
    startGate,
  });
  // A worker that fails before it is ready rejects its report: race it so start-up errors surface.
  await Promise.race([Promise.all([producer.ready, consumer.ready]), producer.report, consumer.report]);
  const gate = new Int32Array(startGate);
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  const [producerReport, consumerReport] = await Promise.all([producer.report, consumer.report]);
  if (consumerReport.error !== '' || consumerReport.received !== totalMessages) {
    throw new Error(
      `ring.spsc batch ${batch}: WRONG RESULT: received ${consumerReport.received} of ${totalMessages}` +
        (consumerReport.error === '' ? '' : `; ${consumerReport.error}`),
    );
  }
  const boundaries = consumerReport.boundaryMs;
  if (boundaries.length !== runs + 1)
    throw new Error(`expected ${runs + 1} run boundaries, got ${boundaries.length}`);
  const runOpsPerSec: number[] = [];
  for (let run = 1; run <= runs; run++) {
    runOpsPerSec.push(Math.round(messagesPerRun / ((boundaries[run]! - boundaries[run - 1]!) / 1000)));
  }
  return {
    result: {
      bench: 'ring.spsc',
      opsPerSec: Math.round(median(runOpsPerSec)),
      batch,
      slotWords: benchDefaults.slotWords,
      slots,
      messages: messagesPerRun * runs,
    },
    runOpsPerSec,
    parkCount: new Doorbell(doorbellSab).parkCount(),
    parkTimeoutCount: new Doorbell(doorbellSab).timeoutCount(),
    ringFullCount: producerReport.ringFullCount,
    producerCpu: producerReport.cpu,
    consumerCpu: consumerReport.cpu,
  };
}

async function runCases(options: RingBenchOptions): Promise<CaseDetail[]> {
  const messages = options.messages ?? benchDefaults.messages;
  const batches = options.batches ?? benchDefaults.batches;
  const slots = options.slots ?? benchDefaults.slots;
  const runs = options.runs ?? benchDefaults.runs;
  validatePositiveInteger('runs', runs, 100);
  validatePositiveInteger('messages', messages, 2 ** 31 / (runs + 1));
  if (messages < runs) throw new RangeError(`messages must be at least runs (${runs}), got ${messages}`);
  for (const batch of batches) validatePositiveInteger('batch', batch, slots);
  const details: CaseDetail[] = [];
  // One case at a time: two busy threads already fill the two cores.
  for (const batch of batches) details.push(await runCase(batch, slots, messages, runs));
  return details;
}

/**
 * Runs the ring.spsc cases (batch 1, 16, 256 unless `batches` is given) and returns one result per case.
 * Prints nothing. Throws if any record arrived wrong or missing.
 */
export async function runRingBench(options: RingBenchOptions = {}): Promise<RingBenchResult[]> {
  return (await runCases(options)).map((detail) => detail.result);
}

function parseArgs(argv: readonly string[]): RingBenchOptions {
  const usage = 'usage: npx tsx bench/ring-spsc.ts [--messages N] [--batch B] [--slots S] [--runs R]';
  let options: { messages?: number; batches?: number[]; slots?: number; runs?: number } = {};
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = Number(argv[i + 1]?.replaceAll('_', ''));
    if (argv[i + 1] === undefined || !Number.isFinite(value))
      throw new Error(`${flag} needs a number\n${usage}`);
    switch (flag) {
      case '--messages':
        options = { ...options, messages: value };
        break;
      case '--batch':
        options = { ...options, batches: [value] };
        break;
      case '--slots':
        options = { ...options, slots: value };
        break;
      case '--runs':
        options = { ...options, runs: value };
        break;
      default:
        throw new Error(`unknown argument ${flag}\n${usage}`);
    }
  }
  return options;
}

function formatShare(share: CpuShare): string {
  return Number.isNaN(share.cpuMs) ? '?' : `${Math.round((100 * share.cpuMs) / share.wallMs)}%`;
}

function formatRate(opsPerSec: number): string {
  return `${(opsPerSec / 1e6).toFixed(1)} M/s`;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const cpu = cpus();
  console.log(`# command: npx tsx bench/ring-spsc.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
  console.log(
    `# machine: ${cpu[0]?.model ?? 'unknown cpu'} × ${cpu.length}, ${platform()} ${osRelease()}, node ${process.version}, load average ${loadavg()[0]!.toFixed(2)} (other busy threads skew this)`,
  );
  const runs = options.runs ?? benchDefaults.runs;
  console.log(
    `# parameters: slots ${options.slots ?? benchDefaults.slots}, slotWords ${benchDefaults.slotWords} (32-byte records), ` +
      `messages ${options.messages ?? benchDefaults.messages} per case in ${runs} runs after 1 warm-up run; ` +
      `consumer spinCountMax ${benchDefaults.spinCountMax}`,
  );
  const details = await runCases(options);
  for (const detail of details) console.log(JSON.stringify(detail.result));
  console.log('');
  const header = [
    'batch',
    'median ops/s',
    'min ops/s',
    'max ops/s',
    'parks (timed out)',
    'full-ring polls',
    'core share P / C',
  ];
  const rows = details.map((detail) => [
    String(detail.result.batch),
    formatRate(detail.result.opsPerSec),
    formatRate(Math.min(...detail.runOpsPerSec)),
    formatRate(Math.max(...detail.runOpsPerSec)),
    `${detail.parkCount} (${detail.parkTimeoutCount})`,
    String(detail.ringFullCount),
    `${formatShare(detail.producerCpu)} / ${formatShare(detail.consumerCpu)}`,
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const formatRow = (cells: readonly string[]) =>
    cells.map((cell, column) => cell.padStart(widths[column]!)).join(' │ ');
  console.log(formatRow(header));
  console.log(widths.map((width) => '─'.repeat(width)).join('─┼─'));
  for (const row of rows) console.log(formatRow(row));
  console.log('');
  console.log(
    '# parks: consumer Atomics.wait calls; full-ring polls: producer claims that found no free slot.',
  );
  console.log(
    '# core share: thread CPU time / wall time of producer (P) and consumer (C) over the case. A spinning',
  );
  console.log(
    '# thread well under 100% lost its core to another process: that case measured the machine, not the ring.',
  );
  console.log('');
  console.log(`# verified: every case delivered each sequence once, in order, with its last word intact`);
}

const startedAsProgram =
  isMainThread &&
  process.argv[1] !== undefined &&
  fileURLToPath(import.meta.url) === resolve(process.argv[1]);
if (startedAsProgram) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
