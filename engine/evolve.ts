/**
 * evolve(state, event): the only code that changes engine state. The live
 * processor calls it for each event right after deciding it; recovery calls it
 * for each journal record. Both therefore reach the same state, and replay
 * re-applies decisions without re-running the rules that made them.
 *
 * Engine thread only. Must never allocate, do I/O or read the clock: time is
 * the event's atMs. Reads payload words at `at` in `words`/`f64` through event-view.ts.
 */
import { EventType, isFinalStatus, isReservingStatus, isStockRefusal, OrderStatus } from './codes.ts';
import {
  buyerBlockedBlocked,
  buyerBlockedBuyerId,
  orderCreatedBuyerId,
  orderCreatedExpiresAtMs,
  orderCreatedLineCount,
  orderCreatedLineQuantity,
  orderCreatedLineSkuId,
  orderCreatedOrderId,
  orderCreatedRequestId,
  orderCreatedTotalMinor,
  orderForgottenOrderId,
  orderRefusedBuyerId,
  orderRefusedCode,
  orderRefusedRequestId,
  orderRefusedSkuId,
  orderStatusChangedCode,
  orderStatusChangedOrderId,
  orderStatusChangedSkuId,
  orderStatusChangedStatus,
  paymentReceivedOrderId,
  paymentReceivedReferenceAt,
  paymentReceivedReferenceChars,
  paymentReceivedReferenceWords,
  paymentReceivedResult,
  paymentReceivedStatus,
  priceSetPriceMinor,
  priceSetSkuId,
  productAddedCurrency,
  productAddedPriceMinor,
  productAddedSkuId,
  productAddedStock,
  saleConfiguredEndsAtMs,
  saleConfiguredLimitPerBuyer,
  saleConfiguredSkuId,
  saleConfiguredStartsAtMs,
  stockRestockedQuantity,
  stockRestockedSkuId,
} from './event-view.ts';
import { highWord, lowWord } from './int-hash.ts';
import {
  type EngineState,
  paymentKeyWords,
  paymentReferenceKey,
  requestFilterBit,
  Scalar,
  timerUnscheduled,
} from './state.ts';

export function evolve(
  state: EngineState,
  type: number,
  seq: number,
  atMs: number,
  words: Int32Array,
  f64: Float64Array,
  at: number,
): void {
  const scalars = state.scalars;
  if (seq !== scalars[Scalar.lastSeq]! + 1) {
    throw new Error(`evolve: event seq ${seq} does not follow ${scalars[Scalar.lastSeq]}`);
  }
  scalars[Scalar.lastSeq] = seq;
  if (atMs > scalars[Scalar.nowMs]!) scalars[Scalar.nowMs] = atMs;

  switch (type) {
    case EventType.productAdded: {
      const skuId = productAddedSkuId(words, at);
      const stock = productAddedStock(words, at);
      state.skuExists[skuId] = 1;
      state.skuPriceMinor[skuId] = productAddedPriceMinor(words, at);
      state.skuCurrency[skuId] = productAddedCurrency(words, at);
      state.skuOnHand[skuId] = stock;
      state.skuStockInitial[skuId] = stock;
      publishAvailability(state, skuId);
      return;
    }
    case EventType.stockRestocked: {
      const skuId = stockRestockedSkuId(words, at);
      const quantity = stockRestockedQuantity(words, at);
      state.skuOnHand[skuId] = state.skuOnHand[skuId]! + quantity;
      state.skuRestocked[skuId] = state.skuRestocked[skuId]! + quantity;
      publishAvailability(state, skuId);
      return;
    }
    case EventType.priceSet:
      state.skuPriceMinor[priceSetSkuId(words, at)] = priceSetPriceMinor(words, at);
      return;
    case EventType.saleConfigured: {
      const skuId = saleConfiguredSkuId(words, at);
      state.skuLimitPerBuyer[skuId] = saleConfiguredLimitPerBuyer(words, at);
      state.skuSaleStartsAtMs[skuId] = saleConfiguredStartsAtMs(f64, at);
      state.skuSaleEndsAtMs[skuId] = saleConfiguredEndsAtMs(f64, at);
      return;
    }
    case EventType.buyerBlocked: {
      const slot = buyerSlotFor(state, buyerBlockedBuyerId(words, at));
      state.buyerBlocked[slot] = buyerBlockedBlocked(words, at);
      return;
    }
    case EventType.orderRefused: {
      const code = orderRefusedCode(words, at);
      // A refusal for want of stock is momentary: a retry is judged afresh (as the edge's sold-out answer is).
      if (!isStockRefusal(code)) {
        rememberRequest(
          state,
          orderRefusedBuyerId(words, at),
          orderRefusedRequestId(f64, at),
          -code,
          code,
          orderRefusedSkuId(words, at),
        );
      }
      return;
    }
    case EventType.orderCreated:
      createOrder(state, atMs, words, f64, at);
      return;
    case EventType.orderStatusChanged:
      changeStatus(state, atMs, words, f64, at);
      return;
    case EventType.orderForgotten:
      forgetOrder(state, orderForgottenOrderId(f64, at));
      return;
    case EventType.paymentReceived:
      // The status changes it caused are their own events; only a reference is state here.
      if (paymentReceivedReferenceChars(words, at) > 0) rememberPayment(state, words, f64, at);
      return;
    default:
      throw new Error(`evolve: unknown event type ${type}`);
  }
}

function publishAvailability(state: EngineState, skuId: number): void {
  // A plain store is enough: readers tolerate a stale count (the engine re-checks).
  state.availability[skuId] = state.skuOnHand[skuId]! - state.skuReserved[skuId]!;
}

/** The buyer's slot, created on first sight. The processor checks buyersFull before deciding. */
export function buyerSlotFor(state: EngineState, buyerId: number): number {
  let slot = state.buyerIndex.get(buyerId, 0, 0);
  if (slot < 0) {
    slot = state.scalars[Scalar.buyerCount]!;
    state.scalars[Scalar.buyerCount] = slot + 1;
    state.buyerIndex.set(buyerId, 0, 0, slot);
  }
  return slot;
}

export function orderSlotOf(state: EngineState, orderId: number): number {
  return state.orderIndex.get(highWord(orderId), lowWord(orderId), 0);
}

function rememberRequest(
  state: EngineState,
  buyerId: number,
  requestId: number,
  outcome: number,
  code: number,
  skuId: number,
): void {
  const scalars = state.scalars;
  const capacity = state.limits.requestIdsMax;
  let head = scalars[Scalar.requestHead]!;
  let count = scalars[Scalar.requestCount]!;
  if (count === capacity) {
    // Forget the oldest request: retries older than the window are new requests.
    state.requestIndex.delete(
      state.requestBuyerId[head]!,
      highWord(state.requestId[head]!),
      lowWord(state.requestId[head]!),
    );
    head = head + 1 === capacity ? 0 : head + 1;
    count--;
  }
  let entry = head + count;
  if (entry >= capacity) entry -= capacity;
  state.requestBuyerId[entry] = buyerId;
  state.requestId[entry] = requestId;
  state.requestOutcome[entry] = outcome;
  state.requestCode[entry] = code;
  state.requestSkuId[entry] = skuId;
  state.requestIndex.set(buyerId, highWord(requestId), lowWord(requestId), entry);
  const bit = requestFilterBit(state, buyerId, requestId);
  state.requestFilter[bit >>> 5] = state.requestFilter[bit >>> 5]! | (1 << (bit & 31));
  scalars[Scalar.requestHead] = head;
  scalars[Scalar.requestCount] = count + 1;
}

function rememberPayment(state: EngineState, words: Int32Array, f64: Float64Array, at: number): void {
  const scalars = state.scalars;
  const capacity = state.limits.paymentReferencesMax;
  const key = state.paymentKey;
  let head = scalars[Scalar.paymentHead]!;
  let count = scalars[Scalar.paymentCount]!;
  if (count === capacity) {
    // Forget the oldest: a redelivery older than the window is decided again by the order's state machine.
    const k = head * paymentKeyWords;
    state.paymentIndex.delete(key[k]!, key[k + 1]!, key[k + 2]!);
    head = head + 1 === capacity ? 0 : head + 1;
    count--;
  }
  let entry = head + count;
  if (entry >= capacity) entry -= capacity;
  const referenceAt = paymentReceivedReferenceAt(at);
  const referenceWords = paymentReceivedReferenceWords(words, at);
  const k = entry * paymentKeyWords;
  for (let i = 0; i < paymentKeyWords; i++)
    key[k + i] = paymentReferenceKey(words, referenceAt, referenceWords, i);
  state.paymentOrderId[entry] = paymentReceivedOrderId(f64, at);
  state.paymentResult[entry] = paymentReceivedResult(words, at);
  state.paymentStatus[entry] = paymentReceivedStatus(words, at);
  state.paymentIndex.set(key[k]!, key[k + 1]!, key[k + 2]!, entry);
  scalars[Scalar.paymentHead] = head;
  scalars[Scalar.paymentCount] = count + 1;
}

function createOrder(
  state: EngineState,
  atMs: number,
  words: Int32Array,
  f64: Float64Array,
  at: number,
): void {
  const scalars = state.scalars;
  const freeCount = scalars[Scalar.orderFreeCount]! - 1;
  if (freeCount < 0) throw new Error('evolve: orderCreated with no free order slot');
  scalars[Scalar.orderFreeCount] = freeCount;
  const slot = state.orderFreeSlots[freeCount]!;
  const orderId = orderCreatedOrderId(f64, at);
  const buyerId = orderCreatedBuyerId(words, at);
  const lineCount = orderCreatedLineCount(words, at);
  const expiresAtMs = orderCreatedExpiresAtMs(f64, at);
  state.orderIndex.set(highWord(orderId), lowWord(orderId), 0, slot);
  state.orderId[slot] = orderId;
  state.orderBuyerId[slot] = buyerId;
  state.orderStatus[slot] = OrderStatus.created;
  state.orderLineCount[slot] = lineCount;
  state.orderTotalMinor[slot] = orderCreatedTotalMinor(f64, at);
  state.orderExpiresAtMs[slot] = expiresAtMs;
  const base = slot * state.limits.linesPerOrderMax;
  for (let i = 0; i < lineCount; i++) {
    state.orderLineSkuId[base + i] = orderCreatedLineSkuId(words, at, i);
    state.orderLineQuantity[base + i] = orderCreatedLineQuantity(words, at, i);
  }
  if (orderId >= scalars[Scalar.orderSerialNext]!) scalars[Scalar.orderSerialNext] = orderId + 1;
  rememberRequest(state, buyerId, orderCreatedRequestId(f64, at), orderId, 0, 0);

  // Velocity: a fixed window per buyer, opened by the first order in it.
  const buyer = buyerSlotFor(state, buyerId);
  if (atMs - state.buyerVelocityWindowStartMs[buyer]! >= state.limits.velocityWindowMs) {
    state.buyerVelocityWindowStartMs[buyer] = atMs;
    state.buyerVelocityCount[buyer] = 1;
  } else {
    state.buyerVelocityCount[buyer] = state.buyerVelocityCount[buyer]! + 1;
  }
  timerSchedule(state, slot, expiresAtMs);
}

function changeStatus(
  state: EngineState,
  atMs: number,
  words: Int32Array,
  f64: Float64Array,
  at: number,
): void {
  const orderId = orderStatusChangedOrderId(f64, at);
  const slot = orderSlotOf(state, orderId);
  if (slot < 0) throw new Error(`evolve: status change for unknown order ${orderId}`);
  const previous = state.orderStatus[slot]!;
  const status = orderStatusChangedStatus(words, at);
  state.orderStatus[slot] = status;
  if (status === OrderStatus.failCheckout) {
    rememberFailure(state, orderId, orderStatusChangedCode(words, at), orderStatusChangedSkuId(words, at));
  }
  const buyerId = state.orderBuyerId[slot]!;
  const base = slot * state.limits.linesPerOrderMax;
  const lineCount = state.orderLineCount[slot]!;

  if (status === OrderStatus.checkedInventory) {
    for (let i = 0; i < lineCount; i++) {
      const skuId = state.orderLineSkuId[base + i]!;
      const quantity = state.orderLineQuantity[base + i]!;
      state.skuReserved[skuId] = state.skuReserved[skuId]! + quantity;
      addPairUnits(state, buyerId, skuId, quantity);
      publishAvailability(state, skuId);
    }
  } else if (isReservingStatus(previous) && !isReservingStatus(status)) {
    const sold = status === OrderStatus.checkoutSuccess;
    for (let i = 0; i < lineCount; i++) {
      const skuId = state.orderLineSkuId[base + i]!;
      const quantity = state.orderLineQuantity[base + i]!;
      state.skuReserved[skuId] = state.skuReserved[skuId]! - quantity;
      if (sold) {
        state.skuOnHand[skuId] = state.skuOnHand[skuId]! - quantity;
        state.skuSold[skuId] = state.skuSold[skuId]! + quantity;
      } else {
        addPairUnits(state, buyerId, skuId, -quantity);
      }
      publishAvailability(state, skuId);
    }
  }
  if (isFinalStatus(status)) timerSchedule(state, slot, atMs + state.limits.finalOrderRetentionMs);
}

/**
 * A failed risk or price check is the answer to the request that created the
 * order: a retry must get it again. The processor decides failCheckout in the
 * same command that created the order, so its request is the newest remembered.
 */
function rememberFailure(state: EngineState, orderId: number, code: number, skuId: number): void {
  const capacity = state.limits.requestIdsMax;
  let newest = state.scalars[Scalar.requestHead]! + state.scalars[Scalar.requestCount]! - 1;
  if (newest >= capacity) newest -= capacity;
  if (newest < 0 || state.requestOutcome[newest] !== orderId) {
    throw new Error(`evolve: failCheckout of order ${orderId} that is not the newest request's`);
  }
  state.requestCode[newest] = code;
  state.requestSkuId[newest] = skuId;
}

function addPairUnits(state: EngineState, buyerId: number, skuId: number, units: number): void {
  let pair = state.pairIndex.get(buyerId, skuId, 0);
  if (pair < 0) {
    pair = state.scalars[Scalar.pairCount]!;
    state.scalars[Scalar.pairCount] = pair + 1;
    state.pairIndex.set(buyerId, skuId, 0, pair);
  }
  state.pairUnits[pair] = state.pairUnits[pair]! + units;
}

function forgetOrder(state: EngineState, orderId: number): void {
  const slot = orderSlotOf(state, orderId);
  if (slot < 0) throw new Error(`evolve: forgetting unknown order ${orderId}`);
  timerCancel(state, slot);
  state.orderIndex.delete(highWord(orderId), lowWord(orderId), 0);
  state.orderStatus[slot] = OrderStatus.none;
  state.orderId[slot] = 0;
  const free = state.scalars[Scalar.orderFreeCount]!;
  state.orderFreeSlots[free] = slot;
  state.scalars[Scalar.orderFreeCount] = free + 1;
}

// Timer wheel: one timer per order slot, in the bucket of its deadline tick.

export function timerBucket(state: EngineState, atMs: number): number {
  return Math.floor(atMs / state.limits.timerSlotMs) & (state.limits.timerSlotCount - 1);
}

function timerSchedule(state: EngineState, slot: number, atMs: number): void {
  timerCancel(state, slot);
  state.orderTimerAtMs[slot] = atMs;
  // Insert at the head: a walk that re-schedules into the bucket it is walking never revisits the entry.
  const bucket = timerBucket(state, atMs);
  const head = state.timerHead[bucket]!;
  state.orderTimerNext[slot] = head;
  state.orderTimerPrev[slot] = -1 - bucket; // negative: the head pointer of bucket -1 - prev
  if (head >= 0) state.orderTimerPrev[head] = slot;
  state.timerHead[bucket] = slot;
}

function timerCancel(state: EngineState, slot: number): void {
  const prev = state.orderTimerPrev[slot]!;
  if (prev === timerUnscheduled) return;
  const next = state.orderTimerNext[slot]!;
  if (prev >= 0) state.orderTimerNext[prev] = next;
  else state.timerHead[-1 - prev] = next;
  if (next >= 0) state.orderTimerPrev[next] = prev;
  state.orderTimerNext[slot] = -1;
  state.orderTimerPrev[slot] = timerUnscheduled;
}
