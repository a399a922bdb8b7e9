/**
 * The sandbox payment provider drives orders as a real provider would:
 * success -> checkout_success, decline -> error_checkout (stock returns),
 * no answer -> the order times out (stock returns), each pushed to the buyer.
 */
import t, { type Test } from 'tap';
import { engineLimits } from '../engine/limits.ts';
import { http, type Json, startTestServer, TestClient, token } from './testing/test-server.ts';

const admin = token({ role: 'admin', adminName: 'ops' });

async function payOnce(
  t: Test,
  payments: { successRate: number; declineRate: number },
  expected: string,
): Promise<void> {
  const { server, stop } = await startTestServer({
    payments: { delayMs: 5, seed: 7, ...payments },
    limits: engineLimits({
      skusMax: 10,
      ordersMax: 1000,
      buyersMax: 1000,
      orderTtlMs: 400,
      finalOrderRetentionMs: 60_000,
    }),
  });
  t.teardown(stop);
  await http(server.port, 'POST', '/v1/admin/products', {
    token: admin,
    body: { skuId: 1, priceMinor: 100, currency: 'USD', stock: 1 },
  });
  const c = await TestClient.connect(server.port);
  await c.request({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId: 4 }) } });
  const placed = await c.request({
    requestId: 2,
    placeOrder: { lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 100 }], totalMinor: 100 },
  });
  const orderId = (placed.order as { orderId: number }).orderId;
  t.equal((await http(server.port, 'GET', '/v1/stock/1')).body.available, 0);
  const paying = await c.request({ requestId: 3, pay: { orderId } });
  t.equal((paying.order as { result: string }).result, 'RESULT_CODE_OK', 'payment started');
  const again = await c.request({ requestId: 4, pay: { orderId } });
  t.match((again.order as { message: string }).message, /already in flight/, 'one payment at a time');
  const final = await c.push((m: Json) => (m.update as { status: string }).status === expected);
  t.equal((final.update as { orderId: number }).orderId, orderId, `pushed ${expected}`);
  const stock = (await http(server.port, 'GET', '/v1/stock/1')).body.available;
  t.equal(stock, expected === 'ORDER_STATUS_CHECKOUT_SUCCESS' ? 0 : 1, 'stock sold, or back on sale');
  c.close();
}

t.test('success', (t) => payOnce(t, { successRate: 1, declineRate: 0 }, 'ORDER_STATUS_CHECKOUT_SUCCESS'));
t.test('decline', (t) => payOnce(t, { successRate: 0, declineRate: 1 }, 'ORDER_STATUS_ERROR_CHECKOUT'));
t.test('no answer: the order times out', (t) =>
  payOnce(t, { successRate: 0, declineRate: 0 }, 'ORDER_STATUS_TIMEOUT'),
);
