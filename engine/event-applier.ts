/**
 * Applies journal records (event payloads as little-endian bytes) to a state:
 * the recovery and replay path. Copies each payload into an aligned scratch
 * slot so evolve() reads it through the same Int32/Float64 views as on the
 * live path; words past a record's end read as zero. Allocation-free per record.
 */

import { evolve } from './evolve.ts';
import { eventPayloadWordsMax } from './layout.ts';
import type { EngineState } from './state.ts';

export class EventApplier {
  state: EngineState;
  private readonly scratchWords = new Int32Array(eventPayloadWordsMax);
  private readonly scratchF64 = new Float64Array(this.scratchWords.buffer);
  private readonly scratchBytes = new Uint8Array(this.scratchWords.buffer);
  /** Bytes the last payload left in scratch. */
  private scratchUsedBytes = 0;

  constructor(state: EngineState) {
    this.state = state;
  }

  apply(seq: number, type: number, atMs: number, bytes: Uint8Array, offset: number, length: number): void {
    if (length > this.scratchBytes.length || (length & 3) !== 0) {
      throw new Error(`event ${seq}: payload of ${length} bytes does not fit the event layout`);
    }
    const scratch = this.scratchBytes;
    for (let i = 0; i < length; i++) scratch[i] = bytes[offset + i]!;
    // A record of an older, shorter layout reads zero in the fields added since, not the last record's words.
    for (let i = length; i < this.scratchUsedBytes; i++) scratch[i] = 0;
    this.scratchUsedBytes = length;
    evolve(this.state, type, seq, atMs, this.scratchWords, this.scratchF64, 0);
  }
}
