/**
 * A seeded fuzz of the checkout socket, over real sockets against a real
 * node: random bytes, mutated valid frames, JSON with wrong types, unknown
 * keys and out-of-range values, oversized and fragmented frames, floods of
 * pipelined frames, and unmasked frames over raw TCP. Every frame must get
 * its documented answer (docs/websocket-protocol.md, docs/errors.md): the
 * code, and the close code where one applies; afterwards a valid order still
 * works and the node is healthy.
 *
 * The documented answer of a generated frame is the codec's verdict on it
 * (proto/client-codec.ts, whose own tests pin each refusal), except what
 * uWebSockets.js refuses before the gateway sees it: a text frame that is not
 * UTF-8 and a frame past the socket's ceiling fail the connection (1006).
 * Hand-written cases pin the codes the docs name.
 *
 * SEED=… replays a run; FUZZ_FRAMES=… lengthens it (default 1200 frames).
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import { clientFrameLimits, decodeClientFrame, serverJsonOptions } from '../proto/client-codec.ts';
import { stampede } from '../proto/generated/stampede.js';
import { frameBytesCeiling } from './checkout-socket.ts';
import { closeCodeOf, errorSpec } from './errors.ts';
import { http, type Json, startTestServer, token } from './testing/test-server.ts';
import { TokenBucketLimiter } from './token-bucket.ts';

const seed = seedFromEnv();
const framesTotal = Number(process.env.FUZZ_FRAMES ?? 1200);
const payloadBytesMax = 16_384; // a JSON batch of 257 pings (TOO_MANY_COMMANDS) is about 12 KiB
const backpressureBytesMax = 1 << 20;
const ceilingBytes = frameBytesCeiling({ payloadBytesMax, backpressureBytesMax });
const limits = clientFrameLimits({
  frameBytesMax: payloadBytesMax,
  batchMessagesMax: 256,
  linesPerOrderMax: 8,
});
/** Longer than any answer takes on a loaded machine: a frame left unanswered fails here, named. */
const answerWaitMsMax = 20_000;
/** Codes that say the frame itself was refused: a frame the codec accepts never gets one. */
const frameCodes = new Set(['BAD_FRAME', 'FRAME_TOO_LARGE', 'UNKNOWN_MESSAGE', 'TOO_MANY_COMMANDS']);
const admin = token({ role: 'admin', adminName: 'ops' });
/** The buyer the fuzz speaks for; its orders soon meet the engine's velocity limit, which is an answer like any. */
const fuzzBuyerId = 5;
/** Buyers of the orders that show the node still sells, one per check. */
let sellingBuyerId = 1000;

/** Failed checks so far: a run stops after ten rather than print thousands. */
let failures = 0;
/** How many frames had each documented outcome (answered, failed, or the refusal's code), to show what a run covered. */
const outcomes = new Map<string, number>();

t.comment(`socket fuzz seed ${seed} (replay with SEED=${seed}), ${framesTotal} frames`);

/** A connection that records every message (binary answers decoded to the JSON shape) and its close. */
class Conn {
  readonly ws: WebSocket;
  readonly inbox: Json[] = [];
  closed: { code: number; reason: string } | null = null;
  private wake: (() => void) | null = null;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      const message = (
        isBinary
          ? stampede.v1.ServerMessage.toObject(
              stampede.v1.ServerMessage.decode(new Uint8Array(data as Buffer)),
              serverJsonOptions,
            )
          : JSON.parse(data.toString())
      ) as Json;
      if (message.update !== undefined) return; // pushes of the fuzz buyer's orders: not what is checked here
      this.inbox.push(message);
      this.wake?.();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake?.();
    });
    ws.on('error', () => {}); // a failed connection also closes: that is what is asserted
  }

  static async open(port: number, buyerId = fuzzBuyerId): Promise<Conn> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/checkout`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const conn = new Conn(ws);
    ws.send(JSON.stringify({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId }) } }));
    const answer = await conn.answer(1);
    if (answer === null || answer.authenticated === undefined)
      throw new Error(`authenticate failed: ${JSON.stringify(answer)}`);
    return conn;
  }

  /** The next answer with this request id, or null once the connection closed without one. */
  async answer(requestId: number): Promise<Json | null> {
    const deadline = Date.now() + answerWaitMsMax;
    for (;;) {
      const index = this.inbox.findIndex((m) => Number(m.requestId ?? 0) === requestId);
      if (index >= 0) return this.inbox.splice(index, 1)[0]!;
      if (this.closed !== null) return null;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no answer to request ${requestId} within ${answerWaitMsMax} ms (SEED=${seed})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** Resolves with the close, or throws if the connection stays open. */
  async close(): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + answerWaitMsMax;
    while (this.closed === null) {
      if (Date.now() > deadline) throw new Error(`the connection stayed open (SEED=${seed})`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.closed;
  }

  send(frame: Frame): void {
    const chunks = frame.fragments;
    if (chunks === undefined || chunks.length < 2) {
      this.ws.send(frame.bytes, { binary: frame.binary });
      return;
    }
    for (let i = 0; i < chunks.length; i++)
      this.ws.send(chunks[i]!, { binary: frame.binary, fin: i === chunks.length - 1 });
  }
}

interface Frame {
  what: string;
  bytes: Buffer;
  binary: boolean;
  /** Sent as these fragments of one message (their concatenation is `bytes`). */
  fragments?: Buffer[];
  /** A hand-written case: the code the docs give it (checked as well as the codec's verdict). */
  documented?: string;
}

type Expected =
  | { kind: 'fail' } // uWS fails the connection: no answer, close 1006
  | { kind: 'refused'; code: string; requestId: number }
  | { kind: 'answered'; requestId: number };

/** The documented answer to a frame. */
function expected(frame: Frame): Expected {
  if (frame.bytes.length > ceilingBytes) return { kind: 'fail' };
  if (!frame.binary) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(frame.bytes);
    } catch {
      return { kind: 'fail' };
    }
  }
  const decoded = decodeClientFrame(frame.bytes, frame.binary, limits);
  if (!decoded.ok) return { kind: 'refused', code: decoded.code, requestId: decoded.requestId };
  return { kind: 'answered', requestId: decoded.message.requestId };
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const line = (fields: Record<string, unknown> = {}) => ({
  skuId: 1,
  quantity: 1,
  unitPriceMinor: 100,
  ...fields,
});
const place = (requestId: number, body: Record<string, unknown> = {}) => ({
  requestId,
  placeOrder: { lines: [line()], totalMinor: 100, ...body },
});

/** Valid frames of every kind, in both encodings; mutated, they become most of the fuzz. */
function validFrames(requestId: number): Frame[] {
  const messages: stampede.v1.IClientMessage[] = [
    place(requestId),
    { requestId, ping: { clientTimeMs: 1.5 } },
    { requestId, pay: { orderId: 1 } },
    { requestId, cancel: { orderId: 2 } },
    { requestId, subscribe: { orderId: 1 } },
    { requestId, batch: { messages: [{ requestId: requestId + 1, ping: { clientTimeMs: 1 } }] } },
  ];
  const frames: Frame[] = [];
  for (const m of messages) {
    frames.push({ what: 'valid json', bytes: json(m), binary: false });
    frames.push({
      what: 'valid binary',
      bytes: Buffer.from(stampede.v1.ClientMessage.encode(stampede.v1.ClientMessage.fromObject(m)).finish()),
      binary: true,
    });
  }
  return frames;
}

/** Hand-written JSON cases with the code docs/websocket-protocol.md gives each. */
function documentedFrames(requestId: number): Frame[] {
  const text = (what: string, documented: string, value: unknown): Frame => ({
    what,
    bytes: typeof value === 'string' ? Buffer.from(value) : json(value),
    binary: false,
    documented,
  });
  const r = requestId;
  return [
    text('quantity as a string', 'BAD_FRAME', place(r, { lines: [line({ quantity: 'two' })] })),
    text('quantity true', 'BAD_FRAME', place(r, { lines: [line({ quantity: true })] })),
    text('quantity 1.5', 'BAD_FRAME', place(r, { lines: [line({ quantity: 1.5 })] })),
    text('lines an object', 'BAD_FRAME', place(r, { lines: line() })),
    text('placeOrder a list', 'BAD_FRAME', { requestId: r, placeOrder: [] }),
    text('ping a number', 'BAD_FRAME', { requestId: r, ping: 5 }),
    text('an unknown nested key', 'BAD_FRAME', place(r, { lines: [line({ sku: 1 })] })),
    text('a snake_case key', 'BAD_FRAME', { request_id: r, ping: { clientTimeMs: 1 } }),
    text('place_order', 'BAD_FRAME', { requestId: r, place_order: { lines: [line()], totalMinor: 100 } }),
    text('a top-level __proto__', 'BAD_FRAME', `{"requestId":${r},"__proto__":{"ping":{"clientTimeMs":1}}}`),
    text('a newer message kind', 'UNKNOWN_MESSAGE', { requestId: r, refund: { orderId: 1 } }),
    text('not an object', 'BAD_FRAME', '[1,2,3]'),
    text('not JSON', 'BAD_FRAME', `{"requestId":${r},`),
    text('quantity -1', 'BAD_COMMAND', place(r, { lines: [line({ quantity: -1 })] })),
    text('quantity 2^31', 'BAD_COMMAND', place(r, { lines: [line({ quantity: 2 ** 31 })] })),
    text('quantity 1e30', 'BAD_COMMAND', place(r, { lines: [line({ quantity: 1e30 })] })),
    text(
      'quantity 1e400',
      'BAD_COMMAND',
      `{"requestId":${r},"placeOrder":{"lines":[{"skuId":1,"quantity":1e400,"unitPriceMinor":100}],"totalMinor":100}}`,
    ),
    text('nine lines', 'BAD_COMMAND', place(r, { lines: Array.from({ length: 9 }, () => line()) })),
    text('no body', 'BAD_COMMAND', { requestId: r }),
    text('two bodies', 'BAD_COMMAND', { requestId: r, ping: { clientTimeMs: 1 }, pay: { orderId: 1 } }),
    text('request id 0', 'BAD_COMMAND', { requestId: 0, ping: { clientTimeMs: 1 } }),
    text('a batch of 257', 'TOO_MANY_COMMANDS', {
      requestId: r,
      batch: {
        messages: Array.from({ length: 257 }, (_, i) => ({
          requestId: r + 1 + i,
          ping: { clientTimeMs: 1 },
        })),
      },
    }),
    text('a batch in a batch', 'BAD_COMMAND', {
      requestId: r,
      batch: { messages: [{ requestId: r + 1, batch: { messages: [] } }] },
    }),
    text('a buyer batch', 'FORBIDDEN', {
      requestId: r,
      batch: { messages: [{ requestId: r + 1, ping: { clientTimeMs: 1 } }] },
    }),
    text('another buyer', 'FORBIDDEN', place(r, { buyerId: 6 })),
  ];
}

function mutate(random: SeededRandom, frame: Frame): Frame {
  const bytes = Buffer.from(frame.bytes);
  switch (random.int(0, 5)) {
    case 0: // flip a few bytes
      for (let i = random.int(1, 4); i > 0; i--) bytes[random.int(0, bytes.length - 1)] = random.int(0, 255);
      return { ...frame, what: `${frame.what}, bytes flipped`, bytes };
    case 1: // cut short
      return {
        ...frame,
        what: `${frame.what}, truncated`,
        bytes: bytes.subarray(0, random.int(0, bytes.length)),
      };
    case 2: // the other frame kind
      return { ...frame, what: `${frame.what}, in the other frame kind`, binary: !frame.binary };
    case 3: // bytes inserted
      return {
        ...frame,
        what: `${frame.what}, bytes inserted`,
        bytes: Buffer.concat([
          bytes.subarray(0, random.int(0, bytes.length)),
          randomBuffer(random, random.int(1, 8)),
          bytes.subarray(random.int(0, bytes.length)),
        ]),
      };
    case 4: // a JSON value swapped for another type
      if (frame.binary)
        return { ...frame, what: `${frame.what}, doubled`, bytes: Buffer.concat([bytes, bytes]) };
      return {
        ...frame,
        what: `${frame.what}, a value retyped`,
        bytes: Buffer.from(
          bytes
            .toString()
            .replace(
              /:(\d+(\.\d+)?|"[^"]*")/,
              `:${random.pick(['true', 'null', '[]', '{}', '"x"', '-1', '1e400'])}`,
            ),
        ),
      };
    default:
      return frame;
  }
}

function randomBuffer(random: SeededRandom, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => random.int(0, 255)));
}

function fragmented(random: SeededRandom, frame: Frame): Frame {
  const cuts = Array.from({ length: random.int(1, 4) }, () => random.int(0, frame.bytes.length)).sort(
    (a, b) => a - b,
  );
  const fragments: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, frame.bytes.length]) {
    fragments.push(frame.bytes.subarray(from, cut));
    from = cut;
  }
  return { ...frame, what: `${frame.what}, in ${fragments.length} fragments`, fragments };
}

function oversized(random: SeededRandom, requestId: number, pastCeiling: boolean): Frame {
  const size = pastCeiling
    ? ceilingBytes + random.int(1, 4096)
    : random.int(payloadBytesMax + 1, ceilingBytes);
  const head = `{"requestId":${requestId},"ping":{"clientTimeMs":1},"padding":"`;
  const bytes = Buffer.from(`${head}${'x'.repeat(Math.max(0, size - head.length - 2))}"}`);
  return {
    what: `${bytes.length} bytes${pastCeiling ? ', past the ceiling' : ''}`,
    bytes,
    binary: random.chance(0.5),
  };
}

/** A frame of the fuzz: mostly mutated valid frames, plus each other family now and then. */
function nextFrame(random: SeededRandom, requestId: number): Frame {
  const roll = random.next();
  if (roll < 0.1)
    return {
      what: 'random bytes',
      bytes: randomBuffer(random, random.int(0, 96)),
      binary: random.chance(0.7),
    };
  if (roll < 0.35) return random.pick(documentedFrames(requestId));
  if (roll < 0.4) return oversized(random, requestId, random.chance(0.2));
  const valid = random.pick(validFrames(requestId));
  const frame = roll < 0.55 ? valid : mutate(random, valid);
  return random.chance(0.15) ? fragmented(random, frame) : frame;
}

/** Sends one frame and checks its answer and what happens to the connection; returns the connection to go on with. */
async function check(t: Test, port: number, conn: Conn, frame: Frame, index: number): Promise<Conn> {
  const fail = (message: string): void => {
    failures++;
    t.fail(message);
  };
  const want = expected(frame);
  const outcome = want.kind === 'refused' ? want.code : want.kind;
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  const about = `frame ${index} (${frame.what}; SEED=${seed})`;
  if (frame.documented !== undefined && (want.kind !== 'refused' || want.code !== frame.documented)) {
    // The codec's verdict is the docs' (FORBIDDEN comes from the service, after a valid decode).
    if (!(frame.documented === 'FORBIDDEN' && want.kind === 'answered'))
      fail(`${about}: the codec says ${JSON.stringify(want)}, the docs ${frame.documented}`);
  }
  conn.send(frame);
  if (want.kind === 'fail') {
    const close = await conn.close();
    if (close.code !== 1006) fail(`${about}: closed ${close.code}, documented: failed (1006)`);
    return Conn.open(port);
  }
  const answer = await conn.answer(want.requestId);
  if (answer === null) {
    fail(`${about}: no answer, the connection closed ${JSON.stringify(conn.closed)}`);
    return Conn.open(port);
  }
  const code = (answer.error as { code?: string } | undefined)?.code;
  if (want.kind === 'refused' && code !== want.code)
    fail(`${about}: answered ${JSON.stringify(answer)}, documented ${want.code}`);
  if (frame.documented !== undefined && code !== frame.documented)
    fail(`${about}: answered ${code}, documented ${frame.documented}`);
  if (want.kind === 'answered' && code !== undefined && frameCodes.has(code))
    fail(`${about}: a frame the codec accepts was refused ${code}`);
  if (code === undefined) return conn;
  errorSpec(code); // every code is in the catalogue
  const closeCode = closeCodeOf(code);
  if (closeCode === null) {
    // Still open: the next frame shows it. A ping marks that nothing else came of this one.
    return conn;
  }
  const close = await conn.close();
  if (close.code !== closeCode) fail(`${about}: ${code} closed ${close.code}, documented ${closeCode}`);
  if (!close.reason.startsWith(code))
    fail(`${about}: the close reason ${JSON.stringify(close.reason)} does not start with ${code}`);
  return Conn.open(port);
}

async function stillSelling(t: Test, port: number): Promise<void> {
  const conn = await Conn.open(port, sellingBuyerId++);
  conn.ws.send(JSON.stringify(place(2_000_000_000)));
  const answer = await conn.answer(2_000_000_000);
  t.equal(
    (answer?.order as { result?: string } | undefined)?.result,
    'RESULT_CODE_OK',
    'a valid order still works',
  );
  t.equal((await http(port, 'GET', '/health')).status, 200, 'the node is healthy');
  conn.ws.close();
}

/** One node for the whole file (three starts cost more than the fuzz); each test also leaves it selling. */
let nodePort: Promise<number> | null = null;

function nodeSelling(): Promise<number> {
  nodePort ??= (async () => {
    const { server, stop } = await startTestServer({
      wsPayloadBytesMax: payloadBytesMax,
      wsBackpressureBytesMax: backpressureBytesMax,
      buyerLimiter: new TokenBucketLimiter({ ratePerSecond: 1_000_000, burst: 1_000_000, keysMax: 10_000 }),
    });
    t.teardown(stop);
    await http(server.port, 'POST', '/v1/admin/products', {
      token: admin,
      body: { skuId: 1, priceMinor: 100, currency: 'USD', stock: 10_000_000 },
    });
    return server.port;
  })();
  return nodePort;
}

t.test('every fuzzed frame gets its documented answer, one at a time', async (t) => {
  const port = await nodeSelling();
  const random = new SeededRandom(seed);
  let conn = await Conn.open(port);
  for (let i = 0; i < framesTotal && failures < 10; i++) {
    // Ten failures are enough to go on; the seed replays the rest.
    conn = await check(t, port, conn, nextFrame(random, 10 + i * 1000), i);
  }
  conn.ws.close();
  t.comment(`outcomes: ${[...outcomes].map(([outcome, count]) => `${outcome} ${count}`).join(', ')}`);
  t.pass(`${framesTotal} frames`);
  await stillSelling(t, port);
});

t.test('a flood of pipelined frames: each answered once, by request id', async (t) => {
  const port = await nodeSelling();
  const random = new SeededRandom(seed + 1);
  const conn = await Conn.open(port);
  const rounds = Math.max(4, Math.ceil(framesTotal / 300));
  for (let round = 0; round < rounds; round++) {
    // Frames whose request id can be read, so answers sent out of order still find their frame.
    const frames: { requestId: number; documented: string | null; frame: Frame }[] = [];
    for (let i = 0; i < random.int(50, 200); i++) {
      const requestId = 10 + (round * 1000 + i) * 1000;
      const frame: Frame = random.chance(0.5)
        ? { what: 'ping', bytes: json({ requestId, ping: { clientTimeMs: i } }), binary: false }
        : random.pick(documentedFrames(requestId));
      const decoded = decodeClientFrame(frame.bytes, frame.binary, limits);
      if ((decoded.ok ? decoded.message.requestId : decoded.requestId) !== requestId) continue;
      frames.push({ requestId, documented: frame.documented ?? null, frame });
    }
    for (const { frame } of frames) conn.send(frame);
    for (const { requestId, documented, frame } of frames) {
      const answer = await conn.answer(requestId);
      const code = (answer?.error as { code?: string } | undefined)?.code;
      if (documented === null ? answer?.pong === undefined : code !== documented)
        t.fail(`round ${round}, ${frame.what}: answered ${JSON.stringify(answer)} (SEED=${seed})`);
    }
  }
  t.equal(conn.closed, null, 'the connection stays open through the floods');
  t.same(conn.inbox, [], 'and nothing was answered twice');
  conn.ws.close();
  await stillSelling(t, port);
});

/** A raw TCP connection that has done the WebSocket handshake by hand. */
async function rawSocket(
  port: number,
): Promise<{ write: (b: Buffer) => void; received: () => Buffer; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  let received = Buffer.alloc(0);
  let handshaken: () => void = () => {};
  const upgraded = new Promise<void>((resolve) => {
    handshaken = resolve;
  });
  socket.on('data', (chunk) => {
    received = Buffer.concat([received, chunk]);
    const end = received.indexOf('\r\n\r\n');
    if (end >= 0 && received.subarray(0, 12).toString() === 'HTTP/1.1 101') {
      received = received.subarray(end + 4);
      handshaken();
      handshaken = () => {};
    }
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
  socket.write(
    'GET /v1/checkout HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await upgraded;
  return { write: (b) => socket.write(b), received: () => received, closed };
}

/** One client frame (fin set), masked with this key as RFC 6455 requires, or unmasked (null). */
function wireFrame(opcode: number, payload: Buffer, mask: Buffer | null): Buffer {
  if (payload.length > 125) throw new RangeError('short frames only');
  const head = Buffer.from([0x80 | opcode, (mask !== null ? 0x80 : 0) | payload.length]);
  if (mask === null) return Buffer.concat([head, payload]);
  return Buffer.concat([head, mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
}

t.test('unmasked frames and text that is not UTF-8 fail the connection; the node stays up', async (t) => {
  const port = await nodeSelling();
  const random = new SeededRandom(seed + 2);
  const trials = Math.max(3, Math.ceil(framesTotal / 200));
  for (let trial = 0; trial < trials; trial++) {
    const raw = await rawSocket(port);
    const requestId = 10 + trial;
    const ping = json({ requestId, ping: { clientTimeMs: trial } });
    if (random.chance(0.5)) {
      // uWS reads any frame as masked: an unmasked one's first four bytes become its mask key and it waits for
      // four more bytes than were sent, so the connection fails once the next frame arrives (docs/websocket-protocol.md).
      // The next frame's mask key is zero, so that what uWS misreads is the same in every run.
      raw.write(wireFrame(random.pick([1, 2, 9]), ping, null));
      raw.write(wireFrame(1, json({ requestId: requestId + 1, ping: { clientTimeMs: 0 } }), Buffer.alloc(4)));
    } else {
      raw.write(wireFrame(1, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), randomBytes(4)));
    }
    const outcome = await Promise.race([
      raw.closed.then(() => 'closed'),
      new Promise((resolve) => setTimeout(() => resolve('open'), answerWaitMsMax)),
    ]);
    t.equal(outcome, 'closed', `trial ${trial}: the connection failed (SEED=${seed})`);
    t.equal(raw.received().length, 0, `trial ${trial}: with no answer and no close frame`);
  }
  await stillSelling(t, port);
});
