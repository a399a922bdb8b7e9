/**
 * Applies journal records (event payloads as little-endian bytes) to a state:
 * the recovery and replay path. Copies each payload into an aligned scratch
 * (event-view.ts PayloadScratch) so evolve() reads it through the same
 * Int32/Float64 views as on the live path. Allocation-free per record.
 */

import { PayloadScratch } from './event-view.ts';
import { evolve } from './evolve.ts';
import type { EngineState } from './state.ts';

export class EventApplier {
  state: EngineState;
  private readonly scratch = new PayloadScratch();

  constructor(state: EngineState) {
    this.state = state;
  }

  apply(seq: number, type: number, atMs: number, bytes: Uint8Array, offset: number, length: number): void {
    const scratch = this.scratch;
    if (!scratch.fits(length)) {
      throw new Error(`event ${seq}: payload of ${length} bytes does not fit the event layout`);
    }
    scratch.load(bytes, offset, length);
    evolve(this.state, type, seq, atMs, scratch.words, scratch.f64, 0);
  }
}
