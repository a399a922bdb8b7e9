/**
 * Feeds durable events to the gateway thread: first the journal as it is on
 * disk (start-up), then the journal thread's notify ring as commits happen.
 * Each event goes to the embedded read model; order changes go on to the
 * listener (WebSocket pushes). Runs on the gateway's event loop, woken by
 * the durable cursor, after the commit's answers have gone out, and never
 * blocks it for long: at most `eventsPerTurnMax` events per turn. Whoever
 * needs the model current now (a payment, a subscription, a retried order)
 * calls drain() first.
 */

import { EventType } from '../engine/codes.ts';
import type { ControlBlock } from '../engine/control-block.ts';
import { EventSlot, OrderForgotten } from '../engine/layout.ts';
import type { RingConsumer } from '../engine/ring.ts';
import type { JournalReader } from '../journal/journal-backend.ts';
import type { EmbeddedReadModel, OrderChange } from '../projections/embedded-read-model.ts';

const eventsPerTurnMax = 8192;

export class DurableEventFeed {
  private readonly notify: RingConsumer;
  private readonly control: ControlBlock;
  private readonly model: EmbeddedReadModel;
  private readonly onChange: (change: OrderChange) => void;
  private readonly onForgotten: (orderId: number) => void;
  private running = false;
  private stopped: Promise<void> = Promise.resolve();
  /** Scratch for journal records during the start-up scan. */
  private readonly scratchWords = new Int32Array(EventSlot.words);
  private readonly scratchF64 = new Float64Array(this.scratchWords.buffer);
  private readonly scratchBytes = new Uint8Array(this.scratchWords.buffer);

  constructor(
    notify: RingConsumer,
    control: ControlBlock,
    model: EmbeddedReadModel,
    onChange: (change: OrderChange) => void,
    /** The engine forgot an order: nothing about it will change or be answered any more. */
    onForgotten: (orderId: number) => void,
  ) {
    this.notify = notify;
    this.control = control;
    this.model = model;
    this.onChange = onChange;
    this.onForgotten = onForgotten;
  }

  /** Applies every durable record already in the journal (before gateways listen). */
  async catchUp(reader: JournalReader): Promise<number> {
    const toSeq = this.control.durableSeq;
    if (toSeq <= this.model.lastSeq) return 0;
    let applied = 0;
    await reader.scan(
      this.model.lastSeq + 1,
      (seq, type, atMs, bytes, offset, length) => {
        for (let i = 0; i < length; i++) this.scratchBytes[i] = bytes[offset + i]!;
        this.model.apply(type, seq, atMs, this.scratchWords, this.scratchF64, 0);
        applied++;
      },
      { toSeq },
    );
    return applied;
  }

  /** Drains what the notify ring holds now; returns how many events. */
  drain(): number {
    const ring = this.notify;
    const count = ring.available(eventsPerTurnMax);
    for (let i = 0; i < count; i++) {
      const at = ring.slotOffset(i);
      const type = ring.words[at + EventSlot.type]!;
      const change = this.model.apply(
        type,
        ring.f64[(at + EventSlot.seq) >> 1]!,
        ring.f64[(at + EventSlot.atMs) >> 1]!,
        ring.words,
        ring.f64,
        at + EventSlot.payload,
      );
      if (change !== null) this.onChange(change);
      else if (type === EventType.orderForgotten)
        this.onForgotten(ring.f64[(at + EventSlot.payload + OrderForgotten.orderId) >> 1]!);
    }
    if (count > 0) ring.release(count);
    return count;
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
    this.drain();
  }
}
