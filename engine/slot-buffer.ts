/**
 * A SlotSink over plain memory that grows when full: for the simulator,
 * replay checks and single-thread benchmarks, where there is no other thread
 * to wait for. `reset()` empties it without freeing. Not for the engine
 * thread's hot path with a consumer (that is a ring: engine/ring.ts).
 */
import type { SlotSink } from './processor.ts';

export class SlotBuffer implements SlotSink {
  readonly slotWords: number;
  words: Int32Array;
  f64: Float64Array;
  /** Slots written since the last reset. */
  count = 0;

  constructor(slotWords: number, slotCountInitial = 64) {
    if (slotWords % 2 !== 0) throw new RangeError('slotWords must be even (Float64 fields)');
    this.slotWords = slotWords;
    this.words = new Int32Array(slotWords * slotCountInitial);
    this.f64 = new Float64Array(this.words.buffer);
  }

  claim(): number {
    const at = this.count * this.slotWords;
    if (at + this.slotWords > this.words.length) {
      const grown = new Int32Array(this.words.length * 2);
      grown.set(this.words);
      this.words = grown;
      this.f64 = new Float64Array(grown.buffer);
    }
    this.count++;
    return at;
  }

  /** Word offset of slot i (i < count). */
  slotOffset(i: number): number {
    return i * this.slotWords;
  }

  reset(): void {
    this.count = 0;
  }
}
