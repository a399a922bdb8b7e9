/**
 * Feeds durable events to the gateway thread: first the journal as it is
 * (start-up), then the journal thread's notify ring as commits happen. Each
 * event goes to the embedded read model; order changes go on to the listener
 * (WebSocket pushes). Runs on the gateway's event loop, woken by the durable
 * cursor, after the commit's answers have gone out, and never blocks it for
 * long: at most `eventsPerTurnMax` events per turn from the ring.
 *
 * No gaps. The journal never waits for the notify ring: when it is full, the
 * journal thread drops the event (control.notifyDroppedCount). Sequences are
 * contiguous, so a gap shows as a ring event past the model's next seq, or as
 * an empty ring while the durable cursor is ahead of the model (dropped at the
 * tail). Either way the feed stops taking from the ring and fills the gap
 * from the journal reader, the same scan that catches up at start-up; the
 * ring's events that the fill already covered are then skipped. Whoever needs
 * the model current (a payment, a subscription, a retried order, an order
 * read) calls caughtUp() first and waits when it answers with a promise; the
 * sold-out edge, too hot to wait or allocate, calls catchUpNow().
 */

import { EventType } from '../engine/codes.ts';
import type { ControlBlock } from '../engine/control-block.ts';
import { orderForgottenOrderId } from '../engine/event-view.ts';
import { EventSlot } from '../engine/layout.ts';
import type { RingConsumer } from '../engine/ring.ts';
import type { JournalReader } from '../journal/journal-backend.ts';
import type { EmbeddedReadModel, OrderChange } from '../projections/embedded/read-model.ts';

const eventsPerTurnMax = 8192;
/** How long a reader waits for a gap to be filled before it is answered BUSY (a fill is one journal scan). */
export const caughtUpWaitMsMaxDefault = 5_000;
/** After a failed fill (the journal could not be read), the next attempt waits this long. */
const fillRetryDelayMs = 200;

/**
 * What caughtUp() answers: true when the model holds every event durable at the call; otherwise a promise
 * of true once a gap is filled, or of false when that took longer than the bound (answer BUSY).
 */
export type CaughtUp = true | Promise<boolean>;

export interface DurableEventFeedOptions {
  notify: RingConsumer;
  control: ControlBlock;
  model: EmbeddedReadModel;
  /** The node's journal: the start-up catch-up and every gap fill read it. Opened at the first read. */
  openReader: () => JournalReader;
  onChange: (change: OrderChange) => void;
  /** The engine forgot an order: nothing about it will change or be answered any more. */
  onForgotten: (orderId: number) => void;
  log: (message: string) => void;
  caughtUpWaitMsMax?: number;
}

interface Waiter {
  seq: number;
  resolve: (caughtUp: boolean) => void;
  timer: NodeJS.Timeout;
}

export class DurableEventFeed {
  private readonly options: DurableEventFeedOptions;
  private readonly notify: RingConsumer;
  private readonly control: ControlBlock;
  private readonly model: EmbeddedReadModel;
  private readonly caughtUpWaitMsMax: number;
  private reader: JournalReader | null = null;
  /** The fill in progress; while set, the ring is left alone. */
  private filling: Promise<void> | null = null;
  private fillFailedAtMs = Number.NEGATIVE_INFINITY;
  /** Readers waiting for the model to reach their seq (bounded by the commands and requests in flight). */
  private waiters: Waiter[] = [];
  private running = false;
  private stopped: Promise<void> = Promise.resolve();
  /** Gaps filled from the journal since start (the notify ring overflowed). */
  gapsFilled = 0;
  /** Scratch for journal records (catch-up and fills). */
  private readonly scratchWords = new Int32Array(EventSlot.words);
  private readonly scratchF64 = new Float64Array(this.scratchWords.buffer);
  private readonly scratchBytes = new Uint8Array(this.scratchWords.buffer);

  constructor(options: DurableEventFeedOptions) {
    this.options = options;
    this.notify = options.notify;
    this.control = options.control;
    this.model = options.model;
    this.caughtUpWaitMsMax = options.caughtUpWaitMsMax ?? caughtUpWaitMsMaxDefault;
  }

  /** Applies every durable record already in the journal (before gateways listen); returns how many. */
  async catchUp(): Promise<number> {
    const before = this.model.lastSeq;
    await this.fillFromJournal(this.control.durableSeq);
    return this.model.lastSeq - before;
  }

  /**
   * Applies the durable events not yet in the model. True when it now holds every event durable at the
   * call (the ring is published before the durable cursor moves, so that includes every order whose answer
   * a client has received); else a promise (a gap is being filled from the journal).
   */
  caughtUp(): CaughtUp {
    const durableSeq = this.control.durableSeq;
    this.catchUpNow();
    return this.model.lastSeq >= durableSeq ? true : this.waitFor(durableSeq);
  }

  /**
   * caughtUp() without the wait, for the hot path (the sold-out edge): true when the model holds every
   * event durable at the call; false while a gap is filled (starting the fill). Allocates nothing.
   */
  catchUpNow(): boolean {
    // Read before the ring: every event up to it that the ring holds is visible by then.
    const durableSeq = this.control.durableSeq;
    while (this.filling === null && this.model.lastSeq < durableSeq) {
      if (this.drainRing() === 0) break;
    }
    if (this.model.lastSeq >= durableSeq) return true;
    this.startFill(durableSeq);
    return false;
  }

  /** One turn: drains what the ring holds now (at most eventsPerTurnMax); returns how many events it took. */
  drain(): number {
    const durableSeq = this.control.durableSeq;
    const taken = this.drainRing();
    if (taken === 0 && this.model.lastSeq < durableSeq) this.startFill(durableSeq);
    return taken;
  }

  /** Takes events from the ring in seq order; at a gap starts its fill and stops. Returns events taken. */
  private drainRing(): number {
    if (this.filling !== null) return 0;
    const ring = this.notify;
    const count = ring.available(eventsPerTurnMax);
    let taken = 0;
    for (; taken < count; taken++) {
      const at = ring.slotOffset(taken);
      const seq = ring.f64[(at + EventSlot.seq) >> 1]!;
      if (seq > this.model.lastSeq + 1) {
        this.startFill(seq - 1);
        break;
      }
      if (seq <= this.model.lastSeq) continue; // the fill before read it from the journal already
      this.applyEvent(
        ring.words[at + EventSlot.type]!,
        seq,
        ring.f64[(at + EventSlot.atMs) >> 1]!,
        ring.words,
        ring.f64,
        at + EventSlot.payload,
      );
    }
    if (taken > 0) {
      ring.release(taken);
      this.settleWaiters();
    }
    return taken;
  }

  private applyEvent(
    type: number,
    seq: number,
    atMs: number,
    words: Int32Array,
    f64: Float64Array,
    at: number,
  ): void {
    const change = this.model.apply(type, seq, atMs, words, f64, at);
    if (change !== null) this.options.onChange(change);
    else if (type === EventType.orderForgotten) this.options.onForgotten(orderForgottenOrderId(f64, at));
  }

  /** Starts filling the model from the journal up to at least `toSeq`, unless a fill runs or just failed. */
  private startFill(toSeq: number): void {
    if (this.filling !== null || performance.now() - this.fillFailedAtMs < fillRetryDelayMs) return;
    const fromSeq = this.model.lastSeq + 1;
    this.gapsFilled++;
    this.filling = this.fillFromJournal(Math.max(toSeq, this.control.durableSeq)).then(
      () => {
        this.filling = null;
        this.settleWaiters();
      },
      (error: unknown) => {
        this.filling = null;
        this.fillFailedAtMs = performance.now();
        this.options.log(
          `read model: filling the gap from seq ${fromSeq} from the journal failed (retrying): ${error instanceof Error ? error.message : String(error)}`,
        );
      },
    );
  }

  private async fillFromJournal(toSeq: number): Promise<void> {
    if (toSeq <= this.model.lastSeq) return;
    this.reader ??= this.options.openReader();
    await this.reader.scan(
      this.model.lastSeq + 1,
      (seq, type, atMs, bytes, offset, length) => {
        for (let i = 0; i < length; i++) this.scratchBytes[i] = bytes[offset + i]!;
        this.applyEvent(type, seq, atMs, this.scratchWords, this.scratchF64, 0);
      },
      { toSeq },
    );
  }

  private waitFor(seq: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        seq,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(false);
        }, this.caughtUpWaitMsMax),
      };
      this.waiters.push(waiter);
    });
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    const lastSeq = this.model.lastSeq;
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.seq > lastSeq) still.push(waiter);
      else {
        clearTimeout(waiter.timer);
        waiter.resolve(true);
      }
    }
    this.waiters = still;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = (async () => {
      while (this.running) {
        const epoch = this.control.durableEpoch;
        if (this.drain() > 0) {
          await new Promise((resolve) => setImmediate(resolve)); // let sockets breathe between turns
          continue;
        }
        if (this.filling !== null) {
          await this.filling;
          continue;
        }
        await this.control.waitDurableEpochChange(epoch, 50);
        // Answers first: the command client's pump wakes on the same commit, and its replies (microtasks)
        // go out before this applies the commit's events. Measured: applying a 1,024-event commit took
        // 0.8 ms, and when it ran first every answer of the commit waited for it.
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.stopped;
    const last = this.caughtUp();
    if (last !== true) await last;
    await this.reader?.close();
    this.reader = null;
  }
}
