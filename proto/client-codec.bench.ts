/**
 * The checkout socket's per-answer codec costs, as a flash sale pays them:
 * frames of 128 place orders in, batches of 128 order answers out.
 *
 *   npx tsx proto/client-codec.bench.ts
 *
 * Prints µs per message (medians of alternating passes, see compare) for:
 *   encode.order-answers      encodeServerMessage, binary: the hand-written
 *                             writer (proto/wire-writer.ts)
 *   encode.protobufjs         the same batch through protobufjs, as the gateway
 *                             wrote it before: the writer's reason to exist
 *   encode.updates            encodeServerMessage, binary, of 128 order updates
 *                             (pushes, one message each), against protobufjs
 *                             given the plain object the gateway built for it
 *   decode.place-orders       decodeClientFrame of a frame of places: the fast
 *                             path (decodeCommandBatch, one pass over the bytes)
 *   decode.full               the same frame the full way (WireScan, protobufjs
 *                             decode, narrow), as every other frame is read
 * Targets: each fast path at most half of its full counterpart. Checks first
 * that both encoders write the same bytes and both decoders read the same
 * message.
 */
import { OrderStatus, ResultCode } from '../engine/codes.ts';
import {
  clientFrameLimitsDefault,
  decodeClientFrame,
  decodeClientFrameInFull,
  decodeCommandBatch,
  encodeServerMessage,
  type ServerMessageInput,
} from './client-codec.ts';
import { stampede } from './generated/stampede.js';

const perFrame = 128;
const soldOut = 'sold out'; // the gateway's message (gateways/checkout-service.ts)
const answers: ServerMessageInput = {
  kind: 'batch',
  requestId: 2 ** 40 + 5,
  answers: Array.from({ length: perFrame }, (_, i) => ({
    kind: 'order',
    requestId: 1_000_000_000 + i,
    result: i === 0 ? ResultCode.ok : ResultCode.soldOut,
    orderId: i === 0 ? 123_456 : 0,
    status: i === 0 ? OrderStatus.readyForCheckout : OrderStatus.none,
    expiresAtMs: i === 0 ? 1_790_000_000_000 : 0,
    totalMinor: i === 0 ? 1999 : 0,
    skuId: 1,
    message: i === 0 ? '' : soldOut,
    mayReturn: i !== 0,
  })),
};
const asProtobufjs = stampede.v1.ServerMessage.fromObject(JSON.parse(encodeServerMessage(answers, false)));
const updates: ServerMessageInput[] = Array.from({ length: perFrame }, (_, i) => ({
  kind: 'update',
  requestId: 0,
  orderId: 123_456 + i,
  buyerId: 100_000 + i,
  status: OrderStatus.checkoutSuccess,
  previous: OrderStatus.readyForCheckout,
  code: ResultCode.ok,
  atMs: 1_790_000_000_000 + i,
  seq: 5_000_000 + i,
}));
/** An update as the gateway handed it to protobufjs before it was written by hand (serverToProto, checks aside). */
const updateAsProtobufjs = (u: ServerMessageInput): stampede.v1.IServerMessage => {
  if (u.kind !== 'update') throw new Error('not an update');
  const { requestId, orderId, buyerId, status, previous, code, atMs, seq } = u;
  return { requestId, update: { orderId, buyerId, status, previous, code, atMs, seq } };
};
const places = stampede.v1.ClientMessage.encode({
  requestId: 2 ** 40 + 5,
  batch: {
    messages: Array.from({ length: perFrame }, (_, i) => ({
      requestId: 1_000_000_000 + i,
      placeOrder: {
        buyerId: 100_000 + i,
        lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 1999 }],
        totalMinor: 1999,
      },
    })),
  },
}).finish();

const full = decodeClientFrameInFull(places, true, clientFrameLimitsDefault);
const fast = decodeCommandBatch(places, clientFrameLimitsDefault);
if (fast === null || !full.ok || JSON.stringify(fast) !== JSON.stringify(full.message))
  throw new Error('bench check failed: the place frame did not take the fast path, or read differently');
const hand = Buffer.from(encodeServerMessage(answers, true));
if (!hand.equals(Buffer.from(stampede.v1.ServerMessage.encode(asProtobufjs).finish())))
  throw new Error('bench check failed: the two encoders wrote different bytes');
updates.forEach((u, i) => {
  const bytes = Buffer.from(encodeServerMessage(u, true));
  if (!bytes.equals(Buffer.from(stampede.v1.ServerMessage.encode(updateAsProtobufjs(updates[i]!)).finish())))
    throw new Error('bench check failed: the two encoders wrote an update differently');
});

/** µs per message of one pass of `run` (one frame of perFrame messages a call). */
function pass(run: () => unknown): number {
  const frames = 4000;
  const started = performance.now();
  for (let i = 0; i < frames; i++) run();
  return ((performance.now() - started) * 1000) / frames / perFrame;
}

const median = (values: number[]): number => values.sort((a, b) => a - b)[values.length >> 1]!;

/**
 * A fast path against its full counterpart, in alternating passes after a
 * warm-up: this machine's speed drifts by up to 2x within seconds, so the
 * ratio is taken pass by pair, and the median of seven pairs reported.
 */
function compare(fast: () => unknown, full: () => unknown): { fast: number; full: number; ratio: number } {
  pass(fast);
  pass(full);
  const fastPasses: number[] = [];
  const fullPasses: number[] = [];
  const ratios: number[] = [];
  for (let pair = 0; pair < 7; pair++) {
    const a = pass(fast);
    const b = pass(full);
    fastPasses.push(a);
    fullPasses.push(b);
    ratios.push(a / b);
  }
  return { fast: median(fastPasses), full: median(fullPasses), ratio: median(ratios) };
}

const limits = clientFrameLimitsDefault;
const pairs = {
  'encode.order-answers vs encode.protobufjs': compare(
    () => encodeServerMessage(answers, true),
    () => stampede.v1.ServerMessage.encode(asProtobufjs).finish(),
  ),
  'encode.updates vs encode.protobufjs': compare(
    () => {
      for (const u of updates) encodeServerMessage(u, true);
    },
    () => {
      for (const u of updates) stampede.v1.ServerMessage.encode(updateAsProtobufjs(u)).finish();
    },
  ),
  'decode.place-orders vs decode.full': compare(
    () => decodeClientFrame(places, true, limits),
    () => decodeClientFrameInFull(places, true, limits),
  ),
};
for (const [name, { fast, full, ratio }] of Object.entries(pairs)) {
  console.log(
    `${name}: ${fast.toFixed(3)} µs vs ${full.toFixed(3)} µs per message, ratio ${ratio.toFixed(2)} (target <= 0.50: ${ratio <= 0.5 ? 'met' : 'NOT met'})`,
  );
}
