/**
 * Fixed-capacity hash index from a key of three Int32 words to an Int32 value
 * (an index into some other struct-of-arrays). Open addressing, linear
 * probing, backward-shift deletion (no tombstones, so probe lengths stay short
 * under churn). Runs on the engine thread; allocates only in the constructor.
 *
 * The table has at least twice as many buckets as entriesMax, so the load
 * factor never passes 1/2; `set` on a full index is a programmer error (the
 * caller checks `size < entriesMax` and refuses with a coded result first).
 */
export class IntHashIndex {
  readonly entriesMax: number;
  private readonly mask: number;
  private readonly key0: Int32Array;
  private readonly key1: Int32Array;
  private readonly key2: Int32Array;
  /** value + 1, so 0 marks an empty bucket without a separate array. */
  private readonly valuePlusOne: Int32Array;
  /** Entry count in a one-element array, so snapshots carry it with the buckets. */
  private readonly sizeCell = new Int32Array(1);

  constructor(entriesMax: number) {
    this.entriesMax = entriesMax;
    let buckets = 2;
    while (buckets < entriesMax * 2) buckets *= 2;
    this.mask = buckets - 1;
    this.key0 = new Int32Array(buckets);
    this.key1 = new Int32Array(buckets);
    this.key2 = new Int32Array(buckets);
    this.valuePlusOne = new Int32Array(buckets);
  }

  get size(): number {
    return this.sizeCell[0]!;
  }

  /** Bytes held by the index (for the memory benchmark). */
  get byteLength(): number {
    return this.key0.byteLength * 4;
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
    let i = this.home(k0, k1, k2);
    for (;;) {
      const v = this.valuePlusOne[i]!;
      if (v === 0) return -1;
      if (this.key0[i] === k0 && this.key1[i] === k1 && this.key2[i] === k2) return v - 1;
      i = (i + 1) & this.mask;
    }
  }

  /** Inserts or overwrites. The value must be a non-negative Int32 below 2^31 - 1. */
  set(k0: number, k1: number, k2: number, value: number): void {
    let i = this.home(k0, k1, k2);
    for (;;) {
      const v = this.valuePlusOne[i]!;
      if (v === 0) {
        if (this.sizeCell[0]! >= this.entriesMax) throw new Error('IntHashIndex: set on a full index');
        this.key0[i] = k0;
        this.key1[i] = k1;
        this.key2[i] = k2;
        this.valuePlusOne[i] = value + 1;
        this.sizeCell[0] = this.sizeCell[0]! + 1;
        return;
      }
      if (this.key0[i] === k0 && this.key1[i] === k1 && this.key2[i] === k2) {
        this.valuePlusOne[i] = value + 1;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** Removes the key if present; returns whether it was. */
  delete(k0: number, k1: number, k2: number): boolean {
    const mask = this.mask;
    let i = this.home(k0, k1, k2);
    for (;;) {
      if (this.valuePlusOne[i] === 0) return false;
      if (this.key0[i] === k0 && this.key1[i] === k1 && this.key2[i] === k2) break;
      i = (i + 1) & mask;
    }
    // Backward shift: pull later entries of the same probe run into the hole.
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (this.valuePlusOne[j] === 0) break;
      const home = this.home(this.key0[j]!, this.key1[j]!, this.key2[j]!);
      // Entry j may move to the hole only if its home is not in (hole, j] cyclically.
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (inRange) continue;
      this.key0[hole] = this.key0[j]!;
      this.key1[hole] = this.key1[j]!;
      this.key2[hole] = this.key2[j]!;
      this.valuePlusOne[hole] = this.valuePlusOne[j]!;
      hole = j;
    }
    this.valuePlusOne[hole] = 0;
    this.sizeCell[0] = this.sizeCell[0]! - 1;
    return true;
  }

  /** The raw arrays, for snapshots; `restore` puts them back. */
  arrays(): Int32Array[] {
    return [this.key0, this.key1, this.key2, this.valuePlusOne, this.sizeCell];
  }
}

/** Splits a non-negative integer below 2^53 into two Int32 key words. */
export const highWord = (n: number): number => Math.floor(n / 4294967296) | 0;
export const lowWord = (n: number): number => n | 0;
