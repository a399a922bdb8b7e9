/**
 * The embedded read model's order lookups against a plain reference, on a
 * seeded stream of orders from few buyers into a small model: the edge's
 * retry check (orderForRequest) and a buyer's order list (ordersOfBuyer) must
 * stay right while buyers go from one order to several and back, and while
 * the oldest orders are forgotten to stay within ordersMax.
 */
import t from 'tap';
import { EventType } from '../engine/codes.ts';
import { EventSlot, OrderCreated } from '../engine/layout.ts';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import { EmbeddedReadModel } from './embedded-read-model.ts';

t.test('retry lookups and order lists follow every order held, through forgetting (seeded)', async (t) => {
  const seed = seedFromEnv();
  t.comment(`SEED=${seed} (replay: SEED=${seed} npx tap projections/embedded-read-model.test.ts)`);
  const random = new SeededRandom(seed);
  const ordersMax = random.int(1, 12);
  const model = new EmbeddedReadModel(ordersMax);
  const buyers = random.int(1, 6);
  /** Every order applied, oldest first; the model holds the last ordersMax. */
  const reference: { orderId: number; buyerId: number; requestId: number }[] = [];
  const words = new Int32Array(EventSlot.words);
  const f64 = new Float64Array(words.buffer);
  let failures = 0;
  for (let seq = 1; seq <= 2_000 && failures < 3; seq++) {
    const order = { orderId: seq * 10, buyerId: random.int(1, buyers), requestId: random.int(1, 2 ** 40) };
    words.fill(0);
    words[OrderCreated.buyerId] = order.buyerId;
    words[OrderCreated.lineCount] = 1;
    words[OrderCreated.lines + OrderCreated.lineSkuId] = 1;
    words[OrderCreated.lines + OrderCreated.lineQuantity] = 1;
    f64[OrderCreated.orderId >> 1] = order.orderId;
    f64[OrderCreated.requestId >> 1] = order.requestId;
    model.apply(EventType.orderCreated, seq, 0, words, f64, 0);
    reference.push(order);
    const held = reference.slice(-ordersMax);
    const forgotten = reference.length > ordersMax ? reference[reference.length - ordersMax - 1]! : null;
    for (let buyerId = 1; buyerId <= buyers; buyerId++) {
      const expected = held.filter((o) => o.buyerId === buyerId);
      const listed = model.ordersOfBuyer(buyerId, 100).map((o) => o.orderId);
      const want = expected.map((o) => o.orderId).reverse();
      if (JSON.stringify(listed) !== JSON.stringify(want)) {
        failures++;
        t.same(listed, want, `SEED=${seed} after seq ${seq}: buyer ${buyerId}'s orders, newest first`);
      }
      for (const o of expected) {
        if (model.orderForRequest(buyerId, o.requestId) !== o.orderId) {
          failures++;
          t.fail(
            `SEED=${seed} after seq ${seq}: buyer ${buyerId}'s request ${o.requestId} is order ${o.orderId}`,
          );
        }
      }
    }
    if (forgotten !== null && model.orderForRequest(forgotten.buyerId, forgotten.requestId) !== undefined) {
      failures++;
      t.fail(
        `SEED=${seed} after seq ${seq}: forgotten order ${forgotten.orderId} still found by its request`,
      );
    }
    if (
      model.orderForRequest(order.buyerId, order.requestId + 1) !== undefined &&
      !held.some((o) => o.buyerId === order.buyerId && o.requestId === order.requestId + 1)
    ) {
      failures++;
      t.fail(`SEED=${seed} after seq ${seq}: a request never made found an order`);
    }
  }
  t.equal(failures, 0, `${reference.length} orders from ${buyers} buyers into a model of ${ordersMax}`);
});
