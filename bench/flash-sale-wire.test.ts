/**
 * The bench client's hand-written codec against protobufjs, on seeded
 * messages: the frames it writes are the bytes protobufjs writes (and the
 * server's decoder reads them as the commands meant), and what it reads from
 * any server message is what protobufjs decodes. A broken message throws.
 */
import t from 'tap';
import { OrderStatus, ResultCode } from '../engine/codes.ts';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import {
  clientFrameLimitsDefault,
  decodeClientFrame,
  encodeServerMessage,
  type ServerMessageInput,
} from '../proto/client-codec.ts';
import { stampede } from '../proto/generated/stampede.js';
import { protoLimits } from '../proto/limits.ts';
import { BatchFrameWriter, ServerKind, ServerMessageReader } from './flash-sale-wire.ts';

const { ClientMessage, ServerMessage } = stampede.v1;

/** Varint edges (1, 2, 5 and 8 bytes) and anything up to `max`. */
const integerOf =
  (random: SeededRandom) =>
  (max: number, min = 0): number =>
    random.pick(
      [min, 1, 127, 128, 16_383, 16_384, 2 ** 32 - 1, 2 ** 32, 2 ** 35, max, random.int(min, max)].filter(
        (n) => n >= min && n <= max,
      ),
    );

t.test('frames of places and payments are the bytes protobufjs writes (seeded)', async (t) => {
  const seed = seedFromEnv();
  t.comment(`SEED=${seed} (replay: SEED=${seed} npx tap bench/flash-sale-wire.test.ts)`);
  const random = new SeededRandom(seed);
  const integer = integerOf(random);
  const writer = new BatchFrameWriter();
  let mismatches = 0;
  let lastLine: { skuId: number; quantity: number; unitPriceMinor: number } | null = null;
  for (let frame = 0; frame < 500; frame++) {
    const requestId = integer(protoLimits.float64IntegerMax, 1);
    writer.begin(requestId);
    const messages: stampede.v1.IClientMessage[] = [];
    for (let i = random.int(0, 40); i > 0; i--) {
      const commandId = integer(protoLimits.float64IntegerMax, 1);
      const buyerId = integer(2 ** 32 - 1, 1);
      const pick = random.int(0, 1);
      if (pick === 0) {
        // Half the places repeat the last line, as a sale's do: the writer copies a repeated line's bytes.
        if (lastLine === null || random.int(0, 1) === 0)
          lastLine = {
            skuId: integer(2 ** 32 - 1, 1),
            quantity: random.pick([1, 2, 127, 128]),
            unitPriceMinor: integer(2 ** 40),
          };
        const { skuId, quantity, unitPriceMinor } = lastLine;
        writer.place(commandId, buyerId, skuId, quantity, unitPriceMinor);
        messages.push({
          requestId: commandId,
          placeOrder: {
            lines: [{ skuId, quantity, unitPriceMinor }],
            totalMinor: quantity * unitPriceMinor,
            buyerId,
          },
        });
      } else {
        const orderId = integer(protoLimits.float64IntegerMax, 1);
        writer.pay(commandId, orderId, buyerId);
        messages.push({ requestId: commandId, pay: { orderId, buyerId } });
      }
    }
    t.equal(writer.count, messages.length);
    const bytes = Buffer.from(writer.finish()).toString('hex');
    const expected = Buffer.from(ClientMessage.encode({ requestId, batch: { messages } }).finish()).toString(
      'hex',
    );
    if (bytes !== expected && mismatches++ < 3)
      t.fail(
        `SEED=${seed} frame ${frame}: ${JSON.stringify(messages).slice(0, 300)}\n got ${bytes}\nwant ${expected}`,
      );
  }
  t.equal(mismatches, 0, 'every frame byte for byte');

  writer.begin(7);
  writer.place(8, 42, 1, 1, 1999);
  writer.pay(10, 1001, 42);
  const decoded = decodeClientFrame(writer.finish(), true, clientFrameLimitsDefault);
  t.same(
    decoded,
    {
      ok: true,
      message: {
        kind: 'batch',
        requestId: 7,
        messages: [
          {
            kind: 'placeOrder',
            requestId: 8,
            buyerId: 42,
            lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 1999 }],
            totalMinor: 1999,
          },
          { kind: 'pay', requestId: 10, orderId: 1001, buyerId: 42 },
        ],
      },
    },
    'the server reads a frame as the commands it was written from',
  );
});

t.test('server messages read as protobufjs decodes them (seeded)', async (t) => {
  const seed = seedFromEnv();
  t.comment(`SEED=${seed} (replay: SEED=${seed} npx tap bench/flash-sale-wire.test.ts)`);
  const random = new SeededRandom(seed);
  const integer = integerOf(random);
  const results = Object.values(ResultCode);
  const statuses = Object.values(OrderStatus);
  const id = (): number => integer(protoLimits.float64IntegerMax);
  const one = (): ServerMessageInput => {
    switch (random.int(0, 5)) {
      case 0:
        return {
          kind: 'order',
          requestId: id(),
          result: random.pick(results),
          orderId: id(),
          status: random.pick(statuses),
          expiresAtMs: random.pick([0, 1.5, Date.now()]),
          totalMinor: id(),
          skuId: integer(2 ** 32 - 1),
          message: random.pick(['', 'sold out', 'é ✓ 🚀']),
          mayReturn: random.chance(0.5),
        };
      case 1:
        return {
          kind: 'update',
          requestId: 0,
          orderId: id(),
          buyerId: integer(2 ** 32 - 1),
          status: random.pick(statuses),
          previous: random.pick(statuses),
          code: random.pick(results),
          atMs: Date.now(),
          seq: id(),
        };
      case 2:
        return {
          kind: 'error',
          requestId: id(),
          code: random.pick(['BUSY', 'RATE_LIMITED', 'NOT_FOUND']),
          message: random.pick(['', 'é ✓', 'too many requests for this buyer']),
          retryAfterMs: integer(2 ** 32 - 1),
        };
      case 3:
        return { kind: 'subscribed', requestId: id(), orderId: id(), status: random.pick(statuses) };
      case 4:
        return { kind: 'pong', requestId: id(), clientTimeMs: 1, serverTimeMs: 2 };
      default:
        return { kind: 'authenticated', requestId: id(), role: 'service', buyerId: 0, expiresAtMs: 3 };
    }
  };
  /** The reader's fields as protobufjs would have them. */
  const expectedOf = (m: stampede.v1.IServerMessage): Record<string, unknown> => {
    const kind = m.order
      ? ServerKind.order
      : m.update
        ? ServerKind.update
        : m.error
          ? ServerKind.error
          : m.batch
            ? ServerKind.batch
            : ServerKind.other; // a subscribed answer too: the bench never subscribes
    return {
      kind,
      requestId: Number(m.requestId ?? 0),
      result: m.order?.result ?? 0,
      orderId: Number(m.order?.orderId ?? m.update?.orderId ?? 0),
      status: m.order?.status ?? m.update?.status ?? 0,
      errorCode: m.error?.code ?? '',
      errorMessage: m.error?.message ?? '',
      retryAfterMs: m.error?.retryAfterMs ?? 0,
    };
  };
  const fieldsOf = (r: ServerMessageReader): Record<string, unknown> => ({
    kind: r.kind,
    requestId: r.requestId,
    result: r.result,
    orderId: r.orderId,
    status: r.status,
    errorCode: r.errorCode,
    errorMessage: r.errorMessage,
    retryAfterMs: r.retryAfterMs,
  });
  const reader = new ServerMessageReader();
  let mismatches = 0;
  for (let i = 0; i < 2_000; i++) {
    const message: ServerMessageInput = random.chance(0.4)
      ? one()
      : { kind: 'batch', requestId: id(), answers: Array.from({ length: random.int(0, 30) }, one) };
    const bytes = encodeServerMessage(message, true);
    const decoded = ServerMessage.decode(bytes);
    const want = [expectedOf(decoded), ...(decoded.batch?.answers ?? []).map(expectedOf)];
    reader.read(bytes);
    const got = [fieldsOf(reader)];
    while (reader.nextAnswer()) got.push(fieldsOf(reader));
    if (JSON.stringify(got) !== JSON.stringify(want) && mismatches++ < 3)
      t.same(got, want, `SEED=${seed} message ${i}: ${JSON.stringify(message).slice(0, 300)}`);
  }
  t.equal(mismatches, 0, 'every message and every batch answer');
});

t.test('a broken server message throws instead of reading wrong', async (t) => {
  const reader = new ServerMessageReader();
  const batch = encodeServerMessage(
    {
      kind: 'batch',
      requestId: 5,
      answers: [
        {
          kind: 'update',
          requestId: 0,
          orderId: 300,
          buyerId: 7,
          status: OrderStatus.checkoutSuccess,
          previous: OrderStatus.readyForCheckout,
          code: 0,
          atMs: 1,
          seq: 9,
        },
      ],
    },
    true,
  );
  const readAll = (bytes: Uint8Array): void => {
    reader.read(bytes);
    while (reader.nextAnswer());
  };
  // Cut after request_id (2 bytes), what is left is a valid message of its own; every other cut is broken.
  for (let cut = 1; cut < batch.length; cut++) {
    if (cut === 2) continue;
    t.throws(
      () => readAll(batch.subarray(0, cut)),
      /server message: /,
      `cut after ${cut} of ${batch.length} bytes`,
    );
  }
  readAll(batch.subarray(0, 2));
  t.same([reader.kind, reader.requestId], [ServerKind.other, 5], 'the 2-byte cut reads as just a request id');
  t.throws(
    () => readAll(Uint8Array.of(0x0f)),
    /wire type 7 of field 1/,
    'a wire type protobuf does not have',
  );
  // request_id 2^53 (one past what a double holds exactly), then 2^53 - 1, which reads.
  t.throws(
    () => readAll(Uint8Array.of(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10)),
    /a truncated varint, or one above 2\^53 - 1/,
    'an id a double cannot hold',
  );
  readAll(Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f));
  t.equal(reader.requestId, Number.MAX_SAFE_INTEGER, '2^53 - 1 reads exactly');
  const nested = encodeServerMessage({ kind: 'batch', requestId: 1, answers: [] }, true);
  t.throws(
    () => readAll(Uint8Array.of(0x7a, nested.length + 2, 0x0a, nested.length, ...nested)),
    /a batch inside a batch/,
  );
});
