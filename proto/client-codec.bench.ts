/**
 * The checkout socket's per-answer codec costs, as a flash sale pays them:
 * frames of 128 place orders in, batches of 128 order answers out.
 *
 *   npx tsx proto/client-codec.bench.ts
 *
 * Prints µs per message (median of five passes after a warm-up) for:
 *   encode.order-answers      encodeServerMessage, binary: the hand-written
 *                             writer (proto/wire-writer.ts)
 *   encode.protobufjs         the same batch through protobufjs, as the gateway
 *                             wrote it before: the writer's reason to exist
 *   decode.place-orders       decodeClientFrame of a frame of places (WireScan,
 *                             protobufjs decode, narrow)
 * Target: encode.order-answers at most half of encode.protobufjs. Checks that
 * both encoders write the same bytes before timing them.
 */
import { OrderStatus, ResultCode } from '../engine/codes.ts';
import {
  clientFrameLimitsDefault,
  decodeClientFrame,
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

const hand = Buffer.from(encodeServerMessage(answers, true));
if (!hand.equals(Buffer.from(stampede.v1.ServerMessage.encode(asProtobufjs).finish())))
  throw new Error('bench check failed: the two encoders wrote different bytes');

/** µs per message of `run` (one frame of perFrame messages a call). */
function microsPerMessage(run: () => unknown): number {
  const frames = 4000;
  for (let i = 0; i < frames; i++) run();
  const passes: number[] = [];
  for (let pass = 0; pass < 5; pass++) {
    const started = performance.now();
    for (let i = 0; i < frames; i++) run();
    passes.push(((performance.now() - started) * 1000) / frames / perFrame);
  }
  return passes.sort((a, b) => a - b)[2]!;
}

const figures = {
  'encode.order-answers': microsPerMessage(() => encodeServerMessage(answers, true)),
  'encode.protobufjs': microsPerMessage(() => stampede.v1.ServerMessage.encode(asProtobufjs).finish()),
  'decode.place-orders': microsPerMessage(() => decodeClientFrame(places, true, clientFrameLimitsDefault)),
};
for (const [name, micros] of Object.entries(figures))
  console.log(`${name.padEnd(22)} ${micros.toFixed(3)} µs`);
const ratio = figures['encode.order-answers'] / figures['encode.protobufjs'];
console.log(
  `hand-written / protobufjs: ${ratio.toFixed(2)} (target <= 0.50: ${ratio <= 0.5 ? 'met' : 'NOT met'})`,
);
