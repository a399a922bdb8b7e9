/**
 * What the embedded read model costs the gateway thread per order of a sale:
 * one orderCreated and one status change, for a new buyer each (as in a flash
 * sale), into one model that keeps them all (its heap grows as the gateway's
 * does, so the garbage collector's share is in the figure).
 *
 *   npx tsx projections/embedded/read-model.bench.ts
 *
 * Prints µs per order for ten passes of 100,000 orders, each into a new model
 * whose indexes start at orderIndexEntriesInitial (65,536) and double once,
 * as the gateway's do past that many orders (read the later passes: the first
 * ones include the JIT's warm-up); then the longest single order of one pass
 * of 600,000, through three doublings (65,536 → 524,288): what a buyer whose
 * order lands on a doubling waits for, at most.
 */
import { EventType, OrderStatus } from '../../engine/codes.ts';
import { EventSlot, OrderCreated, OrderStatusChanged } from '../../engine/layout.ts';
import { EmbeddedReadModel } from './read-model.ts';

const ordersPerPass = 100_000;
const words = new Int32Array(EventSlot.words);
const f64 = new Float64Array(words.buffer);

/** One pass into a new model: µs per order, and the longest single order in ms. */
function pass(orders: number): { usPerOrder: number; longestMs: number } {
  const model = new EmbeddedReadModel();
  let seq = 1;
  let longestMs = 0;
  const started = performance.now();
  for (let i = 0; i < orders; i++) {
    const orderStarted = performance.now();
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
    longestMs = Math.max(longestMs, performance.now() - orderStarted);
  }
  return { usPerOrder: ((performance.now() - started) * 1000) / orders, longestMs };
}

const passes = Array.from({ length: 10 }, () => pass(ordersPerPass).usPerOrder);
console.log(
  `read model: ${passes.map((us) => us.toFixed(2)).join(', ')} µs per order (created + one change), ten passes of ${ordersPerPass.toLocaleString('en-US')}`,
);
const growing = pass(600_000);
console.log(
  `read model: the longest order of 600,000 (indexes doubling 65,536 → 524,288) took ${growing.longestMs.toFixed(1)} ms (${growing.usPerOrder.toFixed(2)} µs per order)`,
);
