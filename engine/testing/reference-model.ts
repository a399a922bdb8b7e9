/**
 * A deliberately naive model of the engine's rules, for the simulator only:
 * Maps and objects, no preallocation, no timer wheel, written from the rules
 * in ARCHITECTURE.md and docs/engine.md rather than from the engine's code. The
 * simulator applies every command to both and compares the answers and the
 * stock after each one.
 */
import { OrderStatus, PaymentOutcome, ResultCode } from '../codes.ts';
import type { CommandInput } from '../commands.ts';
import type { EngineLimits } from '../limits.ts';

export interface ModelProduct {
  priceMinor: number;
  currency: number;
  onHand: number;
  reserved: number;
  limitPerBuyer: number;
  startsAtMs: number;
  endsAtMs: number;
}

export interface ModelOrder {
  buyerId: number;
  status: number;
  lines: Map<number, number>;
  totalMinor: number;
  expiresAtMs: number;
  finalAtMs: number;
}

export interface ModelReply {
  result: number;
  orderId: number;
  status: number;
  /** The line a refusal is about, or 0. */
  skuId: number;
}

/** A remembered place request's first answer. */
interface ModelRequest {
  /** The order it created, or 0 when refused before creation. */
  orderId: number;
  result: number;
  skuId: number;
}

const reserving = new Set<number>([
  OrderStatus.checkedInventory,
  OrderStatus.pendingCheckout,
  OrderStatus.readyForCheckout,
]);

export class ReferenceModel {
  readonly limits: EngineLimits;
  readonly products = new Map<number, ModelProduct>();
  readonly orders = new Map<number, ModelOrder>();
  readonly buyers = new Map<number, { blocked: boolean; windowStartMs: number; count: number }>();
  /** Units reserved or bought per `${buyerId}:${skuId}`. */
  readonly held = new Map<string, number>();
  /** Remembered place requests, oldest first (Map keeps insertion order). */
  readonly requests = new Map<string, ModelRequest>();
  /** Remembered payment references and their first answers, oldest first. */
  readonly payments = new Map<string, ModelReply>();
  nextOrderId = 1;
  nowMs = 0;

  constructor(limits: EngineLimits) {
    this.limits = limits;
  }

  apply(nowMs: number, command: CommandInput): ModelReply {
    this.nowMs = Math.max(this.nowMs, nowMs);
    const reply = { result: ResultCode.ok as number, orderId: 0, status: 0 as number, skuId: 0 };
    switch (command.type) {
      case 'addProduct': {
        if (command.skuId < 1 || command.skuId > this.limits.skusMax) reply.result = ResultCode.skuOutOfRange;
        else if (this.products.has(command.skuId)) reply.result = ResultCode.productExists;
        else if (command.priceMinor < 0 || command.priceMinor > this.limits.priceMinorMax)
          reply.result = ResultCode.priceInvalid;
        else if (command.stock < 0 || command.stock > this.limits.stockPerSkuMax)
          reply.result = ResultCode.stockInvalid;
        else {
          this.products.set(command.skuId, {
            priceMinor: command.priceMinor,
            currency: command.currency,
            onHand: command.stock,
            reserved: 0,
            limitPerBuyer: 0,
            startsAtMs: 0,
            endsAtMs: 0,
          });
        }
        return reply;
      }
      case 'restock': {
        const p = this.products.get(command.skuId);
        if (!p) reply.result = ResultCode.unknownSku;
        else if (command.quantity < 1 || p.onHand + command.quantity > this.limits.stockPerSkuMax) {
          reply.result = ResultCode.stockInvalid;
        } else p.onHand += command.quantity;
        return reply;
      }
      case 'setPrice': {
        const p = this.products.get(command.skuId);
        if (!p) reply.result = ResultCode.unknownSku;
        else if (command.priceMinor < 0 || command.priceMinor > this.limits.priceMinorMax)
          reply.result = ResultCode.priceInvalid;
        else p.priceMinor = command.priceMinor;
        return reply;
      }
      case 'configureSale': {
        const p = this.products.get(command.skuId);
        if (!p) reply.result = ResultCode.unknownSku;
        else if (command.limitPerBuyer < 0) reply.result = ResultCode.quantityInvalid;
        else if (command.endsAtMs !== 0 && command.endsAtMs <= command.startsAtMs)
          reply.result = ResultCode.saleWindowInvalid;
        else {
          p.limitPerBuyer = command.limitPerBuyer;
          p.startsAtMs = command.startsAtMs;
          p.endsAtMs = command.endsAtMs;
        }
        return reply;
      }
      case 'blockBuyer': {
        if (!this.buyers.has(command.buyerId) && this.buyers.size >= this.limits.buyersMax) {
          reply.result = ResultCode.buyersFull;
        } else this.buyer(command.buyerId).blocked = command.blocked;
        return reply;
      }
      case 'placeOrder':
        return this.place(command);
      case 'paymentResult':
        return this.pay(command);
      case 'cancelOrder': {
        const order = this.orders.get(command.orderId);
        if (!order) return { ...reply, result: ResultCode.unknownOrder };
        if (order.buyerId !== command.buyerId) return { ...reply, result: ResultCode.notOrderOwner };
        if (reserving.has(order.status)) this.finish(order, OrderStatus.canceled);
        else if (order.status !== OrderStatus.canceled) reply.result = ResultCode.invalidTransition;
        return { ...reply, orderId: command.orderId, status: order.status };
      }
      case 'tick': {
        for (const order of this.orders.values()) {
          if (reserving.has(order.status) && order.expiresAtMs <= this.nowMs)
            this.finish(order, OrderStatus.timeout);
        }
        for (const [id, order] of this.orders) {
          if (order.finalAtMs > 0 && order.finalAtMs + this.limits.finalOrderRetentionMs <= this.nowMs)
            this.orders.delete(id);
        }
        return reply;
      }
    }
  }

  private buyer(buyerId: number): { blocked: boolean; windowStartMs: number; count: number } {
    let b = this.buyers.get(buyerId);
    if (!b) {
      b = { blocked: false, windowStartMs: 0, count: 0 };
      this.buyers.set(buyerId, b);
    }
    return b;
  }

  private remember(buyerId: number, requestId: number, outcome: ModelRequest): void {
    if (this.requests.size >= this.limits.requestIdsMax) {
      const oldest = this.requests.keys().next().value as string;
      this.requests.delete(oldest);
    }
    this.requests.set(`${buyerId}:${requestId}`, outcome);
  }

  private place(command: Extract<CommandInput, { type: 'placeOrder' }>): ModelReply {
    const { buyerId, requestId } = command;
    const previous = this.requests.get(`${buyerId}:${requestId}`);
    if (previous !== undefined) {
      // The first answer again: the refusal, or the order (with its status now) and how it failed, if it did.
      const { orderId, result, skuId } = previous;
      if (orderId === 0) return { result, orderId: 0, status: 0, skuId };
      const order = this.orders.get(orderId);
      const forgottenStatus = result === ResultCode.ok ? 0 : OrderStatus.failCheckout;
      return { result, orderId, status: order ? order.status : forgottenStatus, skuId };
    }
    const refuse = (code: number, skuId = 0): ModelReply => {
      // Out of stock is momentary: such a refusal is not remembered, a retry is judged again.
      if (code !== ResultCode.soldOut && code !== ResultCode.insufficientStock)
        this.remember(buyerId, requestId, { orderId: 0, result: code, skuId });
      return { result: code, orderId: 0, status: 0, skuId };
    };
    if (command.lines.length < 1 || command.lines.length > this.limits.linesPerOrderMax)
      return refuse(ResultCode.linesInvalid);
    const wanted = new Map<number, number>();
    let currency = -1;
    for (const line of command.lines) {
      const p = this.products.get(line.skuId);
      if (!p) return refuse(ResultCode.unknownSku, line.skuId);
      if (line.quantity < 1 || line.quantity > this.limits.quantityPerLineMax)
        return refuse(ResultCode.quantityInvalid, line.skuId);
      if (currency === -1) currency = p.currency;
      else if (p.currency !== currency) return refuse(ResultCode.currencyMismatch, line.skuId);
      if (this.nowMs < p.startsAtMs || (p.endsAtMs !== 0 && this.nowMs >= p.endsAtMs))
        return refuse(ResultCode.saleNotOpen, line.skuId);
      wanted.set(line.skuId, (wanted.get(line.skuId) ?? 0) + line.quantity);
    }
    let newPairs = 0;
    for (const [skuId, quantity] of wanted) {
      const p = this.products.get(skuId)!;
      const available = p.onHand - p.reserved;
      if (available <= 0) return refuse(ResultCode.soldOut, skuId);
      if (available < quantity) return refuse(ResultCode.insufficientStock, skuId);
      if (!this.held.has(`${buyerId}:${skuId}`)) newPairs++;
    }
    if (this.orders.size >= this.limits.ordersMax) return refuse(ResultCode.ordersFull);
    if (!this.buyers.has(buyerId) && this.buyers.size >= this.limits.buyersMax)
      return refuse(ResultCode.buyersFull);
    if (this.held.size + newPairs > this.limits.buyerSkuPairsMax) return refuse(ResultCode.buyerSkuPairsFull);

    const orderId = this.nextOrderId++;
    let totalMinor = 0;
    for (const [skuId, quantity] of wanted) totalMinor += this.products.get(skuId)!.priceMinor * quantity;
    const order: ModelOrder = {
      buyerId,
      status: OrderStatus.created,
      lines: wanted,
      totalMinor,
      expiresAtMs: this.nowMs + this.limits.orderTtlMs,
      finalAtMs: 0,
    };
    this.orders.set(orderId, order);
    const request: ModelRequest = { orderId, result: ResultCode.ok, skuId: 0 };
    this.remember(buyerId, requestId, request);
    const buyer = this.buyer(buyerId);
    if (this.nowMs - buyer.windowStartMs >= this.limits.velocityWindowMs) {
      buyer.windowStartMs = this.nowMs;
      buyer.count = 1;
    } else buyer.count++;
    // checked_inventory
    for (const [skuId, quantity] of wanted) {
      this.products.get(skuId)!.reserved += quantity;
      const key = `${buyerId}:${skuId}`;
      this.held.set(key, (this.held.get(key) ?? 0) + quantity);
    }
    order.status = OrderStatus.checkedInventory;
    const fail = (code: number, skuId = 0): ModelReply => {
      this.finish(order, OrderStatus.failCheckout);
      request.result = code;
      request.skuId = skuId;
      return { result: code, orderId, status: order.status, skuId };
    };
    if (buyer.blocked) return fail(ResultCode.buyerBlocked);
    if (buyer.count > this.limits.velocityOrdersMax) return fail(ResultCode.velocityExceeded);
    for (const skuId of wanted.keys()) {
      const limit = this.products.get(skuId)!.limitPerBuyer;
      if (limit > 0 && this.held.get(`${buyerId}:${skuId}`)! > limit)
        return fail(ResultCode.limitPerBuyerExceeded, skuId);
    }
    order.status = OrderStatus.pendingCheckout;
    for (const line of command.lines) {
      if (line.unitPriceMinor !== this.products.get(line.skuId)!.priceMinor)
        return fail(ResultCode.priceChanged, line.skuId);
    }
    if (command.totalMinor !== totalMinor) return fail(ResultCode.totalMismatch);
    order.status = OrderStatus.readyForCheckout;
    return { result: ResultCode.ok, orderId, status: order.status, skuId: 0 };
  }

  private pay(command: Extract<CommandInput, { type: 'paymentResult' }>): ModelReply {
    const reference = command.reference ?? '';
    const first = this.payments.get(reference);
    if (first !== undefined) return first;
    const order = this.orders.get(command.orderId);
    if (!order) return { result: ResultCode.unknownOrder, orderId: 0, status: 0, skuId: 0 };
    const reply = this.decidePayment(command, order);
    if (reference !== '') {
      if (this.payments.size >= this.limits.paymentReferencesMax)
        this.payments.delete(this.payments.keys().next().value as string);
      this.payments.set(reference, reply);
    }
    return reply;
  }

  private decidePayment(
    command: Extract<CommandInput, { type: 'paymentResult' }>,
    order: ModelOrder,
  ): ModelReply {
    let result: number = ResultCode.ok;
    const succeeded = command.outcome === PaymentOutcome.succeeded;
    if (order.status === OrderStatus.readyForCheckout && this.nowMs >= order.expiresAtMs)
      this.finish(order, OrderStatus.timeout);
    if (order.status === OrderStatus.readyForCheckout) {
      if (!succeeded) {
        this.finish(order, OrderStatus.errorCheckout);
        result = ResultCode.paymentDeclined;
      } else if (command.amountMinor !== order.totalMinor) {
        this.finish(order, OrderStatus.exceptionCheckout);
        result = ResultCode.amountMismatch;
      } else this.finish(order, OrderStatus.checkoutSuccess);
    } else if (succeeded && (order.status === OrderStatus.timeout || order.status === OrderStatus.canceled)) {
      order.status = OrderStatus.exceptionCheckout;
      order.finalAtMs = this.nowMs;
      result = ResultCode.expired;
    } else if (!(succeeded && order.status === OrderStatus.checkoutSuccess)) {
      result = ResultCode.invalidTransition;
    }
    return { result, orderId: command.orderId, status: order.status, skuId: 0 };
  }

  /** Moves a reserving order to a final status, releasing or committing its stock. */
  private finish(order: ModelOrder, status: number): void {
    for (const [skuId, quantity] of order.lines) {
      const p = this.products.get(skuId)!;
      p.reserved -= quantity;
      if (status === OrderStatus.checkoutSuccess) p.onHand -= quantity;
      else {
        const key = `${order.buyerId}:${skuId}`;
        this.held.set(key, this.held.get(key)! - quantity);
      }
    }
    order.status = status;
    order.finalAtMs = this.nowMs;
  }
}
