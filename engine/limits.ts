/**
 * Every limit of the engine in one table, unit last. All capacities are
 * preallocated at start-up; reaching one is a coded refusal, never a crash or
 * a growing structure. `validateEngineLimits` asserts the relationships.
 */
import { linesPerOrderMaxLayout } from './layout.ts';

/**
 * Latest time any command may carry (nowMs, sale windows): 10000-01-01T00:00:00Z.
 * Producers refuse later times with a coded error; the engine asserts it,
 * because its clock only moves forward and its timer wheel counts ticks of
 * nowMs / timerSlotMs with t++, which stops advancing past 2^53.
 */
export const engineTimeMsMax = 253_402_300_800_000;

export interface EngineLimits {
  /** SKU ids are dense integers 1..skusMax (the catalog assigns them), so availability is an array. */
  skusMax: number;
  /** Orders held in memory: live ones plus final ones kept for finalOrderRetentionMs. */
  ordersMax: number;
  /** Distinct buyers the engine tracks (limits, velocity, blocks). */
  buyersMax: number;
  /** Distinct (buyer, SKU) pairs with a purchase count, for the per-buyer limit. */
  buyerSkuPairsMax: number;
  /** Place-order request ids remembered for idempotent retries (oldest forgotten first). */
  requestIdsMax: number;
  /**
   * Payment references (a webhook's event id) remembered, with their first
   * answer, for idempotent redelivery (oldest forgotten first; an older
   * redelivery is decided again by the order's state machine).
   */
  paymentReferencesMax: number;
  linesPerOrderMax: number;
  quantityPerLineMax: number;
  /** Prices are integer minor units (cents) below 2^31. */
  priceMinorMax: number;
  stockPerSkuMax: number;
  /** A reservation expires this long after the order is created. */
  orderTtlMs: number;
  /** A final order stays known this long, so a late payment becomes exception_checkout, not unknownOrder. */
  finalOrderRetentionMs: number;
  /** Per-buyer velocity limit: at most velocityOrdersMax orders per velocityWindowMs. */
  velocityWindowMs: number;
  velocityOrdersMax: number;
  /** Timer wheel resolution and size; the wheel spans timerSlotMs * timerSlotCount. */
  timerSlotMs: number;
  timerSlotCount: number;
}

export const engineLimitsDefault: Readonly<EngineLimits> = Object.freeze({
  skusMax: 100_000,
  ordersMax: 1_000_000,
  buyersMax: 1_000_000,
  buyerSkuPairsMax: 2_000_000,
  requestIdsMax: 2_000_000,
  paymentReferencesMax: 262_144,
  linesPerOrderMax: 8,
  quantityPerLineMax: 100,
  priceMinorMax: 2 ** 31 - 1,
  stockPerSkuMax: 1_000_000_000,
  orderTtlMs: 10 * 60_000,
  finalOrderRetentionMs: 15 * 60_000,
  velocityWindowMs: 1_000,
  velocityOrdersMax: 10,
  timerSlotMs: 100,
  timerSlotCount: 32_768,
});

const isPowerOfTwo = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** The limits a data directory recorded (lib/data-dir-config.ts); a limit added since it was created (paymentReferencesMax) takes its default. */
export function engineLimitsRecorded(recorded: object): EngineLimits {
  return validateEngineLimits({ ...engineLimitsDefault, ...(recorded as Partial<EngineLimits>) });
}

export function validateEngineLimits(limits: EngineLimits): EngineLimits {
  const positiveInts: (keyof EngineLimits)[] = [
    'skusMax',
    'ordersMax',
    'buyersMax',
    'buyerSkuPairsMax',
    'requestIdsMax',
    'paymentReferencesMax',
    'linesPerOrderMax',
    'quantityPerLineMax',
    'priceMinorMax',
    'stockPerSkuMax',
    'orderTtlMs',
    'finalOrderRetentionMs',
    'velocityWindowMs',
    'velocityOrdersMax',
    'timerSlotMs',
    'timerSlotCount',
  ];
  for (const key of positiveInts) {
    const value = limits[key];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`engine limit ${key} must be a positive integer, got ${value}`);
    }
  }
  // Counts live in Int32Arrays: stay below 2^31 so sums of a few never wrap.
  for (const key of [
    'skusMax',
    'ordersMax',
    'buyersMax',
    'buyerSkuPairsMax',
    'requestIdsMax',
    'paymentReferencesMax',
  ] as const) {
    if (limits[key] > 2 ** 28)
      throw new RangeError(`engine limit ${key} must be at most 2^28, got ${limits[key]}`);
  }
  if (limits.priceMinorMax > 2 ** 31 - 1)
    throw new RangeError('priceMinorMax must fit an Int32 (prices are Int32 words)');
  if (limits.stockPerSkuMax > 2 ** 30) {
    throw new RangeError('stockPerSkuMax must be at most 2^30 so onHand plus a restock never wraps an Int32');
  }
  // The command and event slots have room for this many lines.
  if (limits.linesPerOrderMax > linesPerOrderMaxLayout) {
    throw new RangeError(
      `linesPerOrderMax must be at most ${linesPerOrderMaxLayout} (the fixed slot layout)`,
    );
  }
  if (!isPowerOfTwo(limits.timerSlotCount))
    throw new RangeError('timerSlotCount must be a power of two (masked index)');
  // Entries further out than one revolution are still correct (they are revisited), but cost a visit per turn.
  if (
    limits.timerSlotMs * limits.timerSlotCount <
    Math.max(limits.orderTtlMs, limits.finalOrderRetentionMs)
  ) {
    throw new RangeError('timerSlotMs * timerSlotCount must cover orderTtlMs and finalOrderRetentionMs');
  }
  // A purchase of the maximum quantity must fit in the per-line Int32 arithmetic of the total.
  if (limits.quantityPerLineMax * limits.linesPerOrderMax > 2 ** 20) {
    throw new RangeError('quantityPerLineMax * linesPerOrderMax must be at most 2^20');
  }
  return limits;
}

export function engineLimits(overrides: Partial<EngineLimits> = {}): EngineLimits {
  return validateEngineLimits({ ...engineLimitsDefault, ...overrides });
}
