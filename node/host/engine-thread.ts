/**
 * The engine thread (a worker): recovers its state (snapshot + the selected
 * journal, recovery.ts), then loops forever draining the inbound
 * command rings in batches through the processor. For each batch it
 * publishes the events to the journal's ring once, and the replies to each
 * producer's reply ring once. It never does I/O after recovery, never
 * awaits, never reads the clock.
 *
 * Duty cycle: doWork() returns how many commands it applied; the idle
 * strategy spins while work flows and parks on the doorbell when it stops
 * (every producer rings it after publishing).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ControlBlock } from '../../engine/control-block.ts';
import type { EngineLimits } from '../../engine/limits.ts';
import { Processor, type SlotSink } from '../../engine/processor.ts';
import { Doorbell, IdleStrategy, RingConsumer, RingProducer } from '../../engine/ring.ts';
import { encodeSnapshot } from '../../engine/snapshot.ts';
import { Scalar, StatePrefault } from '../../engine/state.ts';
import { stateHash } from '../../engine/state-hash.ts';
import { isJournalError } from '../../journal/errors.ts';
import type { JournalIdentity } from '../../journal/journal-identity.ts';
import {
  fileJournalSelection,
  type JournalSelection,
  journalBackendFor,
} from '../../journal/journal-selection.ts';
import { type Recovered, recoverFromJournal } from './recovery.ts';

export interface EngineThreadConfig {
  dataDir: string;
  limits: EngineLimits;
  /** The journal to recover from (default: the file journal in dataDir), read up to where its writer stands. */
  journal?: JournalSelection;
  /** One inbound ring per producing thread, each with its reply ring at the same index. */
  inboundRings: SharedArrayBuffer[];
  replyRings: SharedArrayBuffer[];
  eventRing: SharedArrayBuffer;
  engineDoorbell: SharedArrayBuffer;
  journalDoorbell: SharedArrayBuffer;
  /** Doorbells of the threads that consume the reply rings (rung after each batch's replies), if they park. */
  replyDoorbells: (SharedArrayBuffer | null)[];
  availability: SharedArrayBuffer;
  control: SharedArrayBuffer;
  batchCommandsMax: number;
  spinCountMax: number;
  parkTimeoutMs: number;
}

/**
 * The host's one message to the thread: where the journal thread's writer stands once it has opened the
 * journal (the thread starts alongside it). Recovery must end exactly there.
 */
export type EngineThreadCommand = { type: 'journalReady'; durableSeq: number };

export type EngineThreadMessage =
  | {
      type: 'ready';
      lastSeq: number;
      stateHash: string;
      snapshotSeq: number;
      eventsReplayed: number;
      /** The journal recovered from: the host records it in the data directory and in every snapshot. */
      journal: JournalIdentity;
    }
  | { type: 'snapshot'; lastSeq: number; bytes: Uint8Array }
  | { type: 'stopped'; lastSeq: number; stateHash: string; snapshot: Uint8Array }
  | { type: 'log'; message: string }
  /** Every page of the state has been touched once (StatePrefault): from here on no write pays a first-touch fault. */
  | { type: 'prefaulted' }
  /** `code` for a coded refusal (JOURNAL_MISMATCH, JOURNAL_GAP...): its message says all, without a stack. */
  | { type: 'failed'; message: string; code?: string };

/**
 * A sink over a ring that may fill: a full ring means the consumer is behind,
 * so publish what is claimed and wait for room (micro-sleeps; the consumer
 * frees slots in batches). This is the backpressure from the journal.
 */
class WaitingRingSink implements SlotSink {
  readonly words: Int32Array;
  readonly f64: Float64Array;
  private readonly producer: RingProducer;
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));
  waits = 0;

  constructor(producer: RingProducer) {
    this.producer = producer;
    this.words = producer.words;
    this.f64 = producer.f64;
  }

  claim(): number {
    let at = this.producer.claim();
    while (at < 0) {
      this.producer.publish();
      this.waits++;
      Atomics.wait(this.sleeper, 0, 0, 0.05);
      at = this.producer.claim();
    }
    return at;
  }
}

/** Pages the idle loop prefaults per step: 1 MiB, well under a millisecond. */
const prefaultPagesPerStep = 256;

/** Snapshot + journal, through the selected journal's reader (the only await on this thread). */
async function recover(config: EngineThreadConfig): Promise<Recovered> {
  const journalDurableSeq = await new Promise<number>((resolve) => {
    parentPort?.once('message', (command: EngineThreadCommand) => resolve(command.durableSeq));
  });
  const backend = await journalBackendFor(config.journal ?? fileJournalSelection, config.dataDir);
  const reader = backend.openReader();
  try {
    return await recoverFromJournal(reader, config.dataDir, config.limits, {
      availability: config.availability,
      toSeq: journalDurableSeq,
      // A snapshot skipped as damaged is worth a line in the node's log, not silence.
      log: (message) => parentPort?.postMessage({ type: 'log', message } satisfies EngineThreadMessage),
    });
  } finally {
    await reader.close();
  }
}

function run(config: EngineThreadConfig, recovered: Recovered): void {
  const port = parentPort;
  if (port === null) throw new Error('engine-thread must run as a worker');
  const journal = recovered.journal;
  // The journal thread's writer opened it first, and a writer gives a file journal its id.
  if (journal === null) throw new Error(`the journal has no id: its writer must open it before recovery`);
  const control = new ControlBlock(config.control);
  const state = recovered.state;
  control.setEngineLastSeq(state.scalars[Scalar.lastSeq]!);

  const events = new RingProducer(config.eventRing, new Doorbell(config.journalDoorbell));
  const eventSink = new WaitingRingSink(events);
  const processor = new Processor(state, eventSink);
  const inbound = config.inboundRings.map((ring) => new RingConsumer(ring));
  const replyProducers = config.replyRings.map((ring, i) => {
    const doorbell = config.replyDoorbells[i];
    return new RingProducer(ring, doorbell ? new Doorbell(doorbell) : undefined);
  });
  const replySinks = replyProducers.map((producer) => new WaitingRingSink(producer));
  const doorbell = new Doorbell(config.engineDoorbell);
  const hasWork = (): boolean => {
    for (const ring of inbound) if (ring.available(1) > 0) return true;
    return control.stopRequested || control.snapshotRequests !== snapshotsTaken || control.journalFailed;
  };
  let snapshotsTaken = control.snapshotRequests;
  const idle = new IdleStrategy(
    doorbell,
    { spinCountMax: config.spinCountMax, parkTimeoutMs: config.parkTimeoutMs },
    hasWork,
  );

  const prefault = new StatePrefault(state);
  let prefaulted = false;
  control.setEngineRunning(true);
  port.postMessage({
    type: 'ready',
    lastSeq: state.scalars[Scalar.lastSeq]!,
    stateHash: stateHash(state),
    snapshotSeq: recovered.snapshotSeq,
    eventsReplayed: recovered.eventsReplayed,
    journal,
  } satisfies EngineThreadMessage);

  const doWork = (): number => {
    let applied = 0;
    for (let k = 0; k < inbound.length; k++) {
      const ring = inbound[k]!;
      const count = ring.available(config.batchCommandsMax);
      if (count === 0) continue;
      const sink = replySinks[k]!;
      for (let i = 0; i < count; i++) processor.apply(ring.words, ring.f64, ring.slotOffset(i), sink);
      ring.release(count);
      events.publish();
      replyProducers[k]!.publish();
      applied += count;
    }
    if (applied > 0) {
      control.setEngineLastSeq(state.scalars[Scalar.lastSeq]!);
      control.addEngineBatch(applied);
    }
    return applied;
  };

  for (;;) {
    const applied = doWork();
    if (control.journalFailed) {
      // Nothing more can become durable: stop taking commands; the host restarts from snapshot + journal.
      control.setEngineRunning(false);
      port.postMessage({
        type: 'failed',
        message: 'journal failed: engine stopped taking commands',
      } satisfies EngineThreadMessage);
      return;
    }
    if (control.snapshotRequests !== snapshotsTaken) {
      snapshotsTaken = control.snapshotRequests;
      const bytes = encodeSnapshot(state);
      port.postMessage(
        { type: 'snapshot', lastSeq: state.scalars[Scalar.lastSeq]!, bytes } satisfies EngineThreadMessage,
        [bytes.buffer as ArrayBuffer],
      );
    }
    if (applied === 0 && control.stopRequested) break;
    // Idle time pays the first-touch page faults recovery left (a slice at a time: a command waits one at most).
    if (applied === 0 && !prefaulted) {
      prefaulted = !prefault.step(prefaultPagesPerStep);
      if (prefaulted) port.postMessage({ type: 'prefaulted' } satisfies EngineThreadMessage);
      else continue;
    }
    idle.idle(applied);
  }
  control.setEngineRunning(false);
  const snapshot = encodeSnapshot(state);
  port.postMessage(
    {
      type: 'stopped',
      lastSeq: state.scalars[Scalar.lastSeq]!,
      stateHash: stateHash(state),
      snapshot,
    } satisfies EngineThreadMessage,
    [snapshot.buffer as ArrayBuffer],
  );
}

const config = workerData as EngineThreadConfig;
recover(config)
  .then((recovered) => run(config, recovered))
  .catch((error: unknown) => {
    const failed: EngineThreadMessage = isJournalError(error)
      ? { type: 'failed', message: error.message, code: error.code }
      : {
          type: 'failed',
          message: error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error),
        };
    parentPort?.postMessage(failed);
  });
