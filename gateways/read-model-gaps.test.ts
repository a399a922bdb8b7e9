/**
 * A read model with no gaps: a node whose notify ring holds 8 events takes a
 * sale of batched orders, so the journal thread drops most notifications. The
 * embedded read model must still hold every order, owned by its buyer: HTTP
 * reads, subscriptions (ownership), the sold-out edge's retried-order check
 * and the buyers' pushes all depend on it. Before the feed filled gaps from the
 * journal, the dropped orders read as missing, retries were told SOLD_OUT and
 * their pushes never came.
 */
import t from 'tap';
import { http, type Json, startTestServer, TestClient, token } from './testing/test-server.ts';

const skuId = 1;
const priceMinor = 1000;
/** Four orders each: under the engine's velocity limit (10 a second). */
const buyerCount = 512;
const batchSize = 256;
const batchCount = 8;
/** Buyers with their own connection, who must get a push for each of their orders. */
const pushedBuyerCount = 8;
const readsInParallel = 32;
/** Resends of a retry answered BUSY, at most. */
const busyResendsMax = 20;

const admin = token({ role: 'admin', adminName: 'ops' });

const buyerOf = (i: number): number => (i % buyerCount) + 1;

/** The status in either spelling: the protobuf enum name (ORDER_STATUS_READY_FOR_CHECKOUT) or the seed's. */
const isReadyForCheckout = (status: string): boolean =>
  status.toLowerCase().replace(/^order_status_/, '') === 'ready_for_checkout';

const placeMessage = (requestId: number, buyerId: number): Json => ({
  requestId,
  placeOrder: {
    buyerId,
    lines: [{ skuId, quantity: 1, unitPriceMinor: priceMinor }],
    totalMinor: priceMinor,
  },
});

async function authenticated(port: number, subject: Parameters<typeof token>[0]): Promise<TestClient> {
  const client = await TestClient.connect(port);
  const auth = await client.request({ requestId: 1, authenticate: { token: token(subject) } });
  if (!('authenticated' in auth)) throw new Error(`auth failed: ${JSON.stringify(auth)}`);
  return client;
}

/** Sends one batch and returns its answers, in message order. */
async function batch(client: TestClient, requestId: number, messages: Json[]): Promise<Json[]> {
  const answer = await client.request({ requestId, batch: { messages } });
  const answers = (answer.batch as { answers?: Json[] } | undefined)?.answers;
  if (answers === undefined) throw new Error(`batch ${requestId}: ${JSON.stringify(answer)}`);
  return answers;
}

t.test('every order is readable and owned correctly after the notify ring overflowed', async (t) => {
  const { server, stop } = await startTestServer({ notifyRingSlots: 8 });
  t.teardown(stop);
  const orderCount = batchSize * batchCount;
  // Exactly the units the sale takes, so the SKU is sold out at the edge afterwards.
  const added = await http(server.port, 'POST', '/v1/admin/products', {
    token: admin,
    body: { skuId, priceMinor, currency: 'USD', stock: orderCount },
  });
  t.equal(added.status, 200, added.text);
  const buyers = await Promise.all(
    Array.from({ length: pushedBuyerCount }, (_, i) =>
      authenticated(server.port, { role: 'buyer', buyerId: i + 1 }),
    ),
  );
  const service = await authenticated(server.port, { role: 'service', serviceName: 'gaps' });

  // The sale: all batches at once, so commits carry hundreds of events into an 8-slot ring.
  const placed = new Map<number, { orderId: number; buyerId: number }>();
  const batches = await Promise.all(
    Array.from({ length: batchCount }, (_, b) =>
      batch(
        service,
        1000 + b,
        Array.from({ length: batchSize }, (_, j) =>
          placeMessage(10_000 + b * batchSize + j, buyerOf(b * batchSize + j)),
        ),
      ),
    ),
  );
  for (const answers of batches) {
    for (const answer of answers) {
      const order = answer.order as { result: string; orderId: number } | undefined;
      if (order?.result !== 'RESULT_CODE_OK') {
        t.fail(`an order was refused: ${JSON.stringify(answer)}`);
        continue;
      }
      placed.set(Number(answer.requestId), {
        orderId: order.orderId,
        buyerId: buyerOf(Number(answer.requestId) - 10_000),
      });
    }
  }
  t.equal(placed.size, orderCount, 'every order was placed');
  t.ok(
    server.host.control.notifyDroppedCount > 0,
    `the notify ring overflowed (${server.host.control.notifyDroppedCount} notifications dropped)`,
  );

  // HTTP: each order reads back for its buyer, as a miss for another buyer.
  let readsWrong = 0;
  const orders = [...placed.values()];
  for (let from = 0; from < orders.length; from += readsInParallel) {
    await Promise.all(
      orders.slice(from, from + readsInParallel).map(async ({ orderId, buyerId }) => {
        const own = await http(server.port, 'GET', `/v1/orders/${orderId}`, {
          token: token({ role: 'buyer', buyerId }),
        });
        const other = await http(server.port, 'GET', `/v1/orders/${orderId}`, {
          token: token({ role: 'buyer', buyerId: (buyerId % buyerCount) + 1 }),
        });
        if (own.status !== 200 || own.body.buyerId !== buyerId || other.status !== 404) {
          if (readsWrong++ < 5)
            t.fail(
              `order ${orderId} of buyer ${buyerId}: own ${own.status} ${own.text}, other ${other.status}`,
            );
        }
      }),
    );
  }
  t.equal(readsWrong, 0, 'every order reads back for its buyer and only for its buyer');
  let listsWrong = 0;
  for (let buyerId = 1; buyerId <= buyerCount; buyerId++) {
    const list = await http(server.port, 'GET', '/v1/buyers/me/orders?limit=500', {
      token: token({ role: 'buyer', buyerId }),
    });
    const listed = ((list.body.orders ?? []) as { orderId: number }[])
      .map((o) => o.orderId)
      .sort((a, b) => a - b);
    const expected = [...placed.values()]
      .filter((o) => o.buyerId === buyerId)
      .map((o) => o.orderId)
      .sort((a, b) => a - b);
    if (JSON.stringify(listed) !== JSON.stringify(expected) && listsWrong++ < 5)
      t.fail(`buyer ${buyerId} lists ${listed.length} orders, placed ${expected.length}`);
  }
  t.equal(listsWrong, 0, "every buyer's order list holds exactly their orders");

  // WebSocket: a subscription is the owner's only; a retry at the sold-out edge gets its order back.
  const entries = [...placed.entries()];
  let subscribesWrong = 0;
  let retriesWrong = 0;
  for (let from = 0; from < entries.length; from += batchSize / 2) {
    const slice = entries.slice(from, from + batchSize / 2);
    const answers = await batch(
      service,
      5000 + from,
      slice.flatMap(([requestId, { orderId, buyerId }]) => [
        { requestId: 2 * requestId, subscribe: { orderId, buyerId } },
        { requestId: 2 * requestId + 1, subscribe: { orderId, buyerId: (buyerId % buyerCount) + 1 } },
      ]),
    );
    for (let i = 0; i < slice.length; i++) {
      const own = answers[2 * i]!;
      const other = answers[2 * i + 1]!;
      if (!('subscribed' in own) || (other.error as { code?: string } | undefined)?.code !== 'NOT_FOUND') {
        if (subscribesWrong++ < 5)
          t.fail(`subscribe to order ${slice[i]![1].orderId}: ${JSON.stringify([own, other])}`);
      }
    }
    // BUSY (the model was filling a gap) is resent, as a client does; anything else is the answer.
    const retried: Json[] = [];
    for (let attempt = 0; attempt < busyResendsMax; attempt++) {
      const answers = await batch(
        service,
        7000 + from * busyResendsMax + attempt,
        slice.map(([requestId, { buyerId }]) => placeMessage(requestId, buyerId)),
      );
      answers.forEach((answer, i) => {
        if (retried[i] === undefined || (retried[i]!.error as { code?: string } | undefined)?.code === 'BUSY')
          retried[i] = answer;
      });
      if (!retried.some((a) => (a.error as { code?: string } | undefined)?.code === 'BUSY')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (let i = 0; i < slice.length; i++) {
      const order = retried[i]!.order as { result: string; orderId: number } | undefined;
      if (order?.result !== 'RESULT_CODE_OK' || order.orderId !== slice[i]![1].orderId) {
        if (retriesWrong++ < 5)
          t.fail(`retry of order ${slice[i]![1].orderId}: ${JSON.stringify(retried[i])}`);
      }
    }
  }
  t.equal(subscribesWrong, 0, 'every subscription is its owner');
  t.equal(retriesWrong, 0, 'every retry at the sold-out edge answers its order');

  // Pushes: each connected buyer hears of every order of theirs reaching ready_for_checkout.
  for (let b = 0; b < pushedBuyerCount; b++) {
    const buyerId = b + 1;
    const ids = [...placed.values()].filter((o) => o.buyerId === buyerId).map((o) => o.orderId);
    for (const orderId of ids) {
      await buyers[b]!.push((m) => {
        const update = m.update as { orderId: number; status: string };
        return update.orderId === orderId && isReadyForCheckout(update.status);
      });
    }
  }
  t.pass('every connected buyer got a push for each of their orders');
  for (const client of [...buyers, service]) client.close();
});
