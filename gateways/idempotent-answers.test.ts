/**
 * Answers a retry can trust, at the node's edges and across a restart on the
 * same data directory: a resent place_order whose order failed gets the same
 * refusal (code, order, status, skuId), and a redelivered payment webhook
 * gets its first answer (issue 18).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { type Json, startTestServer, TestClient, token } from './testing/test-server.ts';

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
    t.match(
      first,
      { ...expected[i], status: 'ORDER_STATUS_FAIL_CHECKOUT' },
      `${expected[i]!.result}: refused`,
    );
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
