/**
 * The protobuf edge: the schema mirrors engine/codes.ts, its wire bytes match
 * golden fixtures, journal events from the real engine survive eventToProto ->
 * encode -> decode, and commandToSlot refuses malformed commands with
 * BAD_COMMAND while the ones it accepts are commands the engine applies.
 *
 * UPDATE_FIXTURES=1 rewrites proto/fixtures/ from the samples below; do that
 * only for a deliberate schema change, and review the diff: changed bytes for
 * an existing message mean old clients and old journals no longer agree.
 * The fuzz test takes SEED=n to replay a run.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import t from 'tap';
import {
  CommandType,
  EventType,
  eventName,
  OrderStatus,
  PaymentOutcome,
  ResultCode,
  resultName,
} from '../engine/codes.ts';
import { type CommandInput, writeCommand } from '../engine/commands.ts';
import { CommandSlot, EventSlot, OrderStatusChanged, packCurrency, ReplySlot } from '../engine/layout.ts';
import { engineLimits } from '../engine/limits.ts';
import { Processor } from '../engine/processor.ts';
import { SlotBuffer } from '../engine/slot-buffer.ts';
import { EngineState } from '../engine/state.ts';
import { EngineHarness } from '../engine/testing/harness.ts';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import {
  commandToSlot,
  decodeCommand,
  eventJsonOptions,
  eventToJson,
  eventToProto,
  validateCommand,
} from './event-codec.ts';
import { stampede } from './generated/stampede.js';
import { protoLimits } from './limits.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtureDir = path.join(here, 'fixtures');
const updateFixtures = process.env.UPDATE_FIXTURES === '1';

const t0Ms = 1_700_000_000_000;
const limits = engineLimits({
  skusMax: 16,
  ordersMax: 16,
  buyersMax: 16,
  buyerSkuPairsMax: 32,
  requestIdsMax: 32,
  orderTtlMs: 10_000,
  finalOrderRetentionMs: 20_000,
  timerSlotMs: 100,
  timerSlotCount: 256,
});

/** camelCase code name -> proto enum value name: checkoutSuccess -> ORDER_STATUS_CHECKOUT_SUCCESS. */
const protoEnumName = (prefix: string, name: string): string =>
  `${prefix}_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

// The schema mirrors engine/codes.ts.

t.test('proto enums carry exactly the numbers of engine/codes.ts', async (t) => {
  const tables: [string, Record<string, number>, object, string[]][] = [
    ['ORDER_STATUS', OrderStatus, stampede.v1.OrderStatus, []],
    ['RESULT_CODE', ResultCode, stampede.v1.ResultCode, []],
    // proto3 needs a zero value; the engine has no outcome 0.
    ['PAYMENT_OUTCOME', PaymentOutcome, stampede.v1.PaymentOutcome, ['PAYMENT_OUTCOME_UNSPECIFIED']],
  ];
  for (const [prefix, codes, protoEnum, protoOnly] of tables) {
    const want: Record<string, number> = {};
    for (const [name, code] of Object.entries(codes)) want[protoEnumName(prefix, name)] = code;
    for (const name of protoOnly) want[name] = 0;
    // The generated enum object maps names to numbers (and, on its prototype, numbers to names).
    t.same({ ...protoEnum }, want, `${prefix} matches codes.ts name for name and number for number`);
  }
});

t.test('each oneof body field number is 10 + its CommandType / EventType code', async (t) => {
  const root = protobuf.loadSync(path.join(here, 'stampede/v1/engine.proto'));
  const check = (message: string, codes: Record<string, number>): void => {
    const oneof = root.lookupType(`stampede.v1.${message}`).oneofs.body;
    if (oneof === undefined) throw new Error(`${message} has no body oneof`);
    const got = Object.fromEntries(oneof.fieldsArray.map((field) => [field.name, field.id]));
    const want = Object.fromEntries(Object.entries(codes).map(([name, code]) => [name, 10 + code]));
    t.same(got, want, `${message}.body`);
  };
  check('Command', CommandType);
  check('Event', EventType);
  // And validateCommand knows every body (a forgotten one would read as "no body").
  for (const name of Object.keys(CommandType)) {
    const result = validateCommand({ nowMs: 0, correlationId: 0, [name]: {} });
    t.notMatch(result, { message: /no body/ }, `validateCommand knows the ${name} body`);
  }
});

// Golden byte fixtures.

type Sample =
  | { name: string; kind: 'command'; message: stampede.v1.ICommand }
  | { name: string; kind: 'event'; message: stampede.v1.IEvent };

const samples: Sample[] = [
  {
    name: 'command-add-product',
    kind: 'command',
    message: {
      nowMs: t0Ms,
      correlationId: 1,
      addProduct: { skuId: 1, priceMinor: 1999, currency: 'USD', stock: 100 },
    },
  },
  {
    name: 'command-place-order',
    kind: 'command',
    message: {
      nowMs: t0Ms + 0.25,
      correlationId: 2,
      placeOrder: {
        buyerId: 42,
        requestId: 2 ** 40 + 7,
        totalMinor: 4548,
        lines: [
          { skuId: 1, quantity: 2, unitPriceMinor: 1999 },
          { skuId: 2, quantity: 1, unitPriceMinor: 550 },
        ],
      },
    },
  },
  {
    name: 'command-payment-result',
    kind: 'command',
    message: {
      nowMs: t0Ms + 1000,
      correlationId: 3,
      paymentResult: {
        orderId: 1,
        outcome: stampede.v1.PaymentOutcome.PAYMENT_OUTCOME_SUCCEEDED,
        amountMinor: 4548,
      },
    },
  },
  {
    // Explicit presence: blocked = false and limit 0 are on the wire, not dropped as defaults.
    name: 'command-block-buyer-false',
    kind: 'command',
    message: { nowMs: t0Ms, correlationId: 4, blockBuyer: { buyerId: 13, blocked: false } },
  },
  { name: 'command-tick', kind: 'command', message: { nowMs: t0Ms + 60_000, correlationId: 5, tick: {} } },
  {
    name: 'event-product-added',
    kind: 'event',
    message: {
      seq: 1,
      atMs: t0Ms,
      productAdded: { skuId: 1, priceMinor: 1999, currency: 'USD', stock: 100 },
    },
  },
  {
    name: 'event-order-created',
    kind: 'event',
    message: {
      seq: 7,
      atMs: t0Ms + 0.25,
      orderCreated: {
        buyerId: 42,
        orderId: 1,
        requestId: 2 ** 40 + 7,
        expiresAtMs: t0Ms + 600_000.25,
        totalMinor: 4548,
        lines: [
          { skuId: 1, quantity: 2, unitPriceMinor: 1999 },
          { skuId: 2, quantity: 1, unitPriceMinor: 550 },
        ],
      },
    },
  },
  {
    name: 'event-order-status-changed',
    kind: 'event',
    message: {
      seq: 11,
      atMs: t0Ms + 1000,
      orderStatusChanged: {
        orderId: 1,
        buyerId: 42,
        status: stampede.v1.OrderStatus.ORDER_STATUS_CHECKOUT_SUCCESS,
        previous: stampede.v1.OrderStatus.ORDER_STATUS_READY_FOR_CHECKOUT,
        code: stampede.v1.ResultCode.RESULT_CODE_OK,
        skuId: 0,
      },
    },
  },
  {
    name: 'event-payment-received',
    kind: 'event',
    message: {
      seq: 12,
      atMs: t0Ms + 1000,
      paymentReceived: {
        orderId: 1,
        buyerId: 42,
        outcome: stampede.v1.PaymentOutcome.PAYMENT_OUTCOME_SUCCEEDED,
        amountMinor: 4548,
        result: stampede.v1.ResultCode.RESULT_CODE_OK,
        previous: stampede.v1.OrderStatus.ORDER_STATUS_READY_FOR_CHECKOUT,
        status: stampede.v1.OrderStatus.ORDER_STATUS_CHECKOUT_SUCCESS,
        reference: 'evt_1NG8Du2eZvKYlo2CUI79vXWy',
      },
    },
  },
  {
    name: 'event-order-refused',
    kind: 'event',
    message: {
      seq: 12,
      atMs: t0Ms + 2000,
      orderRefused: {
        buyerId: 42,
        code: stampede.v1.ResultCode.RESULT_CODE_SOLD_OUT,
        requestId: 9,
        skuId: 2,
      },
    },
  },
];

const encodeSample = (sample: Sample): Uint8Array =>
  sample.kind === 'command'
    ? stampede.v1.Command.encode(sample.message).finish()
    : stampede.v1.Event.encode(sample.message).finish();

/** Bytes -> the JSON object the fixture stores (the mapping eventToJson uses). */
const bytesToJson = (kind: Sample['kind'], bytes: Uint8Array): Record<string, unknown> =>
  kind === 'command'
    ? stampede.v1.Command.toObject(stampede.v1.Command.decode(bytes), eventJsonOptions)
    : stampede.v1.Event.toObject(stampede.v1.Event.decode(bytes), eventJsonOptions);

/** JSON -> bytes, as a consumer holding only the JSON would re-encode it. */
const jsonToBytes = (kind: Sample['kind'], json: Record<string, unknown>): Uint8Array =>
  kind === 'command'
    ? stampede.v1.Command.encode(stampede.v1.Command.fromObject(json)).finish()
    : stampede.v1.Event.encode(stampede.v1.Event.fromObject(json)).finish();

t.test('encoded sample messages match the golden fixtures byte for byte', async (t) => {
  if (updateFixtures) await mkdir(fixtureDir, { recursive: true });
  for (const sample of samples) {
    const bytes = encodeSample(sample);
    const binPath = path.join(fixtureDir, `${sample.name}.bin`);
    const jsonPath = path.join(fixtureDir, `${sample.name}.json`);
    if (updateFixtures) {
      await writeFile(binPath, bytes);
      await writeFile(jsonPath, `${JSON.stringify(bytesToJson(sample.kind, bytes), null, 2)}\n`);
    }
    const [goldenBin, goldenText] = await Promise.all([
      readFile(binPath).catch(() => null),
      readFile(jsonPath, 'utf8').catch(() => null),
    ]);
    if (goldenBin === null || goldenText === null) {
      t.fail(
        `missing fixture proto/fixtures/${sample.name}: run UPDATE_FIXTURES=1 npx tap proto/codec.test.ts`,
      );
      continue;
    }
    const goldenBytes = new Uint8Array(goldenBin);
    const goldenJson: unknown = JSON.parse(goldenText);
    t.same(
      Buffer.from(bytes).toString('hex'),
      Buffer.from(goldenBytes).toString('hex'),
      `${sample.name}: encodes to the golden bytes (a difference is a wire-format change)`,
    );
    t.same(
      bytesToJson(sample.kind, goldenBytes),
      goldenJson,
      `${sample.name}.bin decodes to ${sample.name}.json`,
    );
    if (typeof goldenJson !== 'object' || goldenJson === null) {
      t.fail(`${sample.name}.json is not a JSON object`);
      continue;
    }
    const reencoded = jsonToBytes(sample.kind, goldenJson as Record<string, unknown>);
    t.same(
      Buffer.from(reencoded),
      Buffer.from(goldenBytes),
      `${sample.name}.json encodes back to the same bytes`,
    );
  }
});

// Events from the real engine.

t.test('journal events from the engine round-trip through eventToProto, encode and decode', async (t) => {
  const engine = new EngineHarness(limits);
  const usd = packCurrency('USD');
  const steps: [number, CommandInput, number][] = [
    [t0Ms, { type: 'addProduct', skuId: 1, priceMinor: 1999, currency: usd, stock: 10 }, ResultCode.ok],
    [t0Ms, { type: 'addProduct', skuId: 2, priceMinor: 500, currency: usd, stock: 5 }, ResultCode.ok],
    [t0Ms, { type: 'restock', skuId: 2, quantity: 5 }, ResultCode.ok],
    [t0Ms, { type: 'setPrice', skuId: 2, priceMinor: 550 }, ResultCode.ok],
    [t0Ms, { type: 'configureSale', skuId: 1, limitPerBuyer: 4, startsAtMs: 0, endsAtMs: 0 }, ResultCode.ok],
    [t0Ms, { type: 'blockBuyer', buyerId: 13, blocked: true }, ResultCode.ok],
    [
      t0Ms + 100,
      {
        type: 'placeOrder',
        buyerId: 42,
        requestId: 1,
        totalMinor: 2 * 1999 + 550,
        lines: [
          { skuId: 1, quantity: 2, unitPriceMinor: 1999 },
          { skuId: 2, quantity: 1, unitPriceMinor: 550 },
        ],
      },
      ResultCode.ok,
    ],
    [
      t0Ms + 200,
      {
        type: 'paymentResult',
        orderId: 1,
        outcome: PaymentOutcome.succeeded,
        amountMinor: 4548,
        reference: 'evt_1NG8Du2eZvKYlo2CUI79vXWy',
      },
      0,
    ],
    [
      t0Ms + 300,
      {
        type: 'placeOrder',
        buyerId: 42,
        requestId: 2,
        totalMinor: 1999,
        lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 1999 }],
      },
      ResultCode.ok,
    ],
    [t0Ms + 400, { type: 'cancelOrder', buyerId: 42, requestId: 3, orderId: 2 }, ResultCode.ok],
    [
      t0Ms + 500,
      {
        type: 'placeOrder',
        buyerId: 42,
        requestId: 4,
        totalMinor: 1,
        lines: [{ skuId: 9, quantity: 1, unitPriceMinor: 1 }],
      },
      ResultCode.unknownSku,
    ],
    [t0Ms + 60_000, { type: 'tick' }, ResultCode.ok],
  ];
  for (const [nowMs, input, want] of steps) {
    const reply = engine.run(nowMs, input);
    t.equal(
      resultName(reply.result),
      resultName(want),
      `${input.type} at +${nowMs - t0Ms} ms answers ${resultName(want)}`,
    );
  }

  const decoded: stampede.v1.Event[] = [];
  const json: Record<string, unknown>[] = [];
  for (const e of engine.journal) {
    const message = eventToProto(e.seq, e.type, e.atMs, e.payload, 0, e.payload.length);
    const event = stampede.v1.Event.decode(stampede.v1.Event.encode(message).finish());
    decoded.push(event);
    json.push(eventToJson(e.seq, e.type, e.atMs, e.payload, 0, e.payload.length));
    t.equal(event.seq, e.seq, `seq ${e.seq}`);
    t.equal(event.atMs, e.atMs, `event ${e.seq} at_ms`);
    t.equal(event.body, eventName(e.type), `event ${e.seq} body is ${eventName(e.type)}`);
    t.same(stampede.v1.Event.toObject(event, eventJsonOptions), json.at(-1), `event ${e.seq} eventToJson`);
  }
  t.same(
    [...new Set(engine.journal.map((e) => e.type))].sort((a, b) => a - b),
    Object.values(EventType),
    'the scenario produced every event type',
  );

  const product = decoded.find((e) => e.productAdded?.skuId === 1)?.productAdded;
  t.same(
    { priceMinor: product?.priceMinor, currency: product?.currency, stock: product?.stock },
    { priceMinor: 1999, currency: 'USD', stock: 10 },
    'productAdded: price, currency, stock',
  );
  const created = decoded.find((e) => e.orderCreated?.orderId === 1)?.orderCreated;
  t.same(
    {
      buyerId: created?.buyerId,
      requestId: created?.requestId,
      totalMinor: created?.totalMinor,
      expiresAtMs: created?.expiresAtMs,
      lines: created?.lines?.map((l) => [l.skuId, l.quantity, l.unitPriceMinor]),
    },
    {
      buyerId: 42,
      requestId: 1,
      totalMinor: 4548,
      expiresAtMs: t0Ms + 100 + limits.orderTtlMs,
      lines: [
        [1, 2, 1999],
        [2, 1, 550],
      ],
    },
    'orderCreated: order id, lines with unit prices, total, expiry',
  );
  const statusesOf = (orderId: number): string[] =>
    json.flatMap((e) => {
      const changed = e.orderStatusChanged as
        | { orderId: number; previous: string; status: string }
        | undefined;
      return changed?.orderId === orderId ? [`${changed.previous} -> ${changed.status}`] : [];
    });
  t.same(
    statusesOf(1),
    [
      'ORDER_STATUS_CREATED -> ORDER_STATUS_CHECKED_INVENTORY',
      'ORDER_STATUS_CHECKED_INVENTORY -> ORDER_STATUS_PENDING_CHECKOUT',
      'ORDER_STATUS_PENDING_CHECKOUT -> ORDER_STATUS_READY_FOR_CHECKOUT',
      'ORDER_STATUS_READY_FOR_CHECKOUT -> ORDER_STATUS_CHECKOUT_SUCCESS',
    ],
    'order 1 status names, paid',
  );
  t.equal(
    statusesOf(2).at(-1),
    'ORDER_STATUS_READY_FOR_CHECKOUT -> ORDER_STATUS_CANCELED',
    'order 2 canceled',
  );
  t.same(
    json.filter((e) => e.orderRefused !== undefined).map((e) => e.orderRefused),
    [{ buyerId: 42, code: 'RESULT_CODE_UNKNOWN_SKU', requestId: 4, skuId: 9 }],
    'orderRefused: code name and the SKU it is about',
  );
  t.same(
    decoded.flatMap((e) => (e.orderForgotten ? [e.orderForgotten.orderId] : [])),
    [1, 2],
    'both final orders forgotten after their retention',
  );
});

t.test('eventToProto reads a payload at any byte offset of a larger buffer', async (t) => {
  const engine = new EngineHarness(limits);
  engine.run(t0Ms, {
    type: 'addProduct',
    skuId: 3,
    priceMinor: 700,
    currency: packCurrency('EUR'),
    stock: 1,
  });
  const e = engine.journal[0]!;
  const record = new Uint8Array(e.payload.length + 5);
  record.set(e.payload, 3); // not 4-byte aligned, as inside a journal read buffer
  t.same(
    eventToProto(e.seq, e.type, e.atMs, record, 3, e.payload.length),
    eventToProto(e.seq, e.type, e.atMs, e.payload, 0, e.payload.length),
  );
});

t.test('eventToProto refuses payloads that do not match the layout', async (t) => {
  const words = new Uint8Array(OrderStatusChanged.words * 4);
  t.throws(
    () => eventToProto(1, EventType.orderStatusChanged, 0, words, 0, words.length - 8),
    /payload is 20 bytes, its layout has 28/,
  );
  const older = eventToProto(1, EventType.orderStatusChanged, 0, words, 0, words.length - 4);
  t.equal(older.orderStatusChanged?.skuId, 0, 'the layout before skuId still decodes, with skuId 0');
  t.throws(() => eventToProto(1, 99, 0, words, 0, words.length), /unknown event type 99/);
  t.throws(
    () => eventToProto(1, EventType.orderCreated, 0, new Uint8Array(40 + 12), 0, 52),
    /orderCreated with 0 lines/,
  );
  t.throws(() => eventToProto(1, EventType.orderForgotten, 0, words, 24, 8), /outside 28 bytes/);
  t.equal(EventSlot.payload % 2, 0, 'payload starts at an even word, so Float64 fields stay 8-byte aligned');
});

// Commands at the edge.

const validPlaceOrder = (): stampede.v1.ICommand => ({
  nowMs: t0Ms,
  correlationId: 7,
  placeOrder: {
    buyerId: 42,
    requestId: 1,
    totalMinor: 1999,
    lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 1999 }],
  },
});

const line = (skuId: number): stampede.v1.IOrderLine => ({ skuId, quantity: 1, unitPriceMinor: 1 });

/** The same command decoded from the wire, where "missing" is a null from the message prototype. */
const viaWire = (command: stampede.v1.ICommand): stampede.v1.ICommand =>
  stampede.v1.Command.decode(stampede.v1.Command.encode(command).finish());

t.test('commandToSlot refuses malformed commands with BAD_COMMAND and leaves the slot alone', async (t) => {
  const withPlaceOrder = (change: (body: stampede.v1.IPlaceOrder) => void): stampede.v1.ICommand => {
    const command = validPlaceOrder();
    change(command.placeOrder!);
    return command;
  };
  const cases: [string, stampede.v1.ICommand, RegExp][] = [
    ['missing body', { nowMs: t0Ms, correlationId: 1 }, /command has no body/],
    ['missing body, from the wire', viaWire({ nowMs: t0Ms, correlationId: 1 }), /command has no body/],
    [
      'negative quantity',
      withPlaceOrder((b) => {
        b.lines![0]!.quantity = -1;
      }),
      /place_order\.lines\[0\]\.quantity must be an integer from 0 to 2147483647, got -1/,
    ],
    [
      'negative quantity, from the wire (uint32 wraps to 2^32 - 1)',
      viaWire(
        withPlaceOrder((b) => {
          b.lines![0]!.quantity = -1;
        }),
      ),
      /place_order\.lines\[0\]\.quantity must be an integer from 0 to 2147483647, got 4294967295/,
    ],
    [
      'too many lines',
      withPlaceOrder((b) => {
        b.lines = Array.from({ length: protoLimits.linesPerCommandMax + 1 }, (_, i) => line(i + 1));
      }),
      /place_order\.lines has 9 lines, more than linesPerCommandMax \(8\)/,
    ],
    [
      'NaN time',
      { ...validPlaceOrder(), nowMs: Number.NaN },
      /now_ms must be milliseconds since the epoch from 0 to 253402300800000, got NaN/,
    ],
    [
      'infinite sale end',
      {
        nowMs: 1,
        correlationId: 1,
        configureSale: { skuId: 1, limitPerBuyer: 0, startsAtMs: 0, endsAtMs: Infinity },
      },
      /configure_sale\.ends_at_ms must be milliseconds since the epoch/,
    ],
    [
      'oversized sku id',
      viaWire({ nowMs: t0Ms, correlationId: 1, restock: { skuId: 2 ** 32 - 1, quantity: 1 } }),
      /restock\.sku_id must be an integer from 0 to 2147483647, got 4294967295/,
    ],
    [
      'sku id just past one Int32 word',
      withPlaceOrder((b) => {
        b.lines![0]!.skuId = 2 ** 31;
      }),
      /place_order\.lines\[0\]\.sku_id must be an integer/,
    ],
    [
      'unit price that would wrap an Int32 word',
      withPlaceOrder((b) => {
        b.lines![0]!.unitPriceMinor = 2 ** 32 + 1999;
      }),
      /unit_price_minor must be an integer from 0 to 2147483647/,
    ],
    [
      'missing request id, from the wire',
      viaWire(
        withPlaceOrder((b) => {
          delete b.requestId;
        }),
      ),
      /place_order\.request_id is missing/,
    ],
    [
      'request id past 2^53',
      withPlaceOrder((b) => {
        b.requestId = 2 ** 53;
      }),
      /place_order\.request_id must be an integer from 0 to 9007199254740991/,
    ],
    [
      'negative total',
      withPlaceOrder((b) => {
        b.totalMinor = -1;
      }),
      /place_order\.total_minor must be an integer/,
    ],
    [
      'unspecified payment outcome',
      viaWire({ nowMs: t0Ms, correlationId: 1, paymentResult: { orderId: 1, outcome: 0, amountMinor: 1 } }),
      /payment_result\.outcome must be PAYMENT_OUTCOME_SUCCEEDED \(1\) or PAYMENT_OUTCOME_DECLINED \(2\), got 0/,
    ],
    [
      'a payment reference past the slot',
      viaWire({
        nowMs: t0Ms,
        correlationId: 1,
        paymentResult: { orderId: 1, outcome: 1, amountMinor: 1, reference: 'e'.repeat(97) },
      }),
      /payment_result\.reference must be 1 to 96 printable ASCII characters/,
    ],
    [
      'a payment reference with a space',
      viaWire({
        nowMs: t0Ms,
        correlationId: 1,
        paymentResult: { orderId: 1, outcome: 1, amountMinor: 1, reference: 'evt 1' },
      }),
      /payment_result\.reference must be 1 to 96 printable ASCII characters, got "evt 1"/,
    ],
    [
      'missing blocked flag',
      viaWire({ nowMs: t0Ms, correlationId: 1, blockBuyer: { buyerId: 1 } }),
      /block_buyer\.blocked is missing/,
    ],
    [
      'lower-case currency',
      { nowMs: t0Ms, correlationId: 1, addProduct: { skuId: 1, priceMinor: 1, currency: 'usd', stock: 1 } },
      /add_product\.currency must be an ISO 4217 code of three capital letters, got "usd"/,
    ],
    ['two bodies', { ...validPlaceOrder(), tick: {} }, /command has two bodies: place_order and tick/],
    [
      'negative correlation id',
      { ...validPlaceOrder(), correlationId: -1 },
      /correlation_id must be an integer/,
    ],
    ['missing time', { correlationId: 1, tick: {} }, /now_ms is missing/],
    ['time after year 9999', { ...validPlaceOrder(), nowMs: protoLimits.timeMsMax + 1 }, /now_ms must be/],
  ];
  const slot = new SlotBuffer(CommandSlot.words, 1);
  const at = slot.claim();
  for (const [label, command, message] of cases) {
    slot.words.fill(0x5a5a5a5a);
    const result = commandToSlot(command, slot.words, slot.f64, at);
    t.match(result, { ok: false, code: 'BAD_COMMAND', message }, label);
    t.ok(
      slot.words.every((word) => word === 0x5a5a5a5a),
      `${label}: nothing written to the slot`,
    );
  }
});

t.test('a command body the schema does not know (a newer client) is BAD_COMMAND, not a crash', async (t) => {
  // Field 30, length-delimited, empty: a body this version has never heard of.
  const writer = stampede.v1.Command.encode({ nowMs: t0Ms, correlationId: 1 });
  const bytes = writer
    .uint32((30 << 3) | 2)
    .uint32(0)
    .finish();
  const decoded = decodeCommand(bytes);
  t.ok(decoded.ok, 'the bytes themselves are well-formed');
  if (decoded.ok)
    t.match(validateCommand(decoded.command), { ok: false, code: 'BAD_COMMAND', message: /no body/ });
  // A hand-built object can name a body that does not exist at all.
  const unknown = { nowMs: t0Ms, correlationId: 1, refund: {} } as stampede.v1.ICommand;
  t.match(validateCommand(unknown), { ok: false, code: 'BAD_COMMAND', message: /no body/ });
});

t.test('decodeCommand answers oversized and malformed bytes with BAD_COMMAND', async (t) => {
  t.match(decodeCommand(new Uint8Array(protoLimits.commandBytesMax + 1)), {
    ok: false,
    code: 'BAD_COMMAND',
    message: /exceeds commandBytesMax/,
  });
  const bytes = stampede.v1.Command.encode(validPlaceOrder()).finish();
  t.match(decodeCommand(bytes.subarray(0, bytes.length - 3)), {
    ok: false,
    code: 'BAD_COMMAND',
    message: /malformed command bytes/,
  });
  t.match(
    decodeCommand(Uint8Array.of(0x0f)),
    { ok: false, code: 'BAD_COMMAND' },
    'wire type 7 does not exist',
  );
});

t.test('the largest valid command fits commandBytesMax with room to spare', async (t) => {
  const max = protoLimits.wordValueMax;
  const biggest: stampede.v1.ICommand = {
    nowMs: protoLimits.timeMsMax,
    correlationId: max,
    placeOrder: {
      buyerId: max,
      requestId: protoLimits.float64IntegerMax,
      totalMinor: protoLimits.float64IntegerMax,
      lines: Array.from({ length: protoLimits.linesPerCommandMax }, () => ({
        skuId: max,
        quantity: max,
        unitPriceMinor: max,
      })),
    },
  };
  t.ok(validateCommand(biggest).ok, 'it is valid');
  const size = stampede.v1.Command.encode(biggest).finish().length;
  t.ok(size < 300, `a maximal PlaceOrder is ${size} bytes (limits.ts says under 300)`);
  t.ok(
    size * 2 <= protoLimits.commandBytesMax,
    'commandBytesMax leaves at least as much again for new fields',
  );
});

t.test('a Tick at the latest accepted time returns (the timer wheel still counts exactly)', async (t) => {
  const events = new SlotBuffer(EventSlot.words);
  const processor = new Processor(new EngineState(limits), events);
  const slot = new SlotBuffer(CommandSlot.words, 1);
  const at = slot.claim();
  const commands: stampede.v1.ICommand[] = [
    { nowMs: t0Ms, correlationId: 1, addProduct: { skuId: 1, priceMinor: 1999, currency: 'USD', stock: 5 } },
    validPlaceOrder(),
    { nowMs: t0Ms, correlationId: 2, tick: {} },
    { nowMs: protoLimits.timeMsMax, correlationId: 3, tick: {} },
  ];
  for (const command of commands) {
    t.same(commandToSlot(command, slot.words, slot.f64, at), { ok: true });
    events.reset();
    processor.apply(slot.words, slot.f64, at, null);
  }
  const last = events.slotOffset(0) + EventSlot.payload;
  t.equal(events.count, 1, 'the last Tick returned with one event');
  t.equal(events.words[last + OrderStatusChanged.status], OrderStatus.timeout, 'the unpaid order timed out');
});

/** Reads a reply slot written by the processor. */
const replyAt = (replies: SlotBuffer, r: number) => ({
  correlationId: replies.words[r + ReplySlot.correlationId],
  result: resultName(replies.words[r + ReplySlot.result]!),
  orderId: replies.f64[(r + ReplySlot.orderId) >> 1],
  status: replies.words[r + ReplySlot.status],
});

t.test('commands that pass write slots the engine applies, identical to writeCommand', async (t) => {
  const processor = new Processor(new EngineState(limits), new SlotBuffer(EventSlot.words));
  const replies = new SlotBuffer(ReplySlot.words, 4);
  const viaProto = new SlotBuffer(CommandSlot.words, 1);
  const direct = new SlotBuffer(CommandSlot.words, 1);
  const steps: [stampede.v1.ICommand, CommandInput][] = [
    [
      {
        nowMs: t0Ms,
        correlationId: 1,
        addProduct: { skuId: 1, priceMinor: 1999, currency: 'USD', stock: 3 },
      },
      { type: 'addProduct', skuId: 1, priceMinor: 1999, currency: packCurrency('USD'), stock: 3 },
    ],
    [
      validPlaceOrder(),
      {
        type: 'placeOrder',
        buyerId: 42,
        requestId: 1,
        totalMinor: 1999,
        lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 1999 }],
      },
    ],
    [
      {
        nowMs: t0Ms + 10,
        correlationId: 8,
        paymentResult: {
          orderId: 1,
          outcome: stampede.v1.PaymentOutcome.PAYMENT_OUTCOME_SUCCEEDED,
          amountMinor: 1999,
        },
      },
      { type: 'paymentResult', orderId: 1, outcome: PaymentOutcome.succeeded, amountMinor: 1999 },
    ],
  ];
  for (const [command, input] of steps) {
    // From the wire, as a gateway sees it.
    const decoded = decodeCommand(stampede.v1.Command.encode(command).finish());
    if (!decoded.ok) throw new Error(decoded.message);
    viaProto.reset();
    direct.reset();
    const at = viaProto.claim();
    // Both slots start with the same stale words, as a reused ring slot would.
    viaProto.words.fill(-1);
    direct.words.fill(-1);
    t.same(
      commandToSlot(decoded.command, viaProto.words, viaProto.f64, at),
      { ok: true },
      `${input.type} accepted`,
    );
    writeCommand(direct.words, direct.f64, direct.claim(), command.correlationId!, command.nowMs!, input);
    t.same([...viaProto.words], [...direct.words], `${input.type}: the same slot words as writeCommand`);
    replies.reset();
    processor.apply(viaProto.words, viaProto.f64, at, replies);
    t.match(
      replyAt(replies, replies.slotOffset(0)),
      { correlationId: command.correlationId, result: 'ok' },
      input.type,
    );
  }
  t.equal(replyAt(replies, 0).status, OrderStatus.checkoutSuccess, 'the order went all the way to paid');
  t.equal(processor.state.skuSold[1], 1, 'one unit sold');
});

t.test(
  'fuzz: random and mutated bytes never throw, and whatever passes never crashes the engine',
  async (t) => {
    const seed = seedFromEnv();
    const random = new SeededRandom(seed);
    const events = new SlotBuffer(EventSlot.words);
    const processor = new Processor(new EngineState(limits), events);
    const replies = new SlotBuffer(ReplySlot.words, 4);
    const slot = new SlotBuffer(CommandSlot.words, 1);
    const at = slot.claim();
    const seeds = samples.filter((s) => s.kind === 'command').map(encodeSample);
    const counts = { badBytes: 0, badCommand: 0, applied: 0 };
    const iterations = Number(process.env.FUZZ_ITERATIONS ?? 20_000);
    for (let i = 0; i < iterations; i++) {
      let bytes: Uint8Array;
      if (random.chance(0.3)) {
        bytes = Uint8Array.from({ length: random.int(0, 48) }, () => random.int(0, 255));
      } else {
        bytes = Uint8Array.from(random.pick(seeds));
        for (let m = random.int(1, 3); m > 0; m--)
          bytes[random.int(0, bytes.length - 1)] = random.int(0, 255);
        if (random.chance(0.2)) bytes = bytes.subarray(0, random.int(0, bytes.length));
      }
      try {
        const decoded = decodeCommand(bytes);
        if (!decoded.ok) {
          counts.badBytes++;
          continue;
        }
        const result = commandToSlot(decoded.command, slot.words, slot.f64, at);
        if (!result.ok) {
          counts.badCommand++;
          continue;
        }
        events.reset();
        replies.reset();
        processor.apply(slot.words, slot.f64, at, replies);
        counts.applied++;
      } catch (error) {
        t.fail(`SEED=${seed} iteration ${i}: ${Buffer.from(bytes).toString('hex')} threw ${String(error)}`);
        return;
      }
    }
    t.ok(
      counts.applied > 0 && counts.badCommand > 0 && counts.badBytes > 0,
      `SEED=${seed}: ${JSON.stringify(counts)}`,
    );
  },
);
