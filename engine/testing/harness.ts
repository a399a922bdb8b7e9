/**
 * Drives a Processor one command at a time in a single thread, for tests and
 * the simulator: writes the command, applies it, returns the decoded reply,
 * and keeps a copy of every event (as the journal would store it).
 */
import { type CommandInput, writeCommand } from '../commands.ts';
import { CommandSlot, EventSlot, ReplySlot } from '../layout.ts';
import type { EngineLimits } from '../limits.ts';
import { Processor } from '../processor.ts';
import { SlotBuffer } from '../slot-buffer.ts';
import { EngineState } from '../state.ts';

export interface Reply {
  result: number;
  orderId: number;
  status: number;
  skuId: number;
  durableSeqNeeded: number;
  expiresAtMs: number;
  totalMinor: number;
}

export interface RecordedEvent {
  seq: number;
  type: number;
  atMs: number;
  payload: Uint8Array;
}

export class EngineHarness {
  processor: Processor;
  readonly events = new SlotBuffer(EventSlot.words);
  readonly replies = new SlotBuffer(ReplySlot.words, 4);
  readonly command = new SlotBuffer(CommandSlot.words, 1);
  /** Every event emitted since construction (or since the journal was last cut). */
  readonly journal: RecordedEvent[] = [];
  private correlationId = 0;

  constructor(limitsOrState: EngineLimits | EngineState) {
    const state = limitsOrState instanceof EngineState ? limitsOrState : new EngineState(limitsOrState);
    this.processor = new Processor(state, this.events);
  }

  get state(): EngineState {
    return this.processor.state;
  }

  /** Replaces the engine with a recovered state, as a restarted node would. */
  restart(state: EngineState): void {
    this.processor = new Processor(state, this.events);
  }

  run(nowMs: number, input: CommandInput): Reply {
    this.command.reset();
    const at = this.command.claim();
    writeCommand(this.command.words, this.command.f64, at, ++this.correlationId, nowMs, input);
    this.events.reset();
    this.replies.reset();
    this.processor.apply(this.command.words, this.command.f64, at, this.replies);
    for (let i = 0; i < this.events.count; i++) {
      const e = this.events.slotOffset(i);
      const words = this.events.words;
      const payloadWords = words[e + EventSlot.payloadWords]!;
      const start = (e + EventSlot.payload) * 4;
      this.journal.push({
        seq: this.events.f64[(e + EventSlot.seq) >> 1]!,
        type: words[e + EventSlot.type]!,
        atMs: this.events.f64[(e + EventSlot.atMs) >> 1]!,
        payload: new Uint8Array(words.buffer.slice(start, start + payloadWords * 4)),
      });
    }
    const r = this.replies.slotOffset(0);
    const rw = this.replies.words;
    const rf = this.replies.f64;
    if (rw[r + ReplySlot.correlationId] !== this.correlationId)
      throw new Error('reply does not match the command');
    return {
      result: rw[r + ReplySlot.result]!,
      orderId: rf[(r + ReplySlot.orderId) >> 1]!,
      status: rw[r + ReplySlot.status]!,
      skuId: rw[r + ReplySlot.skuId]!,
      durableSeqNeeded: rf[(r + ReplySlot.durableSeqNeeded) >> 1]!,
      expiresAtMs: rf[(r + ReplySlot.expiresAtMs) >> 1]!,
      totalMinor: rf[(r + ReplySlot.totalMinor) >> 1]!,
    };
  }

  /** Events emitted by the last run() (their types, in order). */
  lastEventTypes(): number[] {
    const types: number[] = [];
    for (let i = 0; i < this.events.count; i++)
      types.push(this.events.words[this.events.slotOffset(i) + EventSlot.type]!);
    return types;
  }
}
