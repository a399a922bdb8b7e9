/**
 * The place requests the engine refused before creating an order and
 * remembers (every refusal but soldOut and insufficientStock, engine/evolve.ts),
 * as the edge's sold-out check needs them: a resend of such a request must
 * reach the engine and get its first refusal, not the edge's SOLD_OUT. Fed by
 * orderRefused events; a bounded FIFO (the oldest forgotten first: a resend
 * older than the window at a sold-out SKU gets SOLD_OUT, `mayReturn`).
 * Gateway thread; allocates only in the constructor.
 */
import { isStockRefusal } from '../../engine/codes.ts';
import { highWord, IntHashIndex, lowWord } from '../../engine/int-hash.ts';

const buyerHashBits = 16;
const buyerHash = (buyerId: number): number => Math.imul(buyerId | 0, 0x9e3779b1) >>> (32 - buyerHashBits);
/** A bucket count that reached this stays (never decremented): the shortcut is lost there, never an answer. */
const buyerHashStuck = 255;

export class RefusedRequests {
  readonly entriesMax: number;
  readonly #index: IntHashIndex;
  readonly #buyerId: Int32Array;
  readonly #requestId: Float64Array;
  /**
   * Refusals held per hash of their buyer, small enough for the CPU cache: the sold-out edge asks for every
   * attempt of a sale, nearly all from buyers with no refusal, and a 0 here answers without the index's
   * cache miss (as OrderTable's ordersOfBuyerHash does for orders).
   */
  readonly #ofBuyerHash = new Uint8Array(1 << buyerHashBits);
  #head = 0;
  #count = 0;

  constructor(entriesMax: number) {
    if (!Number.isInteger(entriesMax) || entriesMax < 1)
      throw new RangeError(`refused requests entriesMax must be a positive integer, got ${entriesMax}`);
    this.entriesMax = entriesMax;
    this.#index = new IntHashIndex(entriesMax);
    this.#buyerId = new Int32Array(entriesMax);
    this.#requestId = new Float64Array(entriesMax);
  }

  get size(): number {
    return this.#count;
  }

  /** An orderRefused event: remembered as the engine remembers it. */
  refused(buyerId: number, requestId: number, code: number): void {
    if (isStockRefusal(code)) return;
    const b = buyerId | 0;
    if (this.#index.get(b, lowWord(requestId), highWord(requestId)) >= 0) return;
    if (this.#count === this.entriesMax) {
      const oldest = this.#head;
      const oldestRequestId = this.#requestId[oldest]!;
      this.#index.delete(this.#buyerId[oldest]!, lowWord(oldestRequestId), highWord(oldestRequestId));
      const hash = buyerHash(this.#buyerId[oldest]!);
      if (this.#ofBuyerHash[hash] !== buyerHashStuck) this.#ofBuyerHash[hash]!--;
      this.#head = oldest + 1 === this.entriesMax ? 0 : oldest + 1;
      this.#count--;
    }
    let entry = this.#head + this.#count;
    if (entry >= this.entriesMax) entry -= this.entriesMax;
    this.#buyerId[entry] = b;
    this.#requestId[entry] = requestId;
    this.#index.set(b, lowWord(requestId), highWord(requestId), entry);
    const hash = buyerHash(b);
    if (this.#ofBuyerHash[hash] !== buyerHashStuck) this.#ofBuyerHash[hash]!++;
    this.#count++;
  }

  has(buyerId: number, requestId: number): boolean {
    if (this.#ofBuyerHash[buyerHash(buyerId)] === 0) return false;
    return this.#index.get(buyerId | 0, lowWord(requestId), highWord(requestId)) >= 0;
  }
}
