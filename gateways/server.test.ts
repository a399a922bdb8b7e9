/**
 * End to end over real sockets against a server started by the test: a
 * buyer's whole flow, idempotent retries, two buyers racing for the last
 * unit, sold out at the edge, ownership, malformed input, and a graceful
 * shutdown that loses no acknowledged order.
 */
import t from 'tap';
import { signatureHeader, signWebhookBody } from './payments-webhook.ts';
import {
  http,
  type Json,
  startTestServer,
  TestClient,
  testWebhookSecret,
  token,
} from './testing/test-server.ts';

const admin = token({ role: 'admin', adminName: 'ops' });

async function addProduct(port: number, skuId: number, stock: number, priceMinor = 1000): Promise<void> {
  const r = await http(port, 'POST', '/v1/admin/products', {
    token: admin,
    body: { skuId, priceMinor, currency: 'USD', stock },
  });
  if (r.status !== 200) throw new Error(`add product: ${r.status} ${r.text}`);
}

async function buyer(port: number, buyerId: number): Promise<TestClient> {
  const client = await TestClient.connect(port);
  const auth = await client.request({
    requestId: 1,
    authenticate: { token: token({ role: 'buyer', buyerId }) },
  });
  if (!('authenticated' in auth)) throw new Error(`auth failed: ${JSON.stringify(auth)}`);
  return client;
}

const place = (requestId: number, skuId: number, quantity = 1, unitPriceMinor = 1000): Json => ({
  requestId,
  placeOrder: { lines: [{ skuId, quantity, unitPriceMinor }], totalMinor: quantity * unitPriceMinor },
});

const order = (answer: Json) =>
  answer.order as { result: string; orderId: number; status: string; mayReturn: boolean; skuId: number };

t.test("a buyer's whole flow: place, pay, pushed updates, reads", async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  await addProduct(server.port, 1, 10);
  const alice = await buyer(server.port, 7);
  const placed = order(await alice.request(place(2, 1, 2)));
  t.equal(placed.result, 'RESULT_CODE_OK');
  t.equal(placed.status, 'ready_for_checkout');
  const ready = await alice.push((m) => (m.update as { status: string }).status === 'ready_for_checkout');
  t.equal(
    (ready.update as { orderId: number }).orderId,
    placed.orderId,
    'every status change is pushed to the buyer',
  );
  const paying = order(await alice.request({ requestId: 3, pay: { orderId: placed.orderId } }));
  t.equal(paying.result, 'RESULT_CODE_OK');
  const paid = await alice.push((m) => (m.update as { status: string }).status === 'checkout_success');
  t.equal((paid.update as { orderId: number }).orderId, placed.orderId);
  const statuses = alice.pushes.map((m) => (m.update as { status: string }).status);
  t.same(statuses, [
    'created',
    'checked_inventory',
    'pending_checkout',
    'ready_for_checkout',
    'checkout_success',
  ]);
  const alicesToken = token({ role: 'buyer', buyerId: 7 });
  const read = await http(server.port, 'GET', `/v1/orders/${placed.orderId}`, { token: alicesToken });
  t.equal(read.status, 200);
  t.equal(read.body.status, 'checkout_success');
  const history = read.body.history as { status: string; code: string; atMs: number; seq: number }[];
  t.same(
    history.map((h) => [h.status, h.code, h.seq]),
    alice.pushes.map((m) => {
      const update = m.update as { status: string; seq: number };
      return [update.status, 'ok', update.seq];
    }),
    'the read shows every transition the pushes showed, with their seqs',
  );
  const mine = await http(server.port, 'GET', '/v1/buyers/me/orders', { token: alicesToken });
  t.same(
    (mine.body.orders as { orderId: number }[]).map((o) => o.orderId),
    [placed.orderId],
  );
  const product = await http(server.port, 'GET', '/v1/products/1');
  t.equal(product.body.available, 8);
  t.equal(product.body.sold, 2);
  const pong = await alice.request({ requestId: 4, ping: { clientTimeMs: 12.5 } });
  t.equal((pong.pong as { clientTimeMs: number }).clientTimeMs, 12.5);
  alice.close();
});

t.test('a retry with the same request id gets the same order, once', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  await addProduct(server.port, 1, 10);
  const bob = await buyer(server.port, 8);
  const first = order(await bob.request(place(42, 1)));
  const bob2 = await buyer(server.port, 8); // the retry comes on a new connection, as after a drop
  const retry = order(await bob2.request(place(42, 1)));
  t.equal(retry.orderId, first.orderId);
  t.equal((await http(server.port, 'GET', '/v1/stock/1')).body.available, 9, 'one unit reserved, not two');
  bob.close();
  bob2.close();
});

t.test('two buyers race for the last unit: one gets it, the other a definitive sold out', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  await addProduct(server.port, 1, 1);
  const [a, b] = await Promise.all([buyer(server.port, 1), buyer(server.port, 2)]);
  const answers = await Promise.all([a.request(place(2, 1)), b.request(place(2, 1))]);
  const results = answers.map((x) => order(x).result).sort();
  t.same(results, ['RESULT_CODE_OK', 'RESULT_CODE_SOLD_OUT']);
  const loser = answers.map(order).find((o) => o.result === 'RESULT_CODE_SOLD_OUT')!;
  t.equal(loser.mayReturn, true, 'says stock may come back when reservations expire');
  a.close();
  b.close();
});

t.test('sold out is answered at the edge without the engine', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  await addProduct(server.port, 1, 1);
  const a = await buyer(server.port, 1);
  t.equal(order(await a.request(place(2, 1))).result, 'RESULT_CODE_OK');
  const commandsBefore = server.host.control.commandCount;
  const c = await buyer(server.port, 3);
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => c.request(place(10 + i, 1))));
  t.ok(answers.every((x) => order(x).result === 'RESULT_CODE_SOLD_OUT'));
  t.ok(
    server.host.control.commandCount - commandsBefore < 5,
    'the engine saw (almost) none of them (ticks aside)',
  );
  t.equal(server.metrics.edgeSoldOut, 50);
  const retry = order(await a.request(place(2, 1)));
  t.equal(retry.result, 'RESULT_CODE_OK', "a retry of the winner's request still finds its order");
  const metrics = await http(server.port, 'GET', '/metrics');
  t.match(metrics.text, /stampede_edge_sold_out_total 50/);
  a.close();
  c.close();
});

t.test('a buyer sees and touches only their own orders', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  await addProduct(server.port, 1, 10);
  const alice = await buyer(server.port, 1);
  const mallory = await buyer(server.port, 666);
  const { orderId } = order(await alice.request(place(2, 1)));
  const pay = await mallory.request({ requestId: 2, pay: { orderId } });
  t.equal((pay.error as { code: string }).code, 'NOT_FOUND');
  const cancel = order(await mallory.request({ requestId: 3, cancel: { orderId } }));
  t.equal(cancel.result, 'RESULT_CODE_NOT_ORDER_OWNER');
  const sub = await mallory.request({ requestId: 4, subscribe: { orderId } });
  t.equal((sub.error as { code: string }).code, 'NOT_FOUND');
  const other = await mallory.request({
    requestId: 5,
    placeOrder: { buyerId: 1, lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 1000 }], totalMinor: 1000 },
  });
  t.equal(
    (other.error as { code: string }).code,
    'FORBIDDEN',
    'a buyer connection cannot act for another buyer',
  );
  const read = await http(server.port, 'GET', `/v1/orders/${orderId}`, {
    token: token({ role: 'buyer', buyerId: 666 }),
  });
  t.equal(read.status, 404);
  t.notOk(
    mallory.pushes.some((m) => (m.update as { orderId: number }).orderId === orderId),
    "no pushes of someone else's order",
  );
  alice.close();
  mallory.close();
});

t.test('malformed input gets a coded error and the connection stays healthy', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  const c = await TestClient.connect(server.port);
  t.equal(((await c.raw('{not json')).error as { code: string }).code, 'BAD_FRAME');
  const garbage = await c.raw(Buffer.from([0xff, 0xff, 0xff]));
  t.equal(
    (garbage.error as { code: string }).code,
    'BAD_FRAME',
    'a binary frame is answered in binary, coded',
  );
  const unauthenticated = await c.request(place(5, 1));
  t.equal((unauthenticated.error as { code: string }).code, 'AUTH_REQUIRED');
  const unknownField = await c.request({ requestId: 6, ping: { clientTimeMs: 1 }, surprise: true });
  t.equal((unknownField.error as { code: string }).code, 'BAD_FRAME');
  const pong = await c.request({ requestId: 7, ping: { clientTimeMs: 2 } });
  t.ok(pong.pong, 'still answering after bad frames');
  const forged = await c.request({
    requestId: 8,
    authenticate: { token: `${token({ role: 'buyer', buyerId: 1 }).slice(0, -4)}AAAA` },
  });
  t.equal((forged.error as { code: string }).code, 'TOKEN_BAD_SIGNATURE');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(c.closed?.code, 4001, 'a failed authentication closes the connection with 4001');
  const health = await http(server.port, 'GET', '/health');
  t.equal(health.status, 200, 'the server is fine');
});

t.test('graceful shutdown loses no acknowledged order', async (t) => {
  const first = await startTestServer();
  const dataDir = first.dataDir;
  t.teardown(async () => {
    const { rmSync } = await import('node:fs');
    rmSync(dataDir, { recursive: true, force: true });
  });
  await addProduct(first.server.port, 1, 10_000);
  // A checkout backend (service token) placing for many buyers, so no buyer hits the velocity limit.
  const backend = await TestClient.connect(first.server.port);
  await backend.request({
    requestId: 1,
    authenticate: { token: token({ role: 'service', serviceName: 'checkout' }) },
  });
  const total = 1000;
  const pending = Array.from({ length: total }, (_, i) =>
    backend.request({
      requestId: 100 + i,
      placeOrder: {
        buyerId: 1 + i,
        lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 1000 }],
        totalMinor: 1000,
      },
    }),
  );
  await pending[50]; // stop while the rest are in flight: each is answered, refused, or never read
  const stopping = first.server.stop();
  const answers = await Promise.all(
    pending.map((p) => Promise.race([p, new Promise<Json>((r) => setTimeout(() => r({}), 3000))])),
  );
  await stopping;
  const acknowledged = answers
    .filter((a) => a.order && order(a).result === 'RESULT_CODE_OK')
    .map((a) => order(a).orderId);
  const refused = answers.filter(
    (a) => (a.error as { code?: string } | undefined)?.code === 'SHUTTING_DOWN',
  ).length;
  const unanswered = answers.filter((a) => Object.keys(a).length === 0).length;
  t.equal(
    acknowledged.length + refused + unanswered,
    total,
    'answered, refused with SHUTTING_DOWN, or never read',
  );
  if (unanswered > 0)
    t.match(
      backend.closed?.reason ?? '',
      /SHUTTING_DOWN/,
      'unread requests: the close says why, so the client retries them',
    );
  t.comment(
    `${acknowledged.length} acknowledged, ${refused} refused, ${unanswered} unread when the socket closed`,
  );
  const again = await startTestServer({ dataDir });
  t.teardown(again.stop);
  const missing: number[] = [];
  for (const orderId of acknowledged) {
    const read = await http(again.server.port, 'GET', `/v1/orders/${orderId}`, { token: admin });
    if (read.status !== 200) missing.push(orderId);
  }
  t.same(missing, [], 'every acknowledged order is there after the restart');
});

t.test('the payments webhook: signed, idempotent on the event id, drives the order', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  await addProduct(server.port, 1, 5);
  const alice = await buyer(server.port, 1);
  const { orderId } = order(await alice.request(place(2, 1)));
  const deliver = async (body: object, signature?: string) => {
    const text = JSON.stringify(body);
    const response = await fetch(`http://127.0.0.1:${server.port}/v1/payments/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [signatureHeader]: signature ?? signWebhookBody(testWebhookSecret, text),
      },
      body: text,
    });
    return { status: response.status, body: (await response.json()) as Json };
  };
  const event = { eventId: 'evt_1', orderId, outcome: 'succeeded', amountMinor: 1000 };
  const forged = await deliver(
    event,
    signWebhookBody('not-the-secret-not-the-secret-not-the', JSON.stringify(event)),
  );
  t.equal(forged.status, 401);
  t.equal((forged.body.error as { code: string }).code, 'WEBHOOK_BAD_SIGNATURE');
  const first = await deliver(event);
  t.same(first, { status: 200, body: { eventId: 'evt_1', result: 'ok', status: 'checkout_success' } });
  const again = await deliver(event);
  t.same(
    again,
    first,
    'a redelivery gets the first answer (idempotent-answers.test.ts: after a restart too)',
  );
  const late = await deliver({ eventId: 'evt_2', orderId, outcome: 'declined', amountMinor: 1000 });
  t.equal(late.body.result, 'invalidTransition', 'a decline after success changes nothing');
  const bad = await deliver({ eventId: 'evt_3', orderId: 'x', outcome: 'maybe' });
  t.equal(bad.status, 400);
  const paid = await alice.push((m) => (m.update as { status: string }).status === 'checkout_success');
  t.ok(paid, 'the buyer is told');
  alice.close();
});
