/**
 * The flash-sale command mix the engine benchmarks replay: one hot SKU with
 * `stock` units, `buyers` distinct buyers each placing one order for one unit,
 * and a payment for every order that got stock (so most commands are sold-out
 * refusals, as in a real sale). Pre-encoded into one command buffer so the
 * measured loop does nothing but apply.
 */
import { PaymentOutcome } from '../engine/codes.ts';
import { writeCommand, writeOrderLine, writePlaceOrderHeader } from '../engine/commands.ts';
import { packCurrency } from '../engine/layout.ts';

export const hotSkuId = 1;
export const hotPriceMinor = 1999;

export interface FlashSaleShape {
  buyers: number;
  stock: number;
  startMs: number;
}

/** Writes the catalog command (addProduct) into slot `at`. */
export function writeCatalog(words: Int32Array, f64: Float64Array, at: number, shape: FlashSaleShape): void {
  writeCommand(words, f64, at, 0, shape.startMs, {
    type: 'addProduct',
    skuId: hotSkuId,
    priceMinor: hotPriceMinor,
    currency: packCurrency('USD'),
    stock: shape.stock,
  });
}

/** Place command for buyer i (1-based buyer ids, request id = buyer id). */
export function writePlace(
  words: Int32Array,
  f64: Float64Array,
  at: number,
  correlationId: number,
  nowMs: number,
  i: number,
): void {
  writePlaceOrderHeader(words, f64, at, correlationId, nowMs, i + 1, i + 1, hotPriceMinor, 1);
  writeOrderLine(words, at, 0, hotSkuId, 1, hotPriceMinor);
}

/** Payment for order id `orderId` (orders are numbered from 1 in a fresh engine). */
export function writePay(
  words: Int32Array,
  f64: Float64Array,
  at: number,
  correlationId: number,
  nowMs: number,
  orderId: number,
): void {
  writeCommand(words, f64, at, correlationId, nowMs, {
    type: 'paymentResult',
    orderId,
    outcome: PaymentOutcome.succeeded,
    amountMinor: hotPriceMinor,
  });
}

/**
 * All commands of one sale in order, written on demand into a slot: the
 * catalog, then places interleaved with payments for the orders that got
 * stock (order k is paid right after place k + 16, as clients pay a little
 * later). Benchmarks refill a small, cache-resident buffer from it between
 * timed batches, as the engine reads commands from a ring.
 */
export class FlashSaleStream {
  readonly shape: FlashSaleShape;
  readonly count: number;
  private readonly pays: number;
  private written = 0;
  private placed = 0;
  private paid = 0;
  private payNext = false;

  constructor(shape: FlashSaleShape) {
    this.shape = shape;
    this.pays = Math.min(shape.stock, shape.buyers);
    this.count = 1 + shape.buyers + this.pays;
  }

  get done(): boolean {
    return this.written === this.count;
  }

  /** Writes the next command into slot `at`; false when the sale is over. */
  next(words: Int32Array, f64: Float64Array, at: number): boolean {
    if (this.written === this.count) return false;
    const shape = this.shape;
    if (this.written === 0) writeCatalog(words, f64, at, shape);
    else if (this.payNext || (this.placed === shape.buyers && this.paid < this.pays)) {
      writePay(words, f64, at, 0, shape.startMs + Math.floor(this.placed / 1000), ++this.paid);
      this.payNext = false;
    } else {
      writePlace(words, f64, at, 0, shape.startMs + Math.floor(this.placed / 1000), this.placed);
      this.placed++;
      this.payNext = this.placed > 16 && this.paid < this.pays;
    }
    this.written++;
    return true;
  }
}
