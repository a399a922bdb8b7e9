/**
 * The embedded read model: products and orders as the HTTP API and the
 * WebSocket pushes need them, kept in the gateway thread's memory and fed
 * only by durable events (the journal's notify ring, and a journal scan at
 * start-up). It is the default when no MySQL or Redis is configured.
 *
 * Bounded: at most `ordersMax` orders, the oldest forgotten first (a real
 * deployment reads order history from MySQL/Cassandra, issue 5). Idempotent by
 * sequence number: an event at or below `lastSeq` is ignored, so the start-up
 * scan and the ring may overlap. Never with a gap: after its first event each
 * one must be the next seq (the journal's are contiguous), so an event the
 * feed failed to deliver cannot pass unnoticed; gateways/durable-event-feed.ts
 * fills gaps from the journal before it hands on what follows.
 */
import { EventType, OrderStatus } from '../../engine/codes.ts';
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
  orderRefusedBuyerId,
  orderRefusedCode,
  orderRefusedRequestId,
  orderStatusChangedBuyerId,
  orderStatusChangedCode,
  orderStatusChangedOrderId,
  orderStatusChangedPrevious,
  orderStatusChangedStatus,
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
} from '../../engine/event-view.ts';
import { unpackCurrency } from '../../engine/layout.ts';
import { type OrderCreatedFields, OrderTable } from './order-table.ts';
import { RefusedRequests } from './refused-requests.ts';

/** Refused place requests held for the edge's sold-out check (refused-requests.ts), a few MiB. */
export const refusedRequestsMax = 65_536;

export interface ProductView {
  skuId: number;
  priceMinor: number;
  currency: string;
  stockInitial: number;
  restocked: number;
  sold: number;
  limitPerBuyer: number;
  saleStartsAtMs: number;
  saleEndsAtMs: number;
}

/** What a status change looked like, for pushes. */
export interface OrderChange {
  orderId: number;
  buyerId: number;
  status: number;
  previous: number;
  code: number;
  atMs: number;
  seq: number;
}

export class EmbeddedReadModel {
  readonly products = new Map<number, ProductView>();
  /** Orders as typed-array columns (order-table.ts says why). */
  readonly orders: OrderTable;
  readonly blockedBuyers = new Set<number>();
  /** Requests refused before any order existed, which the engine remembers. */
  readonly refusedRequests = new RefusedRequests(refusedRequestsMax);
  lastSeq = 0;
  /** Reused for every orderCreated: the table copies the fields into its columns. */
  private readonly createdFields: OrderCreatedFields = {
    orderId: 0,
    buyerId: 0,
    requestId: 0,
    totalMinor: 0,
    expiresAtMs: 0,
  };

  constructor(ordersMax = 1_000_000, orderIndexEntriesInitial?: number) {
    this.orders = new OrderTable(ordersMax, orderIndexEntriesInitial);
  }

  /**
   * Applies one durable event (payload words at `at`). Returns the order
   * change it made, if any, so the caller can push it.
   */
  apply(
    type: number,
    seq: number,
    atMs: number,
    words: Int32Array,
    f64: Float64Array,
    at: number,
  ): OrderChange | null {
    if (seq <= this.lastSeq) return null;
    // The first event may be anywhere (a pruned journal starts past 1); every later one is the next.
    if (this.lastSeq !== 0 && seq !== this.lastSeq + 1)
      throw new Error(`read model: event seq ${seq} after ${this.lastSeq} (a gap: events were skipped)`);
    this.lastSeq = seq;
    switch (type) {
      case EventType.productAdded: {
        const stock = productAddedStock(words, at);
        this.products.set(productAddedSkuId(words, at), {
          skuId: productAddedSkuId(words, at),
          priceMinor: productAddedPriceMinor(words, at),
          currency: unpackCurrency(productAddedCurrency(words, at)),
          stockInitial: stock,
          restocked: 0,
          sold: 0,
          limitPerBuyer: 0,
          saleStartsAtMs: 0,
          saleEndsAtMs: 0,
        });
        return null;
      }
      case EventType.stockRestocked: {
        const product = this.products.get(stockRestockedSkuId(words, at));
        if (product) product.restocked += stockRestockedQuantity(words, at);
        return null;
      }
      case EventType.priceSet: {
        const product = this.products.get(priceSetSkuId(words, at));
        if (product) product.priceMinor = priceSetPriceMinor(words, at);
        return null;
      }
      case EventType.saleConfigured: {
        const product = this.products.get(saleConfiguredSkuId(words, at));
        if (product) {
          product.limitPerBuyer = saleConfiguredLimitPerBuyer(words, at);
          product.saleStartsAtMs = saleConfiguredStartsAtMs(f64, at);
          product.saleEndsAtMs = saleConfiguredEndsAtMs(f64, at);
        }
        return null;
      }
      case EventType.buyerBlocked:
        if (buyerBlockedBlocked(words, at) === 1) this.blockedBuyers.add(buyerBlockedBuyerId(words, at));
        else this.blockedBuyers.delete(buyerBlockedBuyerId(words, at));
        return null;
      case EventType.orderCreated:
        return this.created(seq, atMs, words, f64, at);
      case EventType.orderStatusChanged:
        return this.changed(seq, atMs, words, f64, at);
      case EventType.orderRefused:
        // Refusals are answers, not orders; the edge's sold-out check needs to know them (a resend gets them).
        this.refusedRequests.refused(
          orderRefusedBuyerId(words, at) >>> 0,
          orderRefusedRequestId(f64, at),
          orderRefusedCode(words, at),
        );
        return null;
      case EventType.orderForgotten:
        // Forgetting is the engine's memory, not history.
        return null;
      default:
        return null;
    }
  }

  private created(seq: number, atMs: number, words: Int32Array, f64: Float64Array, at: number): OrderChange {
    const orderId = orderCreatedOrderId(f64, at);
    const buyerId = orderCreatedBuyerId(words, at) >>> 0;
    const fields = this.createdFields;
    fields.orderId = orderId;
    fields.buyerId = buyerId;
    fields.requestId = orderCreatedRequestId(f64, at);
    fields.totalMinor = orderCreatedTotalMinor(f64, at);
    fields.expiresAtMs = orderCreatedExpiresAtMs(f64, at);
    const slot = this.orders.add(fields, atMs);
    for (let i = 0; i < orderCreatedLineCount(words, at); i++) {
      this.orders.addLine(
        slot,
        orderCreatedLineSkuId(words, at, i),
        orderCreatedLineQuantity(words, at, i),
        orderCreatedLineUnitPriceMinor(words, at, i),
      );
    }
    this.orders.transition(slot, OrderStatus.created, 0, atMs, seq);
    return { orderId, buyerId, status: OrderStatus.created, previous: OrderStatus.none, code: 0, atMs, seq };
  }

  private changed(
    seq: number,
    atMs: number,
    words: Int32Array,
    f64: Float64Array,
    at: number,
  ): OrderChange | null {
    const orderId = orderStatusChangedOrderId(f64, at);
    const status = orderStatusChangedStatus(words, at);
    const code = orderStatusChangedCode(words, at);
    const change: OrderChange = {
      orderId,
      buyerId: orderStatusChangedBuyerId(words, at) >>> 0,
      status,
      previous: orderStatusChangedPrevious(words, at),
      code,
      atMs,
      seq,
    };
    const orders = this.orders;
    const slot = orders.slotOf(orderId);
    if (slot !== -1) {
      orders.transition(slot, status, code, atMs, seq);
      if (status === OrderStatus.checkoutSuccess) {
        for (let i = 0; i < orders.lineCount(slot); i++) {
          const product = this.products.get(orders.lineSkuId(slot, i));
          if (product) product.sold += orders.lineQuantity(slot, i);
        }
      }
    }
    return change;
  }

  /** Products in SKU order after `afterSkuId`, at most `limit` (cursor paging). */
  productsPage(afterSkuId: number, limit: number): ProductView[] {
    return [...this.products.values()]
      .filter((p) => p.skuId > afterSkuId)
      .sort((a, b) => a.skuId - b.skuId)
      .slice(0, limit);
  }
}
