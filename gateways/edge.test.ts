/**
 * The edge under pressure, over real sockets: backpressure with a tiny ring
 * (BUSY with a retry-after, nothing dropped), rate limits per buyer (not
 * spent by sold-out places, answered at the edge), and a
 * seeded fuzz of random and mutated frames (no crash; every frame answered
 * or the connection closed with a coded reason; the server stays healthy).
 * SEED=… replays the fuzz; FUZZ_FRAMES=… lengthens it.
 */
import t, { type Test } from 'tap';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import { http, type Json, startTestServer, TestClient, token } from './testing/test-server.ts';
import { TokenBucketLimiter } from './token-bucket.ts';

const admin = token({ role: 'admin', adminName: 'ops' });

/** A test node selling SKU 1 (price 100) with `stock` units; stopped when the test ends. */
async function nodeSelling(
  t: Test,
  stock: number,
  overrides: Parameters<typeof startTestServer>[0] = {},
): Promise<Awaited<ReturnType<typeof startTestServer>>['server']> {
  const { server, stop } = await startTestServer(overrides);
  t.teardown(stop);
  await http(server.port, 'POST', '/v1/admin/products', {
    token: admin,
    body: { skuId: 1, priceMinor: 100, currency: 'USD', stock },
  });
  return server;
}

async function service(port: number): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.request({
    requestId: 1,
    authenticate: { token: token({ role: 'service', serviceName: 'checkout' }) },
  });
  return client;
}

t.test('a full ring answers BUSY with a retry-after and drops nothing', async (t) => {
  const server = await nodeSelling(t, 100_000, { inboundRingSlots: 16 });
  const backend = await service(server.port);
  const messages = Array.from({ length: 256 }, (_, i) => ({
    requestId: 10 + i,
    placeOrder: { buyerId: 1 + i, lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 100 }], totalMinor: 100 },
  }));
  const answer = await backend.request({ requestId: 2, batch: { messages } });
  const answers = (answer.batch as { answers: Json[] }).answers;
  t.equal(answers.length, 256, 'one answer per command, in order');
  t.same(
    answers.map((a) => a.requestId),
    messages.map((m) => m.requestId),
  );
  const busy = answers.filter((a) => (a.error as { code?: string } | undefined)?.code === 'BUSY');
  const placed = answers.filter(
    (a) => (a.order as { result?: string } | undefined)?.result === 'RESULT_CODE_OK',
  );
  t.ok(busy.length > 0, `${busy.length} BUSY with a 16-slot ring`);
  t.ok(
    busy.every((a) => (a.error as { retryAfterMs: number }).retryAfterMs > 0),
    'each says when to retry',
  );
  t.equal(busy.length + placed.length, 256, 'every command was placed or refused BUSY: none dropped');
  const stock = await http(server.port, 'GET', '/v1/stock/1');
  t.equal(stock.body.available, 100_000 - placed.length, 'and the stock agrees with the answers');
  backend.close();
});

t.test('rate limits per buyer answer RATE_LIMITED with a retry-after', async (t) => {
  const { server, stop } = await startTestServer({
    buyerLimiter: new TokenBucketLimiter({ ratePerSecond: 1, burst: 3, keysMax: 100 }),
  });
  t.teardown(stop);
  const c = await TestClient.connect(server.port);
  await c.request({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId: 9 }) } });
  const answers: Json[] = [];
  for (let i = 0; i < 5; i++) answers.push(await c.request({ requestId: 10 + i, cancel: { orderId: 1 } }));
  const limited = answers.filter((a) => (a.error as { code?: string } | undefined)?.code === 'RATE_LIMITED');
  t.equal(limited.length, 2, 'a burst of 3, then refused');
  t.ok((limited[0]!.error as { retryAfterMs: number }).retryAfterMs > 0);
  const pong = await c.request({ requestId: 20, ping: { clientTimeMs: 0 } });
  t.ok(pong.pong, 'pings are not rate limited, and the connection is fine');
  c.close();
});

t.test("sold-out places are answered at the edge without spending the buyer's rate", async (t) => {
  const server = await nodeSelling(t, 0, {
    buyerLimiter: new TokenBucketLimiter({ ratePerSecond: 1, burst: 3, keysMax: 100 }),
  });
  const c = await TestClient.connect(server.port);
  await c.request({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId: 9 }) } });
  const results: string[] = [];
  for (let i = 0; i < 6; i++) {
    const answer = await c.request({
      requestId: 10 + i,
      placeOrder: { lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 100 }], totalMinor: 100 },
    });
    results.push((answer.order as { result?: string } | undefined)?.result ?? JSON.stringify(answer.error));
  }
  t.same(results, Array(6).fill('RESULT_CODE_SOLD_OUT'), 'twice the burst of sold-out places, all SOLD_OUT');
  const codes: string[] = [];
  for (let i = 0; i < 4; i++) {
    const answer = await c.request({ requestId: 30 + i, cancel: { orderId: 1 } });
    codes.push((answer.error as { code?: string } | undefined)?.code ?? 'answered');
  }
  t.same(
    codes,
    ['answered', 'answered', 'answered', 'RATE_LIMITED'],
    'the whole burst was left for the engine',
  );
  c.close();
});

t.test('seeded fuzz of random and mutated frames', async (t) => {
  const seed = seedFromEnv();
  t.comment(`fuzz seed ${seed} (replay with SEED=${seed})`);
  const random = new SeededRandom(seed);
  const frames = Number(process.env.FUZZ_FRAMES ?? 600);
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  const valid = [
    JSON.stringify({
      requestId: 5,
      placeOrder: { lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 100 }], totalMinor: 100 },
    }),
    JSON.stringify({ requestId: 6, authenticate: { token: token({ role: 'buyer', buyerId: 3 }) } }),
    JSON.stringify({ requestId: 7, batch: { messages: [{ requestId: 8, ping: { clientTimeMs: 1 } }] } }),
    JSON.stringify({ requestId: 9, pay: { orderId: 1 } }),
  ];
  const mutate = (text: string): string | Buffer => {
    const bytes = Buffer.from(text);
    const kind = random.int(0, 3);
    if (kind === 0)
      for (let i = 0; i < random.int(1, 4); i++) bytes[random.int(0, bytes.length - 1)] = random.int(0, 255);
    if (kind === 1) return bytes.subarray(0, random.int(0, bytes.length));
    if (kind === 2) return Buffer.from(Array.from({ length: random.int(0, 64) }, () => random.int(0, 255))); // binary garbage
    if (kind === 3) return `${text.slice(0, random.int(0, text.length))}${'x'.repeat(random.int(0, 5))}`;
    return random.chance(0.5) ? bytes : bytes.toString('latin1');
  };
  let client = await TestClient.connect(server.port);
  let answered = 0;
  let closed = 0;
  for (let i = 0; i < frames; i++) {
    const frame = mutate(random.pick(valid));
    const before = client.received;
    client.ws.send(frame);
    // A ping after each frame: when its pong arrives, the frame before it was handled.
    const marker = 1_000_000_000 + i;
    const pong = await Promise.race([
      client.request({ requestId: marker, ping: { clientTimeMs: i } }),
      new Promise<Json>((resolve) => client.ws.once('close', () => resolve({}))),
    ]);
    if (client.closed !== null) {
      t.ok(
        client.closed.code >= 4000 && client.closed.code < 5000,
        `closed with a coded reason ${client.closed.code} (SEED=${seed}, frame ${i})`,
      );
      closed++;
      client = await TestClient.connect(server.port);
      continue;
    }
    t.ok(pong.pong, `still answering after frame ${i} (SEED=${seed})`);
    // Every frame gets exactly one answer (or a batch answer), besides the pong.
    if (client.received - before >= 2) answered++;
    else t.fail(`frame ${i} got no answer (SEED=${seed}): ${JSON.stringify(frame.toString())}`);
  }
  t.comment(`${answered} frames answered, ${closed} closed the connection`);
  t.equal((await http(server.port, 'GET', '/health')).status, 200, 'the server is healthy');
  client.close();
});

t.test('a client that stops reading is disconnected with SLOW_READER', async (t) => {
  const server = await nodeSelling(t, 1_000_000, {
    wsBackpressureBytesMax: 64 * 1024,
    buyerLimiter: new TokenBucketLimiter({ ratePerSecond: 1_000_000, burst: 1_000_000, keysMax: 100 }),
  });
  const reader = await TestClient.connect(server.port);
  await reader.request({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId: 77 }) } });
  // The buyer's socket stops reading; a backend keeps placing orders for that buyer, each pushed to it.
  (reader.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const backend = await service(server.port);
  for (let round = 0; round < 60 && server.metrics.slowReadersClosed === 0; round++) {
    const messages = Array.from({ length: 256 }, (_, i) => ({
      requestId: 10 + round * 256 + i,
      placeOrder: { buyerId: 77, lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 100 }], totalMinor: 100 },
    }));
    await backend.request({ requestId: 2 + round * 100_000, batch: { messages } });
  }
  t.equal(server.metrics.slowReadersClosed, 1, 'the slow reader was cut off');
  t.equal((await http(server.port, 'GET', '/health')).status, 200, 'and the server is fine');
  const pong = await backend.request({ requestId: 3, ping: { clientTimeMs: 0 } });
  t.ok(pong.pong, 'other connections are unaffected');
  backend.close();
});

t.test('connections beyond the limit are refused at the upgrade', async (t) => {
  const { server, stop } = await startTestServer({ connectionsMax: 2 });
  t.teardown(stop);
  const a = await TestClient.connect(server.port);
  const b = await TestClient.connect(server.port);
  await t.rejects(TestClient.connect(server.port), /503/);
  a.close();
  b.close();
});

t.test('an expired token is refused; the connection may authenticate again', async (t) => {
  const { server, stop } = await startTestServer();
  t.teardown(stop);
  const c = await TestClient.connect(server.port);
  const shortLived = token({ role: 'buyer', buyerId: 5 }, 1000);
  t.ok((await c.request({ requestId: 1, authenticate: { token: shortLived } })).authenticated);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const late = await c.request({ requestId: 2, cancel: { orderId: 1 } });
  t.equal((late.error as { code: string }).code, 'TOKEN_EXPIRED');
  const expired = await c.request({ requestId: 3, authenticate: { token: shortLived } });
  t.equal((expired.error as { code: string }).code, 'TOKEN_EXPIRED');
  t.equal(c.closed, null, 'still open');
  t.ok(
    (await c.request({ requestId: 4, authenticate: { token: token({ role: 'buyer', buyerId: 5 }) } }))
      .authenticated,
  );
  c.close();
});

t.test('an oversized frame is answered FRAME_TOO_LARGE and the connection closed with 4009', async (t) => {
  const { server, stop } = await startTestServer({ wsPayloadBytesMax: 4096 });
  t.teardown(stop);
  const c = await TestClient.connect(server.port);
  const answer = await c.raw(
    JSON.stringify({ requestId: 1, ping: { clientTimeMs: 1 }, padding: 'x'.repeat(8000) }),
  );
  t.equal((answer.error as { code: string }).code, 'FRAME_TOO_LARGE');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(c.closed?.code, 4009);
  t.equal((await http(server.port, 'GET', '/health')).status, 200);
});
