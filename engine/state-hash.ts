/**
 * A 64-bit fingerprint (16 hex digits) of the logical engine state: the
 * defining check of recovery is that snapshot + journal replay reaches the
 * same hash as the live engine. Mixes, for every hashed array of
 * stateArrays(), its position and the runs of words that differ from its
 * baseline (engine/state-runs.ts), with two independent Math.imul lanes: the
 * same information as every word, at the cost of the words in use (an empty
 * default state took 0.3 s word by word). Scalars are hashed by name,
 * leaving out the clock and the wheel cursor, which only say how far a
 * Tick got, not what the state is.
 */
import { type EngineState, Scalar, stateArrays } from './state.ts';
import { forEachChangedRun, wordAt } from './state-runs.ts';

const hashedScalars = [
  Scalar.lastSeq,
  Scalar.orderSerialNext,
  Scalar.orderFreeCount,
  Scalar.buyerCount,
  Scalar.pairCount,
  Scalar.requestHead,
  Scalar.requestCount,
] as const;

export function stateHash(state: EngineState): string {
  let a = 0x811c9dc5;
  let b = 0x1b873593;
  const mix = (word: number): void => {
    a = Math.imul(a ^ word, 0x01000193);
    b = Math.imul((b ^ word) + 0x6b43a9b5, 0x5bd1e995);
    b ^= b >>> 15;
  };
  for (const index of hashedScalars) {
    const value = state.scalars[index]!;
    mix(value | 0);
    mix(Math.floor(value / 4294967296) | 0);
  }
  stateArrays(state).forEach((entry, position) => {
    if (!entry.hashed) return;
    mix(position);
    const array = entry.array;
    const whole = array.byteLength >> 2;
    const words = new Int32Array(array.buffer, array.byteOffset, whole);
    forEachChangedRun(entry, (start, end) => {
      mix(start);
      mix(end);
      for (let i = start; i < Math.min(end, whole); i++) mix(words[i]!);
      if (end > whole) mix(wordAt(array, whole));
    });
  });
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
