/**
 * A 64-bit fingerprint (16 hex digits) of the logical engine state: the
 * defining check of recovery is that snapshot + journal replay reaches the
 * same hash as the live engine. Walks every hashed array of stateArrays()
 * word by word (two independent Math.imul lanes); scalars are hashed by name,
 * leaving out the clock and the wheel cursor, which only say how far a
 * Tick got, not what the state is.
 */
import { type EngineState, Scalar, stateArrays } from './state.ts';

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
  for (const { array, hashed } of stateArrays(state)) {
    if (!hashed) continue;
    const bytes = array.byteLength;
    const words = new Int32Array(array.buffer, array.byteOffset, bytes >> 2);
    for (let i = 0; i < words.length; i++) mix(words[i]!);
    // Byte arrays need not be a multiple of four long.
    const tail = new Uint8Array(array.buffer, array.byteOffset + (words.length << 2), bytes & 3);
    for (let i = 0; i < tail.length; i++) mix(tail[i]!);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
