/**
 * What the embedded read model costs the gateway thread per order of a sale:
 * one orderCreated and one status change, for a new buyer each (as in a flash
 * sale), into one model that keeps them all (its heap grows as the gateway's
 * does, so the garbage collector's share is in the figure).
 *
 *   npx tsx projections/embedded-read-model.bench.ts
 *
 * Prints µs per order for ten passes of 100,000 orders, each into a new model
 * that starts at orderSlotsInitial (65,536) and doubles once, as the
 * gateway's does past that many orders: the doubling's stall is in the figure
 * (read the later passes: the first ones include the JIT's warm-up).
 */
import { EventType, OrderStatus } from '../engine/codes.ts';
import { EventSlot, OrderCreated, OrderStatusChanged } from '../engine/layout.ts';
import { EmbeddedReadModel } from './embedded-read-model.ts';

const ordersPerPass = 100_000;
const words = new Int32Array(EventSlot.words);
const f64 = new Float64Array(words.buffer);

function pass(): number {
  const model = new EmbeddedReadModel();
  let seq = 1;
  const started = performance.now();
  for (let i = 0; i < ordersPerPass; i++) {
    words.fill(0);
    words[OrderCreated.buyerId] = 1000 + i;
    words[OrderCreated.lineCount] = 1;
    words[OrderCreated.lines + OrderCreated.lineSkuId] = 1;
    words[OrderCreated.lines + OrderCreated.lineQuantity] = 1;
    words[OrderCreated.lines + OrderCreated.lineUnitPriceMinor] = 1999;
    f64[OrderCreated.orderId >> 1] = 1 + i;
    f64[OrderCreated.requestId >> 1] = 2 ** 40 + i;
    f64[OrderCreated.totalMinor >> 1] = 1999;
    f64[OrderCreated.expiresAtMs >> 1] = 1.8e12;
    model.apply(EventType.orderCreated, seq++, 1.8e12, words, f64, 0);
    words.fill(0);
    words[OrderStatusChanged.buyerId] = 1000 + i;
    words[OrderStatusChanged.status] = OrderStatus.readyForCheckout;
    words[OrderStatusChanged.previous] = OrderStatus.created;
    f64[OrderStatusChanged.orderId >> 1] = 1 + i;
    model.apply(EventType.orderStatusChanged, seq++, 1.8e12, words, f64, 0);
  }
  return ((performance.now() - started) * 1000) / ordersPerPass;
}

const passes = Array.from({ length: 10 }, pass);
console.log(
  `read model: ${passes.map((us) => us.toFixed(2)).join(', ')} µs per order (created + one change), ten passes of ${ordersPerPass.toLocaleString('en-US')}`,
);
