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

/** Reads the payload's words; every offset is a layout.ts name, in words from the payload start. */
class PayloadReader {
  private readonly view: DataView;

  constructor(bytes: Uint8Array, offset: number, length: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset + offset, length);
  }

  int32(word: number): number {
    return this.view.getInt32(word * 4, true);
  }

  /** Ids are uint32 in the schema: read the word unsigned so the object and its encoding agree. */
  uint32(word: number): number {
    return this.view.getUint32(word * 4, true);
  }

  float64(word: number): number {
    return this.view.getFloat64(word * 4, true);
  }
}

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
  const p = new PayloadReader(bytes, offset, length);
  const event: stampede.v1.IEvent = { seq, atMs };
  switch (type) {
    case EventType.productAdded:
      expectWords(type, seq, length, ProductAdded.words);
      event.productAdded = {
        skuId: p.uint32(ProductAdded.skuId),
        priceMinor: p.int32(ProductAdded.priceMinor),
        currency: unpackCurrency(p.int32(ProductAdded.currency)),
        stock: p.uint32(ProductAdded.stock),
      };
      return event;
    case EventType.stockRestocked:
      expectWords(type, seq, length, StockRestocked.words);
      event.stockRestocked = {
        skuId: p.uint32(StockRestocked.skuId),
        quantity: p.uint32(StockRestocked.quantity),
      };
      return event;
    case EventType.priceSet:
      expectWords(type, seq, length, PriceSet.words);
      event.priceSet = { skuId: p.uint32(PriceSet.skuId), priceMinor: p.int32(PriceSet.priceMinor) };
      return event;
    case EventType.saleConfigured:
      expectWords(type, seq, length, SaleConfigured.words);
      event.saleConfigured = {
        skuId: p.uint32(SaleConfigured.skuId),
        limitPerBuyer: p.uint32(SaleConfigured.limitPerBuyer),
        startsAtMs: p.float64(SaleConfigured.startsAtMs),
        endsAtMs: p.float64(SaleConfigured.endsAtMs),
      };
      return event;
    case EventType.buyerBlocked:
      expectWords(type, seq, length, BuyerBlocked.words);
      event.buyerBlocked = {
        buyerId: p.uint32(BuyerBlocked.buyerId),
        blocked: p.int32(BuyerBlocked.blocked) !== 0,
      };
      return event;
    case EventType.orderRefused:
      expectWords(type, seq, length, OrderRefused.words);
      event.orderRefused = {
        buyerId: p.uint32(OrderRefused.buyerId),
        code: p.int32(OrderRefused.code),
        requestId: p.float64(OrderRefused.requestId),
        skuId: p.uint32(OrderRefused.skuId),
      };
      return event;
    case EventType.orderCreated: {
      if (length < OrderCreated.wordsFor(0) * 4) {
        throw new RangeError(
          `event ${seq}: orderCreated payload of ${length} bytes is shorter than its header`,
        );
      }
      const lineCount = p.int32(OrderCreated.lineCount);
      if (lineCount < 1 || lineCount > linesPerOrderMaxLayout) {
        throw new RangeError(`event ${seq}: orderCreated with ${lineCount} lines`);
      }
      expectWords(type, seq, length, OrderCreated.wordsFor(lineCount));
      const lines: stampede.v1.IOrderLine[] = [];
      for (let i = 0; i < lineCount; i++) {
        const line = OrderCreated.lines + i * OrderCreated.lineWords;
        lines.push({
          skuId: p.uint32(line + OrderCreated.lineSkuId),
          quantity: p.uint32(line + OrderCreated.lineQuantity),
          unitPriceMinor: p.int32(line + OrderCreated.lineUnitPriceMinor),
        });
      }
      event.orderCreated = {
        buyerId: p.uint32(OrderCreated.buyerId),
        orderId: p.float64(OrderCreated.orderId),
        requestId: p.float64(OrderCreated.requestId),
        expiresAtMs: p.float64(OrderCreated.expiresAtMs),
        totalMinor: p.float64(OrderCreated.totalMinor),
        lines,
      };
      return event;
    }
    case EventType.orderStatusChanged: {
      // Journals written before skuId was added hold the shorter layout.
      const hasSkuId = length !== OrderStatusChanged.wordsWithoutSkuId * 4;
      if (hasSkuId) expectWords(type, seq, length, OrderStatusChanged.words);
      event.orderStatusChanged = {
        orderId: p.float64(OrderStatusChanged.orderId),
        buyerId: p.uint32(OrderStatusChanged.buyerId),
        status: p.int32(OrderStatusChanged.status),
        previous: p.int32(OrderStatusChanged.previous),
        code: p.int32(OrderStatusChanged.code),
        skuId: hasSkuId ? p.uint32(OrderStatusChanged.skuId) : 0,
      };
      return event;
    }
    case EventType.orderForgotten:
      expectWords(type, seq, length, OrderForgotten.words);
      event.orderForgotten = { orderId: p.float64(OrderForgotten.orderId) };
      return event;
    case EventType.paymentReceived: {
      if (length < PaymentReceived.wordsFor(0) * 4) {
        throw new RangeError(
          `event ${seq}: paymentReceived payload of ${length} bytes is shorter than its header`,
        );
      }
      const chars = p.int32(PaymentReceived.referenceChars);
      if (chars < 0 || chars > paymentReferenceCharsMax) {
        throw new RangeError(`event ${seq}: paymentReceived with a reference of ${chars} chars`);
      }
      expectWords(type, seq, length, PaymentReceived.wordsFor(chars));
      const referenceWords = new Int32Array(PaymentReceived.wordsFor(chars) - PaymentReceived.reference);
      for (let i = 0; i < referenceWords.length; i++)
        referenceWords[i] = p.int32(PaymentReceived.reference + i);
      event.paymentReceived = {
        orderId: p.float64(PaymentReceived.orderId),
        buyerId: p.uint32(PaymentReceived.buyerId),
        outcome: p.int32(PaymentReceived.outcome),
        amountMinor: p.float64(PaymentReceived.amountMinor),
        result: p.int32(PaymentReceived.result),
        previous: p.int32(PaymentReceived.previous),
        status: p.int32(PaymentReceived.status),
        reference: readPaymentReference(referenceWords, 0, chars),
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
