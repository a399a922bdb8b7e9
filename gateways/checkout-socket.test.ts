/**
 * The checkout socket's answers to what is not a well-behaved client, over
 * real sockets: oversized frames, a client that stops reading, connections
 * past the limit, floods, and frames uWebSockets.js refuses before the
 * gateway sees them (docs/websocket-protocol.md, "Bad frames and abuse").
 */
import { request as httpRequest } from 'node:http';
import t, { type Test } from 'tap';
import { http, type Json, startTestServer, TestClient, token } from './testing/test-server.ts';
import { TokenBucketLimiter } from './token-bucket.ts';

const admin = token({ role: 'admin', adminName: 'ops' });

type TestNode = Awaited<ReturnType<typeof startTestServer>>['server'];

async function node(t: Test, overrides: Parameters<typeof startTestServer>[0] = {}): Promise<TestNode> {
  const { server, stop } = await startTestServer(overrides);
  t.teardown(stop);
  await http(server.port, 'POST', '/v1/admin/products', {
    token: admin,
    body: { skuId: 1, priceMinor: 100, currency: 'USD', stock: 1_000_000 },
  });
  return server;
}

/** Resolves once the client's connection has closed (at once if it has). */
function closed(client: TestClient): Promise<{ code: number; reason: string }> {
  if (client.closed !== null) return Promise.resolve(client.closed);
  return new Promise((resolve) =>
    client.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
}

/** A valid order still works on a fresh connection: the node is up and selling. */
async function stillSelling(t: Test, server: TestNode, buyerId: number): Promise<void> {
  const c = await TestClient.connect(server.port);
  await c.request({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId }) } });
  const answer = await c.request({
    requestId: 2,
    placeOrder: { lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 100 }], totalMinor: 100 },
  });
  t.equal((answer.order as { result?: string } | undefined)?.result, 'RESULT_CODE_OK', 'a valid order works');
  c.close();
}

t.test('a frame far over the limit is still FRAME_TOO_LARGE with close 4009', async (t) => {
  // 300 KB against a 64 KiB limit: past 4x, where uWS used to close the TCP connection without a code.
  const server = await node(t, { wsPayloadBytesMax: 65_536 });
  const c = await TestClient.connect(server.port);
  const answer = await Promise.race([
    c.raw(JSON.stringify({ requestId: 1, ping: { clientTimeMs: 1 }, padding: 'x'.repeat(300_000) })),
    closed(c).then(() => ({}) as Json),
  ]);
  t.equal((answer.error as { code: string } | undefined)?.code, 'FRAME_TOO_LARGE');
  t.equal((await closed(c)).code, 4009);
  await stillSelling(t, server, 11);
});

t.test('a client that stops reading is closed with 4010, and learns it once it reads', async (t) => {
  const server = await node(t, {
    wsBackpressureBytesMax: 64 * 1024,
    buyerLimiter: new TokenBucketLimiter({ ratePerSecond: 1_000_000, burst: 1_000_000, keysMax: 100 }),
  });
  const reader = await TestClient.connect(server.port);
  await reader.request({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId: 77 }) } });
  const socket = (reader.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause();
  const backend = await TestClient.connect(server.port);
  await backend.request({
    requestId: 1,
    authenticate: { token: token({ role: 'service', serviceName: 'checkout' }) },
  });
  for (let round = 0; round < 60 && server.metrics.slowReadersClosed === 0; round++) {
    const messages = Array.from({ length: 256 }, (_, i) => ({
      requestId: 10 + round * 256 + i,
      placeOrder: { buyerId: 77, lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 100 }], totalMinor: 100 },
    }));
    await backend.request({ requestId: 2 + round * 100_000, batch: { messages } });
  }
  t.equal(server.metrics.slowReadersClosed, 1, 'the slow reader was cut off');
  socket.resume();
  const close = await closed(reader);
  t.equal(close.code, 4010, 'with the SLOW_READER close code behind its unread answers');
  t.match(close.reason, /^SLOW_READER/);
  backend.close();
  await stillSelling(t, server, 12);
});

/** A WebSocket upgrade over plain HTTP: the status and body of a refusal. */
function upgrade(port: number): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/v1/checkout',
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      reject(new Error('upgraded past the connection limit'));
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('past connectionsMax the upgrade is refused 503 with a coded JSON body', async (t) => {
  const server = await node(t, { connectionsMax: 2 });
  const a = await TestClient.connect(server.port);
  const b = await TestClient.connect(server.port);
  const refused = await upgrade(server.port);
  t.equal(refused.status, 503);
  t.match(refused.contentType, /^application\/json/);
  const body = JSON.parse(refused.body) as { error: { code: string; message: string } };
  t.equal(body.error.code, 'CONNECTIONS_FULL');
  t.match(body.error.message, /2 connections/);
  a.close();
  await closed(a);
  await new Promise((resolve) => setTimeout(resolve, 100)); // the server's close handler runs after the client's
  await stillSelling(t, server, 13);
  b.close();
});
