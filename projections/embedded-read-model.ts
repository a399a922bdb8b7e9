/**
 * The embedded read model: products and orders as the HTTP API and the
 * WebSocket pushes need them, kept in the gateway thread's memory and fed
 * only by durable events (the journal's notify ring, and a journal scan at
 * start-up). It is the default when no MySQL or Redis is configured.
 *
 * Bounded: at most `ordersMax` orders, the oldest forgotten first (a real
 * deployment reads order history from MySQL/Cassandra, issue 5). Idempotent by
 * sequence number: an event at or below `lastSeq` is ignored, so the start-up
 * scan and the ring may overlap.
 */
import { EventType, OrderStatus } from '../engine/codes.ts';
import {
  BuyerBlocked,
  OrderCreated,
  OrderStatusChanged,
  PriceSet,
  ProductAdded,
  SaleConfigured,
  StockRestocked,
  unpackCurrency,
} from '../engine/layout.ts';

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

/** Numbers per transition in OrderView.history. */
export const historyFields = 4;

export interface OrderView {
  orderId: number;
  buyerId: number;
  /** The buyer's request that created it (the idempotency key). */
  requestId: number;
  status: number;
  /** The reason of the last transition (a ResultCode; 0 = ok). */
  code: number;
  lines: { skuId: number; quantity: number; unitPriceMinor: number }[];
  totalMinor: number;
  createdAtMs: number;
  expiresAtMs: number;
  updatedAtMs: number;
  /**
   * Every transition, flat: status, code, atMs, seq, then the next one
   * (historyFields numbers each). One array of numbers per order instead of
   * an object per transition: the gateway thread's heap holds up to a
   * million orders, and the garbage collector walks every object in it.
   */
  history: number[];
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
  readonly ordersMax: number;
  readonly products = new Map<number, ProductView>();
  readonly orders = new Map<number, OrderView>();
  /**
   * buyerId -> the order ids held, oldest first: the id itself while the buyer
   * has one (most buyers of a sale), an array from the second. A Map and an
   * array per buyer were a third of the cost of applying an order.
   */
  private readonly buyerOrders = new Map<number, number | number[]>();
  /**
   * buyerId -> requestId -> orderId, so the edge can tell a retry from a new
   * request; kept only for buyers holding two orders or more (exactly those
   * whose buyerOrders entry is an array): one order answers for itself.
   */
  private readonly ordersByRequest = new Map<number, Map<number, number>>();
  readonly blockedBuyers = new Set<number>();
  lastSeq = 0;

  constructor(ordersMax = 1_000_000) {
    this.ordersMax = ordersMax;
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
      case EventType.orderForgotten:
        // Refusals are answers, not orders; forgetting is the engine's memory, not history.
        return null;
      default:
        return null;
    }
  }

  private created(seq: number, atMs: number, words: Int32Array, f64: Float64Array, at: number): OrderChange {
    const orderId = f64[(at + OrderCreated.orderId) >> 1]!;
    const buyerId = words[at + OrderCreated.buyerId]! >>> 0;
    const requestId = f64[(at + OrderCreated.requestId) >> 1]!;
    const lines: OrderView['lines'] = [];
    for (let i = 0; i < words[at + OrderCreated.lineCount]!; i++) {
      const line = at + OrderCreated.lines + i * OrderCreated.lineWords;
      lines.push({
        skuId: words[line + OrderCreated.lineSkuId]!,
        quantity: words[line + OrderCreated.lineQuantity]!,
        unitPriceMinor: words[line + OrderCreated.lineUnitPriceMinor]!,
      });
    }
    if (this.orders.size >= this.ordersMax) this.forgetOldest();
    this.orders.set(orderId, {
      orderId,
      buyerId,
      requestId,
      status: OrderStatus.created,
      code: 0,
      lines,
      totalMinor: f64[(at + OrderCreated.totalMinor) >> 1]!,
      createdAtMs: atMs,
      expiresAtMs: f64[(at + OrderCreated.expiresAtMs) >> 1]!,
      updatedAtMs: atMs,
      history: [OrderStatus.created, 0, atMs, seq],
    });
    const held = this.buyerOrders.get(buyerId);
    if (held === undefined) this.buyerOrders.set(buyerId, orderId);
    else if (typeof held === 'number') {
      this.buyerOrders.set(buyerId, [held, orderId]);
      const first = this.orders.get(held)!;
      this.ordersByRequest.set(
        buyerId,
        new Map([
          [first.requestId, held],
          [requestId, orderId],
        ]),
      );
    } else {
      held.push(orderId);
      this.ordersByRequest.get(buyerId)!.set(requestId, orderId);
    }
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
    const order = this.orders.get(orderId);
    if (order !== undefined) {
      order.status = status;
      order.code = code;
      order.updatedAtMs = atMs;
      order.history.push(status, code, atMs, seq);
      if (status === OrderStatus.checkoutSuccess) {
        for (const line of order.lines) {
          const product = this.products.get(line.skuId);
          if (product) product.sold += line.quantity;
        }
      }
    }
    return change;
  }

  private forgetOldest(): void {
    const oldest = this.orders.keys().next();
    if (oldest.done) return;
    const order = this.orders.get(oldest.value)!;
    this.orders.delete(oldest.value);
    const held = this.buyerOrders.get(order.buyerId);
    if (typeof held === 'number') {
      this.buyerOrders.delete(order.buyerId);
      return;
    }
    if (held === undefined) return;
    held.splice(held.indexOf(oldest.value), 1);
    const requests = this.ordersByRequest.get(order.buyerId)!;
    requests.delete(order.requestId);
    if (held.length === 1) {
      // Back to one order: it answers for itself again.
      this.buyerOrders.set(order.buyerId, held[0]!);
      this.ordersByRequest.delete(order.buyerId);
    }
  }

  /** The order a buyer's request created, if this model holds it. */
  orderForRequest(buyerId: number, requestId: number): number | undefined {
    const held = this.buyerOrders.get(buyerId);
    if (held === undefined) return undefined;
    if (typeof held === 'number') return this.orders.get(held)!.requestId === requestId ? held : undefined;
    return this.ordersByRequest.get(buyerId)!.get(requestId);
  }

  /** A buyer's orders, newest first, at most `limit`, before order id `beforeOrderId` (paging). */
  ordersOfBuyer(buyerId: number, limit: number, beforeOrderId = Number.POSITIVE_INFINITY): OrderView[] {
    const held = this.buyerOrders.get(buyerId);
    const ids = held === undefined ? [] : typeof held === 'number' ? [held] : held;
    const out: OrderView[] = [];
    for (let i = ids.length - 1; i >= 0 && out.length < limit; i--) {
      const id = ids[i]!;
      if (id < beforeOrderId) out.push(this.orders.get(id)!);
    }
    return out;
  }

  /** Products in SKU order after `afterSkuId`, at most `limit` (cursor paging). */
  productsPage(afterSkuId: number, limit: number): ProductView[] {
    return [...this.products.values()]
      .filter((p) => p.skuId > afterSkuId)
      .sort((a, b) => a.skuId - b.skuId)
      .slice(0, limit);
  }
}
