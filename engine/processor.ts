/**
 * The business-logic processor: decides what a command means against the
 * current state, writes the resulting events into an event sink, and applies
 * each one with evolve() as soon as it is written. Pure and deterministic: no
 * I/O, no clock (time is the command's nowMs), no randomness, no allocation
 * per command. Runs on the engine thread (engine-worker.ts), in the
 * simulator, and in benchmarks, always behind the same SlotSink seam.
 *
 * One command, one reply: every command applied with a reply sink gets
 * exactly one reply slot, tagged with the event sequence it depends on
 * (durableSeqNeeded). The caller releases it to the client only once the
 * journal's durable sequence has reached that number (output commit).
 */
import {
  CommandType,
  EventType,
  isFinalStatus,
  isReservingStatus,
  OrderStatus,
  PaymentOutcome,
  ResultCode,
} from './codes.ts';
import { evolve, orderSlotOf } from './evolve.ts';
import { highWord, lowWord } from './int-hash.ts';
import {
  BuyerBlocked,
  CommandSlot as C,
  EventSlot,
  OrderCreated,
  OrderForgotten,
  OrderRefused,
  OrderStatusChanged,
  PaymentReceived,
  PriceSet,
  ProductAdded,
  paymentReferenceCharsMax,
  ReplySlot,
  SaleConfigured,
  StockRestocked,
} from './layout.ts';
import { engineTimeMsMax } from './limits.ts';
import { type EngineState, paymentReferenceKey, requestFilterBit, Scalar } from './state.ts';

/** Where fixed-layout slots are written: a ring producer, or an in-memory buffer in tests. */
export interface SlotSink {
  readonly words: Int32Array;
  readonly f64: Float64Array;
  /** Word offset of a free slot. Must not fail: a sink that can fill up waits (engine thread) or grows (tests). */
  claim(): number;
}

export class Processor {
  readonly state: EngineState;
  private readonly events: SlotSink;
  // Scratch for one order's lines with the same SKU summed (at most linesPerOrderMax).
  private readonly mergedSkuId: Int32Array;
  private readonly mergedQuantity: Int32Array;
  private mergedCount = 0;
  // The event being written.
  private eventAt = 0;
  private eventType = 0;

  constructor(state: EngineState, events: SlotSink) {
    this.state = state;
    this.events = events;
    this.mergedSkuId = new Int32Array(state.limits.linesPerOrderMax);
    this.mergedQuantity = new Int32Array(state.limits.linesPerOrderMax);
  }

  /** Applies the command at word offset `c` of (cw, cf); writes one reply into `replies` if given. */
  apply(cw: Int32Array, cf: Float64Array, c: number, replies: SlotSink | null): void {
    const scalars = this.state.scalars;
    const commandNowMs = cf[(c + C.nowMs) >> 1]!;
    // Producers validate time (proto/limits.ts); a bad one here is a bug upstream, and would hang tick().
    if (!(commandNowMs >= 0 && commandNowMs <= engineTimeMsMax)) {
      throw new Error(`processor: command time ${commandNowMs} outside 0..${engineTimeMsMax}`);
    }
    // The engine's clock never goes back, whatever a producer's clock did.
    if (commandNowMs > scalars[Scalar.nowMs]!) scalars[Scalar.nowMs] = commandNowMs;
    const correlationId = cw[c + C.correlationId]!;
    const type = cw[c + C.type]!;
    let r = -1;
    if (replies !== null) {
      r = replies.claim();
      const rw = replies.words;
      const rf = replies.f64;
      rw[r + ReplySlot.correlationId] = correlationId;
      rw[r + ReplySlot.result] = ResultCode.ok;
      rf[(r + ReplySlot.orderId) >> 1] = 0;
      rw[r + ReplySlot.status] = OrderStatus.none;
      rw[r + ReplySlot.skuId] = 0;
      rf[(r + ReplySlot.expiresAtMs) >> 1] = 0;
      rf[(r + ReplySlot.totalMinor) >> 1] = 0;
    }
    let result: number;
    switch (type) {
      case CommandType.addProduct:
        result = this.addProduct(cw, cf, c);
        break;
      case CommandType.restock:
        result = this.restock(cw, c);
        break;
      case CommandType.setPrice:
        result = this.setPrice(cw, cf, c);
        break;
      case CommandType.configureSale:
        result = this.configureSale(cw, cf, c);
        break;
      case CommandType.blockBuyer:
        result = this.blockBuyer(cw, c);
        break;
      case CommandType.placeOrder:
        result = this.placeOrder(cw, cf, c, replies, r);
        break;
      case CommandType.paymentResult:
        result = this.paymentResult(cw, cf, c, replies, r);
        break;
      case CommandType.cancelOrder:
        result = this.cancelOrder(cw, cf, c, replies, r);
        break;
      case CommandType.tick:
        this.tick();
        result = ResultCode.ok;
        break;
      default:
        // Producers validate before writing into a ring: an unknown type is a bug upstream.
        throw new Error(`processor: unknown command type ${type}`);
    }
    if (replies !== null) {
      replies.words[r + ReplySlot.result] = result;
      replies.f64[(r + ReplySlot.durableSeqNeeded) >> 1] = scalars[Scalar.lastSeq]!;
    }
  }

  // Events: begin() claims and fills the header, the caller writes the payload, end() applies it.

  private begin(type: number, payloadWords: number): number {
    const sink = this.events;
    const at = sink.claim();
    sink.words[at + EventSlot.type] = type;
    sink.words[at + EventSlot.payloadWords] = payloadWords;
    sink.f64[(at + EventSlot.seq) >> 1] = this.state.scalars[Scalar.lastSeq]! + 1;
    sink.f64[(at + EventSlot.atMs) >> 1] = this.state.scalars[Scalar.nowMs]!;
    this.eventAt = at;
    this.eventType = type;
    return at + EventSlot.payload;
  }

  private end(): void {
    const sink = this.events;
    const at = this.eventAt;
    evolve(
      this.state,
      this.eventType,
      sink.f64[(at + EventSlot.seq) >> 1]!,
      sink.f64[(at + EventSlot.atMs) >> 1]!,
      sink.words,
      sink.f64,
      at + EventSlot.payload,
    );
  }

  private emitStatus(slot: number, status: number, code: number, skuId = 0): void {
    const s = this.state;
    const previous = s.orderStatus[slot]!;
    const p = this.begin(EventType.orderStatusChanged, OrderStatusChanged.words);
    const w = this.events.words;
    w[p + OrderStatusChanged.status] = status;
    w[p + OrderStatusChanged.code] = code;
    this.events.f64[(p + OrderStatusChanged.orderId) >> 1] = s.orderId[slot]!;
    w[p + OrderStatusChanged.buyerId] = s.orderBuyerId[slot]!;
    w[p + OrderStatusChanged.previous] = previous;
    w[p + OrderStatusChanged.skuId] = skuId;
    this.end();
  }

  private skuKnown(skuId: number): boolean {
    return skuId >= 1 && skuId <= this.state.limits.skusMax && this.state.skuExists[skuId] === 1;
  }

  private priceValid(price: number): boolean {
    return Number.isInteger(price) && price >= 0 && price <= this.state.limits.priceMinorMax;
  }

  // Admin commands.

  private addProduct(cw: Int32Array, cf: Float64Array, c: number): number {
    const s = this.state;
    const skuId = cw[c + C.skuId]!;
    const price = cf[(c + C.amountMinor) >> 1]!;
    const stock = cw[c + C.quantity]!;
    if (skuId < 1 || skuId > s.limits.skusMax) return ResultCode.skuOutOfRange;
    if (s.skuExists[skuId] === 1) return ResultCode.productExists;
    if (!this.priceValid(price)) return ResultCode.priceInvalid;
    if (stock < 0 || stock > s.limits.stockPerSkuMax) return ResultCode.stockInvalid;
    const p = this.begin(EventType.productAdded, ProductAdded.words);
    const w = this.events.words;
    w[p + ProductAdded.skuId] = skuId;
    w[p + ProductAdded.priceMinor] = price;
    w[p + ProductAdded.currency] = cw[c + C.arg]!;
    w[p + ProductAdded.stock] = stock;
    this.end();
    return ResultCode.ok;
  }

  private restock(cw: Int32Array, c: number): number {
    const s = this.state;
    const skuId = cw[c + C.skuId]!;
    const quantity = cw[c + C.quantity]!;
    if (!this.skuKnown(skuId)) return ResultCode.unknownSku;
    if (quantity < 1 || s.skuOnHand[skuId]! + quantity > s.limits.stockPerSkuMax)
      return ResultCode.stockInvalid;
    const p = this.begin(EventType.stockRestocked, StockRestocked.words);
    this.events.words[p + StockRestocked.skuId] = skuId;
    this.events.words[p + StockRestocked.quantity] = quantity;
    this.end();
    return ResultCode.ok;
  }

  private setPrice(cw: Int32Array, cf: Float64Array, c: number): number {
    const skuId = cw[c + C.skuId]!;
    const price = cf[(c + C.amountMinor) >> 1]!;
    if (!this.skuKnown(skuId)) return ResultCode.unknownSku;
    if (!this.priceValid(price)) return ResultCode.priceInvalid;
    const p = this.begin(EventType.priceSet, PriceSet.words);
    this.events.words[p + PriceSet.skuId] = skuId;
    this.events.words[p + PriceSet.priceMinor] = price;
    this.end();
    return ResultCode.ok;
  }

  private configureSale(cw: Int32Array, cf: Float64Array, c: number): number {
    const skuId = cw[c + C.skuId]!;
    const limitPerBuyer = cw[c + C.quantity]!;
    const startsAtMs = cf[(c + C.startsAtMs) >> 1]!;
    const endsAtMs = cf[(c + C.endsAtMs) >> 1]!;
    if (!this.skuKnown(skuId)) return ResultCode.unknownSku;
    if (limitPerBuyer < 0) return ResultCode.quantityInvalid;
    // 0 means "open since forever" / "never ends".
    if (!(startsAtMs >= 0 && endsAtMs >= 0 && (endsAtMs === 0 || endsAtMs > startsAtMs))) {
      return ResultCode.saleWindowInvalid;
    }
    const p = this.begin(EventType.saleConfigured, SaleConfigured.words);
    this.events.words[p + SaleConfigured.skuId] = skuId;
    this.events.words[p + SaleConfigured.limitPerBuyer] = limitPerBuyer;
    this.events.f64[(p + SaleConfigured.startsAtMs) >> 1] = startsAtMs;
    this.events.f64[(p + SaleConfigured.endsAtMs) >> 1] = endsAtMs;
    this.end();
    return ResultCode.ok;
  }

  private blockBuyer(cw: Int32Array, c: number): number {
    const s = this.state;
    const buyerId = cw[c + C.buyerId]!;
    if (s.buyerIndex.get(buyerId, 0, 0) < 0 && s.scalars[Scalar.buyerCount]! >= s.limits.buyersMax) {
      return ResultCode.buyersFull;
    }
    const p = this.begin(EventType.buyerBlocked, BuyerBlocked.words);
    this.events.words[p + BuyerBlocked.buyerId] = buyerId;
    this.events.words[p + BuyerBlocked.blocked] = cw[c + C.arg] === 0 ? 0 : 1;
    this.end();
    return ResultCode.ok;
  }

  // The purchase flow.

  private refuse(
    buyerId: number,
    requestId: number,
    code: number,
    skuId: number,
    replies: SlotSink | null,
    r: number,
  ): number {
    const p = this.begin(EventType.orderRefused, OrderRefused.words);
    const w = this.events.words;
    w[p + OrderRefused.buyerId] = buyerId;
    w[p + OrderRefused.code] = code;
    this.events.f64[(p + OrderRefused.requestId) >> 1] = requestId;
    w[p + OrderRefused.skuId] = skuId;
    this.end();
    if (replies !== null) replies.words[r + ReplySlot.skuId] = skuId;
    return code;
  }

  private replyOrder(slot: number, replies: SlotSink | null, r: number, skuId: number): void {
    if (replies === null) return;
    const s = this.state;
    replies.f64[(r + ReplySlot.orderId) >> 1] = s.orderId[slot]!;
    replies.words[r + ReplySlot.status] = s.orderStatus[slot]!;
    replies.words[r + ReplySlot.skuId] = skuId;
    replies.f64[(r + ReplySlot.expiresAtMs) >> 1] = s.orderExpiresAtMs[slot]!;
    replies.f64[(r + ReplySlot.totalMinor) >> 1] = s.orderTotalMinor[slot]!;
  }

  private placeOrder(
    cw: Int32Array,
    cf: Float64Array,
    c: number,
    replies: SlotSink | null,
    r: number,
  ): number {
    const s = this.state;
    const limits = s.limits;
    const nowMs = s.scalars[Scalar.nowMs]!;
    const buyerId = cw[c + C.buyerId]!;
    const requestId = cf[(c + C.requestId) >> 1]!;

    // A retry of a request we remember gets the first answer and no second effect.
    const bit = requestFilterBit(s, buyerId, requestId);
    const maybeRemembered = (s.requestFilter[bit >>> 5]! & (1 << (bit & 31))) !== 0;
    const entry = maybeRemembered ? s.requestIndex.get(buyerId, highWord(requestId), lowWord(requestId)) : -1;
    if (entry >= 0) {
      const outcome = s.requestOutcome[entry]!;
      const code = s.requestCode[entry]!;
      if (replies !== null) replies.words[r + ReplySlot.skuId] = s.requestSkuId[entry]!;
      if (outcome < 0) return code;
      const slot = orderSlotOf(s, outcome);
      if (slot >= 0) {
        this.replyOrder(slot, replies, r, s.requestSkuId[entry]!);
        return code;
      }
      // The order is final and forgotten: its id still answers the retry, and a failed one its refusal.
      if (replies !== null) {
        replies.f64[(r + ReplySlot.orderId) >> 1] = outcome;
        if (code !== ResultCode.ok) replies.words[r + ReplySlot.status] = OrderStatus.failCheckout;
      }
      return code;
    }

    // Shape and catalog: refused without creating an order.
    const lineCount = cw[c + C.lineCount]!;
    if (lineCount < 1 || lineCount > limits.linesPerOrderMax) {
      return this.refuse(buyerId, requestId, ResultCode.linesInvalid, 0, replies, r);
    }
    this.mergedCount = 0;
    let currency = 0;
    for (let i = 0; i < lineCount; i++) {
      const line = c + C.lines + i * C.lineWords;
      const skuId = cw[line + C.lineSkuId]!;
      const quantity = cw[line + C.lineQuantity]!;
      if (!this.skuKnown(skuId))
        return this.refuse(buyerId, requestId, ResultCode.unknownSku, skuId, replies, r);
      if (quantity < 1 || quantity > limits.quantityPerLineMax) {
        return this.refuse(buyerId, requestId, ResultCode.quantityInvalid, skuId, replies, r);
      }
      if (i === 0) currency = s.skuCurrency[skuId]!;
      else if (s.skuCurrency[skuId] !== currency) {
        return this.refuse(buyerId, requestId, ResultCode.currencyMismatch, skuId, replies, r);
      }
      const startsAtMs = s.skuSaleStartsAtMs[skuId]!;
      const endsAtMs = s.skuSaleEndsAtMs[skuId]!;
      if (nowMs < startsAtMs || (endsAtMs !== 0 && nowMs >= endsAtMs)) {
        return this.refuse(buyerId, requestId, ResultCode.saleNotOpen, skuId, replies, r);
      }
      let m = 0;
      while (m < this.mergedCount && this.mergedSkuId[m] !== skuId) m++;
      if (m === this.mergedCount) {
        this.mergedSkuId[m] = skuId;
        this.mergedQuantity[m] = 0;
        this.mergedCount++;
      }
      this.mergedQuantity[m] = this.mergedQuantity[m]! + quantity;
    }

    // Inventory: all lines or none.
    let newPairs = 0;
    for (let m = 0; m < this.mergedCount; m++) {
      const skuId = this.mergedSkuId[m]!;
      const available = s.skuOnHand[skuId]! - s.skuReserved[skuId]!;
      if (available <= 0) return this.refuse(buyerId, requestId, ResultCode.soldOut, skuId, replies, r);
      if (available < this.mergedQuantity[m]!) {
        return this.refuse(buyerId, requestId, ResultCode.insufficientStock, skuId, replies, r);
      }
      if (s.pairIndex.get(buyerId, skuId, 0) < 0) newPairs++;
    }

    // Capacity, preallocated at start-up.
    if (s.scalars[Scalar.orderFreeCount] === 0)
      return this.refuse(buyerId, requestId, ResultCode.ordersFull, 0, replies, r);
    if (s.buyerIndex.get(buyerId, 0, 0) < 0 && s.scalars[Scalar.buyerCount]! >= limits.buyersMax) {
      return this.refuse(buyerId, requestId, ResultCode.buyersFull, 0, replies, r);
    }
    if (s.scalars[Scalar.pairCount]! + newPairs > limits.buyerSkuPairsMax) {
      return this.refuse(buyerId, requestId, ResultCode.buyerSkuPairsFull, 0, replies, r);
    }

    // created: the lines at today's prices.
    const orderId = s.scalars[Scalar.orderSerialNext]!;
    let totalMinor = 0;
    {
      const p = this.begin(EventType.orderCreated, OrderCreated.wordsFor(this.mergedCount));
      const w = this.events.words;
      const f = this.events.f64;
      w[p + OrderCreated.buyerId] = buyerId;
      w[p + OrderCreated.lineCount] = this.mergedCount;
      f[(p + OrderCreated.orderId) >> 1] = orderId;
      f[(p + OrderCreated.requestId) >> 1] = requestId;
      f[(p + OrderCreated.expiresAtMs) >> 1] = nowMs + limits.orderTtlMs;
      for (let m = 0; m < this.mergedCount; m++) {
        const skuId = this.mergedSkuId[m]!;
        const line = p + OrderCreated.lines + m * OrderCreated.lineWords;
        w[line + OrderCreated.lineSkuId] = skuId;
        w[line + OrderCreated.lineQuantity] = this.mergedQuantity[m]!;
        w[line + OrderCreated.lineUnitPriceMinor] = s.skuPriceMinor[skuId]!;
        totalMinor += s.skuPriceMinor[skuId]! * this.mergedQuantity[m]!;
      }
      f[(p + OrderCreated.totalMinor) >> 1] = totalMinor;
      this.end();
    }
    const slot = orderSlotOf(s, orderId);

    // checked_inventory: the stock is reserved.
    this.emitStatus(slot, OrderStatus.checkedInventory, ResultCode.ok);

    // Risk.
    const buyer = s.buyerIndex.get(buyerId, 0, 0);
    let riskCode: number = ResultCode.ok;
    let riskSkuId = 0;
    if (s.buyerBlocked[buyer] === 1) riskCode = ResultCode.buyerBlocked;
    else if (s.buyerVelocityCount[buyer]! > limits.velocityOrdersMax) riskCode = ResultCode.velocityExceeded;
    else {
      for (let m = 0; m < this.mergedCount; m++) {
        const skuId = this.mergedSkuId[m]!;
        const limit = s.skuLimitPerBuyer[skuId]!;
        if (limit > 0 && s.pairUnits[s.pairIndex.get(buyerId, skuId, 0)]! > limit) {
          riskCode = ResultCode.limitPerBuyerExceeded;
          riskSkuId = skuId;
          break;
        }
      }
    }
    if (riskCode !== ResultCode.ok) {
      this.emitStatus(slot, OrderStatus.failCheckout, riskCode, riskSkuId);
      this.replyOrder(slot, replies, r, riskSkuId);
      return riskCode;
    }
    this.emitStatus(slot, OrderStatus.pendingCheckout, ResultCode.ok);

    // Pricing: every unit price the buyer saw, and the total.
    let priceCode: number = ResultCode.ok;
    let priceSkuId = 0;
    for (let i = 0; i < lineCount; i++) {
      const line = c + C.lines + i * C.lineWords;
      const skuId = cw[line + C.lineSkuId]!;
      if (cw[line + C.lineUnitPriceMinor] !== s.skuPriceMinor[skuId]) {
        priceCode = ResultCode.priceChanged;
        priceSkuId = skuId;
        break;
      }
    }
    if (priceCode === ResultCode.ok && cf[(c + C.amountMinor) >> 1] !== totalMinor)
      priceCode = ResultCode.totalMismatch;
    if (priceCode !== ResultCode.ok) {
      this.emitStatus(slot, OrderStatus.failCheckout, priceCode, priceSkuId);
      this.replyOrder(slot, replies, r, priceSkuId);
      return priceCode;
    }
    this.emitStatus(slot, OrderStatus.readyForCheckout, ResultCode.ok);
    this.replyOrder(slot, replies, r, 0);
    return ResultCode.ok;
  }

  private paymentResult(
    cw: Int32Array,
    cf: Float64Array,
    c: number,
    replies: SlotSink | null,
    r: number,
  ): number {
    const s = this.state;
    // A redelivery of a reference we remember gets the first answer and no second effect.
    const referenceChars = cw[c + C.quantity]!;
    // Producers validate references (engine/commands.ts); a length past the slot is a bug upstream.
    if (!(referenceChars >= 0 && referenceChars <= paymentReferenceCharsMax)) {
      throw new Error(
        `processor: payment reference of ${referenceChars} chars outside 0..${paymentReferenceCharsMax}`,
      );
    }
    const referenceWords = (referenceChars + 3) >> 2;
    const referenceAt = c + C.lines;
    if (referenceChars > 0) {
      const entry = s.paymentIndex.get(
        paymentReferenceKey(cw, referenceAt, referenceWords, 0),
        paymentReferenceKey(cw, referenceAt, referenceWords, 1),
        paymentReferenceKey(cw, referenceAt, referenceWords, 2),
      );
      if (entry >= 0) {
        if (replies !== null) {
          replies.f64[(r + ReplySlot.orderId) >> 1] = s.paymentOrderId[entry]!;
          replies.words[r + ReplySlot.status] = s.paymentStatus[entry]!;
        }
        return s.paymentResult[entry]!;
      }
    }
    const slot = orderSlotOf(s, cf[(c + C.orderId) >> 1]!);
    if (slot < 0) return ResultCode.unknownOrder;
    const succeeded = cw[c + C.arg] === PaymentOutcome.succeeded;
    const previous = s.orderStatus[slot]!;
    let status = previous;
    let result: number = ResultCode.ok;
    // Expiry is decided by the command's time, not by whether a Tick has run yet.
    if (status === OrderStatus.readyForCheckout && s.scalars[Scalar.nowMs]! >= s.orderExpiresAtMs[slot]!) {
      this.emitStatus(slot, OrderStatus.timeout, ResultCode.expired);
      status = OrderStatus.timeout;
    }
    if (status === OrderStatus.readyForCheckout) {
      if (!succeeded) {
        this.emitStatus(slot, OrderStatus.errorCheckout, ResultCode.paymentDeclined);
        result = ResultCode.paymentDeclined;
      } else if (cf[(c + C.amountMinor) >> 1] !== s.orderTotalMinor[slot]) {
        // Money moved, but not the amount we asked: never a sale, flagged for refund handling.
        this.emitStatus(slot, OrderStatus.exceptionCheckout, ResultCode.amountMismatch);
        result = ResultCode.amountMismatch;
      } else {
        this.emitStatus(slot, OrderStatus.checkoutSuccess, ResultCode.ok);
      }
    } else if (succeeded && (status === OrderStatus.timeout || status === OrderStatus.canceled)) {
      this.emitStatus(slot, OrderStatus.exceptionCheckout, ResultCode.expired);
      result = ResultCode.expired;
    } else if (!(succeeded && status === OrderStatus.checkoutSuccess)) {
      // A repeated success for a paid order is the same answer again; anything else changes nothing.
      result = ResultCode.invalidTransition;
    }

    // The delivery itself: the money as reported, for refunds and reconciliation, and the answer to remember.
    const p = this.begin(EventType.paymentReceived, PaymentReceived.wordsFor(referenceChars));
    const w = this.events.words;
    const f = this.events.f64;
    f[(p + PaymentReceived.orderId) >> 1] = s.orderId[slot]!;
    f[(p + PaymentReceived.amountMinor) >> 1] = cf[(c + C.amountMinor) >> 1]!;
    w[p + PaymentReceived.buyerId] = s.orderBuyerId[slot]!;
    w[p + PaymentReceived.outcome] = cw[c + C.arg]!;
    w[p + PaymentReceived.result] = result;
    w[p + PaymentReceived.previous] = previous;
    w[p + PaymentReceived.status] = s.orderStatus[slot]!;
    w[p + PaymentReceived.referenceChars] = referenceChars;
    for (let i = 0; i < referenceWords; i++) w[p + PaymentReceived.reference + i] = cw[referenceAt + i]!;
    this.end();

    this.replyOrder(slot, replies, r, 0);
    return result;
  }

  private cancelOrder(
    cw: Int32Array,
    cf: Float64Array,
    c: number,
    replies: SlotSink | null,
    r: number,
  ): number {
    const s = this.state;
    const slot = orderSlotOf(s, cf[(c + C.orderId) >> 1]!);
    if (slot < 0) return ResultCode.unknownOrder;
    if (s.orderBuyerId[slot] !== cw[c + C.buyerId]) return ResultCode.notOrderOwner;
    const status = s.orderStatus[slot]!;
    let result: number = ResultCode.ok;
    if (isReservingStatus(status)) this.emitStatus(slot, OrderStatus.canceled, ResultCode.ok);
    else if (status !== OrderStatus.canceled) result = ResultCode.invalidTransition;
    this.replyOrder(slot, replies, r, 0);
    return result;
  }

  /** Advances the timer wheel to the engine's clock: expires reservations, forgets old final orders. */
  private tick(): void {
    const s = this.state;
    const nowMs = s.scalars[Scalar.nowMs]!;
    const slotCount = s.limits.timerSlotCount;
    const target = Math.floor(nowMs / s.limits.timerSlotMs);
    const previous = s.scalars[Scalar.wheelTick]!;
    // Re-walk the last tick's bucket: it may hold deadlines that were still ahead then.
    let first = previous < 0 ? target - slotCount + 1 : previous;
    if (target - first >= slotCount) first = target - slotCount + 1;
    for (let t = first; t <= target; t++) {
      let slot = s.timerHead[t & (slotCount - 1)]!;
      while (slot >= 0) {
        const next = s.orderTimerNext[slot]!;
        if (s.orderTimerAtMs[slot]! <= nowMs) {
          const status = s.orderStatus[slot]!;
          if (isReservingStatus(status)) {
            this.emitStatus(slot, OrderStatus.timeout, ResultCode.expired);
          } else if (isFinalStatus(status)) {
            const p = this.begin(EventType.orderForgotten, OrderForgotten.words);
            this.events.f64[(p + OrderForgotten.orderId) >> 1] = s.orderId[slot]!;
            this.end();
          }
        }
        slot = next;
      }
    }
    s.scalars[Scalar.wheelTick] = target;
  }
}
