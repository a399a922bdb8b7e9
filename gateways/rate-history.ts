/**
 * The recent history of place answers and orders, per second, for the
 * dashboard's chart: a page that loads mid-sale draws the last two minutes
 * at once instead of starting empty and filling as it polls.
 *
 * Runs on the gateway thread; `record` is on the checkout hot path, so it
 * never allocates: two fixed rings of slot counts, a slot reused by zeroing
 * it, rotated lazily when a record or a read sees that time has moved on
 * (no timer). The slot filling now is left out of a read: its count is
 * partial, and would draw as a drop at the right edge.
 */

export interface RateHistoryReading {
  slotMs: number;
  /** One per complete slot, oldest first; the newest ended at most slotMs ago. */
  placesPerSecond: number[];
  ordersPerSecond: number[];
}

export class RateHistory {
  readonly slotMs: number;
  readonly slotCount: number;
  private readonly places: Float64Array;
  private readonly orders: Float64Array;
  private slot = 0;
  private slotStartMs: number;

  /** `slotCount` complete slots are kept (one more fills); `nowMs` is the clock record and read are given. */
  constructor(options: { slotMs: number; slotCount: number; nowMs: number }) {
    if (!(options.slotMs > 0)) throw new RangeError(`slotMs must be > 0, got ${options.slotMs}`);
    if (!(Number.isInteger(options.slotCount) && options.slotCount >= 1))
      throw new RangeError(`slotCount must be an integer >= 1, got ${options.slotCount}`);
    this.slotMs = options.slotMs;
    this.slotCount = options.slotCount;
    this.places = new Float64Array(options.slotCount + 1);
    this.orders = new Float64Array(options.slotCount + 1);
    this.slotStartMs = options.nowMs;
  }

  record(places: number, orders: number, nowMs: number): void {
    this.advance(nowMs);
    this.places[this.slot]! += places;
    this.orders[this.slot]! += orders;
  }

  read(nowMs: number): RateHistoryReading {
    this.advance(nowMs);
    const ring = this.slotCount + 1;
    const perSecond = 1000 / this.slotMs;
    const placesPerSecond = new Array<number>(this.slotCount);
    const ordersPerSecond = new Array<number>(this.slotCount);
    for (let i = 0; i < this.slotCount; i++) {
      const slot = (this.slot + 1 + i) % ring; // oldest complete slot first, the filling one last (left out)
      placesPerSecond[i] = this.places[slot]! * perSecond;
      ordersPerSecond[i] = this.orders[slot]! * perSecond;
    }
    return { slotMs: this.slotMs, placesPerSecond, ordersPerSecond };
  }

  private advance(nowMs: number): void {
    const elapsed = Math.floor((nowMs - this.slotStartMs) / this.slotMs);
    if (elapsed <= 0) return;
    const ring = this.slotCount + 1;
    for (let i = Math.min(elapsed, ring); i > 0; i--) {
      this.slot = (this.slot + 1) % ring;
      this.places[this.slot] = 0;
      this.orders[this.slot] = 0;
    }
    this.slotStartMs += elapsed * this.slotMs;
  }
}
