/**
 * The one reader of event payloads: typed accessors over an event's words at
 * `at` (the payload's first word), one per layout.ts field. evolve, the
 * embedded read model, the replay tool and proto/event-codec.ts all read
 * through these, so a layout change is made here and in layout.ts only.
 *
 * Engine-thread safe: plain functions over the caller's Int32Array/Float64Array
 * views (an int field takes `words`, an f64 field takes `f64`, read as
 * f64[(at + field) >> 1] with `at + field` even), no allocation, no checks.
 * Plain functions rather than a view object set to an offset: they hold no
 * offset a caller could leave stale. On reads alone both cost more than the
 * direct offsets (docs/architecture.md has the figures); through evolve the
 * difference is within bench/engine.ts's noise.
 *
 * Ids are returned as stored (int32); a reader that wants the schema's uint32
 * writes `>>> 0`. Checking a payload's length is the caller's job (the codec
 * does; the engine's own output needs none).
 */
import {
  BuyerBlocked,
  eventPayloadWordsMax,
  OrderCreated,
  OrderForgotten,
  OrderRefused,
  OrderStatusChanged,
  PaymentReceived,
  PriceSet,
  ProductAdded,
  SaleConfigured,
  StockRestocked,
} from './layout.ts';

export const productAddedSkuId = (words: Int32Array, at: number): number => words[at + ProductAdded.skuId]!;
export const productAddedPriceMinor = (words: Int32Array, at: number): number =>
  words[at + ProductAdded.priceMinor]!;
/** Packed ISO 4217 code (layout.ts unpackCurrency). */
export const productAddedCurrency = (words: Int32Array, at: number): number =>
  words[at + ProductAdded.currency]!;
export const productAddedStock = (words: Int32Array, at: number): number => words[at + ProductAdded.stock]!;

export const stockRestockedSkuId = (words: Int32Array, at: number): number =>
  words[at + StockRestocked.skuId]!;
export const stockRestockedQuantity = (words: Int32Array, at: number): number =>
  words[at + StockRestocked.quantity]!;

export const priceSetSkuId = (words: Int32Array, at: number): number => words[at + PriceSet.skuId]!;
export const priceSetPriceMinor = (words: Int32Array, at: number): number => words[at + PriceSet.priceMinor]!;

export const saleConfiguredSkuId = (words: Int32Array, at: number): number =>
  words[at + SaleConfigured.skuId]!;
export const saleConfiguredLimitPerBuyer = (words: Int32Array, at: number): number =>
  words[at + SaleConfigured.limitPerBuyer]!;
export const saleConfiguredStartsAtMs = (f64: Float64Array, at: number): number =>
  f64[(at + SaleConfigured.startsAtMs) >> 1]!;
export const saleConfiguredEndsAtMs = (f64: Float64Array, at: number): number =>
  f64[(at + SaleConfigured.endsAtMs) >> 1]!;

export const buyerBlockedBuyerId = (words: Int32Array, at: number): number =>
  words[at + BuyerBlocked.buyerId]!;
/** 1 blocked, 0 unblocked. */
export const buyerBlockedBlocked = (words: Int32Array, at: number): number =>
  words[at + BuyerBlocked.blocked]!;

export const orderRefusedBuyerId = (words: Int32Array, at: number): number =>
  words[at + OrderRefused.buyerId]!;
export const orderRefusedCode = (words: Int32Array, at: number): number => words[at + OrderRefused.code]!;
export const orderRefusedRequestId = (f64: Float64Array, at: number): number =>
  f64[(at + OrderRefused.requestId) >> 1]!;
export const orderRefusedSkuId = (words: Int32Array, at: number): number => words[at + OrderRefused.skuId]!;

export const orderCreatedBuyerId = (words: Int32Array, at: number): number =>
  words[at + OrderCreated.buyerId]!;
export const orderCreatedLineCount = (words: Int32Array, at: number): number =>
  words[at + OrderCreated.lineCount]!;
export const orderCreatedOrderId = (f64: Float64Array, at: number): number =>
  f64[(at + OrderCreated.orderId) >> 1]!;
export const orderCreatedRequestId = (f64: Float64Array, at: number): number =>
  f64[(at + OrderCreated.requestId) >> 1]!;
export const orderCreatedExpiresAtMs = (f64: Float64Array, at: number): number =>
  f64[(at + OrderCreated.expiresAtMs) >> 1]!;
export const orderCreatedTotalMinor = (f64: Float64Array, at: number): number =>
  f64[(at + OrderCreated.totalMinor) >> 1]!;
/** Line `i` (0-based, below the line count). */
export const orderCreatedLineSkuId = (words: Int32Array, at: number, i: number): number =>
  words[at + OrderCreated.lines + i * OrderCreated.lineWords + OrderCreated.lineSkuId]!;
export const orderCreatedLineQuantity = (words: Int32Array, at: number, i: number): number =>
  words[at + OrderCreated.lines + i * OrderCreated.lineWords + OrderCreated.lineQuantity]!;
export const orderCreatedLineUnitPriceMinor = (words: Int32Array, at: number, i: number): number =>
  words[at + OrderCreated.lines + i * OrderCreated.lineWords + OrderCreated.lineUnitPriceMinor]!;

export const orderStatusChangedStatus = (words: Int32Array, at: number): number =>
  words[at + OrderStatusChanged.status]!;
export const orderStatusChangedCode = (words: Int32Array, at: number): number =>
  words[at + OrderStatusChanged.code]!;
export const orderStatusChangedOrderId = (f64: Float64Array, at: number): number =>
  f64[(at + OrderStatusChanged.orderId) >> 1]!;
export const orderStatusChangedBuyerId = (words: Int32Array, at: number): number =>
  words[at + OrderStatusChanged.buyerId]!;
export const orderStatusChangedPrevious = (words: Int32Array, at: number): number =>
  words[at + OrderStatusChanged.previous]!;
/** Reads 0 past a 6-word record of an older journal when the words there are zero (PayloadScratch sees to it). */
export const orderStatusChangedSkuId = (words: Int32Array, at: number): number =>
  words[at + OrderStatusChanged.skuId]!;

export const orderForgottenOrderId = (f64: Float64Array, at: number): number =>
  f64[(at + OrderForgotten.orderId) >> 1]!;

export const paymentReceivedOrderId = (f64: Float64Array, at: number): number =>
  f64[(at + PaymentReceived.orderId) >> 1]!;
export const paymentReceivedAmountMinor = (f64: Float64Array, at: number): number =>
  f64[(at + PaymentReceived.amountMinor) >> 1]!;
export const paymentReceivedBuyerId = (words: Int32Array, at: number): number =>
  words[at + PaymentReceived.buyerId]!;
export const paymentReceivedOutcome = (words: Int32Array, at: number): number =>
  words[at + PaymentReceived.outcome]!;
export const paymentReceivedResult = (words: Int32Array, at: number): number =>
  words[at + PaymentReceived.result]!;
export const paymentReceivedPrevious = (words: Int32Array, at: number): number =>
  words[at + PaymentReceived.previous]!;
export const paymentReceivedStatus = (words: Int32Array, at: number): number =>
  words[at + PaymentReceived.status]!;
export const paymentReceivedReferenceChars = (words: Int32Array, at: number): number =>
  words[at + PaymentReceived.referenceChars]!;
/** Where the reference's words start (4 chars a word, little-endian bytes, zero-padded). */
export const paymentReceivedReferenceAt = (at: number): number => at + PaymentReceived.reference;
export const paymentReceivedReferenceWords = (words: Int32Array, at: number): number =>
  (words[at + PaymentReceived.referenceChars]! + 3) >> 2;

/**
 * A journal record's payload (little-endian bytes at any offset) copied into
 * aligned words, so the accessors above read it at 0 through the same views
 * as on the live path. Words past the record's end read as zero: a record of
 * an older, shorter layout reads zero in the fields added since, not the last
 * record's words. Allocation-free per record.
 */
export class PayloadScratch {
  readonly words = new Int32Array(eventPayloadWordsMax);
  readonly f64 = new Float64Array(this.words.buffer);
  private readonly bytes = new Uint8Array(this.words.buffer);
  /** Bytes the last payload left in scratch. */
  private usedBytes = 0;

  /** Whether a payload of this many bytes fits (whole words, at most the slot's payload). */
  fits(length: number): boolean {
    return length <= this.bytes.length && (length & 3) === 0;
  }

  /** Copies the payload in; the caller has checked `fits(length)`. */
  load(bytes: Uint8Array, offset: number, length: number): void {
    const scratch = this.bytes;
    for (let i = 0; i < length; i++) scratch[i] = bytes[offset + i]!;
    for (let i = length; i < this.usedBytes; i++) scratch[i] = 0;
    this.usedBytes = length;
  }
}
