/**
 * The embedded read model's orders against a plain reference, on a seeded
 * stream of orders and status changes from few buyers into a small model:
 * every held order must read back as applied (lines, status, history), the
 * edge's retry check (orderForRequest) and a buyer's order list (ofBuyer) must
 * stay right while buyers go from one order to several and back, while the
 * table doubles from its first slots, and while the oldest orders are
 * forgotten to stay within ordersMax.
 */
import t from 'tap';
import { EventType, OrderStatus } from '../../engine/codes.ts';
import { EventSlot, OrderCreated, OrderStatusChanged } from '../../engine/layout.ts';
import { SeededRandom, seedFromEnv } from '../../lib/seeded-random.ts';
import { historyFields, type OrderView, orderTransitionsMax } from './order-table.ts';
import { EmbeddedReadModel } from './read-model.ts';

t.test('orders read back as applied, through growth and forgetting (seeded)', async (t) => {
  const seed = seedFromEnv();
  t.comment(`SEED=${seed} (replay: SEED=${seed} npx tap projections/embedded/read-model.test.ts)`);
  const random = new SeededRandom(seed);
  const ordersMax = random.int(1, 80);
  // Start with few slots, so the table doubles (and its lines ring too) on the way to ordersMax.
  const model = new EmbeddedReadModel(ordersMax, 2 ** random.int(0, 4));
  const buyers = random.int(1, 6);
  /** Every order created, oldest first; the model holds the last ordersMax. */
  const reference: OrderView[] = [];
  const words = new Int32Array(EventSlot.words);
  const f64 = new Float64Array(words.buffer);
  let failures = 0;
  const fail = (message: string): void => {
    failures++;
    t.fail(`SEED=${seed}: ${message}`);
  };
  for (let seq = 1; seq <= 2_000 && failures < 3; seq++) {
    const atMs = 1.8e12 + seq;
    if (reference.length === 0 || random.int(1, 3) === 1) {
      const order: OrderView = {
        orderId: seq * 10,
        // Buyer ids above 2^31 go into the Int32 indexes as negative words.
        buyerId: random.int(1, buyers) * 700_000_000,
        requestId: random.int(1, 2 ** 40),
        status: OrderStatus.created,
        code: 0,
        lines: [],
        totalMinor: random.int(0, 10 ** 9),
        createdAtMs: atMs,
        expiresAtMs: atMs + 2_000,
        updatedAtMs: atMs,
        history: [OrderStatus.created, 0, atMs, seq],
      };
      words.fill(0);
      words[OrderCreated.buyerId] = order.buyerId;
      const lineCount = random.int(1, 3);
      words[OrderCreated.lineCount] = lineCount;
      for (let i = 0; i < lineCount; i++) {
        const line = {
          skuId: random.int(1, 1000),
          quantity: random.int(1, 5),
          unitPriceMinor: random.int(0, 99_999),
        };
        order.lines.push(line);
        const at = OrderCreated.lines + i * OrderCreated.lineWords;
        words[at + OrderCreated.lineSkuId] = line.skuId;
        words[at + OrderCreated.lineQuantity] = line.quantity;
        words[at + OrderCreated.lineUnitPriceMinor] = line.unitPriceMinor;
      }
      f64[OrderCreated.orderId >> 1] = order.orderId;
      f64[OrderCreated.requestId >> 1] = order.requestId;
      f64[OrderCreated.totalMinor >> 1] = order.totalMinor;
      f64[OrderCreated.expiresAtMs >> 1] = order.expiresAtMs;
      model.apply(EventType.orderCreated, seq, atMs, words, f64, 0);
      reference.push(order);
    } else {
      // A change for any order ever created: forgotten ones must change nothing.
      const order = reference[random.int(0, reference.length - 1)]!;
      const status = random.int(OrderStatus.checkedInventory, OrderStatus.canceled);
      const code = random.int(0, 26);
      words.fill(0);
      words[OrderStatusChanged.status] = status;
      words[OrderStatusChanged.code] = code;
      words[OrderStatusChanged.buyerId] = order.buyerId;
      words[OrderStatusChanged.previous] = order.status;
      f64[OrderStatusChanged.orderId >> 1] = order.orderId;
      const change = model.apply(EventType.orderStatusChanged, seq, atMs, words, f64, 0);
      if (change?.orderId !== order.orderId || change.status !== status || change.buyerId !== order.buyerId) {
        fail(`seq ${seq}: the change of order ${order.orderId} was not passed on for pushing`);
      }
      order.status = status;
      order.code = code;
      order.updatedAtMs = atMs;
      // Past the bound the newest transition replaces the last one kept.
      if (order.history.length === orderTransitionsMax * historyFields) order.history.length -= historyFields;
      order.history.push(status, code, atMs, seq);
    }

    const held = reference.slice(-ordersMax);
    if (model.orders.size !== held.length)
      fail(`seq ${seq}: ${model.orders.size} orders held, not ${held.length}`);
    for (const order of held) {
      const read = JSON.stringify(model.orders.find(order.orderId));
      if (read !== JSON.stringify(order)) fail(`seq ${seq}: order ${order.orderId} reads ${read}`);
    }
    const forgotten = reference.length > ordersMax ? reference[reference.length - ordersMax - 1]! : null;
    if (forgotten !== null) {
      if (model.orders.find(forgotten.orderId) !== undefined)
        fail(`seq ${seq}: forgotten ${forgotten.orderId} found`);
      if (model.orders.orderForRequest(forgotten.buyerId, forgotten.requestId) !== undefined) {
        fail(`seq ${seq}: forgotten order ${forgotten.orderId} still found by its request`);
      }
    }
    for (let buyer = 1; buyer <= buyers; buyer++) {
      const buyerId = buyer * 700_000_000;
      const expected = held.filter((o) => o.buyerId === buyerId);
      const listed = model.orders.ofBuyer(buyerId, 100).map((o) => o.orderId);
      const want = expected.map((o) => o.orderId).reverse();
      if (JSON.stringify(listed) !== JSON.stringify(want)) {
        fail(`seq ${seq}: buyer ${buyerId}'s orders, newest first, are ${listed}, not ${want}`);
      }
      const beforeId = want[1];
      if (beforeId !== undefined && model.orders.ofBuyer(buyerId, 1, beforeId)[0]?.orderId !== want[2]) {
        fail(`seq ${seq}: buyer ${buyerId}'s page before ${beforeId}`);
      }
      for (const o of expected) {
        if (model.orders.orderForRequest(buyerId, o.requestId) !== o.orderId) {
          fail(`seq ${seq}: buyer ${buyerId}'s request ${o.requestId} is order ${o.orderId}`);
        }
        if (model.orders.orderForRequest(buyerId + 1, o.requestId) !== undefined) {
          fail(`seq ${seq}: another buyer's request ${o.requestId} found order ${o.orderId}`);
        }
      }
    }
  }
  // The most the lines ring needs: ordersMax orders of three lines each, in a model grown from one slot.
  const bound = new EmbeddedReadModel(ordersMax, 1);
  for (let i = 0; i < ordersMax; i++) {
    const lines = [1, 2, 3].map((skuId) => ({ skuId, quantity: 1, unitPriceMinor: 1 }));
    bound.orders.add({ orderId: i + 1, buyerId: i, requestId: i, totalMinor: 3, expiresAtMs: 0 }, 0);
    for (const line of lines) bound.orders.addLine(i, line.skuId, line.quantity, line.unitPriceMinor);
  }
  t.ok(
    model.orders.lineSlots <= bound.orders.lineSlots,
    `${model.orders.lineSlots} line slots after ${reference.length} orders, at most ${bound.orders.lineSlots}`,
  );
  t.equal(failures, 0, `${reference.length} orders from ${buyers} buyers into a model of ${ordersMax}`);
});

t.test(
  'a buyer with hundreds of held orders is still found by each request as they are forgotten',
  async (t) => {
    // Past 255 orders of one buyer, the count that lets the retry check skip the index stops counting.
    const ordersMax = 300;
    const model = new EmbeddedReadModel(ordersMax, 1);
    const buyerId = 42;
    const requestOf = (n: number): number => 1_000 + n;
    let missing = 0;
    for (let n = 0; n < ordersMax + 200; n++) {
      model.orders.add(
        { orderId: n + 1, buyerId, requestId: requestOf(n), totalMinor: 1, expiresAtMs: 0 },
        0,
      );
      for (let held = Math.max(0, n + 1 - ordersMax); held <= n; held += 37)
        if (model.orders.orderForRequest(buyerId, requestOf(held)) !== held + 1) missing++;
    }
    t.equal(missing, 0, 'every held order found by its request');
    t.equal(model.orders.orderForRequest(buyerId, requestOf(0)), undefined, 'a forgotten one is not');
    t.equal(model.orders.orderForRequest(buyerId + 1, requestOf(ordersMax)), undefined, 'nor another buyer');
  },
);

t.test('lines read back after the lines ring grows past its slots and wraps', async (t) => {
  // The ring starts with a line per order slot. Orders of one line fill it and wrap it (forgetting the
  // oldest), then orders of up to four lines make it double (copying) with its oldest line past its start.
  const ordersMax = 8;
  const model = new EmbeddedReadModel(ordersMax, 1);
  const lineOf = (n: number, line: number): [number, number, number] => [n * 10 + line, line + 1, n + 1];
  const lineCountOf = (n: number): number => (n < 20 ? 1 : 1 + (n % 4));
  let wrong = 0;
  for (let n = 0; n < 40; n++) {
    const lineCount = lineCountOf(n);
    const slot = model.orders.add(
      { orderId: n + 1, buyerId: n, requestId: n, totalMinor: 1, expiresAtMs: 0 },
      0,
    );
    for (let line = 0; line < lineCount; line++) model.orders.addLine(slot, ...lineOf(n, line));
    for (let held = Math.max(0, n + 1 - ordersMax); held <= n; held++) {
      const view = model.orders.find(held + 1);
      const want = Array.from({ length: lineCountOf(held) }, (_, line) => {
        const [skuId, quantity, unitPriceMinor] = lineOf(held, line);
        return { skuId, quantity, unitPriceMinor };
      });
      if (JSON.stringify(view?.lines) !== JSON.stringify(want) && wrong++ < 3)
        t.fail(
          `order ${held + 1} after ${n + 1} added: ${JSON.stringify(view?.lines)}, want ${JSON.stringify(want)}`,
        );
    }
  }
  t.ok(model.orders.lineSlots > 8, `the ring grew past its 8 slots (${model.orders.lineSlots})`);
  t.equal(wrong, 0, 'every held order has its lines');
});
