/**
 * The engine's whole state as struct-of-arrays, preallocated from the limits.
 * Owned by the engine thread alone; nothing here is shared except
 * `availability`, which the engine publishes for gateways to read.
 *
 * Indexing:
 *  - SKUs by skuId itself (dense 1..skusMax, the catalog assigns them).
 *  - orders by slot; `orderIndex` maps orderId -> slot; free slots on a LIFO stack.
 *  - buyers by slot via `buyerIndex` (buyerId -> slot).
 *  - (buyerId, skuId) pairs via `pairIndex` -> units reserved or bought.
 *  - place-order request ids in a FIFO of requestIdsMax entries via `requestIndex`.
 *  - payment references (hashed) in a FIFO of paymentReferencesMax entries via `paymentIndex`.
 *
 * Every array is listed once in `stateArrays`, which snapshots and the state
 * hash walk, so adding a field cannot silently leave it out of either.
 */
import { IntHashIndex, wordsHash } from './int-hash.ts';
import type { EngineLimits } from './limits.ts';

/** Scalar fields, kept in one Float64Array so snapshots copy them with the arrays. */
export const Scalar = {
  /** Sequence number of the last event applied (0 before any). */
  lastSeq: 0,
  /** Serial the next order id takes. */
  orderSerialNext: 1,
  /** The engine's clock: the largest time any command or event carried. */
  nowMs: 2,
  /** Timer wheel: the last tick index walked, -1 before the first Tick. Not part of the state hash. */
  wheelTick: 3,
  orderFreeCount: 4,
  buyerCount: 5,
  pairCount: 6,
  requestHead: 7,
  requestCount: 8,
  paymentHead: 9,
  paymentCount: 10,
  count: 11,
} as const;

export class EngineState {
  readonly limits: EngineLimits;
  readonly scalars = new Float64Array(Scalar.count);

  // SKUs, indexed by skuId (0 unused).
  readonly skuExists: Uint8Array;
  readonly skuPriceMinor: Int32Array;
  readonly skuCurrency: Int32Array;
  readonly skuOnHand: Int32Array;
  readonly skuReserved: Int32Array;
  readonly skuStockInitial: Float64Array;
  readonly skuRestocked: Float64Array;
  readonly skuSold: Float64Array;
  readonly skuLimitPerBuyer: Int32Array;
  readonly skuSaleStartsAtMs: Float64Array;
  readonly skuSaleEndsAtMs: Float64Array;
  /** available = onHand - reserved per skuId, over a SharedArrayBuffer that gateways read. */
  readonly availability: Int32Array;

  // Orders, indexed by slot.
  readonly orderIndex: IntHashIndex;
  readonly orderId: Float64Array;
  readonly orderBuyerId: Int32Array;
  readonly orderStatus: Uint8Array;
  readonly orderLineCount: Uint8Array;
  /** linesPerOrderMax entries per slot. */
  readonly orderLineSkuId: Int32Array;
  readonly orderLineQuantity: Int32Array;
  readonly orderTotalMinor: Float64Array;
  readonly orderExpiresAtMs: Float64Array;
  /** When the order's single timer fires: expiry while it reserves, forgetting once final. */
  readonly orderTimerAtMs: Float64Array;
  /**
   * Doubly linked timer-wheel bucket lists. next: a slot or -1 (end). prev: a
   * slot, or -1 - bucket for the first entry of a bucket, or timerUnscheduled.
   */
  readonly orderTimerNext: Int32Array;
  readonly orderTimerPrev: Int32Array;
  readonly orderFreeSlots: Int32Array;
  /** Head slot of each wheel bucket, -1 when empty. */
  readonly timerHead: Int32Array;

  // Buyers, indexed by slot.
  readonly buyerIndex: IntHashIndex;
  readonly buyerBlocked: Uint8Array;
  readonly buyerVelocityWindowStartMs: Float64Array;
  readonly buyerVelocityCount: Int32Array;

  // (buyer, SKU) units reserved or bought, for the per-buyer limit.
  readonly pairIndex: IntHashIndex;
  readonly pairUnits: Int32Array;

  // Remembered place-order requests, a FIFO ring.
  readonly requestIndex: IntHashIndex;
  readonly requestBuyerId: Int32Array;
  readonly requestId: Float64Array;
  /** The answer: an orderId (> 0) or minus a ResultCode of the refusal. */
  readonly requestOutcome: Float64Array;
  /**
   * The ResultCode the request was answered with: the refusal's, or for an
   * order that failed its risk or price check (failCheckout) that check's
   * code, else ok. With requestSkuId, the line the refusal was about, a retry
   * gets the first answer whole (docs/engine.md, idempotency).
   */
  readonly requestCode: Uint8Array;
  readonly requestSkuId: Int32Array;
  /**
   * "Maybe remembered" bits over (buyerId, requestId), set with each
   * remembered request and never cleared. A clear bit proves a request is
   * new without touching requestIndex, whose buckets are far out of cache:
   * that random miss was half the cost of a sold-out refusal. Two bits per
   * remembered request (512 KiB at the default 2 M) keeps the filter in L2:
   * engine.apply measured 4.5 M/s with 16 bits per request (4 MiB, L3) and
   * 7.5 M/s with 2. The price: once the window is full, ~40% of new requests
   * are false positives and pay the index lookup.
   */
  readonly requestFilter: Uint32Array;
  readonly requestFilterMask: number;

  // Remembered payment deliveries, a FIFO ring keyed by the reference's 96-bit hash (paymentKeyWords per entry).
  readonly paymentIndex: IntHashIndex;
  readonly paymentKey: Int32Array;
  readonly paymentOrderId: Float64Array;
  /** The first answer: its ResultCode and the order's status after it. */
  readonly paymentResult: Uint8Array;
  readonly paymentStatus: Uint8Array;

  /** `prefault: false` leaves the pages untouched (recovery): see StatePrefault. */
  constructor(
    limits: EngineLimits,
    availabilityBuffer?: SharedArrayBuffer,
    options: { prefault?: boolean } = {},
  ) {
    this.limits = limits;
    const skuSlots = limits.skusMax + 1;
    this.skuExists = new Uint8Array(skuSlots);
    this.skuPriceMinor = new Int32Array(skuSlots);
    this.skuCurrency = new Int32Array(skuSlots);
    this.skuOnHand = new Int32Array(skuSlots);
    this.skuReserved = new Int32Array(skuSlots);
    this.skuStockInitial = new Float64Array(skuSlots);
    this.skuRestocked = new Float64Array(skuSlots);
    this.skuSold = new Float64Array(skuSlots);
    this.skuLimitPerBuyer = new Int32Array(skuSlots);
    this.skuSaleStartsAtMs = new Float64Array(skuSlots);
    this.skuSaleEndsAtMs = new Float64Array(skuSlots);
    const availabilityBytes = availabilityBufferBytes(limits);
    const buffer = availabilityBuffer ?? new SharedArrayBuffer(availabilityBytes);
    if (buffer.byteLength < availabilityBytes)
      throw new RangeError('availability buffer is smaller than skusMax + 1 Int32s');
    this.availability = new Int32Array(buffer, 0, skuSlots);

    const orders = limits.ordersMax;
    const lines = orders * limits.linesPerOrderMax;
    this.orderIndex = new IntHashIndex(orders);
    this.orderId = new Float64Array(orders);
    this.orderBuyerId = new Int32Array(orders);
    this.orderStatus = new Uint8Array(orders);
    this.orderLineCount = new Uint8Array(orders);
    this.orderLineSkuId = new Int32Array(lines);
    this.orderLineQuantity = new Int32Array(lines);
    this.orderTotalMinor = new Float64Array(orders);
    this.orderExpiresAtMs = new Float64Array(orders);
    this.orderTimerAtMs = new Float64Array(orders);
    this.orderTimerNext = new Int32Array(orders).fill(-1);
    this.orderTimerPrev = new Int32Array(orders).fill(timerUnscheduled);
    this.orderFreeSlots = new Int32Array(orders);
    // Slot 0 on top of the stack: allocation order is deterministic (replay gets the same slots).
    for (let i = 0; i < orders; i++) this.orderFreeSlots[i] = orders - 1 - i;
    this.timerHead = new Int32Array(limits.timerSlotCount).fill(-1);

    this.buyerIndex = new IntHashIndex(limits.buyersMax);
    this.buyerBlocked = new Uint8Array(limits.buyersMax);
    this.buyerVelocityWindowStartMs = new Float64Array(limits.buyersMax);
    this.buyerVelocityCount = new Int32Array(limits.buyersMax);

    this.pairIndex = new IntHashIndex(limits.buyerSkuPairsMax);
    this.pairUnits = new Int32Array(limits.buyerSkuPairsMax);

    this.requestIndex = new IntHashIndex(limits.requestIdsMax);
    this.requestBuyerId = new Int32Array(limits.requestIdsMax);
    this.requestId = new Float64Array(limits.requestIdsMax);
    this.requestOutcome = new Float64Array(limits.requestIdsMax);
    this.requestCode = new Uint8Array(limits.requestIdsMax);
    this.requestSkuId = new Int32Array(limits.requestIdsMax);
    let filterBits = 1024;
    while (filterBits < limits.requestIdsMax * 2) filterBits *= 2; // see requestFilter
    this.requestFilter = new Uint32Array(filterBits / 32);
    this.requestFilterMask = filterBits - 1;

    this.paymentIndex = new IntHashIndex(limits.paymentReferencesMax);
    this.paymentKey = new Int32Array(limits.paymentReferencesMax * paymentKeyWords);
    this.paymentOrderId = new Float64Array(limits.paymentReferencesMax);
    this.paymentResult = new Uint8Array(limits.paymentReferencesMax);
    this.paymentStatus = new Uint8Array(limits.paymentReferencesMax);

    this.scalars[Scalar.orderFreeCount] = orders;
    this.scalars[Scalar.wheelTick] = -1;
    if (options.prefault ?? true) new StatePrefault(this).step(Number.POSITIVE_INFINITY);
    this.scalars[Scalar.orderSerialNext] = 1;
  }
}

/**
 * Writes every page of every array once. Typed arrays come from the OS as
 * untouched zero pages; without this the first writes of a sale pay a page
 * fault each (measured: a third of engine.apply's time on a fresh state). At
 * the default limits that is 366 MiB of page faults, 0.2-0.3 s of kernel
 * time: recovery leaves it out (it faults in only the pages replay writes)
 * and the engine thread pays the rest a slice at a time while it is idle.
 */
export class StatePrefault {
  private readonly arrays: Uint8Array[];
  private array = 0;
  private at = 0;

  constructor(state: EngineState) {
    this.arrays = stateArrays(state).map(
      ({ array }) => new Uint8Array(array.buffer, array.byteOffset, array.byteLength),
    );
  }

  /** Touches up to `pagesMax` more pages; false once every page has been. */
  step(pagesMax: number): boolean {
    const pageBytes = 4096;
    let pages = 0;
    while (this.array < this.arrays.length) {
      const bytes = this.arrays[this.array]!;
      while (this.at < bytes.length) {
        if (pages === pagesMax) return true;
        bytes[this.at] = bytes[this.at]!;
        this.at += pageBytes;
        pages++;
      }
      this.array++;
      this.at = 0;
    }
    return false;
  }
}

/** Bit index of (buyerId, requestId) in requestFilter. */
export function requestFilterBit(state: EngineState, buyerId: number, requestId: number): number {
  let h = Math.imul(buyerId ^ 0x27d4eb2f, 0x165667b1);
  h = Math.imul(h ^ (h >>> 15) ^ (requestId | 0), 0x85ebca77);
  h = Math.imul(h ^ (h >>> 13) ^ (Math.floor(requestId / 4294967296) | 0), 0xc2b2ae3d);
  return (h ^ (h >>> 16)) & state.requestFilterMask;
}

/** Word `k` (0..paymentKeyWords-1) of the key of the reference in `count` words from `at`. */
export function paymentReferenceKey(words: Int32Array, at: number, count: number, k: number): number {
  return wordsHash(words, at, count, 0x5bd1e995 + k);
}

/** Words of a payment reference's hashed key (IntHashIndex keys are three words). */
export const paymentKeyWords = 3;

/** orderTimerPrev of a slot with no timer (never a slot: ordersMax is at most 2^28). */
export const timerUnscheduled = 0x7fffffff;

export const availabilityBufferBytes = (limits: EngineLimits): number => (limits.skusMax + 1) * 4;

/**
 * What a fresh state holds in an array, compared as the Int32 words of its
 * bytes: snapshots and the state hash visit only the words that differ from
 * it, so both scale with the state in use, not the capacities.
 *  - a number: every word is that value (the constructor's fill; 0 for arrays
 *    left as allocated, the only choice for arrays whose byteLength is not a
 *    multiple of 4);
 *  - 'descending': word i is length - 1 - i (the free-slot stack);
 *  - 'whole': no baseline, always taken whole (small arrays).
 * A test encodes a fresh state and asserts it holds no words but the 'whole'
 * arrays, so a baseline that disagrees with the constructor fails there.
 */
export type Baseline = number | 'descending' | 'whole';

export interface StateArray {
  name: string;
  array: ArrayBufferView;
  /** Part of the state hash (the rest only records how the engine got there, or mirrors other arrays). */
  hashed: boolean;
  baseline: Baseline;
}

/**
 * Every array of the state in a fixed order. Snapshots copy all of them; the
 * hash skips the ones that only record how the engine got there (the wheel
 * cursor) or that mirror others. A new array is one `add` line here (with its
 * baseline if the constructor fills it with anything but zeros); its place in
 * the list is its place in the snapshot, so add it at the end.
 */
export function stateArrays(state: EngineState): StateArray[] {
  const list: StateArray[] = [];
  const add = (
    name: string,
    array: ArrayBufferView,
    options: { hashed?: boolean; baseline?: Baseline } = {},
  ): void => {
    list.push({ name, array, hashed: options.hashed ?? true, baseline: options.baseline ?? 0 });
  };
  const addIndex = (name: string, index: IntHashIndex): void => {
    // Buckets are zero when empty; the size cell is one word.
    for (const [i, array] of index.arrays().entries()) add(`${name}${i}`, array);
  };
  add('scalars', state.scalars, { hashed: false, baseline: 'whole' });
  add('skuExists', state.skuExists);
  add('skuPriceMinor', state.skuPriceMinor);
  add('skuCurrency', state.skuCurrency);
  add('skuOnHand', state.skuOnHand);
  add('skuReserved', state.skuReserved);
  add('skuStockInitial', state.skuStockInitial);
  add('skuRestocked', state.skuRestocked);
  add('skuSold', state.skuSold);
  add('skuLimitPerBuyer', state.skuLimitPerBuyer);
  add('skuSaleStartsAtMs', state.skuSaleStartsAtMs);
  add('skuSaleEndsAtMs', state.skuSaleEndsAtMs);
  // Whole: it may be a buffer gateways already hold, so decoding must overwrite every entry, zeros too.
  add('availability', state.availability, { hashed: false, baseline: 'whole' });
  addIndex('orderIndex', state.orderIndex);
  add('orderId', state.orderId);
  add('orderBuyerId', state.orderBuyerId);
  add('orderStatus', state.orderStatus);
  add('orderLineCount', state.orderLineCount);
  add('orderLineSkuId', state.orderLineSkuId);
  add('orderLineQuantity', state.orderLineQuantity);
  add('orderTotalMinor', state.orderTotalMinor);
  add('orderExpiresAtMs', state.orderExpiresAtMs);
  add('orderTimerAtMs', state.orderTimerAtMs);
  add('orderTimerNext', state.orderTimerNext, { baseline: -1 });
  add('orderTimerPrev', state.orderTimerPrev, { baseline: timerUnscheduled });
  add('orderFreeSlots', state.orderFreeSlots, { baseline: 'descending' });
  add('timerHead', state.timerHead, { baseline: -1 });
  addIndex('buyerIndex', state.buyerIndex);
  add('buyerBlocked', state.buyerBlocked);
  add('buyerVelocityWindowStartMs', state.buyerVelocityWindowStartMs);
  add('buyerVelocityCount', state.buyerVelocityCount);
  addIndex('pairIndex', state.pairIndex);
  add('pairUnits', state.pairUnits);
  addIndex('requestIndex', state.requestIndex);
  add('requestBuyerId', state.requestBuyerId);
  add('requestId', state.requestId);
  add('requestOutcome', state.requestOutcome);
  add('requestCode', state.requestCode);
  add('requestSkuId', state.requestSkuId);
  add('requestFilter', state.requestFilter);
  addIndex('paymentIndex', state.paymentIndex);
  add('paymentKey', state.paymentKey);
  add('paymentOrderId', state.paymentOrderId);
  add('paymentResult', state.paymentResult);
  add('paymentStatus', state.paymentStatus);
  return list;
}
