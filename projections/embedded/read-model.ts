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
  BuyerBlocked,
  OrderCreated,
  OrderRefused,
  OrderStatusChanged,
  PriceSet,
  ProductAdded,
  SaleConfigured,
  StockRestocked,
  unpackCurrency,
} from '../../engine/layout.ts';
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
        const stock = words[at + ProductAdded.stock]!;
        this.products.set(words[at + ProductAdded.skuId]!, {
          skuId: words[at + ProductAdded.skuId]!,
          priceMinor: words[at + ProductAdded.priceMinor]!,
          currency: unpackCurrency(words[at + ProductAdded.currency]!),
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
        const product = this.products.get(words[at + StockRestocked.skuId]!);
        if (product) product.restocked += words[at + StockRestocked.quantity]!;
        return null;
      }
      case EventType.priceSet: {
        const product = this.products.get(words[at + PriceSet.skuId]!);
        if (product) product.priceMinor = words[at + PriceSet.priceMinor]!;
        return null;
      }
      case EventType.saleConfigured: {
        const product = this.products.get(words[at + SaleConfigured.skuId]!);
        if (product) {
          product.limitPerBuyer = words[at + SaleConfigured.limitPerBuyer]!;
          product.saleStartsAtMs = f64[(at + SaleConfigured.startsAtMs) >> 1]!;
          product.saleEndsAtMs = f64[(at + SaleConfigured.endsAtMs) >> 1]!;
        }
        return null;
      }
      case EventType.buyerBlocked:
        if (words[at + BuyerBlocked.blocked] === 1) this.blockedBuyers.add(words[at + BuyerBlocked.buyerId]!);
        else this.blockedBuyers.delete(words[at + BuyerBlocked.buyerId]!);
        return null;
      case EventType.orderCreated:
        return this.created(seq, atMs, words, f64, at);
      case EventType.orderStatusChanged:
        return this.changed(seq, atMs, words, f64, at);
      case EventType.orderRefused:
        // Refusals are answers, not orders; the edge's sold-out check needs to know them (a resend gets them).
        this.refusedRequests.refused(
          words[at + OrderRefused.buyerId]! >>> 0,
          f64[(at + OrderRefused.requestId) >> 1]!,
          words[at + OrderRefused.code]!,
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
    const orderId = f64[(at + OrderCreated.orderId) >> 1]!;
    const buyerId = words[at + OrderCreated.buyerId]! >>> 0;
    const fields = this.createdFields;
    fields.orderId = orderId;
    fields.buyerId = buyerId;
    fields.requestId = f64[(at + OrderCreated.requestId) >> 1]!;
    fields.totalMinor = f64[(at + OrderCreated.totalMinor) >> 1]!;
    fields.expiresAtMs = f64[(at + OrderCreated.expiresAtMs) >> 1]!;
    const slot = this.orders.add(fields, atMs);
    for (let i = 0; i < words[at + OrderCreated.lineCount]!; i++) {
      const line = at + OrderCreated.lines + i * OrderCreated.lineWords;
      this.orders.addLine(
        slot,
        words[line + OrderCreated.lineSkuId]!,
        words[line + OrderCreated.lineQuantity]!,
        words[line + OrderCreated.lineUnitPriceMinor]!,
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
    const orderId = f64[(at + OrderStatusChanged.orderId) >> 1]!;
    const status = words[at + OrderStatusChanged.status]!;
    const code = words[at + OrderStatusChanged.code]!;
    const change: OrderChange = {
      orderId,
      buyerId: words[at + OrderStatusChanged.buyerId]! >>> 0,
      status,
      previous: words[at + OrderStatusChanged.previous]!,
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
