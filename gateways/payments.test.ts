/**
 * The sandbox payment provider drives orders as a real provider would:
 * success -> checkout_success, decline -> error_checkout (stock returns),
 * no answer -> the order times out (stock returns), each pushed to the buyer.
 */
import t, { type Test } from 'tap';
import { engineLimits } from '../engine/limits.ts';
import { http, type Json, startTestServer, TestClient, token } from './testing/test-server.ts';

const admin = token({ role: 'admin', adminName: 'ops' });

/** A node whose sandbox pays at the given rates, selling SKU 1 at 100 cents with `stock` units. */
async function startSale(
  t: Test,
  payments: { successRate: number; declineRate: number },
  timing: { orderTtlMs: number; finalOrderRetentionMs: number },
  stock: number,
): Promise<{ port: number }> {
  const { server, stop } = await startTestServer({
    payments: { delayMs: 50, seed: 7, ...payments },
    limits: engineLimits({ skusMax: 10, ordersMax: 1000, buyersMax: 1000, ...timing }),
  });
  t.teardown(stop);
  await http(server.port, 'POST', '/v1/admin/products', {
    token: admin,
    body: { skuId: 1, priceMinor: 100, currency: 'USD', stock },
  });
  return server;
}

async function payOnce(
  t: Test,
  payments: { successRate: number; declineRate: number },
  expected: string,
): Promise<void> {
  const server = await startSale(t, payments, { orderTtlMs: 400, finalOrderRetentionMs: 60_000 }, 1);
  const c = await TestClient.connect(server.port);
  await c.request({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId: 4 }) } });
  const placed = await c.request({
    requestId: 2,
    placeOrder: { lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 100 }], totalMinor: 100 },
  });
  const orderId = (placed.order as { orderId: number }).orderId;
  t.equal((await http(server.port, 'GET', '/v1/stock/1')).body.available, 0);
  // Both sent at once, well inside the sandbox's delay: a second request sent after the first answer could
  // come after the first payment was settled on a loaded machine.
  const [paying, again] = await Promise.all(
    [3, 4].map((requestId) => c.request({ requestId, pay: { orderId } })),
  );
  t.equal((paying!.order as { result: string }).result, 'RESULT_CODE_OK', 'payment started');
  t.match((again!.order as { message: string }).message, /already in flight/, 'one payment at a time');
  const final = await c.push((m: Json) => (m.update as { status: string }).status === expected);
  t.equal((final.update as { orderId: number }).orderId, orderId, `pushed ${expected}`);
  const stock = (await http(server.port, 'GET', '/v1/stock/1')).body.available;
  t.equal(stock, expected === 'checkout_success' ? 0 : 1, 'stock sold, or back on sale');
  c.close();
}

t.test('success', (t) => payOnce(t, { successRate: 1, declineRate: 0 }, 'checkout_success'));
t.test('decline', (t) => payOnce(t, { successRate: 0, declineRate: 1 }, 'error_checkout'));
t.test('no answer: the order times out', (t) => payOnce(t, { successRate: 0, declineRate: 0 }, 'timeout'));

/** stampede_subscribed_orders from /metrics. */
async function subscribedOrders(port: number): Promise<number> {
  const { text } = await http(port, 'GET', '/metrics');
  return Number(/^stampede_subscribed_orders (\d+)$/m.exec(text as unknown as string)?.[1] ?? Number.NaN);
}

t.test('a subscription ends when its order is settled, or once the engine forgets it', async (t) => {
  const server = await startSale(
    t,
    { successRate: 1, declineRate: 0 },
    { orderTtlMs: 300, finalOrderRetentionMs: 1500 },
    10,
  );
  const backend = await TestClient.connect(server.port);
  await backend.request({
    requestId: 1,
    authenticate: { token: token({ role: 'service', serviceName: 'checkout' }) },
  });
  const reserve = async (buyerId: number, requestId: number): Promise<number> => {
    const placed = await backend.request({
      requestId,
      placeOrder: { buyerId, lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 100 }], totalMinor: 100 },
    });
    const orderId = (placed.order as { orderId: number }).orderId;
    await backend.request({ requestId: requestId + 1, subscribe: { orderId, buyerId } });
    return orderId;
  };
  const paid = await reserve(4, 10);
  const left = await reserve(5, 20);
  t.equal(await subscribedOrders(server.port), 2, 'two orders subscribed');

  await backend.request({ requestId: 12, pay: { orderId: paid, buyerId: 4 } });
  await backend.push(
    (m: Json) =>
      (m.update as { orderId: number; status: string } | undefined)?.orderId === paid &&
      (m.update as { status: string }).status === 'checkout_success',
  );
  await backend.push(
    (m: Json) =>
      (m.update as { orderId: number; status: string } | undefined)?.orderId === left &&
      (m.update as { status: string }).status === 'timeout',
  );
  t.equal(await subscribedOrders(server.port), 1, 'the paid one ended; the timed-out one can still change');

  // The engine forgets the timed-out order after finalOrderRetentionMs; its subscription goes with it.
  const deadline = Date.now() + 10_000;
  while ((await subscribedOrders(server.port)) !== 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(await subscribedOrders(server.port), 0, 'forgotten: no subscription left');
  backend.close();
});

t.test('a service connection that pays gets the outcome pushed without subscribing', async (t) => {
  const server = await startSale(
    t,
    { successRate: 1, declineRate: 0 },
    { orderTtlMs: 5_000, finalOrderRetentionMs: 60_000 },
    10,
  );
  const service = {
    requestId: 1,
    authenticate: { token: token({ role: 'service', serviceName: 'checkout' }) },
  };
  const [payer, bystander] = await Promise.all([
    TestClient.connect(server.port),
    TestClient.connect(server.port),
  ]);
  await payer!.request(service);
  await bystander!.request(service);
  const placed = await payer!.request({
    requestId: 2,
    placeOrder: { buyerId: 4, lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 100 }], totalMinor: 100 },
  });
  const orderId = (placed.order as { orderId: number }).orderId;
  const paying = await payer!.request({ requestId: 3, pay: { orderId, buyerId: 4 } });
  t.equal((paying.order as { result: string }).result, 'RESULT_CODE_OK', 'payment started');
  t.equal(await subscribedOrders(server.port), 1, 'the pay subscribed its connection');
  const outcome = await payer!.push(
    (m: Json) => (m.update as { orderId: number } | undefined)?.orderId === orderId,
  );
  t.equal((outcome.update as { status: string }).status, 'checkout_success', 'pushed to the payer');
  // The other connection never asked: a ping's answer comes back with no update before it.
  const pong = await bystander!.request({ requestId: 9, ping: { clientTimeMs: 1 } });
  t.ok(pong.pong !== undefined, 'the bystander is answered');
  t.equal(bystander!.pushes.length, 0, 'and was pushed nothing');
  t.equal(await subscribedOrders(server.port), 0, 'settled: the subscription ended');
  payer!.close();
  bystander!.close();
});
