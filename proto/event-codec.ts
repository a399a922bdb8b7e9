/**
 * Events at the edge: a journal record's event (type, seq, atMs and the fixed
 * layout payload of engine/layout.ts, little-endian words) turned into a
 * stampede.v1.Event for consumers outside the engine: projections, external
 * subscribers, and `stampede replay --events` (eventToJson). Runs on consumer
 * and tool threads, never on the engine thread, and allocates freely.
 *
 * The input is the engine's own output, already checked by the journal frame's
 * checksum, so a payload whose length does not match its type is a bug (or a
 * journal from a newer engine): that throws, it is not a coded result.
 *
 * Commands go the other way in command-codec.ts; commandToSlot and friends are
 * re-exported here so the edge has one import for both directions.
 */

import type { IConversionOptions } from 'protobufjs';
import { EventType } from '../engine/codes.ts';
import { readPaymentReference } from '../engine/commands.ts';
import {
  buyerBlockedBlocked,
  buyerBlockedBuyerId,
  orderCreatedBuyerId,
  orderCreatedExpiresAtMs,
  orderCreatedLineCount,
  orderCreatedLineQuantity,
  orderCreatedLineSkuId,
  orderCreatedLineUnitPriceMinor,
  orderCreatedOrderId,
  orderCreatedRequestId,
  orderCreatedTotalMinor,
  orderForgottenOrderId,
  orderRefusedBuyerId,
  orderRefusedCode,
  orderRefusedRequestId,
  orderRefusedSkuId,
  orderStatusChangedBuyerId,
  orderStatusChangedCode,
  orderStatusChangedOrderId,
  orderStatusChangedPrevious,
  orderStatusChangedSkuId,
  orderStatusChangedStatus,
  PayloadScratch,
  paymentReceivedAmountMinor,
  paymentReceivedBuyerId,
  paymentReceivedOrderId,
  paymentReceivedOutcome,
  paymentReceivedPrevious,
  paymentReceivedReferenceAt,
  paymentReceivedReferenceChars,
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
} from '../engine/event-view.ts';
import {
  BuyerBlocked,
  linesPerOrderMaxLayout,
  OrderCreated,
  OrderForgotten,
  OrderRefused,
  OrderStatusChanged,
  PaymentReceived,
  PriceSet,
  ProductAdded,
  paymentReferenceCharsMax,
  SaleConfigured,
  StockRestocked,
  unpackCurrency,
} from '../engine/layout.ts';
import { stampede } from './generated/stampede.js';

export {
  type BadCommand,
  CommandErrorCode,
  type CommandSlotResult,
  commandToSlot,
  decodeCommand,
  type ValidCommand,
  validateCommand,
} from './command-codec.ts';

/**
 * The payload's words, aligned for engine/event-view.ts's accessors. One per
 * module: eventToProto is synchronous and reads everything out before it returns.
 */
const payload = new PayloadScratch();

/** Ids are uint32 in the schema: read the word unsigned so the object and its encoding agree. */
const uint32 = (word: number): number => word >>> 0;

function expectWords(type: number, seq: number, length: number, words: number): void {
  if (length !== words * 4) {
    throw new RangeError(
      `event ${seq} (type ${type}): payload is ${length} bytes, its layout has ${words * 4}`,
    );
  }
}

/**
 * The stampede.v1.Event for one journal event, as a plain object with every
 * field set (enums as their numbers, which are the journal's numbers).
 */
export function eventToProto(
  seq: number,
  type: number,
  atMs: number,
  bytes: Uint8Array,
  offset: number,
  length: number,
): stampede.v1.IEvent {
  if (offset < 0 || length < 0 || offset + length > bytes.length) {
    throw new RangeError(
      `event ${seq}: payload [${offset}, ${offset + length}) is outside ${bytes.length} bytes`,
    );
  }
  // No layout is longer than the slot's payload: the per-type checks below would refuse it anyway.
  if (!payload.fits(length)) {
    throw new RangeError(`event ${seq} (type ${type}): payload of ${length} bytes fits no event layout`);
  }
  payload.load(bytes, offset, length);
  const w = payload.words;
  const f = payload.f64;
  const event: stampede.v1.IEvent = { seq, atMs };
  switch (type) {
    case EventType.productAdded:
      expectWords(type, seq, length, ProductAdded.words);
      event.productAdded = {
        skuId: uint32(productAddedSkuId(w, 0)),
        priceMinor: productAddedPriceMinor(w, 0),
        currency: unpackCurrency(productAddedCurrency(w, 0)),
        stock: uint32(productAddedStock(w, 0)),
      };
      return event;
    case EventType.stockRestocked:
      expectWords(type, seq, length, StockRestocked.words);
      event.stockRestocked = {
        skuId: uint32(stockRestockedSkuId(w, 0)),
        quantity: uint32(stockRestockedQuantity(w, 0)),
      };
      return event;
    case EventType.priceSet:
      expectWords(type, seq, length, PriceSet.words);
      event.priceSet = { skuId: uint32(priceSetSkuId(w, 0)), priceMinor: priceSetPriceMinor(w, 0) };
      return event;
    case EventType.saleConfigured:
      expectWords(type, seq, length, SaleConfigured.words);
      event.saleConfigured = {
        skuId: uint32(saleConfiguredSkuId(w, 0)),
        limitPerBuyer: uint32(saleConfiguredLimitPerBuyer(w, 0)),
        startsAtMs: saleConfiguredStartsAtMs(f, 0),
        endsAtMs: saleConfiguredEndsAtMs(f, 0),
      };
      return event;
    case EventType.buyerBlocked:
      expectWords(type, seq, length, BuyerBlocked.words);
      event.buyerBlocked = {
        buyerId: uint32(buyerBlockedBuyerId(w, 0)),
        blocked: buyerBlockedBlocked(w, 0) !== 0,
      };
      return event;
    case EventType.orderRefused:
      expectWords(type, seq, length, OrderRefused.words);
      event.orderRefused = {
        buyerId: uint32(orderRefusedBuyerId(w, 0)),
        code: orderRefusedCode(w, 0),
        requestId: orderRefusedRequestId(f, 0),
        skuId: uint32(orderRefusedSkuId(w, 0)),
      };
      return event;
    case EventType.orderCreated: {
      if (length < OrderCreated.wordsFor(0) * 4) {
        throw new RangeError(
          `event ${seq}: orderCreated payload of ${length} bytes is shorter than its header`,
        );
      }
      const lineCount = orderCreatedLineCount(w, 0);
      if (lineCount < 1 || lineCount > linesPerOrderMaxLayout) {
        throw new RangeError(`event ${seq}: orderCreated with ${lineCount} lines`);
      }
      expectWords(type, seq, length, OrderCreated.wordsFor(lineCount));
      const lines: stampede.v1.IOrderLine[] = [];
      for (let i = 0; i < lineCount; i++) {
        lines.push({
          skuId: uint32(orderCreatedLineSkuId(w, 0, i)),
          quantity: uint32(orderCreatedLineQuantity(w, 0, i)),
          unitPriceMinor: orderCreatedLineUnitPriceMinor(w, 0, i),
        });
      }
      event.orderCreated = {
        buyerId: uint32(orderCreatedBuyerId(w, 0)),
        orderId: orderCreatedOrderId(f, 0),
        requestId: orderCreatedRequestId(f, 0),
        expiresAtMs: orderCreatedExpiresAtMs(f, 0),
        totalMinor: orderCreatedTotalMinor(f, 0),
        lines,
      };
      return event;
    }
    case EventType.orderStatusChanged: {
      // Journals written before skuId was added hold the shorter layout.
      const hasSkuId = length !== OrderStatusChanged.wordsWithoutSkuId * 4;
      if (hasSkuId) expectWords(type, seq, length, OrderStatusChanged.words);
      event.orderStatusChanged = {
        orderId: orderStatusChangedOrderId(f, 0),
        buyerId: uint32(orderStatusChangedBuyerId(w, 0)),
        status: orderStatusChangedStatus(w, 0),
        previous: orderStatusChangedPrevious(w, 0),
        code: orderStatusChangedCode(w, 0),
        skuId: hasSkuId ? uint32(orderStatusChangedSkuId(w, 0)) : 0,
      };
      return event;
    }
    case EventType.orderForgotten:
      expectWords(type, seq, length, OrderForgotten.words);
      event.orderForgotten = { orderId: orderForgottenOrderId(f, 0) };
      return event;
    case EventType.paymentReceived: {
      if (length < PaymentReceived.wordsFor(0) * 4) {
        throw new RangeError(
          `event ${seq}: paymentReceived payload of ${length} bytes is shorter than its header`,
        );
      }
      const chars = paymentReceivedReferenceChars(w, 0);
      if (chars < 0 || chars > paymentReferenceCharsMax) {
        throw new RangeError(`event ${seq}: paymentReceived with a reference of ${chars} chars`);
      }
      expectWords(type, seq, length, PaymentReceived.wordsFor(chars));
      event.paymentReceived = {
        orderId: paymentReceivedOrderId(f, 0),
        buyerId: uint32(paymentReceivedBuyerId(w, 0)),
        outcome: paymentReceivedOutcome(w, 0),
        amountMinor: paymentReceivedAmountMinor(f, 0),
        result: paymentReceivedResult(w, 0),
        previous: paymentReceivedPrevious(w, 0),
        status: paymentReceivedStatus(w, 0),
        reference: readPaymentReference(w, paymentReceivedReferenceAt(0), chars),
      };
      return event;
    }
    default:
      throw new RangeError(`event ${seq}: unknown event type ${type} (a journal from a newer engine?)`);
  }
}

/**
 * The protobuf JSON mapping with two deliberate choices: enums as their names
 * (ORDER_STATUS_CHECKOUT_SUCCESS), 64-bit integers as JSON numbers rather than
 * strings (every value is below 2^53, and proto3 JSON parsers accept both),
 * and every field present even when zero, so line-per-event output has a
 * stable shape for jq and friends.
 */
export const eventJsonOptions: Readonly<IConversionOptions> = Object.freeze({
  enums: String,
  longs: Number,
  defaults: true,
});

/** One event as the JSON object `stampede replay --events` prints (see eventJsonOptions). */
export function eventToJson(
  seq: number,
  type: number,
  atMs: number,
  bytes: Uint8Array,
  offset: number,
  length: number,
): Record<string, unknown> {
  const message = stampede.v1.Event.fromObject(eventToProto(seq, type, atMs, bytes, offset, length));
  return stampede.v1.Event.toObject(message, eventJsonOptions);
}
