/**
 * Answers a retry can trust, at the node's edges and across a restart on the
 * same data directory: a resent place_order whose order failed gets the same
 * refusal (code, order, status, skuId), and a redelivered payment webhook
 * gets its first answer; at the sold-out edge too (issue 18).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** The parts of a place answer a resending client matches on. */
const answerOf = (m: Json): unknown => {
  const o = m.order as Record<string, unknown>;
  return { result: o.result, orderId: o.orderId, status: o.status, skuId: o.skuId };
};

t.test('a resent refused order gets the same refusal, before and after a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-idem-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  // The demo catalog: SKU 1 at 49900 with a per-buyer limit of 1, SKU 2 at 1999.
  const frames: Json[] = [
    {
      requestId: 777,
      placeOrder: { lines: [{ skuId: 1, quantity: 2, unitPriceMinor: 49900 }], totalMinor: 99800 },
    },
    {
      requestId: 778,
      placeOrder: {
        lines: [
          { skuId: 2, quantity: 1, unitPriceMinor: 1999 },
          { skuId: 1, quantity: 1, unitPriceMinor: 100 },
        ],
        totalMinor: 2099,
      },
    },
    {
      requestId: 779,
      placeOrder: { lines: [{ skuId: 2, quantity: 1, unitPriceMinor: 1999 }], totalMinor: 1 },
    },
  ];
  const expected = [
    { result: 'RESULT_CODE_LIMIT_PER_BUYER_EXCEEDED', skuId: 1 },
    { result: 'RESULT_CODE_PRICE_CHANGED', skuId: 1 },
    { result: 'RESULT_CODE_TOTAL_MISMATCH', skuId: 0 },
  ];
  const session = async (port: number, buyerId: number): Promise<TestClient> => {
    const c = await TestClient.connect(port);
    await c.request({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId }) } });
    return c;
  };

  let node = await startTestServer({ dataDir, demoCatalog: true });
  // One buyer per frame: the velocity limit is not what this is about.
  let clients = await Promise.all(frames.map((_, i) => session(node.server.port, 100 + i)));
  const firsts: unknown[] = [];
  for (const [i, frame] of frames.entries()) {
    const first = answerOf(await clients[i]!.request(frame));
    t.match(first, { ...expected[i], status: 'fail_checkout' }, `${expected[i]!.result}: refused`);
    firsts.push(first);
    t.same(
      answerOf(await clients[i]!.request(frame)),
      first,
      `${expected[i]!.result}: a resend, the same answer`,
    );
  }
  for (const c of clients) c.close();
  await node.stop();

  node = await startTestServer({ dataDir, demoCatalog: true });
  t.teardown(node.stop);
  clients = await Promise.all(frames.map((_, i) => session(node.server.port, 100 + i)));
  for (const [i, frame] of frames.entries()) {
    t.same(
      answerOf(await clients[i]!.request(frame)),
      firsts[i],
      `${expected[i]!.result}: the same after a restart`,
    );
  }
  for (const c of clients) c.close();
});

t.test('a redelivered payment webhook gets its first answer, also after a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-idem-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const deliver = async (port: number, body: object): Promise<{ status: number; body: Json }> => {
    const text = JSON.stringify(body);
    const response = await fetch(`http://127.0.0.1:${port}/v1/payments/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [signatureHeader]: signWebhookBody(testWebhookSecret, text),
      },
      body: text,
    });
    return { status: response.status, body: (await response.json()) as Json };
  };

  let node = await startTestServer({ dataDir, demoCatalog: true });
  const c = await TestClient.connect(node.server.port);
  await c.request({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId: 20 }) } });
  const placed = await c.request({
    requestId: 2,
    placeOrder: { lines: [{ skuId: 2, quantity: 1, unitPriceMinor: 1999 }], totalMinor: 1999 },
  });
  const orderId = (placed.order as { orderId: number }).orderId;
  c.close();
  const declined = { eventId: `evt_1_${orderId}`, orderId, outcome: 'declined', amountMinor: 1999 };
  const first = await deliver(node.server.port, declined);
  t.same(first, {
    status: 200,
    body: { eventId: declined.eventId, result: 'paymentDeclined', status: 'error_checkout' },
  });
  t.same(await deliver(node.server.port, declined), first, 'a redelivery: the first answer');
  const tooLong = await deliver(node.server.port, { ...declined, eventId: 'e'.repeat(97) });
  t.equal(tooLong.status, 400, 'an eventId longer than the engine holds is refused, coded');
  await node.stop();

  node = await startTestServer({ dataDir, demoCatalog: true });
  t.teardown(node.stop);
  t.same(
    await deliver(node.server.port, declined),
    first,
    'after a restart: the first answer, not invalidTransition',
  );
  const other = await deliver(node.server.port, { ...declined, eventId: `evt_2_${orderId}` });
  t.equal(other.body.result, 'invalidTransition', 'another event for the same order is a new delivery');
});

t.test('at the sold-out edge, a resent refused request still gets its refusal, not SOLD_OUT', async (t) => {
  const node = await startTestServer();
  t.teardown(node.stop);
  const { port } = node.server;
  const admin = token({ role: 'admin', adminName: 'ops' });
  for (const product of [
    { skuId: 1, priceMinor: 100, currency: 'USD', stock: 1 },
    { skuId: 2, priceMinor: 100, currency: 'EUR', stock: 1 },
  ]) {
    t.equal((await http(port, 'POST', '/v1/admin/products', { token: admin, body: product })).status, 200);
  }
  const session = async (buyerId: number): Promise<TestClient> => {
    const c = await TestClient.connect(port);
    await c.request({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId }) } });
    return c;
  };
  const alice = await session(1);
  const failed = {
    requestId: 10,
    placeOrder: { lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 99 }], totalMinor: 99 },
  };
  const refused = {
    requestId: 11,
    placeOrder: {
      lines: [
        { skuId: 1, quantity: 1, unitPriceMinor: 100 },
        { skuId: 2, quantity: 1, unitPriceMinor: 100 },
      ],
      totalMinor: 200,
    },
  };
  const firstFailed = answerOf(await alice.request(failed));
  t.match(firstFailed, { result: 'RESULT_CODE_PRICE_CHANGED', skuId: 1 });
  const firstRefused = answerOf(await alice.request(refused));
  t.match(firstRefused, { result: 'RESULT_CODE_CURRENCY_MISMATCH', skuId: 2 });

  // Bob buys both units: every SKU of those requests is sold out now, so the edge answers new attempts alone.
  const bob = await session(2);
  for (const [requestId, skuId] of [
    [2, 1],
    [3, 2],
  ] as const) {
    const placed = await bob.request({
      requestId,
      placeOrder: { lines: [{ skuId, quantity: 1, unitPriceMinor: 100 }], totalMinor: 100 },
    });
    t.match(answerOf(placed), { result: 'RESULT_CODE_OK' });
  }
  const fresh = await alice.request({ ...refused, requestId: 12 });
  t.match(answerOf(fresh), { result: 'RESULT_CODE_SOLD_OUT' }, 'a new request: sold out at the edge');
  t.same(answerOf(await alice.request(failed)), firstFailed, 'the failed order: its refusal again');
  t.same(answerOf(await alice.request(refused)), firstRefused, 'the refusal: again, not SOLD_OUT');
  alice.close();
  bob.close();
});
