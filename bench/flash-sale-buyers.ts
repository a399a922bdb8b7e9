/**
 * Who the flash-sale benchmark's buyers are and what each one does, decided
 * from the seed and the buyer id alone: every client worker, every baseline
 * and every rerun with the same --seed agree without sharing any state.
 *
 *   which SKU    one SKU, or with --skus N a Zipf(1) choice: SKU k wanted in
 *                proportion to 1/k, so the first is the hot one
 *   reserved ->  pays (the sandbox provider then accepts or declines, at the
 *                --pay : --decline ratio) or abandons (keeps the reservation
 *                until the engine's order TTL returns it)
 *
 * Pure functions; runs on any thread.
 */

/** Shares of the buyers who get a reservation; they sum to 1. */
export interface BuyerShares {
  pay: number;
  decline: number;
  abandon: number;
}

/** A uniform number in [0, 1) from (buyerId, seed, salt): a cheap integer hash, no state. */
export function buyerUnit(buyerId: number, seed: number, salt: number): number {
  let h = Math.imul(buyerId ^ Math.imul(salt, 0x85ebca6b), 0x9e3779b1) ^ seed;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

const saltSku = 1;
const saltPays = 2;

export class BuyerPlan {
  readonly seed: number;
  readonly skuCount: number;
  /** Buyers who reserve and then start a payment (the rest abandon). */
  readonly payAttemptShare: number;
  /** Cumulative Zipf(1) weights, last = 1. */
  private readonly skuCumulative: Float64Array;

  constructor(seed: number, skuCount: number, shares: BuyerShares) {
    if (!Number.isSafeInteger(skuCount) || skuCount < 1)
      throw new RangeError(`skuCount must be >= 1, got ${skuCount}`);
    this.seed = seed >>> 0;
    this.skuCount = skuCount;
    this.payAttemptShare = shares.pay + shares.decline;
    this.skuCumulative = new Float64Array(skuCount);
    let total = 0;
    for (let k = 1; k <= skuCount; k++) total += 1 / k;
    let running = 0;
    for (let k = 1; k <= skuCount; k++) {
      running += 1 / k / total;
      this.skuCumulative[k - 1] = running;
    }
    this.skuCumulative[skuCount - 1] = 1;
  }

  /** 0-based index of the SKU buyer `buyerId` wants. */
  skuIndexOf(buyerId: number): number {
    if (this.skuCount === 1) return 0;
    const u = buyerUnit(buyerId, this.seed, saltSku);
    let low = 0;
    let high = this.skuCount - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.skuCumulative[mid]! > u) high = mid;
      else low = mid + 1;
    }
    return low;
  }

  /** Whether buyer `buyerId`, once holding a reservation, starts a payment (else abandons it). */
  pays(buyerId: number): boolean {
    return buyerUnit(buyerId, this.seed, saltPays) < this.payAttemptShare;
  }
}

/**
 * Units of the warm-up sale's SKU: enough for half its buyers (or the measured sale's stock-to-buyers
 * ratio, if higher), so the reservation path (engine, journal, read model, payments) runs thousands of
 * times before the clock starts, not only the sold-out path. Measured (default sale, 20,000 warm-up
 * buyers): at the sale's ratio the warm-up made 1,000 reservations and the measured sale's reservation
 * phase ran JIT-cold, 24k attempts/s until the sell-out; warmed by 5,000, 33k/s.
 */
export function warmupStock(stock: number, buyers: number, warmupBuyers: number): number {
  return Math.max(1, Math.ceil(warmupBuyers / 2), Math.round((stock * warmupBuyers) / buyers));
}
