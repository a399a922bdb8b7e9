/**
 * Hosts one Stampede node's core on the calling thread's behalf: starts the
 * journal thread and the engine thread, wires their rings, and gives
 * producers (gateways, the ticker, benchmarks) their inbound rings, reply
 * rings and the durable cursor.
 *
 * Pipeline:
 *   1. a producer claims a slot in its inbound ring, writes a command, publishes;
 *   2. the engine thread applies a batch, publishes its events to the event
 *      ring and one reply per command to the producer's reply ring;
 *   3. the journal thread appends the batch's events, commits once (one
 *      fdatasync, or one Kafka send acknowledged by every in-sync replica),
 *      and advances control.durableSeq;
 *   4. the producer releases each reply once durableSeq >= its durableSeqNeeded
 *      (output commit: nobody hears about an effect that could still be lost).
 *
 * Snapshots: the engine copies its state when asked; the host writes the copy
 * once the journal is durable past it. Stop: the engine drains and sends a
 * final snapshot, the journal drains and syncs, the host writes the snapshot.
 */
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import type { ProducerPort } from '../../engine/command-client.ts';
import { ControlBlock } from '../../engine/control-block.ts';
import { CommandSlot, EventSlot, ReplySlot } from '../../engine/layout.ts';
import { type EngineLimits, engineLimits, engineLimitsRecorded } from '../../engine/limits.ts';
import { createDoorbell, createRing, Doorbell, RingConsumer, RingProducer } from '../../engine/ring.ts';
import { availabilityBufferBytes } from '../../engine/state.ts';
import { recordDataDirJournal } from '../../journal/journal-identity.ts';
import {
  describeJournalSelection,
  fileJournalSelection,
  type JournalSelection,
} from '../../journal/journal-selection.ts';
import { writeSnapshot } from '../../journal/snapshot-store.ts';
import { adoptDataDirLimits } from '../../lib/data-dir-config.ts';
import { lockDataDir } from '../../lib/data-dir-lock.ts';
import { startWorker } from '../../lib/start-worker.ts';
import type { EngineThreadCommand, EngineThreadConfig, EngineThreadMessage } from './engine-thread.ts';
import type { JournalThreadConfig, JournalThreadMessage } from './journal-thread.ts';

export interface EngineHostOptions {
  /** Snapshots, engine.json and the lock; the journal too unless `journal` selects Kafka. */
  dataDir: string;
  /** Which journal the node writes and recovers from (default: the file journal in dataDir). */
  journal?: JournalSelection;
  limits?: EngineLimits;
  /** Producing threads; each gets an inbound ring and a reply ring of inboundRingSlots. */
  producerCount?: number;
  inboundRingSlots?: number;
  eventRingSlots?: number;
  /** Slots of the ring of durable events for gateways (0: none). */
  notifyRingSlots?: number;
  batchCommandsMax?: number;
  batchEventsMax?: number;
  spinCountMax?: number;
  parkTimeoutMs?: number;
  /** File journal only. */
  segmentBytesMax?: number;
  batchBytesMax?: number;
  log?: (message: string) => void;
}

export const engineHostDefaults = {
  producerCount: 1,
  inboundRingSlots: 8192,
  eventRingSlots: 65536,
  notifyRingSlots: 0,
  batchCommandsMax: 4096,
  batchEventsMax: 16384,
  // Spin briefly: on 2 cores a spinning thread steals the producer's core (ARCHITECTURE.md, Ring buffer).
  spinCountMax: 2000,
  parkTimeoutMs: 50,
} as const;

export class EngineHost {
  readonly control: ControlBlock;
  readonly availability: Int32Array;
  readonly producers: ProducerPort[];
  /** Durable events in order (EventSlot layout), when notifyRingSlots > 0. */
  readonly notify: RingConsumer | null;
  readonly limits: EngineLimits;
  readonly ready: Extract<EngineThreadMessage, { type: 'ready' }>;
  private readonly engine: Worker;
  private readonly journal: Worker;
  private readonly journalDoorbell: Doorbell;
  private readonly dataDir: string;
  private readonly log: (message: string) => void;
  private readonly unlock: () => void;
  /**
   * Resolves once the engine thread has touched every page of its state in idle time (StatePrefault): until
   * then a write may pay a first-touch page fault. Benchmarks await it to time a warm state.
   */
  readonly prefaulted: Promise<void>;
  private markPrefaulted: () => void = () => {};
  private failure: Error | null = null;
  private readonly failureListeners: ((error: Error) => void)[] = [];
  private snapshotWaiters: ((result: { lastSeq: number; path: string }) => void)[] = [];
  private stopping: Promise<{ lastSeq: number; stateHash: string }> | null = null;
  private readonly exited: Promise<unknown>;

  private constructor(parts: {
    control: ControlBlock;
    availability: Int32Array;
    producers: ProducerPort[];
    notify: RingConsumer | null;
    limits: EngineLimits;
    ready: Extract<EngineThreadMessage, { type: 'ready' }>;
    engine: Worker;
    journal: Worker;
    journalDoorbell: Doorbell;
    dataDir: string;
    log: (message: string) => void;
    unlock: () => void;
  }) {
    this.control = parts.control;
    this.availability = parts.availability;
    this.producers = parts.producers;
    this.notify = parts.notify;
    this.limits = parts.limits;
    this.ready = parts.ready;
    this.engine = parts.engine;
    this.journal = parts.journal;
    this.journalDoorbell = parts.journalDoorbell;
    this.dataDir = parts.dataDir;
    this.log = parts.log;
    this.unlock = parts.unlock;
    this.prefaulted = new Promise((resolve) => {
      this.markPrefaulted = resolve;
    });
    this.engine.on('message', (message: EngineThreadMessage) => this.onEngineMessage(message));
    this.journal.on('message', (message: JournalThreadMessage) => this.onJournalMessage(message));
    for (const worker of [this.engine, this.journal]) {
      worker.on('error', (error) => this.fail(error));
    }
    // Listened for from the start: a thread that has finished may exit long before stop() looks.
    this.exited = Promise.all([once(this.engine, 'exit'), once(this.journal, 'exit')]);
  }

  static async start(options: EngineHostOptions): Promise<EngineHost> {
    const log = options.log ?? (() => {});
    const limits = options.limits ?? engineLimits();
    const o = { ...engineHostDefaults, ...stripUndefined(options) };
    const unlock = lockDataDir(options.dataDir);
    try {
      adoptDataDirLimits(options.dataDir, limits, engineLimitsRecorded);
      const control = new ControlBlock();
      const availabilityBuffer = new SharedArrayBuffer(availabilityBufferBytes(limits));
      const engineDoorbell = createDoorbell();
      const journalDoorbell = createDoorbell();
      const eventRing = createRing(o.eventRingSlots, EventSlot.words);
      const notifyRing = o.notifyRingSlots > 0 ? createRing(o.notifyRingSlots, EventSlot.words) : null;
      const producers: ProducerPort[] = [];
      for (let i = 0; i < o.producerCount; i++) {
        const inboundRing = createRing(o.inboundRingSlots, CommandSlot.words);
        const replyRing = createRing(o.inboundRingSlots, ReplySlot.words);
        producers.push({
          inbound: new RingProducer(inboundRing, new Doorbell(engineDoorbell)),
          replies: new RingConsumer(replyRing),
          inboundRing,
          replyRing,
        });
      }

      // The journal opens first: it truncates a torn tail the engine must not replay (file), or finds the
      // partition's end (Kafka); the engine then recovers exactly up to where the writer stands.
      const journalSelection = options.journal ?? fileJournalSelection;
      const journalConfig: JournalThreadConfig = {
        dataDir: options.dataDir,
        journal: journalSelection,
        eventRing,
        journalDoorbell,
        control: control.buffer,
        batchEventsMax: o.batchEventsMax,
        spinCountMax: o.spinCountMax,
        parkTimeoutMs: o.parkTimeoutMs,
        ...(options.segmentBytesMax === undefined ? {} : { segmentBytesMax: options.segmentBytesMax }),
        ...(options.batchBytesMax === undefined ? {} : { batchBytesMax: options.batchBytesMax }),
        ...(notifyRing === null ? {} : { notifyRing }),
      };
      const journal = startWorker(import.meta.url, './journal-thread', {
        workerData: journalConfig,
      });

      const engineConfig: EngineThreadConfig = {
        dataDir: options.dataDir,
        limits,
        journal: journalSelection,
        inboundRings: producers.map((p) => p.inboundRing),
        replyRings: producers.map((p) => p.replyRing),
        replyDoorbells: producers.map(() => null),
        eventRing,
        engineDoorbell,
        journalDoorbell,
        availability: availabilityBuffer,
        control: control.buffer,
        batchCommandsMax: o.batchCommandsMax,
        spinCountMax: o.spinCountMax,
        parkTimeoutMs: o.parkTimeoutMs,
      };
      // The engine thread loads its modules while the journal opens (each took a few hundred ms of a
      // restart, one after the other); it recovers once told where the writer stands.
      const engine = startWorker(import.meta.url, './engine-thread', { workerData: engineConfig });
      // Listened for from the start: the thread may fail while the journal is still opening.
      const engineReady = firstMessage<EngineThreadMessage, 'ready'>(engine, 'ready', log);
      engineReady.catch(() => {}); // awaited below; a failure before then is not unhandled
      let journalReady: Extract<JournalThreadMessage, { type: 'ready' }>;
      try {
        journalReady = await firstMessage<JournalThreadMessage, 'ready'>(journal, 'ready', log);
      } catch (error) {
        await engine.terminate();
        throw error;
      }
      engine.postMessage({
        type: 'journalReady',
        durableSeq: journalReady.durableSeq,
      } satisfies EngineThreadCommand);
      let ready: Extract<EngineThreadMessage, { type: 'ready' }>;
      try {
        ready = await engineReady;
      } catch (error) {
        control.requestJournalStop();
        new Doorbell(journalDoorbell).ring();
        await journal.terminate();
        throw error;
      }
      // Recovery found the journal to be the data directory's (or the directory had none recorded yet).
      recordDataDirJournal(options.dataDir, ready.journal);
      log(
        `engine ready at seq ${ready.lastSeq} (snapshot ${ready.snapshotSeq}, ${ready.eventsReplayed} events replayed; ${describeJournalSelection(journalSelection, options.dataDir)} durable ${journalReady.durableSeq}) state ${ready.stateHash}`,
      );
      return new EngineHost({
        control,
        availability: new Int32Array(availabilityBuffer),
        producers,
        notify: notifyRing === null ? null : new RingConsumer(notifyRing),
        limits,
        ready,
        engine,
        journal,
        journalDoorbell: new Doorbell(journalDoorbell),
        dataDir: options.dataDir,
        log,
        unlock,
      });
    } catch (error) {
      unlock();
      throw error;
    }
  }

  /** The error that stopped the node, if any. */
  get failed(): Error | null {
    return this.failure;
  }

  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.push(listener);
  }

  /** Resolves once the journal is durable at or past `seq` (rejects if the journal fails). */
  async waitDurable(seq: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.failure !== null) throw this.failure;
      const epoch = this.control.durableEpoch;
      if (this.control.durableSeq >= seq) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`journal not durable at ${seq} after ${timeoutMs} ms`);
      await this.control.waitDurableEpochChange(epoch, Math.min(left, 100));
    }
  }

  /** Takes a snapshot now and writes it once durable; resolves with its path. */
  snapshot(): Promise<{ lastSeq: number; path: string }> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve) => {
      this.snapshotWaiters.push(resolve);
      this.control.requestSnapshot();
      this.ringEngine();
    });
  }

  /**
   * Drains everything, writes a final snapshot, stops both threads. Idempotent. After a failure it only
   * stops the threads and rejects with the failure.
   */
  stop(): Promise<{ lastSeq: number; stateHash: string }> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<{ lastSeq: number; stateHash: string }> {
    try {
      // A failed node has nothing to drain (nothing more becomes durable) and a failed thread answers no
      // stop request: release the threads and the lock at once; the next start recovers.
      if (this.failure !== null) throw this.failure;
      this.control.requestStop();
      this.ringEngine();
      const stopped = await firstMessage<EngineThreadMessage, 'stopped'>(this.engine, 'stopped', this.log);
      await this.waitDurable(stopped.lastSeq);
      this.control.requestJournalStop();
      this.ringJournal();
      await firstMessage<JournalThreadMessage, 'stopped'>(this.journal, 'stopped', this.log);
      writeSnapshot(this.dataDir, stopped.lastSeq, stopped.snapshot, this.ready.journal);
      await this.exited;
      return { lastSeq: stopped.lastSeq, stateHash: stopped.stateHash };
    } finally {
      await Promise.all([this.engine.terminate(), this.journal.terminate()]);
      this.unlock();
    }
  }

  /**
   * Kills both threads mid-flight, as a power cut or kill -9 would: no drain,
   * no final commit, no snapshot. For crash tests and for giving up after a
   * failure (the next start recovers from snapshot + journal). Marks the
   * journal failed afterwards: nothing more becomes durable, and clients
   * waiting for answers in flight stop waiting.
   */
  async crashForTest(): Promise<void> {
    await Promise.all([this.engine.terminate(), this.journal.terminate()]);
    this.control.setJournalFailed();
    this.unlock();
  }

  private ringEngine(): void {
    // Any producer's doorbell is the engine's doorbell.
    this.producers[0]?.inbound.publish();
  }

  private ringJournal(): void {
    this.journalDoorbell.ring();
  }

  private onEngineMessage(message: EngineThreadMessage): void {
    switch (message.type) {
      case 'snapshot':
        void this.writeWhenDurable(message.lastSeq, message.bytes);
        return;
      case 'failed':
        this.fail(new Error(`engine thread failed: ${message.message}`));
        return;
      case 'log':
        this.log(`engine: ${message.message}`);
        return;
      case 'prefaulted':
        this.markPrefaulted();
        return;
      case 'ready':
      case 'stopped':
        return; // awaited by start() and stop()
      default: {
        const unreachable: never = message;
        throw new Error(`unknown engine message ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private async writeWhenDurable(lastSeq: number, bytes: Uint8Array): Promise<void> {
    try {
      await this.waitDurable(lastSeq);
      const path = writeSnapshot(this.dataDir, lastSeq, bytes, this.ready.journal);
      this.log(`snapshot at seq ${lastSeq}: ${path}`);
      const waiters = this.snapshotWaiters;
      this.snapshotWaiters = [];
      for (const resolve of waiters) resolve({ lastSeq, path });
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private onJournalMessage(message: JournalThreadMessage): void {
    switch (message.type) {
      case 'log':
        this.log(`journal: ${message.message}`);
        return;
      case 'failed':
        this.fail(new Error(`journal thread failed (${message.code}): ${message.message}`));
        return;
      case 'ready':
      case 'stopped':
        return;
      default: {
        const unreachable: never = message;
        throw new Error(`unknown journal message ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.log(`node failed: ${error.message}`);
    for (const listener of this.failureListeners) listener(error);
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The first message of `type` from a worker; rejects on a 'failed' message, an error or an early exit. */
function firstMessage<M extends { type: string }, T extends M['type']>(
  worker: Worker,
  type: T,
  log: (message: string) => void,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: M): void => {
      if (message.type === type) {
        cleanup();
        resolve(message as Extract<M, { type: T }>);
      } else if (message.type === 'failed') {
        cleanup();
        const failed = message as unknown as { message: string; code?: string };
        // A coded refusal keeps its code (the CLI and a supervisor match on it).
        reject(
          Object.assign(new Error(failed.message), failed.code === undefined ? {} : { code: failed.code }),
        );
      } else if (message.type === 'log') {
        log((message as unknown as { message: string }).message);
      }
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`worker exited with code ${code} before '${type}'`));
    };
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
