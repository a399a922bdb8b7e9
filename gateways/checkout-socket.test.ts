/**
 * The checkout socket's answers to what is not a well-behaved client, over
 * real sockets: oversized frames, a client that stops reading, connections
 * past the limit, floods, and frames uWebSockets.js refuses before the
 * gateway sees them (docs/websocket-protocol.md, "Bad frames and abuse").
 */
import { request as httpRequest } from 'node:http';
import t, { type Test } from 'tap';
import { serverJsonOptions } from '../proto/client-codec.ts';
import { stampede } from '../proto/generated/stampede.js';
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

/** Longer than any close a test waits for takes on a loaded machine. */
const closeWaitMsMax = 20_000;

/** Resolves once the client's connection has closed (at once if it has); code 0 if it stays open. */
function closed(client: TestClient): Promise<{ code: number; reason: string }> {
  if (client.closed !== null) return Promise.resolve(client.closed);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ code: 0, reason: 'still open' }), closeWaitMsMax);
    client.ws.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString() });
    });
  });
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

/** Every message the client receives, parsed, in arrival order. */
function everyMessage(client: TestClient): Json[] {
  const messages: Json[] = [];
  client.ws.on('message', (data, isBinary) => {
    messages.push(
      (isBinary
        ? stampede.v1.ServerMessage.toObject(
            stampede.v1.ServerMessage.decode(new Uint8Array(data as Buffer)),
            serverJsonOptions,
          )
        : JSON.parse(data.toString())) as Json,
    );
  });
  return messages;
}

const codeOf = (m: Json): string =>
  (m.error as { code?: string } | undefined)?.code ?? (m.pong === undefined ? JSON.stringify(m) : 'pong');

t.test(
  'the address limit covers every frame: pings and malformed frames too; a flood is closed 4008',
  async (t) => {
    const burst = 20;
    const server = await node(t, {
      ipLimiter: new TokenBucketLimiter({ ratePerSecond: 50, burst, keysMax: 100 }),
    });
    const c = await TestClient.connect(server.port);
    const messages = everyMessage(c);
    const frames = 400;
    for (let i = 0; i < frames; i++) {
      // Not authenticated: pings, malformed JSON, binary garbage.
      const kind = i % 3;
      c.ws.send(
        kind === 0
          ? JSON.stringify({ requestId: 1 + i, ping: { clientTimeMs: i } })
          : kind === 1
            ? `{"requestId":${1 + i},`
            : Buffer.from([0xff, 0xff, 0xff]),
      );
    }
    const close = await closed(c);
    t.equal(close.code, 4008, 'the flood is closed with POLICY_VIOLATION');
    t.match(close.reason, /^POLICY_VIOLATION/);
    const codes = messages.map(codeOf);
    t.same(
      codes.slice(0, burst),
      Array.from({ length: burst }, (_, i) => (i % 3 === 0 ? 'pong' : 'BAD_FRAME')),
      'the burst is answered as usual',
    );
    const limited = codes.slice(burst, -1);
    t.ok(limited.length > 0, `${limited.length} frames after the burst`);
    t.ok(
      limited.every((code) => code === 'RATE_LIMITED' || code === 'pong' || code === 'BAD_FRAME'),
      'then RATE_LIMITED (a frame now and then as the bucket refills)',
    );
    t.ok(
      limited.filter((code) => code === 'RATE_LIMITED').length > limited.length / 2,
      'mostly RATE_LIMITED',
    );
    // Not always the frame right after the burst: on a loaded machine the bucket may have refilled by then.
    const first = messages.find((m) => codeOf(m) === 'RATE_LIMITED');
    t.ok(
      ((first?.error as { retryAfterMs?: number } | undefined)?.retryAfterMs ?? 0) > 0,
      'with a retry-after',
    );
    t.equal(codes.at(-1), 'POLICY_VIOLATION', 'and the last answer says why the connection closes');
    t.ok(codes.length < frames, 'nothing was answered after it');
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the address's bucket refills
    await stillSelling(t, server, 14);
  },
);

t.test('a text frame that is not UTF-8 fails the connection (RFC 6455 8.1) and is counted', async (t) => {
  const server = await node(t);
  const c = await TestClient.connect(server.port);
  const rejectedBefore = server.metrics.framesRejected;
  c.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
  const close = await closed(c);
  t.equal(close.code, 1006, 'uWS closes the TCP connection before the gateway sees the frame');
  t.equal(c.received, 0, 'nothing can be answered');
  await new Promise((resolve) => setTimeout(resolve, 100)); // the server's close handler runs after the client's
  t.equal(server.metrics.framesRejected, rejectedBefore + 1, 'counted in stampede_frames_rejected_total');
  await stillSelling(t, server, 15);
});

t.test('WebSocket ping control frames are frames too: a flood of them is closed 4008', async (t) => {
  const server = await node(t, {
    ipLimiter: new TokenBucketLimiter({ ratePerSecond: 50, burst: 20, keysMax: 100 }),
  });
  const c = await TestClient.connect(server.port);
  const messages = everyMessage(c);
  for (let i = 0; i < 400; i++) c.ws.ping();
  const close = await closed(c);
  if (close.code === 0) c.close();
  t.equal(close.code, 4008, 'POLICY_VIOLATION');
  const codes = messages.map(codeOf);
  t.ok(codes.length > 0 && codes.slice(0, -1).every((code) => code === 'RATE_LIMITED'), 'RATE_LIMITED first');
  t.equal(codes.at(-1), 'POLICY_VIOLATION');
  await new Promise((resolve) => setTimeout(resolve, 1000)); // the address's bucket refills
  await stillSelling(t, server, 16);
});

t.test('a client that pings but does not read its pongs is a slow reader (4010)', async (t) => {
  const server = await node(t, { wsBackpressureBytesMax: 16 * 1024 });
  const c = await TestClient.connect(server.port);
  const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause();
  const payload = Buffer.alloc(125, 0x61);
  // Enough pongs to fill the kernel's buffers on both sides of a loopback connection (megabytes) and then uWS's.
  for (let round = 0; round < 1000 && server.metrics.slowReadersClosed === 0; round++) {
    for (let i = 0; i < 200; i++) c.ws.ping(payload);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  t.equal(server.metrics.slowReadersClosed, 1, 'cut off: its pongs do not pile up without bound');
  socket.resume();
  t.equal((await closed(c)).code, 4010);
  await stillSelling(t, server, 17);
});
