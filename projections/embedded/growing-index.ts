/**
 * An IntHashIndex that doubles without a stall. Growing moves the entries to
 * a table twice the size; done in one go it stopped the gateway thread for
 * as long as the read model's order table took to rebuild its indexes
 * (measured: 20–37 ms at 65,536 orders, 114–147 ms at 262,144, 249–299 ms at
 * 524,288). Here the new table takes every new entry at once and the old one
 * is moved over a few buckets per call of step(), while reads look in both
 * (the new one first: it holds the newer value of a key set since).
 *
 * Deleting from an index still being moved would need both tables to agree
 * on the key's absence: delete() finishes the move first, so call step()
 * often enough that the move is long over by the first delete (OrderTable:
 * it deletes only once full, and the move ends well before that).
 */
import { IntHashIndex } from '../../engine/int-hash.ts';

export class GrowingIndex {
  #index: IntHashIndex;
  /** The table being moved into #index, or null. */
  #moving: IntHashIndex | null = null;
  /** The first of #moving's buckets not yet moved. */
  #movedBuckets = 0;

  constructor(entriesMax: number) {
    this.#index = new IntHashIndex(entriesMax);
  }

  /** Whether a move is under way (for tests). */
  get moving(): boolean {
    return this.#moving !== null;
  }

  /** The value stored for the key, or -1. */
  get(k0: number, k1: number, k2: number): number {
    const value = this.#index.get(k0, k1, k2);
    if (value !== -1 || this.#moving === null) return value;
    return this.#moving.get(k0, k1, k2);
  }

  /** Inserts or overwrites (an entry not yet moved is shadowed: the move skips it). */
  set(k0: number, k1: number, k2: number, value: number): void {
    this.#index.set(k0, k1, k2, value);
  }

  /** Removes the key if present; returns whether it was. Finishes a move first. */
  delete(k0: number, k1: number, k2: number): boolean {
    this.finish();
    return this.#index.delete(k0, k1, k2);
  }

  /**
   * Starts moving to a table for `entriesMax` entries (finishing a move still under way). The old
   * table's entries count against the new one's entriesMax as they arrive, so it must hold them all.
   */
  grow(entriesMax: number): void {
    this.finish();
    this.#moving = this.#index;
    this.#index = new IntHashIndex(entriesMax);
    this.#movedBuckets = 0;
  }

  /** Moves `buckets` more of the old table's buckets; ends the move after the last. */
  step(buckets: number): void {
    const moving = this.#moving;
    if (moving === null) return;
    const to = Math.min(this.#movedBuckets + buckets, moving.bucketCount);
    moving.copyBucketsInto(this.#index, this.#movedBuckets, to);
    this.#movedBuckets = to;
    if (to === moving.bucketCount) this.#moving = null;
  }

  finish(): void {
    if (this.#moving !== null) this.step(this.#moving.bucketCount);
  }
}
