/**
 * Fixed-capacity hash index from a key of three Int32 words to an Int32 value
 * (an index into some other struct-of-arrays). Open addressing, linear
 * probing, backward-shift deletion (no tombstones, so probe lengths stay short
 * under churn). Runs on the engine thread; allocates only in the constructor.
 *
 * Each bucket is four adjacent words [key0, key1, key2, value + 1] in one
 * Int32Array, so a probe touches one cache line: the tables are far larger
 * than the CPU cache and an array per field cost four misses per lookup
 * (measured: engine.apply went from 1.6 M to N M commands/s with this layout).
 *
 * The table has at least twice as many buckets as entriesMax, so the load
 * factor never passes 1/2; `set` on a full index is a programmer error (the
 * caller checks `size < entriesMax` and refuses with a coded result first).
 */
const bucketWords = 4;
const K0 = 0;
const K1 = 1;
const K2 = 2;
/** value + 1, so 0 marks an empty bucket. */
const V = 3;

export class IntHashIndex {
  readonly entriesMax: number;
  private readonly mask: number;
  private readonly buckets: Int32Array;
  /** Entry count in a one-element array, so snapshots carry it with the buckets. */
  private readonly sizeCell = new Int32Array(1);

  constructor(entriesMax: number) {
    this.entriesMax = entriesMax;
    let bucketCount = 2;
    while (bucketCount < entriesMax * 2) bucketCount *= 2;
    this.mask = bucketCount - 1;
    this.buckets = new Int32Array(bucketCount * bucketWords);
  }

  get size(): number {
    return this.sizeCell[0]!;
  }

  /** Bytes held by the index (for the memory benchmark). */
  get byteLength(): number {
    return this.buckets.byteLength;
  }

  private home(k0: number, k1: number, k2: number): number {
    // Murmur3-style mixing: SKU ids and order serials are dense, so spread them.
    let h = Math.imul(k0 ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ k1, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16) ^ k2, 0x85ebca6b);
    return (h ^ (h >>> 15)) & this.mask;
  }

  /** The value stored for the key, or -1. */
  get(k0: number, k1: number, k2: number): number {
    const b = this.buckets;
    let i = this.home(k0, k1, k2);
    for (;;) {
      const at = i * bucketWords;
      const v = b[at + V]!;
      if (v === 0) return -1;
      if (b[at + K0] === k0 && b[at + K1] === k1 && b[at + K2] === k2) return v - 1;
      i = (i + 1) & this.mask;
    }
  }

  /** Inserts or overwrites. The value must be a non-negative Int32 below 2^31 - 1. */
  set(k0: number, k1: number, k2: number, value: number): void {
    this.put(k0, k1, k2, value, true);
  }

  /** Removes the key if present; returns whether it was. */
  delete(k0: number, k1: number, k2: number): boolean {
    const b = this.buckets;
    const mask = this.mask;
    let i = this.home(k0, k1, k2);
    for (;;) {
      const at = i * bucketWords;
      if (b[at + V] === 0) return false;
      if (b[at + K0] === k0 && b[at + K1] === k1 && b[at + K2] === k2) break;
      i = (i + 1) & mask;
    }
    // Backward shift: pull later entries of the same probe run into the hole.
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const at = j * bucketWords;
      if (b[at + V] === 0) break;
      const home = this.home(b[at + K0]!, b[at + K1]!, b[at + K2]!);
      // Entry j may move to the hole only if its home is not in (hole, j] cyclically.
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (inRange) continue;
      b.copyWithin(hole * bucketWords, at, at + bucketWords);
      hole = j;
    }
    b[hole * bucketWords + V] = 0;
    this.sizeCell[0] = this.sizeCell[0]! - 1;
    return true;
  }

  /** Buckets in the table: copyBucketsInto walks them a few at a time. */
  get bucketCount(): number {
    return this.mask + 1;
  }

  /**
   * Copies the entries of buckets [from, to) into `into`, except keys `into`
   * already holds (set there since: the newer value). Moves a table to a
   * larger one a slice at a time (projections/embedded/growing-index.ts).
   */
  copyBucketsInto(into: IntHashIndex, from: number, to: number): void {
    const b = this.buckets;
    for (let at = from * bucketWords; at < to * bucketWords; at += bucketWords) {
      const v = b[at + V]!;
      if (v === 0) continue;
      const k0 = b[at + K0]!;
      const k1 = b[at + K1]!;
      const k2 = b[at + K2]!;
      into.put(k0, k1, k2, v - 1, false);
    }
  }

  /** Inserts the key, or (`overwrite`) gives it the new value; one probe run either way. */
  private put(k0: number, k1: number, k2: number, value: number, overwrite: boolean): void {
    const b = this.buckets;
    let i = this.home(k0, k1, k2);
    for (;;) {
      const at = i * bucketWords;
      const v = b[at + V]!;
      if (v === 0) {
        if (this.sizeCell[0]! >= this.entriesMax) throw new Error('IntHashIndex: set on a full index');
        b[at + K0] = k0;
        b[at + K1] = k1;
        b[at + K2] = k2;
        b[at + V] = value + 1;
        this.sizeCell[0] = this.sizeCell[0]! + 1;
        return;
      }
      if (b[at + K0] === k0 && b[at + K1] === k1 && b[at + K2] === k2) {
        if (overwrite) b[at + V] = value + 1;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** Calls visit(key0, key1, key2, value) for every entry (not on the hot path). */
  forEach(visit: (k0: number, k1: number, k2: number, value: number) => void): void {
    const b = this.buckets;
    for (let at = 0; at < b.length; at += bucketWords) {
      const v = b[at + V]!;
      if (v !== 0) visit(b[at + K0]!, b[at + K1]!, b[at + K2]!, v - 1);
    }
  }

  /** The raw arrays, for snapshots and the state hash. */
  arrays(): Int32Array[] {
    return [this.buckets, this.sizeCell];
  }
}

/**
 * A 32-bit hash of `count` words from `at`, one of a family chosen by `seed`:
 * three seeds give a 96-bit key for IntHashIndex (payment references, where
 * two different references sharing all 96 bits is not a practical concern).
 */
export function wordsHash(words: Int32Array, at: number, count: number, seed: number): number {
  let h = Math.imul(seed ^ count, 0x9e3779b1);
  for (let i = 0; i < count; i++) {
    h = Math.imul(h ^ words[at + i]!, 0xcc9e2d51);
    h = Math.imul((h << 15) | (h >>> 17), 0x1b873593);
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Splits a non-negative integer below 2^53 into two Int32 key words. */
export const highWord = (n: number): number => Math.floor(n / 4294967296) | 0;
export const lowWord = (n: number): number => n | 0;
