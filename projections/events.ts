/**
 * Journal records as the projectors see them: a typed union decoded through proto/event-codec.ts (the one
 * decoder of the event layouts outside the engine, which also checks every payload's length), and the
 * one rule every store and the reconciler share for what a status change does to stock. Runs on projector
 * and tool threads; allocates freely (one object per event), never on the engine thread.
 */
import {
  EventType,
  isReservingStatus,
  OrderStatus,
  PaymentOutcome,
  ResultCode,
  statusName,
} from '../engine/codes.ts';
import { eventToProto } from '../proto/event-codec.ts';

export interface OrderLine {
  skuId: number;
  quantity: number;
  unitPriceMinor: number;
}

interface Base {
  seq: number;
  atMs: number;
}

export type ProjectedEvent =
  | (Base & { kind: 'productAdded'; skuId: number; priceMinor: number; currency: string; stock: number })
  | (Base & { kind: 'stockRestocked'; skuId: number; quantity: number })
  | (Base & { kind: 'priceSet'; skuId: number; priceMinor: number })
  | (Base & {
      kind: 'saleConfigured';
      skuId: number;
      limitPerBuyer: number;
      startsAtMs: number;
      endsAtMs: number;
    })
  | (Base & { kind: 'buyerBlocked'; buyerId: number; blocked: boolean })
  | (Base & { kind: 'orderRefused'; buyerId: number; code: number; requestId: number; skuId: number })
  | (Base & {
      kind: 'orderCreated';
      orderId: number;
      buyerId: number;
      requestId: number;
      expiresAtMs: number;
      totalMinor: number;
      lines: OrderLine[];
    })
  | (Base & {
      kind: 'orderStatusChanged';
      orderId: number;
      buyerId: number;
      status: number;
      previous: number;
      code: number;
    })
  | (Base & { kind: 'orderForgotten'; orderId: number })
  | (Base & {
      kind: 'paymentReceived';
      orderId: number;
      buyerId: number;
      outcome: number;
      amountMinor: number;
      result: number;
      previous: number;
      status: number;
      /** The provider's reference, '' when it gave none. */
      reference: string;
    });

/** Decodes one journal record (the arguments scanJournal hands to its callback). Throws on a bad payload. */
export function decodeEvent(
  seq: number,
  type: number,
  atMs: number,
  bytes: Uint8Array,
  offset: number,
  length: number,
): ProjectedEvent {
  const e = eventToProto(seq, type, atMs, bytes, offset, length);
  const base = { seq, atMs };
  switch (type) {
    case EventType.productAdded: {
      const p = e.productAdded!;
      return {
        ...base,
        kind: 'productAdded',
        skuId: p.skuId ?? 0,
        priceMinor: p.priceMinor ?? 0,
        currency: p.currency ?? '',
        stock: p.stock ?? 0,
      };
    }
    case EventType.stockRestocked: {
      const p = e.stockRestocked!;
      return { ...base, kind: 'stockRestocked', skuId: p.skuId ?? 0, quantity: p.quantity ?? 0 };
    }
    case EventType.priceSet: {
      const p = e.priceSet!;
      return { ...base, kind: 'priceSet', skuId: p.skuId ?? 0, priceMinor: p.priceMinor ?? 0 };
    }
    case EventType.saleConfigured: {
      const p = e.saleConfigured!;
      return {
        ...base,
        kind: 'saleConfigured',
        skuId: p.skuId ?? 0,
        limitPerBuyer: p.limitPerBuyer ?? 0,
        startsAtMs: p.startsAtMs ?? 0,
        endsAtMs: p.endsAtMs ?? 0,
      };
    }
    case EventType.buyerBlocked: {
      const p = e.buyerBlocked!;
      return { ...base, kind: 'buyerBlocked', buyerId: p.buyerId ?? 0, blocked: p.blocked ?? false };
    }
    case EventType.orderRefused: {
      const p = e.orderRefused!;
      return {
        ...base,
        kind: 'orderRefused',
        buyerId: p.buyerId ?? 0,
        code: p.code ?? 0,
        requestId: p.requestId ?? 0,
        skuId: p.skuId ?? 0,
      };
    }
    case EventType.orderCreated: {
      const p = e.orderCreated!;
      return {
        ...base,
        kind: 'orderCreated',
        orderId: p.orderId ?? 0,
        buyerId: p.buyerId ?? 0,
        requestId: p.requestId ?? 0,
        expiresAtMs: p.expiresAtMs ?? 0,
        totalMinor: p.totalMinor ?? 0,
        lines: (p.lines ?? []).map((line) => ({
          skuId: line.skuId ?? 0,
          quantity: line.quantity ?? 0,
          unitPriceMinor: line.unitPriceMinor ?? 0,
        })),
      };
    }
    case EventType.orderStatusChanged: {
      const p = e.orderStatusChanged!;
      return {
        ...base,
        kind: 'orderStatusChanged',
        orderId: p.orderId ?? 0,
        buyerId: p.buyerId ?? 0,
        status: p.status ?? 0,
        previous: p.previous ?? 0,
        code: p.code ?? 0,
      };
    }
    case EventType.orderForgotten:
      return { ...base, kind: 'orderForgotten', orderId: e.orderForgotten!.orderId ?? 0 };
    case EventType.paymentReceived: {
      const p = e.paymentReceived!;
      return {
        ...base,
        kind: 'paymentReceived',
        orderId: p.orderId ?? 0,
        buyerId: p.buyerId ?? 0,
        outcome: p.outcome ?? 0,
        amountMinor: p.amountMinor ?? 0,
        result: p.result ?? 0,
        previous: p.previous ?? 0,
        status: p.status ?? 0,
        reference: p.reference ?? '',
      };
    }
    default:
      // eventToProto already threw for unknown types.
      throw new RangeError(`event ${seq}: unknown event type ${type}`);
  }
}

/** One row of the stock ledger per SKU line per movement. */
export const MovementKind = {
  /** The stock a product was added with (onHand +q). */
  initial: 'initial',
  /** onHand +q. */
  restock: 'restock',
  /** reserved +q (the order reached checked_inventory). */
  reserve: 'reserve',
  /** reserved -q (fail_checkout, error_checkout, timeout, canceled, or exception_checkout from a live order). */
  release: 'release',
  /** reserved -q, onHand -q, sold +q (checkout_success). */
  commit: 'commit',
} as const;
export type MovementKind = (typeof MovementKind)[keyof typeof MovementKind];

/**
 * What an orderStatusChanged does to stock, the same rule as engine/evolve.ts changeStatus: reaching
 * checked_inventory reserves every line; leaving the reserving statuses commits them (checkout_success)
 * or releases them (anything else); every other transition moves nothing.
 */
export function movementOfTransition(previous: number, status: number): MovementKind | null {
  if (status === OrderStatus.checkedInventory) return MovementKind.reserve;
  if (isReservingStatus(previous) && !isReservingStatus(status)) {
    return status === OrderStatus.checkoutSuccess ? MovementKind.commit : MovementKind.release;
  }
  return null;
}

/** Stock deltas of one movement of q units. available = onHand - reserved. */
export function movementDeltas(
  kind: MovementKind,
  quantity: number,
): { onHand: number; reserved: number; sold: number; restocked: number } {
  switch (kind) {
    case MovementKind.initial:
      return { onHand: quantity, reserved: 0, sold: 0, restocked: 0 };
    case MovementKind.restock:
      return { onHand: quantity, reserved: 0, sold: 0, restocked: quantity };
    case MovementKind.reserve:
      return { onHand: 0, reserved: quantity, sold: 0, restocked: 0 };
    case MovementKind.release:
      return { onHand: 0, reserved: -quantity, sold: 0, restocked: 0 };
    case MovementKind.commit:
      return { onHand: -quantity, reserved: -quantity, sold: quantity, restocked: 0 };
    default: {
      const never: never = kind;
      throw new Error(`unknown movement ${String(never)}`);
    }
  }
}

/**
 * Payments: one payment_transactions row per paymentReceived (every delivery for a known order, docs/engine.md,
 * Payment), with the amount and the provider's reference as journaled. `succeeded` paid the order;
 * `exception` is money that moved without paying it (wrong amount, late, or for an order past paying: refund
 * handling); `declined` moved nothing, so it has no amount.
 */
export const PaymentOutcomeName = {
  succeeded: 'succeeded',
  declined: 'declined',
  exception: 'exception',
} as const;
export type PaymentOutcomeName = (typeof PaymentOutcomeName)[keyof typeof PaymentOutcomeName];

export interface PaymentRow {
  outcome: PaymentOutcomeName;
  amountMinor: number | null;
  reference: string | null;
}

export function paymentRowOf(event: Extract<ProjectedEvent, { kind: 'paymentReceived' }>): PaymentRow {
  const reference = event.reference === '' ? null : event.reference;
  if (event.outcome !== PaymentOutcome.succeeded)
    return { outcome: PaymentOutcomeName.declined, amountMinor: null, reference };
  const outcome =
    event.result === ResultCode.ok ? PaymentOutcomeName.succeeded : PaymentOutcomeName.exception;
  return { outcome, amountMinor: event.amountMinor, reference };
}

/** The seed's names of the order statuses, as stored in Redis and the MySQL lookup table: the one spelling. */
export const orderStatusSeedName = statusName;

/** An order's row as the projections hold it: the orders table, and the reconciler's model of it. */
export interface ProjectedOrder {
  orderId: number;
  buyerId: number;
  requestId: number;
  status: number;
  reasonCode: number;
  totalMinor: number;
  lines: OrderLine[];
  createdAtMs: number;
  expiresAtMs: number;
  updatedAtMs: number;
  createdSeq: number;
  updatedSeq: number;
}

/** The order row an orderCreated event makes. */
export function orderOfCreated(event: Extract<ProjectedEvent, { kind: 'orderCreated' }>): ProjectedOrder {
  return {
    orderId: event.orderId,
    buyerId: event.buyerId,
    requestId: event.requestId,
    status: OrderStatus.created,
    reasonCode: 0,
    totalMinor: event.totalMinor,
    lines: event.lines,
    createdAtMs: event.atMs,
    expiresAtMs: event.expiresAtMs,
    updatedAtMs: event.atMs,
    createdSeq: event.seq,
    updatedSeq: event.seq,
  };
}
