/**
 * The parts of a state array that differ from a fresh state's: runs of Int32
 * words, found by one pass over the array against its baseline (state.ts).
 * Snapshots store only these runs and the state hash mixes only these, so
 * both cost little for a store with few orders, SKUs and buyers in use. Not
 * on the hot path (snapshots, start-up, tools).
 *
 * An array whose byteLength is not a multiple of 4 (Uint8Array fields) has a
 * last, partial word: its bytes, zero-extended, compared with a baseline of 0.
 */
import type { StateArray } from './state.ts';

/**
 * Runs closer than this many baseline words are merged into one: a run costs
 * two words of framing in a snapshot, so a gap this short costs no more kept.
 */
const gapWordsMax = 2;

export const wordCountOf = (array: ArrayBufferView): number => Math.ceil(array.byteLength / 4);

/** Word i of the array, the last one zero-extended when partial. */
export function wordAt(array: ArrayBufferView, i: number): number {
  const whole = array.byteLength >> 2;
  if (i < whole) return new Int32Array(array.buffer, array.byteOffset + i * 4, 1)[0]!;
  const bytes = new Uint8Array(array.buffer, array.byteOffset + whole * 4, array.byteLength & 3);
  let word = 0;
  for (let k = 0; k < bytes.length; k++) word |= bytes[k]! << (8 * k);
  return word;
}

/**
 * Calls visit(startWord, endWord) for each run [start, end) holding words
 * that differ from the baseline, in order; 'whole' arrays are one run.
 */
export function forEachChangedRun(entry: StateArray, visit: (start: number, end: number) => void): void {
  const { array, baseline } = entry;
  const wordCount = wordCountOf(array);
  if (baseline === 'whole') {
    if (wordCount > 0) visit(0, wordCount);
    return;
  }
  const whole = array.byteLength >> 2;
  if (whole < wordCount && baseline !== 0)
    throw new RangeError(`state array ${entry.name}: a partial last word needs a baseline of 0`);
  const words = new Int32Array(array.buffer, array.byteOffset, whole);
  let start = -1;
  let last = -2 - gapWordsMax;
  const changed = (i: number): void => {
    if (i - last > gapWordsMax + 1) {
      if (start >= 0) visit(start, last + 1);
      start = i;
    }
    last = i;
  };
  // Two loops rather than one with a per-word test of the baseline's kind: this pass is the cost of a snapshot.
  if (baseline === 'descending') {
    for (let i = 0; i < whole; i++) if (words[i] !== whole - 1 - i) changed(i);
  } else if (baseline === 0) {
    // Eight words at a time while they are all zero: most of a store's capacity is, and this pass
    // over it is what a snapshot or hash of a small store costs (measured 2x faster than word by word).
    const blocks = whole & ~7;
    for (let i = 0; i < blocks; i += 8) {
      if (
        (words[i]! |
          words[i + 1]! |
          words[i + 2]! |
          words[i + 3]! |
          words[i + 4]! |
          words[i + 5]! |
          words[i + 6]! |
          words[i + 7]!) ===
        0
      )
        continue;
      for (let k = i; k < i + 8; k++) if (words[k] !== 0) changed(k);
    }
    for (let i = blocks; i < whole; i++) if (words[i] !== 0) changed(i);
  } else {
    const fill = baseline | 0;
    for (let i = 0; i < whole; i++) if (words[i] !== fill) changed(i);
  }
  if (whole < wordCount && wordAt(array, whole) !== 0) changed(whole);
  if (start >= 0) visit(start, last + 1);
}
