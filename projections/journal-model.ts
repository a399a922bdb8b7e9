/**
 * What the journal says every store must hold, computed the naive way: one event at a time into Maps and
 * arrays, written from the event meanings rather than from the stores' batched code. The reconciler compares
 * the stores with it; tests compare it with the engine's own state. Tool and test code: allocates freely.
 */

import { OrderStatus } from '../engine/codes.ts';
import {
  MovementKind,
  movementDeltas,
  movementOfTransition,
  type OrderLine,
  orderOfCreated,
  type PaymentOutcomeName,
  type ProjectedEvent,
  type ProjectedOrder,
  paymentRowOf,
} from './events.ts';

export interface ModelProduct {
  priceMinor: number;
  currency: string;
  stockInitial: number;
  restocked: number;
  onHand: number;
  reserved: number;
  sold: number;
  addedSeq: number;
  updatedSeq: number;
}

export interface ModelSale {
  limitPerBuyer: number;
  startsAtMs: number;
  endsAtMs: number;
  updatedSeq: number;
}

/** One order_status_history row: the orderCreated (previous 0), then every orderStatusChanged. */
export interface HistoryRow {
  seq: number;
  orderId: number;
  previousStatus: number;
  status: number;
  reasonCode: number;
  atMs: number;
}

export interface ModelPayment {
  seq: number;
  orderId: number;
  buyerId: number;
  outcome: PaymentOutcomeName;
  status: number;
  previousStatus: number;
  reasonCode: number;
  amountMinor: number | null;
  reference: string | null;
  atMs: number;
}

export interface LedgerRow {
  seq: number;
  lineNo: number;
  skuId: number;
  kind: MovementKind;
  quantity: number;
  orderId: number | null;
  atMs: number;
}

export class JournalModel {
  lastSeq = 0;
  readonly products = new Map<number, ModelProduct>();
  readonly sales = new Map<number, ModelSale>();
  readonly orders = new Map<number, ProjectedOrder>();
  readonly payments: ModelPayment[] = [];
  readonly ledger: LedgerRow[] = [];
  /** Orders holding a reservation now, and its lines. */
  readonly reservations = new Map<number, OrderLine[]>();
  readonly history: HistoryRow[] = [];

  apply(event: ProjectedEvent): void {
    if (event.seq !== this.lastSeq + 1) {
      throw new Error(`journal model: event seq ${event.seq} after ${this.lastSeq}`);
    }
    this.lastSeq = event.seq;
    switch (event.kind) {
      case 'productAdded':
        this.products.set(event.skuId, {
          priceMinor: event.priceMinor,
          currency: event.currency,
          stockInitial: event.stock,
          restocked: 0,
          onHand: 0,
          reserved: 0,
          sold: 0,
          addedSeq: event.seq,
          updatedSeq: event.seq,
        });
        this.move(event.seq, 0, event.skuId, MovementKind.initial, event.stock, null, event.atMs);
        return;
      case 'stockRestocked':
        this.move(event.seq, 0, event.skuId, MovementKind.restock, event.quantity, null, event.atMs);
        return;
      case 'priceSet': {
        const product = this.products.get(event.skuId);
        if (product !== undefined) {
          product.priceMinor = event.priceMinor;
          product.updatedSeq = event.seq;
        }
        return;
      }
      case 'saleConfigured':
        this.sales.set(event.skuId, {
          limitPerBuyer: event.limitPerBuyer,
          startsAtMs: event.startsAtMs,
          endsAtMs: event.endsAtMs,
          updatedSeq: event.seq,
        });
        return;
      case 'orderCreated':
        this.orders.set(event.orderId, orderOfCreated(event));
        this.history.push({
          seq: event.seq,
          orderId: event.orderId,
          previousStatus: OrderStatus.none,
          status: OrderStatus.created,
          reasonCode: 0,
          atMs: event.atMs,
        });
        return;
      case 'orderStatusChanged': {
        const order = this.orders.get(event.orderId);
        if (order === undefined)
          throw new Error(`journal model: seq ${event.seq} changes unknown order ${event.orderId}`);
        order.status = event.status;
        order.reasonCode = event.code;
        order.updatedAtMs = event.atMs;
        order.updatedSeq = event.seq;
        this.history.push({
          seq: event.seq,
          orderId: order.orderId,
          previousStatus: event.previous,
          status: event.status,
          reasonCode: event.code,
          atMs: event.atMs,
        });
        const kind = movementOfTransition(event.previous, event.status);
        if (kind !== null) {
          order.lines.forEach((line, lineNo) => {
            this.move(event.seq, lineNo, line.skuId, kind, line.quantity, order.orderId, event.atMs);
          });
          if (kind === MovementKind.reserve) this.reservations.set(order.orderId, order.lines);
          else this.reservations.delete(order.orderId);
        }
        return;
      }
      case 'paymentReceived': {
        const row = paymentRowOf(event);
        this.payments.push({
          seq: event.seq,
          orderId: event.orderId,
          buyerId: event.buyerId,
          outcome: row.outcome,
          status: event.status,
          previousStatus: event.previous,
          reasonCode: event.result,
          amountMinor: row.amountMinor,
          reference: row.reference,
          atMs: event.atMs,
        });
        return;
      }
      case 'buyerBlocked':
      case 'orderRefused':
      case 'orderForgotten':
        // Nothing any store keeps (the engine forgetting a final order does not delete its history).
        return;
      default: {
        const never: never = event;
        throw new Error(`journal model: unknown event ${JSON.stringify(never)}`);
      }
    }
  }

  private move(
    seq: number,
    lineNo: number,
    skuId: number,
    kind: MovementKind,
    quantity: number,
    orderId: number | null,
    atMs: number,
  ): void {
    this.ledger.push({ seq, lineNo, skuId, kind, quantity, orderId, atMs });
    const product = this.products.get(skuId);
    if (product === undefined)
      throw new Error(`journal model: seq ${seq} moves stock of unknown SKU ${skuId}`);
    const d = movementDeltas(kind, quantity);
    product.onHand += d.onHand;
    product.reserved += d.reserved;
    product.sold += d.sold;
    product.restocked += d.restocked;
    product.updatedSeq = seq;
  }

  available(skuId: number): number {
    const product = this.products.get(skuId);
    return product === undefined ? 0 : product.onHand - product.reserved;
  }
}
