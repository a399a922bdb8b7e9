/**
 * Place→answer figures over a sliding window, for the live dashboard: how
 * many place requests were answered, how many created an order, and a
 * log-bucketed latency histogram, kept per time slot so old slots fall out.
 *
 * Runs on the gateway thread; `record` is on the checkout hot path, so it
 * never allocates: every array is sized at construction, a slot is reused by
 * zeroing it, and slots rotate lazily when a record or a read sees that time
 * has moved on (no timer to start or stop).
 *
 *   slots (ring, slotMs each):  [ s0 | s1 | s2 | ... | s(n-1) ]
 *                                          ^ current: records land here
 *   per slot: bucketCount latency counters, places, orders
 *
 * Buckets are HDR-like, integer arithmetic only: latencies in whole
 * microseconds; 0..7 µs one bucket each, then every power of two split into
 * 8 sub-buckets, so a bucket's width is at most 1/8 of its lower bound. A
 * quantile is reported as the upper bound of its bucket: at most 12.5% above
 * the true value, never below it.
 */

const subBucketBits = 3;
const subBucketCount = 1 << subBucketBits;
/** Latencies at or above this are counted in the last bucket (about 35 minutes). */
const latencyMicrosMax = 2 ** 31 - 1;
/** Buckets 0..7 are exact; the top exponent of latencyMicrosMax is 30. */
export const latencyBucketCount = (30 - subBucketBits + 2) * subBucketCount;

/** The bucket a latency in microseconds falls in. */
export function latencyBucketOf(latencyMicros: number): number {
  const v = latencyMicros >= latencyMicrosMax ? latencyMicrosMax : latencyMicros > 0 ? latencyMicros | 0 : 0;
  if (v < subBucketCount) return v;
  const exponent = 31 - Math.clz32(v);
  const sub = (v >>> (exponent - subBucketBits)) & (subBucketCount - 1);
  return (exponent - subBucketBits + 1) * subBucketCount + sub;
}

/** The first latency in microseconds above `bucket` (its exclusive upper bound). */
export function latencyBucketUpperMicros(bucket: number): number {
  if (bucket < subBucketCount) return bucket + 1;
  const exponent = (bucket >>> subBucketBits) + subBucketBits - 1;
  const sub = bucket & (subBucketCount - 1);
  return (subBucketCount + sub + 1) * 2 ** (exponent - subBucketBits);
}

export interface PlaceWindowOptions {
  slotMs: number;
  slotCount: number;
  /** The clock the caller will pass to record and read (performance.now()). */
  nowMs: number;
}

export interface PlaceWindowReading {
  /** How much time the figures cover: the window, or less just after start-up. */
  windowMs: number;
  placesPerSecond: number;
  ordersPerSecond: number;
  placeCount: number;
  /** null when no place was answered in the window. */
  latencyMsP50: number | null;
  latencyMsP99: number | null;
  latencyMsMax: number | null;
}

export class PlaceWindow {
  readonly slotMs: number;
  readonly slotCount: number;
  private readonly createdAtMs: number;
  /** slotCount × latencyBucketCount counters, slot-major. */
  private readonly latencyCounts: Float64Array;
  private readonly places: Float64Array;
  private readonly orders: Float64Array;
  /** Scratch for read(): the window's histogram summed over slots. */
  private readonly merged = new Float64Array(latencyBucketCount);
  private slot = 0;
  private slotStartMs: number;

  constructor(options: PlaceWindowOptions) {
    if (!(Number.isInteger(options.slotCount) && options.slotCount >= 2))
      throw new RangeError(
        `slotCount must be an integer >= 2 (one slot filling, one full), got ${options.slotCount}`,
      );
    if (!(options.slotMs > 0)) throw new RangeError(`slotMs must be > 0, got ${options.slotMs}`);
    this.slotMs = options.slotMs;
    this.slotCount = options.slotCount;
    this.createdAtMs = options.nowMs;
    this.slotStartMs = options.nowMs;
    this.latencyCounts = new Float64Array(options.slotCount * latencyBucketCount);
    this.places = new Float64Array(options.slotCount);
    this.orders = new Float64Array(options.slotCount);
  }

  /**
   * `places` place requests answered after `latencyMs` (a batch answers all
   * its places at once), `orders` of them with a new order. No allocation.
   */
  record(latencyMs: number, places: number, orders: number, nowMs: number): void {
    this.advance(nowMs);
    const slot = this.slot;
    const index = slot * latencyBucketCount + latencyBucketOf(latencyMs * 1000);
    this.latencyCounts[index] = this.latencyCounts[index]! + places;
    this.places[slot] = this.places[slot]! + places;
    this.orders[slot] = this.orders[slot]! + orders;
  }

  read(nowMs: number): PlaceWindowReading {
    this.advance(nowMs);
    const windowMs = Math.min(
      (this.slotCount - 1) * this.slotMs + (nowMs - this.slotStartMs),
      nowMs - this.createdAtMs,
    );
    let placeCount = 0;
    let orderCount = 0;
    for (let s = 0; s < this.slotCount; s++) {
      placeCount += this.places[s]!;
      orderCount += this.orders[s]!;
    }
    const merged = this.merged;
    merged.fill(0);
    for (let s = 0; s < this.slotCount; s++) {
      const base = s * latencyBucketCount;
      for (let b = 0; b < latencyBucketCount; b++) merged[b] = merged[b]! + this.latencyCounts[base + b]!;
    }
    const perSecond = (count: number): number => (windowMs > 0 ? (count * 1000) / windowMs : 0);
    return {
      windowMs,
      placesPerSecond: perSecond(placeCount),
      ordersPerSecond: perSecond(orderCount),
      placeCount,
      latencyMsP50: this.quantileMs(0.5, placeCount),
      latencyMsP99: this.quantileMs(0.99, placeCount),
      latencyMsMax: this.quantileMs(1, placeCount),
    };
  }

  /** The upper bound of the bucket holding the ⌈q·count⌉-th latency of `merged`. */
  private quantileMs(q: number, count: number): number | null {
    if (count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * count));
    let seen = 0;
    for (let b = 0; b < latencyBucketCount; b++) {
      seen += this.merged[b]!;
      if (seen >= rank) return latencyBucketUpperMicros(b) / 1000;
    }
    return latencyBucketUpperMicros(latencyBucketCount - 1) / 1000;
  }

  /** Moves the current slot to `nowMs`, zeroing the slots it enters. */
  private advance(nowMs: number): void {
    const elapsedSlots = Math.floor((nowMs - this.slotStartMs) / this.slotMs);
    if (elapsedSlots <= 0) return;
    const zeroed = Math.min(elapsedSlots, this.slotCount);
    for (let i = 1; i <= zeroed; i++) {
      const s = (this.slot + i) % this.slotCount;
      this.latencyCounts.fill(0, s * latencyBucketCount, (s + 1) * latencyBucketCount);
      this.places[s] = 0;
      this.orders[s] = 0;
    }
    this.slot = (this.slot + elapsedSlots) % this.slotCount;
    this.slotStartMs += elapsedSlots * this.slotMs;
  }
}
