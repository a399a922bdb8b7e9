/**
 * A projector: reads the journal from the store's checkpoint and applies the events to one store in
 * batches, each batch moving the store's checkpoint in the same transaction (MySQL) or the same atomic
 * script (Redis) as its data. So a crash anywhere resumes from the checkpoint with nothing lost (every
 * event after it is applied again) and nothing applied twice (every event up to it is in the store, and
 * nothing after it is).
 *
 * Runs on the main thread of `stampede serve` or of `stampede project`, as an async loop; it never feeds
 * anything back to the engine (one-way flow), so a slow or dead store never slows the node: the projector
 * falls behind, and its lag says so.
 *
 *   1. durable end: the writer's durableSeq() when in the same process; otherwise what the journal holds
 *      (the file reader sees what passed its checksum; a torn tail ends a scan).
 *   2. read up to readRecordsMax records after the checkpoint (one scan: scanJournal re-reads the segment
 *      holding fromSeq from its start, so reads are big; at the journal's end the projector waits
 *      pollIntervalMs, or longer when scans are slow (at most readDutyPercentMax of its time re-reading a
 *      large segment), and first asks the reader whether anything changed at all).
 *   3. cut them into batches of batchEventsMax and hand each to store.apply(events, checkpoint), which
 *      verifies the checkpoint and moves it atomically with the data.
 *
 * States: starting -> catchingUp | live; live while at most one batch behind the durable end, catchingUp
 * otherwise; halted on an error a retry cannot cure (halts are final: fix, then restart); stopped by stop().
 * Retriable store errors (connection refused or reset, timeouts: errors.ts isRetriable) drop the connection
 * and retry with capped exponential backoff, forever: a store that is down for an hour is caught up when it
 * returns.
 */
import type { JournalReader } from '../journal/journal-backend.ts';
import { errorText } from '../lib/error-text.ts';
import { isRetriable, ProjectionError, ProjectionErrorCode } from './errors.ts';
import { decodeEvent, type ProjectedEvent } from './events.ts';
import { type ProjectionLimits, projectionLimits } from './limits.ts';

export const ProjectorState = { starting: 0, catchingUp: 1, live: 2, halted: 3, stopped: 4 } as const;
export type ProjectorState = (typeof ProjectorState)[keyof typeof ProjectorState];
export const projectorStateName = (state: number): string =>
  Object.entries(ProjectorState).find(([, value]) => value === state)?.[0] ?? `state#${state}`;

/** One store behind a projector. */
export interface ProjectionStore {
  /** 'mysql', 'redis' (or a test's). */
  readonly kind: string;
  /** Where it is, for messages (never with a password). */
  readonly location: string;
  /** Connects (creating or migrating what it needs) and returns the checkpoint: the last seq applied (0: none). */
  open(): Promise<number>;
  /**
   * Applies events (consecutive seqs, the first right after `checkpoint`) and moves the store's checkpoint
   * to the last one, atomically with the data. 'alreadyApplied' when the store's checkpoint is already at the
   * last event (a retry after an answer that was lost); PROJECTION_CHECKPOINT_MISMATCH for any other.
   */
  apply(events: readonly ProjectedEvent[], checkpoint: number): Promise<'applied' | 'alreadyApplied'>;
  /** Drops the connection (also after an error); open() starts again. Never throws. */
  close(): Promise<void>;
}

/** Numbers only: the HTTP /metrics endpoint reads them as they are. */
export interface ProjectorMetrics {
  /** ProjectorState. */
  state: number;
  /** The store's checkpoint as this projector last knew it. */
  appliedSeq: number;
  /** The journal's durable end as last seen. */
  journalEndSeq: number;
  /** journalEndSeq - appliedSeq. */
  lagEvents: number;
  /** How long the oldest event not yet applied has waited (its atMs to now); 0 when caught up. */
  lagMs: number;
  eventsApplied: number;
  batchesApplied: number;
  lastBatchEvents: number;
  lastBatchMs: number;
  /** Retriable failures since start, and in a row now (0 once a batch or an open succeeds). */
  retries: number;
  consecutiveFailures: number;
}

export interface ProjectorOptions {
  /** For logs: e.g. 'mysql'. */
  name: string;
  store: ProjectionStore;
  reader: JournalReader;
  /** The journal writer's durable seq, when the projector runs in the node's process. */
  durableSeq?: () => number;
  limits?: Partial<ProjectionLimits>;
  log?: (message: string) => void;
  /** Jitter source for the backoff (tests pass a fixed one). */
  random?: () => number;
}

export class Projector {
  readonly name: string;
  private readonly store: ProjectionStore;
  private readonly reader: JournalReader;
  private readonly durableSeq: (() => number) | null;
  private readonly limits: ProjectionLimits;
  private readonly log: (message: string) => void;
  private readonly random: () => number;

  private currentState: ProjectorState = ProjectorState.starting;
  private checkpoint = 0;
  private opened = false;
  private endSeq = 0;
  private oldestUnappliedAtMs: number | null = null;
  private lastLagProbeMs = 0;
  private counters = {
    eventsApplied: 0,
    batchesApplied: 0,
    lastBatchEvents: 0,
    lastBatchMs: 0,
    retries: 0,
    consecutiveFailures: 0,
  };
  private haltError: Error | null = null;
  private retryError: Error | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(options: ProjectorOptions) {
    this.name = options.name;
    this.store = options.store;
    this.reader = options.reader;
    this.durableSeq = options.durableSeq ?? null;
    this.limits = projectionLimits(options.limits);
    this.log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
    this.random = options.random ?? Math.random;
  }

  get state(): ProjectorState {
    return this.currentState;
  }

  /** The error that halted the projector, or null. */
  get error(): Error | null {
    return this.haltError;
  }

  /** The retriable error of the last failed attempt while failures are in a row (a store that is down), or null. */
  get lastRetryError(): Error | null {
    return this.counters.consecutiveFailures === 0 ? null : this.retryError;
  }

  /** Starts the loop; resolves at once. `done` settles when the loop ends (halted or stopped). */
  start(): void {
    if (this.loop !== null) throw new Error(`projector ${this.name} already started`);
    this.loop = this.run();
  }

  /** Resolves when the projector halts or stops (never rejects: read `error`). */
  get done(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  /** Finishes the batch in flight, closes the store, and resolves. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.done;
  }

  /**
   * Resolves once the checkpoint reaches seq (tests and `project --once`); rejects if the projector halts or
   * stops first.
   */
  async waitForSeq(seq: number, timeoutMs = 60_000): Promise<void> {
    const started = Date.now();
    while (this.checkpoint < seq) {
      if (this.currentState === ProjectorState.halted) {
        throw this.haltError ?? new Error(`projector ${this.name} halted`);
      }
      if (this.currentState === ProjectorState.stopped) throw new Error(`projector ${this.name} stopped`);
      if (Date.now() - started > timeoutMs) {
        throw new Error(
          `projector ${this.name}: checkpoint ${this.checkpoint} did not reach ${seq} in ${timeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  metrics(): ProjectorMetrics {
    const caughtUp = this.checkpoint >= this.endSeq;
    return {
      state: this.currentState,
      appliedSeq: this.checkpoint,
      journalEndSeq: this.endSeq,
      lagEvents: Math.max(0, this.endSeq - this.checkpoint),
      lagMs:
        caughtUp || this.oldestUnappliedAtMs === null
          ? 0
          : Math.max(0, Date.now() - this.oldestUnappliedAtMs),
      ...this.counters,
    };
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }

  private backoffMs(): number {
    const { retryDelayMsMin, retryDelayMsMax } = this.limits;
    const exponent = Math.min(this.counters.consecutiveFailures - 1, 30);
    const ceiling = Math.min(retryDelayMsMax, retryDelayMsMin * 2 ** exponent);
    // Half fixed, half jitter: projectors of several nodes do not knock on a recovering store together.
    return Math.round(ceiling / 2 + (ceiling / 2) * this.random());
  }

  private setState(state: ProjectorState): void {
    if (state === this.currentState) return;
    if (state === ProjectorState.live || state === ProjectorState.catchingUp) {
      this.log(
        `projector ${this.name}: ${projectorStateName(state)} at seq ${this.checkpoint} (journal at ${this.endSeq})`,
      );
    }
    this.currentState = state;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.step();
      } catch (error) {
        if (this.stopping) break;
        if (!isRetriable(error)) {
          this.haltError = error instanceof Error ? error : new Error(String(error));
          this.currentState = ProjectorState.halted;
          this.log(
            `projector ${this.name}: halted at seq ${this.checkpoint} on ${this.store.location}: ${errorText(error)} ` +
              '(not retriable: fix the cause and restart; the checkpoint is intact)',
          );
          this.opened = false;
          await this.store.close();
          return;
        }
        this.counters.retries++;
        this.retryError = error instanceof Error ? error : new Error(String(error));
        const failures = ++this.counters.consecutiveFailures;
        const delayMs = this.backoffMs();
        // A store down for an hour should not write a line every few seconds: the first few, then every tenth.
        if (failures <= 3 || failures % 10 === 0) {
          this.log(`projector ${this.name}: ${errorText(error)}; retry ${failures} in ${delayMs} ms`);
        }
        this.opened = false;
        await this.store.close();
        await this.sleep(delayMs);
      }
    }
    this.opened = false;
    await this.store.close();
    this.currentState = ProjectorState.stopped;
  }

  /** One turn: open if needed, then read and apply one slice, or wait when there is nothing to read. */
  private async step(): Promise<void> {
    if (!this.opened) {
      this.checkpoint = await this.store.open();
      this.opened = true;
      if (this.counters.consecutiveFailures > 0) {
        this.log(
          `projector ${this.name}: ${this.store.location} is back after ${this.counters.consecutiveFailures} retries; resuming at seq ${this.checkpoint}`,
        );
      }
      this.counters.consecutiveFailures = 0;
      this.endSeq = Math.max(this.endSeq, this.checkpoint);
    }
    const readRecordsMax = this.limits.readRecordsMax;
    let toSeq = this.checkpoint + readRecordsMax;
    if (this.durableSeq !== null) {
      this.endSeq = this.durableSeq();
      if (this.checkpoint >= this.endSeq) return this.idle();
      toSeq = Math.min(toSeq, this.endSeq);
    } else if (!(await this.readerCall(() => this.reader.mayHaveRecordsAfter(this.checkpoint)))) {
      return this.idle();
    }

    const events: ProjectedEvent[] = [];
    const scanStartedMs = performance.now();
    const last = await this.readerCall(() =>
      this.reader.scan(
        this.checkpoint + 1,
        (seq, type, atMs, bytes, offset, length) => {
          events.push(decodeEvent(seq, type, atMs, bytes, offset, length));
        },
        { toSeq },
      ),
    );
    const scanMs = performance.now() - scanStartedMs;
    if (events.length === 0) return this.idle(scanMs);
    const reachedEnd = last < toSeq || (this.durableSeq !== null && last >= this.endSeq);
    if (last < toSeq) this.endSeq = Math.max(this.endSeq, last);
    else await this.probeEnd(last);
    this.oldestUnappliedAtMs = events[0]!.atMs;
    this.updateState();

    const batchEventsMax = this.limits.batchEventsMax;
    for (let from = 0; from < events.length && !this.stopping; from += batchEventsMax) {
      const batch = events.slice(from, from + batchEventsMax);
      const startedMs = performance.now();
      await this.store.apply(batch, this.checkpoint);
      this.counters.lastBatchMs = Math.round((performance.now() - startedMs) * 1000) / 1000;
      this.checkpoint = batch[batch.length - 1]!.seq;
      this.counters.consecutiveFailures = 0;
      this.counters.eventsApplied += batch.length;
      this.counters.batchesApplied++;
      this.counters.lastBatchEvents = batch.length;
      this.oldestUnappliedAtMs = events[from + batchEventsMax]?.atMs ?? null;
      this.updateState();
    }
    // At the end of the journal: let records accumulate before the next scan re-reads the segment.
    if (reachedEnd) await this.sleep(this.tailWaitMs(scanMs));
  }

  /** How long to wait at the journal's end before the next scan (readDutyPercentMax). */
  private tailWaitMs(scanMs: number): number {
    const { pollIntervalMs, readDutyPercentMax } = this.limits;
    return Math.max(pollIntervalMs, Math.ceil(scanMs * (100 / readDutyPercentMax - 1)));
  }

  /** Journal errors are not the store's: a pruned or corrupt journal halts, whatever the store does. */
  private async readerCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (isRetriable(error)) throw error;
      throw new ProjectionError(
        ProjectionErrorCode.journalUnreadable,
        `reading the journal after seq ${this.checkpoint}: ${errorText(error)}`,
        { cause: error },
      );
    }
  }

  /** Where the journal ends, asked at most every lagProbeIntervalMs while catching up (for the lag metric). */
  private async probeEnd(atLeast: number): Promise<void> {
    this.endSeq = Math.max(this.endSeq, atLeast);
    if (this.durableSeq !== null) return;
    const nowMs = Date.now();
    if (nowMs - this.lastLagProbeMs < this.limits.lagProbeIntervalMs) return;
    this.lastLagProbeMs = nowMs;
    this.endSeq = Math.max(this.endSeq, await this.readerCall(() => this.reader.lastSeq()));
  }

  private updateState(): void {
    const behind = this.endSeq - this.checkpoint;
    this.setState(behind > this.limits.batchEventsMax ? ProjectorState.catchingUp : ProjectorState.live);
  }

  private async idle(scanMs = 0): Promise<void> {
    this.endSeq = Math.max(this.endSeq, this.checkpoint);
    this.oldestUnappliedAtMs = null;
    this.setState(ProjectorState.live);
    await this.sleep(this.tailWaitMs(scanMs));
  }
}
