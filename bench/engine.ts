/**
 * `stampede bench engine` (npm run bench:engine): the engine's figures, each
 * case in its own process after a warm-up, one JSON line per case plus a
 * table. Every case checks its own result (stock conserved, nothing lost) and
 * fails loudly if wrong. Targets are printed next to the figures.
 *
 *   engine.apply       commands/s through the processor alone (flash-sale mix)
 *   ring.spsc          messages/s across two threads (from ring-spsc.ts)
 *   pipeline.durable   commands/s through ring -> engine thread -> fsync'd
 *                      journal -> durable cursor -> reply released
 *   replay             events/s from the file journal back into a state
 *                      (wall and CPU time: the machine may be shared)
 *   recovery           what a restart costs before the engine serves: snapshot
 *                      + the journal after it + the state hash, at the default
 *                      limits, for a small store and for ~1 M events after the
 *                      snapshot
 *   memory             bytes per live order and per SKU at capacity; heap
 *                      growth during a steady sale
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { OrderStatus, ResultCode } from '../engine/codes.ts';
import { CommandClient } from '../engine/command-client.ts';
import { EventApplier } from '../engine/event-applier.ts';
import { checkInvariants } from '../engine/invariants.ts';
import { CommandSlot, EventSlot, ReplySlot } from '../engine/layout.ts';
import { type EngineLimits, engineLimits } from '../engine/limits.ts';
import { Processor } from '../engine/processor.ts';
import { SlotBuffer } from '../engine/slot-buffer.ts';
import { encodeSnapshot } from '../engine/snapshot.ts';
import { EngineState, stateArrays } from '../engine/state.ts';
import { stateHash } from '../engine/state-hash.ts';
import { scanJournal } from '../journal/file-journal.ts';
import { fileJournalIdentity, journalDir } from '../journal/journal-backend.ts';
import { listSnapshots, snapshotsDir, writeSnapshot } from '../journal/snapshot-store.ts';
import { EngineHost } from '../node/host/engine-host.ts';
import { recoverState } from '../node/host/recovery.ts';
import { FlashSaleStream, hotSkuId, writeCatalog, writePay, writePlace } from './flash-sale-commands.ts';
import { writeFlashSaleJournal } from './flash-sale-journal.ts';

type Figures = Record<string, number | string>;
const caseNames = ['engine.apply', 'ring.spsc', 'pipeline.durable', 'replay', 'recovery', 'memory'] as const;
type CaseName = (typeof caseNames)[number];

const targets: Record<string, string> = {
  'engine.apply': '>= 6,000,000 commands/s',
  'pipeline.durable': '>= 1,000,000 commands/s',
  replay: '>= 2,000,000 events/s',
  recovery: '<= 0.5 s small store; <= 1 s per million events after the snapshot',
  memory: '<= 256 bytes per live order; no heap growth',
};

function fail(message: string): never {
  throw new Error(`bench check failed: ${message}`);
}

/**
 * Applies a sale through a Processor in batches of 4096 commands refilled
 * (untimed) into one small buffer, as the engine thread drains a ring.
 * Returns commands/s of the median of three timed passes.
 */
function applySale(buyers: number, stock: number): Figures {
  const limits = engineLimits({ ordersMax: Math.max(stock * 2, 1024), buyersMax: Math.max(stock * 2, 1024) });
  const batch = new SlotBuffer(CommandSlot.words, 4096);
  const events = new SlotBuffer(EventSlot.words, 8192);
  const replies = new SlotBuffer(ReplySlot.words, 4096);
  const run = (): { seconds: number; state: EngineState; commands: number } => {
    const state = new EngineState(limits);
    const processor = new Processor(state, events);
    const sale = new FlashSaleStream({ buyers, stock, startMs: 1_700_000_000_000 });
    let nanos = 0n;
    while (!sale.done) {
      batch.reset();
      while (batch.count < 4096 && !sale.done) sale.next(batch.words, batch.f64, batch.claim());
      events.reset();
      replies.reset();
      const started = process.hrtime.bigint();
      for (let i = 0; i < batch.count; i++)
        processor.apply(batch.words, batch.f64, i * CommandSlot.words, replies);
      nanos += process.hrtime.bigint() - started;
    }
    return { seconds: Number(nanos) / 1e9, state, commands: sale.count };
  };
  run(); // warm-up: JIT
  const samples = [run(), run(), run()];
  const median = samples.map((s) => s.seconds).sort((a, b) => a - b)[1]!;
  const state = samples[0]!.state;
  if (state.skuSold[hotSkuId] !== Math.min(stock, buyers))
    fail(`sold ${state.skuSold[hotSkuId]} of ${stock}`);
  const problems = checkInvariants(state);
  if (problems.length > 0) fail(problems.join('; '));
  return {
    opsPerSec: Math.round(samples[0]!.commands / median),
    commands: samples[0]!.commands,
    buyers,
    stock,
    batch: 4096,
    medianOfRuns: 3,
  };
}

async function pipelineDurable(buyers: number, stock: number): Promise<Figures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-bench-'));
  try {
    const limits = engineLimits({
      ordersMax: Math.max(stock * 2, 1024),
      buyersMax: Math.max(stock * 2, 1024),
      requestIdsMax: buyers,
    });
    const host = await EngineHost.start({ dataDir, limits });
    // Timed on a warm state, as a sale meets it: a node pays its first-touch page faults in idle time
    // after start (0.2-0.3 s of kernel time at the default limits), not inside the sale.
    await host.prefaulted;
    const port = host.producers[0]!;
    const ring = port.inbound;
    const replies = port.replies;
    const control = host.control;
    // Catalog first, through the ordinary client.
    await new Promise<void>((resolve, reject) => {
      new CommandClient(port, control).submit(
        (w, f, at) => writeCatalog(w, f, at, { buyers, stock, startMs: Date.now() }),
        { onReply: () => resolve(), onUnavailable: () => reject(new Error('journal failed')) },
      );
    });
    const startMs = Date.now();
    const total = buyers + Math.min(buyers, stock);
    let sent = 0;
    let placed = 0;
    let paid = 0;
    let answered = 0;
    let okPlaces = 0;
    let inFlight = 0;
    const windowMax = replies.slotCount;
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const fsyncsBefore = control.fsyncCount;
    const batchesBefore = control.engineBatchCount;
    const started = process.hrtime.bigint();
    while (answered < total) {
      // Send: places, and a payment for each order that got stock.
      let claimed = 0;
      while (sent < total && inFlight < windowMax && claimed < 1024) {
        const at = ring.claim();
        if (at < 0) break;
        if (paid < okPlaces) writePay(ring.words, ring.f64, at, 0, startMs, ++paid);
        else if (placed < buyers) writePlace(ring.words, ring.f64, at, 0, startMs, placed++);
        else {
          // Waiting for the last places' answers before their payments.
          ring.publish();
          break;
        }
        sent++;
        inFlight++;
        claimed++;
      }
      if (claimed > 0) ring.publish();
      // Receive what is durable.
      const durableSeq = control.durableSeq;
      const available = replies.available(windowMax);
      let released = 0;
      while (released < available) {
        const at = replies.slotOffset(released);
        if (replies.f64[(at + ReplySlot.durableSeqNeeded) >> 1]! > durableSeq) break;
        if (
          replies.f64[(at + ReplySlot.orderId) >> 1]! > 0 &&
          replies.words[at + ReplySlot.result] === ResultCode.ok
        ) {
          if (replies.words[at + ReplySlot.status] === OrderStatus.readyForCheckout) okPlaces++;
        }
        released++;
      }
      if (released > 0) {
        replies.release(released);
        answered += released;
        inFlight -= released;
      } else if (claimed === 0) {
        Atomics.wait(sleeper, 0, 0, 0.02);
      }
      if (host.failed) throw host.failed;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const fsyncs = control.fsyncCount - fsyncsBefore;
    const batches = control.engineBatchCount - batchesBefore;
    const figures: Figures = {
      opsPerSec: Math.round(total / seconds),
      commands: total,
      buyers,
      stock,
      fsyncsPerSec: Math.round(fsyncs / seconds),
      meanEventsPerFsync: Math.round((control.journalRecordCount / control.fsyncCount) * 10) / 10,
      meanCommandsPerEngineBatch: Math.round((total / batches) * 10) / 10,
      fsyncMicrosMean: Math.round(control.fsyncMicrosTotal / control.fsyncCount),
      fsyncMicrosMax: Math.round(control.fsyncMicrosMax),
      window: windowMax,
    };
    if (okPlaces !== Math.min(stock, buyers))
      fail(`${okPlaces} orders got stock, expected ${Math.min(stock, buyers)}`);
    const stopped = await host.stop();
    // Nothing acknowledged is lost: a full replay reaches the state the engine stopped with.
    const replayed = recoverState(dataDir, limits, { fromScratch: true }).state;
    if (stateHash(replayed) !== stopped.stateHash) fail('replayed state differs from the live one');
    if (replayed.skuSold[hotSkuId] !== Math.min(stock, buyers))
      fail(`replay sold ${replayed.skuSold[hotSkuId]}`);
    return figures;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Wall and CPU seconds of one call (CPU: this process, all threads). */
function timed<T>(run: () => T): { value: T; seconds: number; cpuSeconds: number } {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const value = run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return { value, seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
};

function replay(buyers: number, stock: number): Figures {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-bench-'));
  try {
    const limits = engineLimits({
      ordersMax: Math.max(stock * 2, 1024),
      buyersMax: Math.max(stock * 2, 1024),
    });
    const { eventCount } = writeFlashSaleJournal(dataDir, limits, {
      buyers,
      stock,
      startMs: 1_700_000_000_000,
    });
    recoverState(dataDir, limits, { fromScratch: true }); // warm-up (and page cache)
    const runs = [0, 1, 2].map(() => timed(() => recoverState(dataDir, limits, { fromScratch: true }).state));
    if (runs[0]!.value.skuSold[hotSkuId] !== Math.min(stock, buyers)) fail('replay lost sales');
    const seconds = median(runs.map((r) => r.seconds));
    const cpuSeconds = median(runs.map((r) => r.cpuSeconds));
    return {
      opsPerSec: Math.round(eventCount / seconds),
      cpuOpsPerSec: Math.round(eventCount / cpuSeconds),
      events: eventCount,
      buyers,
      stock,
      medianOfRuns: 3,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * A data directory at the default limits holding a sale's journal and a
 * snapshot taken after its first `snapshotSeq` events (all of them: -1).
 */
function saleWithSnapshot(
  dataDir: string,
  limits: EngineLimits,
  shape: { buyers: number; stock: number },
  snapshotSeq: number,
): { eventCount: number; snapshotSeq: number } {
  const { eventCount } = writeFlashSaleJournal(dataDir, limits, { ...shape, startMs: 1_700_000_000_000 });
  const toSeq = snapshotSeq < 0 ? eventCount : snapshotSeq;
  const applier = new EventApplier(new EngineState(limits));
  scanJournal(journalDir(dataDir), 1, (...record) => applier.apply(...record), { toSeq });
  writeSnapshot(dataDir, toSeq, encodeSnapshot(applier.state), fileJournalIdentity(journalDir(dataDir))!);
  return { eventCount, snapshotSeq: toSeq };
}

/**
 * Recovery as a node's engine thread does it before it serves (snapshot, the
 * journal after it, the state hash it reports), at the default limits: a
 * small store (a few hundred orders, all in the snapshot) and a sale with
 * ~1 M events after its snapshot. Checks the recovered state against a full
 * replay from the first record.
 */
function recovery(quick: boolean): Figures {
  const limits = engineLimits();
  const measure = (shape: { buyers: number; stock: number }, snapshotSeq: number, runCount: number) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'stampede-bench-'));
    try {
      const written = saleWithSnapshot(dataDir, limits, shape, snapshotSeq);
      const snapshots = listSnapshots(dataDir);
      if (snapshots.length !== 1) fail(`${snapshots.length} snapshots written, expected 1`);
      const snapshotBytes = statSync(join(snapshotsDir(dataDir), snapshots[0]!.file)).size;
      const recover = (): { hash: string; replayed: number; snapshotSeq: number } => {
        const recovered = recoverState(dataDir, limits);
        return {
          hash: stateHash(recovered.state),
          replayed: recovered.eventsReplayed,
          snapshotSeq: recovered.snapshotSeq,
        };
      };
      recover(); // warm-up (JIT, page cache)
      const runs = Array.from({ length: runCount }, () => timed(recover));
      const full = stateHash(recoverState(dataDir, limits, { fromScratch: true }).state);
      for (const run of runs) {
        if (run.value.snapshotSeq !== written.snapshotSeq)
          fail(`recovery used snapshot ${run.value.snapshotSeq}`);
        if (run.value.replayed !== written.eventCount - written.snapshotSeq)
          fail(`recovery replayed ${run.value.replayed} events`);
        if (run.value.hash !== full) fail('snapshot + journal differs from a full replay');
      }
      const seconds = runs.map((r) => r.seconds).sort((a, b) => a - b);
      return {
        eventsAfterSnapshot: written.eventCount - written.snapshotSeq,
        seconds: median(seconds),
        p90Seconds: seconds[Math.min(seconds.length - 1, Math.floor(seconds.length * 0.9))]!,
        cpuSeconds: median(runs.map((r) => r.cpuSeconds)),
        runs: runCount,
        snapshotBytes,
      };
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
  const small = measure({ buyers: 300, stock: 200 }, -1, 7);
  const large = measure(
    quick ? { buyers: 50_000, stock: 1_000 } : { buyers: 1_000_000, stock: 10_000 },
    1_000,
    3,
  );
  // Per million events: the large recovery's whole time (its fixed part, the small store's, included).
  const perMillion = (seconds: number): number => (seconds * 1e6) / large.eventsAfterSnapshot;
  return {
    summary: `small ${Math.round(small.seconds * 1000)} ms; ${perMillion(large.seconds).toFixed(2)} s per M events`,
    largeSeconds: Number(large.seconds.toFixed(3)),
    smallStoreMs: Math.round(small.seconds * 1000),
    smallStoreP90Ms: Math.round(small.p90Seconds * 1000),
    smallStoreCpuMs: Math.round(small.cpuSeconds * 1000),
    smallStoreRuns: small.runs,
    smallStoreSnapshotBytes: small.snapshotBytes,
    eventsAfterSnapshot: large.eventsAfterSnapshot,
    secondsPerMillionEvents: Number(perMillion(large.seconds).toFixed(3)),
    cpuSecondsPerMillionEvents: Number(perMillion(large.cpuSeconds).toFixed(3)),
    largeRuns: large.runs,
    limits: 'defaults (engineLimits())',
  };
}

function memory(): Figures {
  const limits = engineLimits({ ordersMax: 1_000_000, skusMax: 100_000 });
  const state = new EngineState(limits);
  const bytesOf = (prefixes: string[]): number =>
    stateArrays(state)
      .filter(({ name }) => prefixes.some((p) => name.startsWith(p)))
      .reduce((sum, { array }) => sum + array.byteLength, 0);
  const perOrder = bytesOf(['order']) / limits.ordersMax;
  const perSku = bytesOf(['sku', 'availability']) / (limits.skusMax + 1);
  const perRequest = bytesOf(['request']) / limits.requestIdsMax;
  const perBuyer = bytesOf(['buyer']) / limits.buyersMax;
  const perPair = bytesOf(['pair']) / limits.buyerSkuPairsMax;
  const totalBytes = bytesOf(['']);

  // Fill to capacity with live orders, then run a steady sale and watch the heap.
  const events = new SlotBuffer(EventSlot.words, 8192);
  const replies = new SlotBuffer(ReplySlot.words, 8192);
  const processor = new Processor(state, events);
  const command = new SlotBuffer(CommandSlot.words, 1);
  const at = command.claim();
  for (let sku = 1; sku <= limits.skusMax; sku++) {
    writeCatalog(command.words, command.f64, at, { buyers: 0, stock: 1_000, startMs: 1 });
    command.words[at + CommandSlot.skuId] = sku;
    processor.apply(command.words, command.f64, at, null);
    events.reset();
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  const warmOrders = 100_000; // the first orders warm the JIT; the heap is measured across the rest
  let heapBefore = 0;
  for (let i = 0; i < limits.ordersMax; i++) {
    if (i === warmOrders) {
      gc?.();
      heapBefore = getHeapStatistics().used_heap_size;
    }
    writePlace(command.words, command.f64, at, 0, 2, i);
    command.words[at + CommandSlot.lines + CommandSlot.lineSkuId] = 1 + (i % limits.skusMax);
    processor.apply(command.words, command.f64, at, replies);
    replies.reset();
    events.reset();
  }
  if (state.orderIndex.size !== limits.ordersMax)
    fail(`${state.orderIndex.size} live orders, expected ${limits.ordersMax}`);
  gc?.();
  const heapAfter = getHeapStatistics().used_heap_size;
  return {
    bytesPerLiveOrder: Math.round(perOrder + perRequest),
    bytesPerOrderSlot: Math.round(perOrder),
    bytesPerRememberedRequest: Math.round(perRequest),
    bytesPerSku: Math.round(perSku),
    bytesPerBuyer: Math.round(perBuyer),
    bytesPerBuyerSkuPair: Math.round(perPair),
    stateMiB: Math.round(totalBytes / 2 ** 20),
    liveOrders: limits.ordersMax,
    skus: limits.skusMax,
    heapGrowthBytes: heapAfter - heapBefore,
    heapGrowthMeasuredOverOrders: limits.ordersMax - warmOrders,
    gcExposed: gc ? 'yes' : 'no',
  };
}

async function runCase(name: CaseName, quick: boolean): Promise<Figures> {
  const buyers = quick ? 50_000 : 1_000_000;
  const stock = quick ? 1_000 : 10_000;
  switch (name) {
    case 'engine.apply':
      return applySale(buyers, stock);
    case 'ring.spsc': {
      const { runRingBench } = await import('./ring-spsc.ts');
      const results = await runRingBench({ messages: quick ? 2_000_000 : 20_000_000 });
      const best = results.reduce((a, b) => (b.opsPerSec > a.opsPerSec ? b : a));
      return { ...best, cases: results.map((r) => `batch ${r.batch}: ${r.opsPerSec}`).join(', ') };
    }
    case 'pipeline.durable':
      return pipelineDurable(buyers, stock);
    case 'replay':
      return replay(buyers, stock);
    case 'recovery':
      return recovery(quick);
    case 'memory':
      return memory();
    default: {
      const unreachable: never = name;
      throw new Error(`unknown case ${unreachable}`);
    }
  }
}

/** Runs the cases, each in a child process; prints JSON lines and a table. */
export async function runEngineBench(
  options: { cases?: string[]; quick?: boolean; json?: boolean } = {},
): Promise<Figures[]> {
  const selected = (options.cases?.length ? options.cases : [...caseNames]) as CaseName[];
  for (const name of selected)
    if (!caseNames.includes(name))
      throw new Error(`unknown bench case '${name}' (have ${caseNames.join(', ')})`);
  const self = fileURLToPath(import.meta.url);
  // The load average says how shared the machine was: wall-clock figures are only comparable on an idle one.
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load ${loadavg()[0]!.toFixed(1)}`;
  const results: Figures[] = [];
  for (const name of selected) {
    const args = [
      ...process.execArgv,
      '--expose-gc',
      self,
      '--case',
      name,
      ...(options.quick ? ['--quick'] : []),
    ];
    const output = execFileSync(process.execPath, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = output.trim().split('\n').pop() ?? '{}';
    const figures = { ...(JSON.parse(line) as Figures), machine };
    console.log(JSON.stringify(figures));
    results.push(figures);
  }
  if (!options.json) {
    console.log('');
    console.log(`machine: ${machine}; command: stampede bench engine${options.quick ? ' --quick' : ''}`);
    for (const r of results) {
      const main =
        r.opsPerSec !== undefined
          ? `${Number(r.opsPerSec).toLocaleString('en-US')} /s`
          : String(r.summary ?? `${r.bytesPerLiveOrder} B/order`);
      console.log(
        `${String(r.bench).padEnd(18)} ${main.padStart(18)}   target ${targets[String(r.bench)] ?? '-'}`,
      );
    }
  }
  return results;
}

async function childMain(): Promise<void> {
  const name = process.argv[process.argv.indexOf('--case') + 1] as CaseName;
  const figures = await runCase(name, process.argv.includes('--quick'));
  process.stdout.write(`${JSON.stringify({ bench: name, ...figures })}\n`);
}

if (process.argv.includes('--case') && process.argv[1] === fileURLToPath(import.meta.url)) {
  childMain().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cases = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  runEngineBench({
    cases,
    quick: process.argv.includes('--quick'),
    json: process.argv.includes('--json'),
  }).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
