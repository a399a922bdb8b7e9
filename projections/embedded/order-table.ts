/**
 * The embedded read model's orders, as columns of typed arrays instead of an
 * object per order.
 *
 * Why: the gateway thread holds up to a million orders, and kept as objects
 * (an OrderView, its lines, its history array, Map entries) each one was
 * copied by the young-generation collector, promoted, and walked by every
 * major collection: ~3 µs per order applied, the largest allocation site of
 * a sale's reservation phase. Here an order is a slot in preallocated arrays
 * and three IntHashIndexes; applying one allocates nothing until the table
 * doubles. Reads (HTTP, tests, the bench's audit) build an OrderView on demand.
 *
 * Orders are numbered in the order they were created; an order's slot is its
 * number & mask, so the held orders are a FIFO ring (the oldest is forgotten
 * first, as the read model's bound wants). Lines live in a second ring with
 * numbers of their own, freed with their order. Every column has a slot for
 * each of ordersMax orders from the start: address space, whose pages become
 * resident as orders fill them, in order. The three indexes start small and
 * double as orders come, moving their entries a few buckets per add
 * (GrowingIndex), so no add waits for a rebuild: see orderIndexEntriesInitial.
 */
import { highWord, lowWord } from '../../engine/int-hash.ts';
import { GrowingIndex } from './growing-index.ts';

/**
 * Transitions one order can go through. The engine's status graph is acyclic;
 * its longest path is created → checkedInventory → pendingCheckout →
 * readyForCheckout → timeout or canceled → exceptionCheckout (processor.ts).
 * A transition past this bound (an engine change that lengthened the path)
 * overwrites the last one kept, so the current status is always in the
 * history's last entry.
 */
export const orderTransitionsMax = 6;

/** Numbers per transition in OrderView.history. */
export const historyFields = 4;

/**
 * Orders the indexes start sized for (at most the power of two above ordersMax); they double from
 * there. Until 2026-12-05 a doubling copied every column and rebuilt the three indexes in one go,
 * stopping the gateway thread (measured: 20–37 ms at 65,536 orders, 114–147 ms at 262,144, 249–299
 * ms at 524,288); now the columns never move, the lines ring starts with a line per slot (it copies
 * only when orders average more than one line), and the indexes move their entries a few buckets per
 * add (the longest of 600,000 adds: 6–14 ms, the new tables' allocation and the collector). Starting
 * at 65,536, a sale of tens of thousands of orders never grows them (3 × 2 MiB). Preallocating the
 * indexes for a million orders instead (3 × 32 MiB, touched at random) cost a sale page faults and TLB
 * misses: the gateway's CPU for the default flash sale rose 0.33 → 0.49 s.
 */
export const orderIndexEntriesInitial = 65_536;

/**
 * Old index buckets moved to the doubled indexes per order added (GrowingIndex). Indexes for C orders
 * double when full; the old ones have 2C buckets each, so the move ends after C/4 of the C adds that
 * fill the doubled ones, before the first order is forgotten (which would finish it at once) unless
 * ordersMax is within C/4 of a power of two.
 */
const indexBucketsMovedPerAdd = 8;

export interface OrderLine {
  skuId: number;
  quantity: number;
  unitPriceMinor: number;
}

/** One order as reads see it: built by the table on demand, never kept by it. */
export interface OrderView {
  orderId: number;
  buyerId: number;
  /** The buyer's request that created it (the idempotency key). */
  requestId: number;
  status: number;
  /** The reason of the last transition (a ResultCode; 0 = ok). */
  code: number;
  lines: OrderLine[];
  totalMinor: number;
  createdAtMs: number;
  expiresAtMs: number;
  updatedAtMs: number;
  /** Every transition, flat: status, code, atMs, seq, then the next one (historyFields numbers each). */
  history: number[];
}

/** A new order's fields, read from its orderCreated event. */
export interface OrderCreatedFields {
  orderId: number;
  buyerId: number;
  requestId: number;
  totalMinor: number;
  expiresAtMs: number;
}

const noOrder = -1;

/** #ordersOfBuyerHash has 2^18 one-byte counts (256 KiB): about 0.1 held orders per count at 30,000. */
const buyerHashBits = 18;
/** A count this high is no longer kept exactly (see #ordersOfBuyerHash). */
const ordersOfBuyerHashStuck = 255;
/** Fibonacci hashing: buyer ids are dense, the multiplier spreads them over the counts. */
const buyerHash = (buyerId: number): number => Math.imul(buyerId | 0, 0x9e3779b1) >>> (32 - buyerHashBits);

export class OrderTable {
  readonly ordersMax: number;
  /** Slots - 1: every column has a slot for each of ordersMax orders (rounded up to a power of two). */
  readonly #mask: number;
  /** Orders the indexes are sized for: they double as orders come, up to the slots. */
  #indexCapacity: number;
  /** Number of the oldest order held, and the number the next order gets. */
  #oldest = 0;
  #next = 0;

  // One element per slot.
  readonly #orderId: Float64Array;
  readonly #requestId: Float64Array;
  readonly #buyerId: Uint32Array;
  readonly #status: Uint8Array;
  readonly #code: Uint8Array;
  readonly #totalMinor: Float64Array;
  readonly #createdAtMs: Float64Array;
  readonly #expiresAtMs: Float64Array;
  readonly #updatedAtMs: Float64Array;
  /** Number of the same buyer's previous order (older), or noOrder; stale once below #oldest. */
  readonly #previousOfBuyer: Float64Array;
  readonly #lineFirst: Float64Array;
  readonly #lineCount: Uint8Array;
  readonly #transitionCount: Uint8Array;

  // orderTransitionsMax elements per slot.
  readonly #transitionStatus: Uint8Array;
  readonly #transitionCode: Uint8Array;
  readonly #transitionAtMs: Float64Array;
  readonly #transitionSeq: Float64Array;

  // The lines ring: numbers of its own, oldest freed with the oldest order.
  #lineCapacity = 0;
  #lineMask = 0;
  #lineOldest = 0;
  #lineNext = 0;
  #lineSkuId = new Int32Array(0);
  #lineQuantity = new Int32Array(0);
  #lineUnitPriceMinor = new Int32Array(0);

  // Indexes to slots, growing as orders come. Buyer ids are Uint32 and go in as Int32 words (| 0).
  readonly #byOrderId: GrowingIndex;
  /** (buyerId, requestId) → slot: the edge's retry check, O(1) however many orders a buyer holds. */
  readonly #byRequest: GrowingIndex;
  /** buyerId → the slot of the buyer's newest order; older ones follow #previousOfBuyer. */
  readonly #newestOfBuyer: GrowingIndex;
  /**
   * Held orders per hash of their buyer, in an array small enough to stay in the CPU cache: a buyer
   * whose count is 0 holds no order, so orderForRequest answers without touching #byRequest. Nearly
   * every attempt of a sale comes from a buyer without an order (the crowd that came too late), and
   * that index lookup, a cache miss each, was a sixth of the gateway's cost of turning one away
   * (measured: 0.12 µs of ~0.65). A count that reaches 255 stays there (never decremented): the
   * shortcut is lost for that bucket's buyers, never a wrong answer.
   */
  readonly #ordersOfBuyerHash = new Uint8Array(1 << buyerHashBits);

  /** `indexEntriesInitial`: a power of two (tests start small to make the indexes grow). */
  constructor(ordersMax: number, indexEntriesInitial = orderIndexEntriesInitial) {
    if (!Number.isInteger(ordersMax) || ordersMax < 1)
      throw new RangeError('ordersMax must be a positive integer');
    if (!Number.isInteger(Math.log2(indexEntriesInitial)))
      throw new RangeError('indexEntriesInitial must be a power of two');
    this.ordersMax = ordersMax;
    let slots = 1;
    while (slots < ordersMax) slots *= 2;
    this.#mask = slots - 1;
    this.#orderId = new Float64Array(slots);
    this.#requestId = new Float64Array(slots);
    this.#buyerId = new Uint32Array(slots);
    this.#status = new Uint8Array(slots);
    this.#code = new Uint8Array(slots);
    this.#totalMinor = new Float64Array(slots);
    this.#createdAtMs = new Float64Array(slots);
    this.#expiresAtMs = new Float64Array(slots);
    this.#updatedAtMs = new Float64Array(slots);
    this.#previousOfBuyer = new Float64Array(slots);
    this.#lineFirst = new Float64Array(slots);
    this.#lineCount = new Uint8Array(slots);
    this.#transitionCount = new Uint8Array(slots);
    this.#transitionStatus = new Uint8Array(slots * orderTransitionsMax);
    this.#transitionCode = new Uint8Array(slots * orderTransitionsMax);
    this.#transitionAtMs = new Float64Array(slots * orderTransitionsMax);
    this.#transitionSeq = new Float64Array(slots * orderTransitionsMax);
    this.#indexCapacity = Math.min(indexEntriesInitial, slots);
    this.#byOrderId = new GrowingIndex(this.#indexCapacity);
    this.#byRequest = new GrowingIndex(this.#indexCapacity);
    this.#newestOfBuyer = new GrowingIndex(this.#indexCapacity);
    this.#resizeLines(slots);
  }

  /** Orders held. */
  get size(): number {
    return this.#next - this.#oldest;
  }

  /**
   * Slots of the lines ring. It grows only when the held orders' lines fill it, so it stays within the
   * lines of ordersMax orders however many come and go (a test holds it to that).
   */
  get lineSlots(): number {
    return this.#lineCapacity;
  }

  /** Adds an order (forgetting the oldest first when ordersMax are held); returns its slot. */
  add(fields: OrderCreatedFields, atMs: number): number {
    if (this.size >= this.ordersMax) this.#forgetOldest();
    else if (this.size === this.#indexCapacity) this.#growIndexes();
    this.#byOrderId.step(indexBucketsMovedPerAdd);
    this.#byRequest.step(indexBucketsMovedPerAdd);
    this.#newestOfBuyer.step(indexBucketsMovedPerAdd);
    const slot = this.#next & this.#mask;
    const { orderId, buyerId, requestId } = fields;
    this.#orderId[slot] = orderId;
    this.#requestId[slot] = requestId;
    this.#buyerId[slot] = buyerId;
    this.#status[slot] = 0;
    this.#code[slot] = 0;
    this.#totalMinor[slot] = fields.totalMinor;
    this.#createdAtMs[slot] = atMs;
    this.#expiresAtMs[slot] = fields.expiresAtMs;
    this.#updatedAtMs[slot] = atMs;
    this.#lineFirst[slot] = this.#lineNext;
    this.#lineCount[slot] = 0;
    this.#transitionCount[slot] = 0;
    const newest = this.#newestOfBuyer.get(buyerId | 0, 0, 0);
    this.#previousOfBuyer[slot] = newest === noOrder ? noOrder : this.#numberOf(newest);
    this.#byOrderId.set(lowWord(orderId), highWord(orderId), 0, slot);
    this.#byRequest.set(buyerId | 0, lowWord(requestId), highWord(requestId), slot);
    this.#newestOfBuyer.set(buyerId | 0, 0, 0, slot);
    const hash = buyerHash(buyerId);
    if (this.#ordersOfBuyerHash[hash] !== ordersOfBuyerHashStuck) this.#ordersOfBuyerHash[hash]!++;
    this.#next++;
    return slot;
  }

  /** Appends a line to the order just added (lines come with their order, before any other is added). */
  addLine(slot: number, skuId: number, quantity: number, unitPriceMinor: number): void {
    if (this.#lineNext - this.#lineOldest === this.#lineCapacity) this.#resizeLines(this.#lineCapacity * 2);
    const at = this.#lineNext & this.#lineMask;
    this.#lineSkuId[at] = skuId;
    this.#lineQuantity[at] = quantity;
    this.#lineUnitPriceMinor[at] = unitPriceMinor;
    this.#lineNext++;
    this.#lineCount[slot]!++;
  }

  /** Records a transition: the order's status, code and update time, and its history. */
  transition(slot: number, status: number, code: number, atMs: number, seq: number): void {
    this.#status[slot] = status;
    this.#code[slot] = code;
    this.#updatedAtMs[slot] = atMs;
    const count = this.#transitionCount[slot]!;
    const index = count < orderTransitionsMax ? count : orderTransitionsMax - 1;
    const at = slot * orderTransitionsMax + index;
    this.#transitionStatus[at] = status;
    this.#transitionCode[at] = code;
    this.#transitionAtMs[at] = atMs;
    this.#transitionSeq[at] = seq;
    this.#transitionCount[slot] = index + 1;
  }

  /** The slot of a held order, or -1. */
  slotOf(orderId: number): number {
    return this.#byOrderId.get(lowWord(orderId), highWord(orderId), 0);
  }

  buyerId(slot: number): number {
    return this.#buyerId[slot]!;
  }
  status(slot: number): number {
    return this.#status[slot]!;
  }
  totalMinor(slot: number): number {
    return this.#totalMinor[slot]!;
  }
  expiresAtMs(slot: number): number {
    return this.#expiresAtMs[slot]!;
  }
  lineCount(slot: number): number {
    return this.#lineCount[slot]!;
  }
  lineSkuId(slot: number, line: number): number {
    return this.#lineSkuId[(this.#lineFirst[slot]! + line) & this.#lineMask]!;
  }
  lineQuantity(slot: number, line: number): number {
    return this.#lineQuantity[(this.#lineFirst[slot]! + line) & this.#lineMask]!;
  }

  /** A held order, built for a read. */
  find(orderId: number): OrderView | undefined {
    const slot = this.slotOf(orderId);
    return slot === noOrder ? undefined : this.view(slot);
  }

  /** The order a buyer's request created, if held. */
  orderForRequest(buyerId: number, requestId: number): number | undefined {
    if (this.#ordersOfBuyerHash[buyerHash(buyerId)] === 0) return undefined;
    const slot = this.#byRequest.get(buyerId | 0, lowWord(requestId), highWord(requestId));
    return slot === noOrder ? undefined : this.#orderId[slot];
  }

  /** A buyer's orders, newest first, at most `limit`, before order id `beforeOrderId` (paging). */
  ofBuyer(buyerId: number, limit: number, beforeOrderId = Number.POSITIVE_INFINITY): OrderView[] {
    const out: OrderView[] = [];
    let slot = this.#newestOfBuyer.get(buyerId | 0, 0, 0);
    while (slot !== noOrder && out.length < limit) {
      if (this.#orderId[slot]! < beforeOrderId) out.push(this.view(slot));
      const previous = this.#previousOfBuyer[slot]!;
      slot = previous >= this.#oldest ? previous & this.#mask : noOrder;
    }
    return out;
  }

  /** Every held order, oldest first, built for a read (audits and tests, not the hot path). */
  *views(): Generator<OrderView> {
    for (let n = this.#oldest; n < this.#next; n++) yield this.view(n & this.#mask);
  }

  view(slot: number): OrderView {
    const lines: OrderLine[] = [];
    for (let i = 0; i < this.#lineCount[slot]!; i++) {
      const at = (this.#lineFirst[slot]! + i) & this.#lineMask;
      lines.push({
        skuId: this.#lineSkuId[at]!,
        quantity: this.#lineQuantity[at]!,
        unitPriceMinor: this.#lineUnitPriceMinor[at]!,
      });
    }
    const history: number[] = [];
    for (let i = 0; i < this.#transitionCount[slot]!; i++) {
      const at = slot * orderTransitionsMax + i;
      history.push(
        this.#transitionStatus[at]!,
        this.#transitionCode[at]!,
        this.#transitionAtMs[at]!,
        this.#transitionSeq[at]!,
      );
    }
    return {
      orderId: this.#orderId[slot]!,
      buyerId: this.#buyerId[slot]!,
      requestId: this.#requestId[slot]!,
      status: this.#status[slot]!,
      code: this.#code[slot]!,
      lines,
      totalMinor: this.#totalMinor[slot]!,
      createdAtMs: this.#createdAtMs[slot]!,
      expiresAtMs: this.#expiresAtMs[slot]!,
      updatedAtMs: this.#updatedAtMs[slot]!,
      history,
    };
  }

  /** The held slot's order number: the one number in [#oldest, #next) that maps to it. */
  #numberOf(slot: number): number {
    return this.#oldest + ((slot - this.#oldest) & this.#mask);
  }

  #forgetOldest(): void {
    const slot = this.#oldest & this.#mask;
    const orderId = this.#orderId[slot]!;
    const buyerId = this.#buyerId[slot]! | 0;
    const requestId = this.#requestId[slot]!;
    this.#byOrderId.delete(lowWord(orderId), highWord(orderId), 0);
    this.#byRequest.delete(buyerId, lowWord(requestId), highWord(requestId));
    // The buyer's newer orders link to this one; the link goes stale as #oldest passes it.
    if (this.#newestOfBuyer.get(buyerId, 0, 0) === slot) this.#newestOfBuyer.delete(buyerId, 0, 0);
    const hash = buyerHash(buyerId);
    if (this.#ordersOfBuyerHash[hash] !== ordersOfBuyerHashStuck) this.#ordersOfBuyerHash[hash]!--;
    this.#lineOldest += this.#lineCount[slot]!;
    this.#oldest++;
  }

  /** The indexes hold up to twice as many orders from now on; they move their entries over the next adds. */
  #growIndexes(): void {
    this.#indexCapacity *= 2;
    this.#byOrderId.grow(this.#indexCapacity);
    this.#byRequest.grow(this.#indexCapacity);
    this.#newestOfBuyer.grow(this.#indexCapacity);
  }

  #resizeLines(capacity: number): void {
    const mask = capacity - 1;
    const grow = (from: Int32Array): Int32Array<ArrayBuffer> => {
      const to = new Int32Array(capacity);
      for (let n = this.#lineOldest; n < this.#lineNext; n++) to[n & mask] = from[n & this.#lineMask]!;
      return to;
    };
    this.#lineSkuId = grow(this.#lineSkuId);
    this.#lineQuantity = grow(this.#lineQuantity);
    this.#lineUnitPriceMinor = grow(this.#lineUnitPriceMinor);
    this.#lineCapacity = capacity;
    this.#lineMask = mask;
  }
}
