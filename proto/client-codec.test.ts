/**
 * The checkout WebSocket codec: clientSchema is client.proto field for field;
 * the same message decodes to the same plain value from a binary and a text
 * frame; every malformed, oversized or out-of-range frame is a coded refusal
 * naming the field; answers encode to golden fixtures in both kinds; and no
 * input makes decodeClientFrame throw (fuzzed, SEED=n replays a run).
 *
 * UPDATE_FIXTURES=1 rewrites the client-* and server-* files of
 * proto/fixtures/: only for a deliberate schema change, and review the diff.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import t, { type Test } from 'tap';
import { OrderStatus, ResultCode, statusName } from '../engine/codes.ts';
import { isErrorCode } from '../gateways/errors.ts';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import {
  ClientFrameErrorCode,
  type ClientFrameResult,
  clientFrameLimits,
  clientFrameLimitsDefault,
  clientSchema,
  type DecodedBatchableMessage,
  type DecodedClientMessage,
  decodeClientFrame,
  decodeClientFrameInFull,
  decodeCommandBatch,
  encodeServerMessage,
  type ServerMessageInput,
  serverMessageJson,
} from './client-codec.ts';
import { stampede } from './generated/stampede.js';
import { protoLimits } from './limits.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtureDir = path.join(here, 'fixtures');
const updateFixtures = process.env.UPDATE_FIXTURES === '1';
const t0Ms = 1_700_000_000_000;
const { ClientMessage, ServerMessage } = stampede.v1;

const text = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
const binary = (message: stampede.v1.IClientMessage): Uint8Array => ClientMessage.encode(message).finish();

// The schema table is client.proto.

t.test('clientSchema matches client.proto field for field', async (t) => {
  const root = new protobuf.Root();
  // Imports resolve from proto/, as generate.ts passes --path proto.
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(here, target));
  root.loadSync(path.join(here, 'stampede/v1/client.proto'), { keepCase: true });
  for (const [typeName, fields] of Object.entries(clientSchema)) {
    const type = root.lookupType(`stampede.v1.${typeName}`);
    const want = type.fieldsArray.map((field) => ({
      number: field.id,
      jsonName: protobuf.util.camelCase(field.name),
      protoName: field.name,
      kind: field.resolvedType === null ? field.type : 'message',
      message: field.resolvedType === null ? undefined : field.type,
      repeated: field.repeated || undefined,
    }));
    const got = fields.map((field) => ({
      number: field.number,
      jsonName: field.jsonName,
      protoName: field.protoName,
      kind: field.kind,
      message: field.message,
      repeated: field.repeated,
    }));
    t.same(got, want, `${typeName}`);
  }
  const body = root.lookupType('stampede.v1.ClientMessage').oneofs.body;
  t.same(
    body?.fieldsArray.map((field) => field.id),
    clientSchema.ClientMessage.filter((field) => field.number >= 10).map((field) => field.number),
    'ClientMessage: the oneof body is exactly the fields numbered 10 and up',
  );
  const server = root.lookupType('stampede.v1.ServerMessage').oneofs.body;
  t.ok(
    server?.fieldsArray.every((field) => field.id >= 10),
    'ServerMessage: body fields are numbered 10 and up too',
  );
  const answer = root.lookupType('stampede.v1.OrderAnswer');
  answer.resolveAll();
  t.equal(answer.fields.result?.resolvedType?.fullName, '.stampede.v1.ResultCode', 'engine.proto ResultCode');
  t.equal(
    answer.fields.status?.resolvedType?.fullName,
    '.stampede.v1.OrderStatus',
    'engine.proto OrderStatus',
  );
});

// Valid frames: one plain value from either kind.

interface ValidCase {
  label: string;
  message: stampede.v1.IClientMessage;
  /** What a JSON client writes, when it differs from toObject's output. */
  json?: unknown;
  want: DecodedClientMessage;
}

const validCases: ValidCase[] = [
  {
    label: 'authenticate',
    message: { requestId: 1, authenticate: { token: 'buyer-token-é✓' } },
    want: { kind: 'authenticate', requestId: 1, token: 'buyer-token-é✓' },
  },
  {
    label: 'place order from a buyer device, 64-bit values as strings',
    message: {
      requestId: 2 ** 40 + 7,
      placeOrder: {
        lines: [
          { skuId: 1, quantity: 2, unitPriceMinor: 1999 },
          { skuId: 2, quantity: 1, unitPriceMinor: 550 },
        ],
        totalMinor: 4548,
      },
    },
    json: {
      requestId: String(2 ** 40 + 7),
      placeOrder: {
        lines: [
          { skuId: 1, quantity: 2, unitPriceMinor: '1999' },
          { skuId: '2', quantity: 1, unitPriceMinor: 550 },
        ],
        totalMinor: '4548',
      },
    },
    want: {
      kind: 'placeOrder',
      requestId: 2 ** 40 + 7,
      totalMinor: 4548,
      lines: [
        { skuId: 1, quantity: 2, unitPriceMinor: 1999 },
        { skuId: 2, quantity: 1, unitPriceMinor: 550 },
      ],
    },
  },
  {
    label: 'place order with no lines (the engine refuses it, not the edge)',
    message: { requestId: 3, placeOrder: { totalMinor: 0, buyerId: 42 } },
    want: { kind: 'placeOrder', requestId: 3, buyerId: 42, totalMinor: 0, lines: [] },
  },
  {
    label: 'pay with buyer_id 0 (a default some libraries write): reads as absent',
    message: { requestId: 4, pay: { orderId: 12, buyerId: 0 } },
    want: { kind: 'pay', requestId: 4, orderId: 12 },
  },
  {
    label: 'cancel for a named buyer, values at their maximum',
    message: {
      requestId: protoLimits.float64IntegerMax,
      cancel: { orderId: protoLimits.float64IntegerMax, buyerId: protoLimits.wordValueMax },
    },
    want: {
      kind: 'cancel',
      requestId: protoLimits.float64IntegerMax,
      orderId: protoLimits.float64IntegerMax,
      buyerId: protoLimits.wordValueMax,
    },
  },
  {
    label: 'subscribe',
    message: { requestId: 5, subscribe: { orderId: 9, buyerId: 7 } },
    want: { kind: 'subscribe', requestId: 5, orderId: 9, buyerId: 7 },
  },
  {
    label: 'ping, a null field reads as absent',
    message: { requestId: 6, ping: { clientTimeMs: -12.625 } },
    json: { requestId: 6, ping: { clientTimeMs: -12.625 }, pay: null },
    want: { kind: 'ping', requestId: 6, clientTimeMs: -12.625 },
  },
  {
    label: 'batch from a service connection',
    message: {
      requestId: 100,
      batch: {
        messages: [
          {
            requestId: 1,
            placeOrder: {
              buyerId: 42,
              totalMinor: 1999,
              lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 1999 }],
            },
          },
          { requestId: 2, pay: { orderId: 1, buyerId: 42 } },
          { requestId: 3, ping: { clientTimeMs: 0 } },
        ],
      },
    },
    want: {
      kind: 'batch',
      requestId: 100,
      messages: [
        {
          kind: 'placeOrder',
          requestId: 1,
          buyerId: 42,
          totalMinor: 1999,
          lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 1999 }],
        },
        { kind: 'pay', requestId: 2, orderId: 1, buyerId: 42 },
        { kind: 'ping', requestId: 3, clientTimeMs: 0 },
      ],
    },
  },
];

t.test('valid frames decode to the same plain value from binary and JSON', async (t) => {
  for (const { label, message, json, want } of validCases) {
    const fromBinary = decodeClientFrame(binary(message), true);
    t.same(fromBinary, { ok: true, message: want }, `${label}: binary`);
    const asJson = json ?? ClientMessage.toObject(ClientMessage.fromObject(message), { longs: Number });
    t.same(decodeClientFrame(text(asJson), false), { ok: true, message: want }, `${label}: JSON`);
    // An ArrayBuffer, as uWebSockets.js hands it over.
    const bytes = binary(message);
    const buffer = new Uint8Array(bytes).buffer;
    t.same(decodeClientFrame(buffer, true), fromBinary, `${label}: from an ArrayBuffer`);
  }
  const plain = decodeClientFrame(binary({ requestId: 1, authenticate: { token: 'x' } }), true);
  t.ok(
    plain.ok && Object.getPrototypeOf(plain.message) === Object.prototype,
    'a plain object, not a protobufjs message',
  );
});

t.test('binary: unknown fields outside the body range are skipped, as protobuf intends', async (t) => {
  const bytes = ClientMessage.encode({ requestId: 9, ping: { clientTimeMs: 1 } })
    .uint32((5 << 3) | 0) // field 5, varint: a future envelope field
    .uint32(77)
    .finish();
  t.same(decodeClientFrame(bytes, true), {
    ok: true,
    message: { kind: 'ping', requestId: 9, clientTimeMs: 1 },
  });
});

// Refusals.

type RefusalCase = [label: string, frame: Uint8Array, isBinary: boolean, want: Record<string, unknown>];

const hand = (): protobuf.Writer => protobuf.Writer.create();
const placeJson = (change: (body: Record<string, unknown>) => void, requestId: unknown = 8): Uint8Array => {
  const body: Record<string, unknown> = {
    lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 1999 }],
    totalMinor: 1999,
  };
  change(body);
  return text({ requestId, placeOrder: body });
};
const line = (change: Record<string, unknown>) => [
  { skuId: 1, quantity: 1, unitPriceMinor: 1999, ...change },
];
const bad = (message: RegExp, requestId = 0) => ({ ok: false, code: 'BAD_FRAME', message, requestId });
const badCommand = (message: RegExp, requestId = 0) => ({
  ok: false,
  code: 'BAD_COMMAND',
  message,
  requestId,
});
const pings = (count: number, change: Record<string, unknown> = {}) =>
  Array.from({ length: count }, (_, i) => ({ requestId: i + 1, ping: { clientTimeMs: 1 }, ...change }));

const refusals: RefusalCase[] = [
  // Size.
  [
    'a frame over clientFrameBytesMax',
    new Uint8Array(protoLimits.clientFrameBytesMax + 1),
    true,
    {
      ok: false,
      code: 'FRAME_TOO_LARGE',
      message: /^a frame of 65537 bytes is over the limit of 65536$/,
      requestId: 0,
    },
  ],
  // Text frames that are not one JSON object.
  ['invalid UTF-8', Uint8Array.of(0x7b, 0xff, 0x7d), false, bad(/text frame is not valid UTF-8/)],
  ['not JSON', new TextEncoder().encode('{"requestId": 1,'), false, bad(/text frame is not JSON/)],
  ['a JSON list', text([1]), false, bad(/holds one JSON object \(a ClientMessage\), got a list/)],
  ['a JSON string', text('ping'), false, bad(/got "ping"/)],
  ['JSON null', text(null), false, bad(/got null/)],
  // Unknown fields.
  [
    'an unknown top-level field',
    text({ requestId: 1, ping: { clientTimeMs: 1 }, priority: 1 }),
    false,
    bad(/^unknown field "priority"$/, 1),
  ],
  [
    'an unknown nested field',
    placeJson((b) => {
      b.lines = line({ sku: 1 });
    }),
    false,
    bad(/^placeOrder\.lines\[0\]: unknown field "sku"$/, 8),
  ],
  [
    'a snake_case name',
    text({ request_id: 1, ping: { clientTimeMs: 1 } }),
    false,
    bad(/unknown field "request_id" \(field names are lowerCamelCase: requestId\)/),
  ],
  [
    'an unknown message kind',
    text({ requestId: 3, refund: { orderId: 1 } }),
    false,
    {
      ok: false,
      code: 'UNKNOWN_MESSAGE',
      message: /unknown message kind "refund"; this gateway knows authenticate, placeOrder/,
      requestId: 3,
    },
  ],
  [
    'a snake_case message kind',
    text({ requestId: 3, place_order: { lines: [], totalMinor: 0 } }),
    false,
    bad(/^unknown field "place_order" \(field names are lowerCamelCase: placeOrder\)$/, 3),
  ],
  [
    'a top-level __proto__',
    new TextEncoder().encode('{"requestId":4,"__proto__":{"ping":{"clientTimeMs":1}}}'),
    false,
    bad(/^unknown field "__proto__"$/, 4),
  ],
  [
    'a field named __proto__',
    new TextEncoder().encode('{"requestId":1,"ping":{"clientTimeMs":1,"__proto__":{}}}'),
    false,
    bad(/ping: unknown field "__proto__"/, 1),
  ],
  // Wrong JSON types.
  [
    'request id true',
    text({ requestId: true, ping: { clientTimeMs: 1 } }),
    false,
    bad(/requestId must be an integer \(a number or a decimal string\), got true/),
  ],
  [
    'request id as hex',
    text({ requestId: '0x10', ping: { clientTimeMs: 1 } }),
    false,
    bad(/requestId must be an integer/),
  ],
  [
    'a fractional quantity',
    placeJson((b) => {
      b.lines = line({ quantity: 1.5 });
    }),
    false,
    bad(/placeOrder\.lines\[0\]\.quantity must be an integer \(a number or a decimal string\), got 1\.5/, 8),
  ],
  [
    'a quantity too large for a double (1e400 parses as Infinity)',
    new TextEncoder().encode(
      '{"requestId":8,"placeOrder":{"lines":[{"skuId":1,"quantity":1e400,"unitPriceMinor":100}],"totalMinor":100}}',
    ),
    false,
    {
      ok: false,
      code: 'BAD_COMMAND',
      message: /^placeOrder\.lines\[0\]\.quantity must be an integer from 0 to 2147483647, got Infinity$/,
      requestId: 8,
    },
  ],
  [
    'a quantity of 1e30, like 1e400 out of range',
    new TextEncoder().encode(
      '{"requestId":8,"placeOrder":{"lines":[{"skuId":1,"quantity":1e30,"unitPriceMinor":100}],"totalMinor":100}}',
    ),
    false,
    {
      ok: false,
      code: 'BAD_COMMAND',
      message: /^placeOrder\.lines\[0\]\.quantity must be an integer from 0 to 2147483647, got 1e\+30$/,
      requestId: 8,
    },
  ],
  [
    'a SKU id that is not a number',
    placeJson((b) => {
      b.lines = line({ skuId: 'one' });
    }),
    false,
    bad(/placeOrder\.lines\[0\]\.skuId must be an integer .*got "one"/, 8),
  ],
  [
    'lines as an object',
    placeJson((b) => {
      b.lines = { skuId: 1 };
    }),
    false,
    bad(/placeOrder\.lines must be a list, got an object/, 8),
  ],
  [
    'a body that is a list',
    text({ requestId: 1, placeOrder: [] }),
    false,
    bad(/placeOrder must be an object \(ClientPlaceOrder\), got a list/, 1),
  ],
  [
    'a numeric token',
    text({ requestId: 1, authenticate: { token: 5 } }),
    false,
    bad(/authenticate\.token must be a string, got 5/, 1),
  ],
  [
    'a ping time in words',
    text({ requestId: 1, ping: { clientTimeMs: 'now' } }),
    false,
    bad(/ping\.clientTimeMs must be a number, got "now"/, 1),
  ],
  [
    'an infinite ping time',
    text({ requestId: 1, ping: { clientTimeMs: 'Infinity' } }),
    false,
    badCommand(/ping\.clientTimeMs must be a finite number, got Infinity/, 1),
  ],
  // Body.
  [
    'no body',
    text({ requestId: 1 }),
    false,
    badCommand(/^no body: one of authenticate, placeOrder, pay, cancel, subscribe, ping, batch$/, 1),
  ],
  [
    'no body (binary)',
    binary({ requestId: 1 }),
    true,
    badCommand(/^no body: one of authenticate, place_order, pay, cancel, subscribe, ping, batch$/, 1),
  ],
  [
    'two bodies',
    text({ requestId: 1, pay: { orderId: 1 }, cancel: { orderId: 1 } }),
    false,
    badCommand(/more than one body: pay and cancel/, 1),
  ],
  [
    'two bodies (binary)',
    binary({ requestId: 1, pay: { orderId: 1 }, cancel: { orderId: 1 } }),
    true,
    badCommand(/more than one body: pay and cancel/, 1),
  ],
  [
    'the same body twice (binary)',
    ClientMessage.encode({ requestId: 1, ping: { clientTimeMs: 1 } })
      .uint32((15 << 3) | 2)
      .uint32(0)
      .finish(),
    true,
    badCommand(/more than one body: ping and ping/, 1),
  ],
  // Batch.
  [
    'a batch inside a batch',
    text({ requestId: 1, batch: { messages: [{ requestId: 2, batch: { messages: pings(1) } }] } }),
    false,
    badCommand(/^batch\.messages\[0\]\.batch: a batch cannot hold a batch$/, 1),
  ],
  [
    'a batch inside a batch (binary)',
    binary({ requestId: 1, batch: { messages: [{ requestId: 2, batch: { messages: pings(1) } }] } }),
    true,
    badCommand(/^batch\.messages\[0\]\.batch: a batch cannot hold a batch$/, 1),
  ],
  [
    'a batch over batchMessagesMax',
    text({ requestId: 1, batch: { messages: pings(protoLimits.batchMessagesMax + 1) } }),
    false,
    {
      ok: false,
      code: 'TOO_MANY_COMMANDS',
      message: /^batch\.messages: 257 messages, more than the 256 a batch may hold$/,
      requestId: 1,
    },
  ],
  [
    'a batch over batchMessagesMax (binary)',
    binary({ requestId: 1, batch: { messages: pings(protoLimits.batchMessagesMax + 1) } }),
    true,
    {
      ok: false,
      code: 'TOO_MANY_COMMANDS',
      message: /^batch\.messages: 257 messages, more than the 256 a batch may hold$/,
      requestId: 1,
    },
  ],
  [
    'an empty batch',
    text({ requestId: 1, batch: { messages: [] } }),
    false,
    badCommand(/a batch holds 1 to 256 messages, got none/, 1),
  ],
  [
    'authenticate inside a batch',
    text({ requestId: 1, batch: { messages: [{ requestId: 2, authenticate: { token: 'x' } }] } }),
    false,
    badCommand(/batch\.messages\[0\]\.authenticate: authenticate cannot be batched/, 1),
  ],
  [
    'a refusal inside a batch names the message',
    text({ requestId: 1, batch: { messages: [...pings(2), { requestId: 3, pay: { buyerId: 1 } }] } }),
    false,
    badCommand(/^batch\.messages\[2\]\.pay\.orderId is missing$/, 1),
  ],
  // Ranges.
  [
    'request id 2^53',
    text({ requestId: 2 ** 53, ping: { clientTimeMs: 1 } }),
    false,
    badCommand(/requestId must be an integer from 1 to 9007199254740991, got 9007199254740992/),
  ],
  [
    'request id 2^53 + 1 as a string',
    text({ requestId: '9007199254740993', ping: { clientTimeMs: 1 } }),
    false,
    badCommand(/requestId must be an integer from 1 to 9007199254740991/),
  ],
  [
    'request id 2^64 - 1 (binary)',
    hand().uint32(8).uint64('18446744073709551615').uint32(0x7a).uint32(0).finish(),
    true,
    badCommand(/request_id must be an integer from 1 to 9007199254740991/),
  ],
  [
    'request id 0 (reserved for pushes)',
    text({ requestId: 0, ping: { clientTimeMs: 1 } }),
    false,
    badCommand(/requestId must be an integer from 1 to/),
  ],
  ['no request id', text({ ping: { clientTimeMs: 1 } }), false, badCommand(/^requestId is missing$/)],
  [
    'no request id (binary)',
    binary({ ping: { clientTimeMs: 1 } }),
    true,
    badCommand(/^request_id is missing$/),
  ],
  [
    'a negative SKU id',
    placeJson((b) => {
      b.lines = line({ skuId: -1 });
    }),
    false,
    badCommand(/placeOrder\.lines\[0\]\.skuId must be an integer from 0 to 2147483647, got -1/, 8),
  ],
  [
    'a quantity past one Int32 word',
    placeJson((b) => {
      b.lines = line({ quantity: 2 ** 31 });
    }),
    false,
    badCommand(/quantity must be an integer from 0 to 2147483647, got 2147483648/, 8),
  ],
  [
    'a negative quantity (binary: the uint32 wraps to 2^32 - 1)',
    binary({
      requestId: 8,
      placeOrder: { totalMinor: 1, lines: [{ skuId: 1, quantity: -1, unitPriceMinor: 1 }] },
    }),
    true,
    badCommand(
      /place_order\.lines\[0\]\.quantity must be an integer from 0 to 2147483647, got 4294967295/,
      8,
    ),
  ],
  [
    'a unit price that would wrap an Int32 word',
    placeJson((b) => {
      b.lines = line({ unitPriceMinor: 2 ** 32 + 1999 });
    }),
    false,
    badCommand(/unitPriceMinor must be an integer from 0 to 2147483647/, 8),
  ],
  [
    'a negative total (binary int64)',
    binary({ requestId: 8, placeOrder: { totalMinor: -1, lines: [] } }),
    true,
    badCommand(/place_order\.total_minor must be an integer from 0 to 9007199254740991, got -1/, 8),
  ],
  [
    'a total past 2^53',
    placeJson((b) => {
      b.totalMinor = '9007199254740992';
    }),
    false,
    badCommand(/placeOrder\.totalMinor must be an integer from 0 to 9007199254740991/, 8),
  ],
  [
    'no total',
    placeJson((b) => {
      delete b.totalMinor;
    }),
    false,
    badCommand(/^placeOrder\.totalMinor is missing$/, 8),
  ],
  [
    'a line without a quantity (binary)',
    binary({ requestId: 8, placeOrder: { totalMinor: 1, lines: [{ skuId: 1, unitPriceMinor: 1 }] } }),
    true,
    badCommand(/^place_order\.lines\[0\]\.quantity is missing$/, 8),
  ],
  [
    'more lines than linesPerCommandMax',
    placeJson((b) => {
      b.lines = Array.from(
        { length: protoLimits.linesPerCommandMax + 1 },
        (_, i) => line({ skuId: i + 1 })[0],
      );
    }),
    false,
    badCommand(/^placeOrder\.lines has 9 lines, more than the 8 an order may have$/, 8),
  ],
  [
    'a buyer id past one Int32 word',
    text({ requestId: 1, pay: { orderId: 1, buyerId: 2 ** 31 } }),
    false,
    badCommand(/pay\.buyerId must be an integer from 1 to 2147483647/, 1),
  ],
  [
    'an order id past 2^53',
    text({ requestId: 1, cancel: { orderId: 2 ** 53 } }),
    false,
    badCommand(/cancel\.orderId must be an integer from 0 to 9007199254740991/, 1),
  ],
  [
    'a ping without a time',
    text({ requestId: 1, ping: {} }),
    false,
    badCommand(/^ping\.clientTimeMs is missing$/, 1),
  ],
  [
    'authenticate without a token',
    text({ requestId: 1, authenticate: {} }),
    false,
    badCommand(/^authenticate\.token is missing$/, 1),
  ],
  // Binary wire format.
  [
    'truncated bytes',
    binary({ requestId: 1, authenticate: { token: 'abcdef' } }).subarray(0, 6),
    true,
    bad(/authenticate: malformed protobuf: 8 bytes announced, 2 left/, 1),
  ],
  [
    'JSON in a binary frame',
    text({ requestId: 1, ping: { clientTimeMs: 1 } }),
    true,
    bad(
      /ping has wire type 3, expected 2 for a message \(a binary frame starting with "\{": JSON goes in a text frame\)$/,
    ),
  ],
  [
    'a request id with the wrong wire type',
    hand()
      .uint32((1 << 3) | 2)
      .uint32(0)
      .finish(),
    true,
    bad(/^request_id has wire type 2, expected 0 for a uint64$/),
  ],
  [
    'a time with the wrong wire type',
    hand()
      .uint32(8)
      .uint32(1)
      .uint32((15 << 3) | 2)
      .uint32(2)
      .uint32((1 << 3) | 0)
      .uint32(5)
      .finish(),
    true,
    bad(/^ping\.client_time_ms has wire type 0, expected 1 for a double$/, 1),
  ],
  [
    'an unknown body field (a newer client)',
    ClientMessage.encode({ requestId: 4 })
      .uint32((30 << 3) | 2)
      .uint32(0)
      .finish(),
    true,
    {
      ok: false,
      code: 'UNKNOWN_MESSAGE',
      message:
        /unknown message kind \(ClientMessage field 30\); this gateway knows authenticate = 10, place_order = 11/,
      requestId: 4,
    },
  ],
  [
    'a token that is not UTF-8',
    hand()
      .uint32(8)
      .uint32(1)
      .uint32((10 << 3) | 2)
      .uint32(3)
      .uint32((1 << 3) | 2)
      .uint32(1)
      .uint32(0xff)
      .finish(),
    true,
    bad(/^authenticate\.token is not valid UTF-8$/, 1),
  ],
  [
    'a group',
    hand()
      .uint32((5 << 3) | 3)
      .uint32((5 << 3) | 4)
      .finish(),
    true,
    bad(/malformed protobuf: wire type 3/),
  ],
  ['field number 0', Uint8Array.of(0x00, 0x01), true, bad(/malformed protobuf: field number 0/)],
  [
    'an 11-byte varint',
    Uint8Array.of(0x08, ...new Array(10).fill(0xff), 0x01),
    true,
    bad(/varint longer than 10 bytes/),
  ],
];

t.test('malformed, oversized and out-of-range frames are coded refusals naming the field', async (t) => {
  for (const [label, frame, isBinary, want] of refusals) {
    const result = decodeClientFrame(frame, isBinary);
    t.match(result, want, label);
    t.same(
      Object.keys(result).sort(),
      ['code', 'message', 'ok', 'requestId'],
      `${label}: exactly the refusal's fields`,
    );
  }
});

t.test('hostile frames within the size limit are refused without deep recursion', async (t) => {
  const encoder = new TextEncoder();
  // 1500 batches deep, binary: the scan stops at the second level, whatever the bytes say.
  let nested = binary({ requestId: 1, ping: { clientTimeMs: 1 } });
  while (nested.length < protoLimits.clientFrameBytesMax - 16) {
    const batch = hand()
      .uint32((1 << 3) | 2)
      .bytes(nested)
      .finish();
    nested = hand()
      .uint32(8)
      .uint32(1)
      .uint32((16 << 3) | 2)
      .bytes(batch)
      .finish();
  }
  t.match(
    decodeClientFrame(nested, true),
    badCommand(/^batch\.messages\[0\]\.batch: a batch cannot hold a batch$/, 1),
  );
  const jsonBatches = `${'{"requestId":1,"batch":{"messages":['.repeat(1500)}{}${']}}'.repeat(1500)}`;
  t.match(
    decodeClientFrame(encoder.encode(jsonBatches), false),
    badCommand(/^batch\.messages\[0\]\.batch: a batch cannot hold a batch$/, 1),
  );
  t.match(
    decodeClientFrame(encoder.encode(`${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`), false),
    { ok: false, code: 'UNKNOWN_MESSAGE' },
    '10000 nested JSON objects: refused at the first unknown key',
  );
  t.match(
    decodeClientFrame(encoder.encode(`${'['.repeat(30_000)}${']'.repeat(30_000)}`), false),
    bad(/got a list/),
    '30000 nested JSON lists',
  );
  t.match(
    decodeClientFrame(new Uint8Array(protoLimits.clientFrameBytesMax).fill(0x0b), true),
    bad(/^request_id has wire type 3/),
    'a frame full of group starts',
  );
});

t.test('a deployment can set the frame, batch and line limits (gateways/config.ts)', async (t) => {
  const limits = clientFrameLimits({ frameBytesMax: 200, batchMessagesMax: 2, linesPerOrderMax: 1 });
  t.match(decodeClientFrame(new Uint8Array(201), true, limits), {
    code: 'FRAME_TOO_LARGE',
    message: /over the limit of 200$/,
  });
  t.match(decodeClientFrame(text({ requestId: 1, batch: { messages: pings(3) } }), false, limits), {
    code: 'TOO_MANY_COMMANDS',
    message: /3 messages, more than the 2 a batch may hold/,
  });
  t.ok(decodeClientFrame(text({ requestId: 1, batch: { messages: pings(2) } }), false, limits).ok, 'two fit');
  t.match(
    decodeClientFrame(
      placeJson((b) => {
        b.lines = [...line({}), ...line({ skuId: 2 })];
      }),
      false,
      limits,
    ),
    { code: 'BAD_COMMAND', message: /has 2 lines, more than the 1 an order may have/ },
  );
  t.throws(() => clientFrameLimits({ linesPerOrderMax: 9 }), {
    name: 'RangeError',
    message: 'linesPerOrderMax must be an integer from 1 to 8, got 9',
  });
  t.throws(() => clientFrameLimits({ batchMessagesMax: 0 }), /batchMessagesMax must be an integer from 1/);
  t.throws(() => clientFrameLimits({ frameBytesMax: 1.5 }), /frameBytesMax must be an integer from 1/);
  t.ok(Object.isFrozen(clientFrameLimits()), 'frozen');
});

t.test('every code the decoder answers with is in the edge error catalogue', async (t) => {
  for (const code of Object.values(ClientFrameErrorCode))
    t.ok(isErrorCode(code), `${code} (gateways/errors.ts)`);
});

t.test('a refusal echoes a client string short and quoted', async (t) => {
  const key = `x${'y'.repeat(5000)}`;
  const result = decodeClientFrame(text({ requestId: 1, [key]: 1 }), false);
  t.ok(!result.ok && result.message.length < 100, 'the 5001-character field name is cut to 40');
});

// Sizes.

t.test(
  'clientFrameBytesMax holds a full batch of maximal orders in binary, and of usual ones in JSON',
  async (t) => {
    const max = protoLimits.wordValueMax;
    const maximal = binary({
      requestId: protoLimits.float64IntegerMax,
      batch: {
        messages: Array.from({ length: protoLimits.batchMessagesMax }, () => ({
          requestId: protoLimits.float64IntegerMax,
          placeOrder: {
            buyerId: max,
            totalMinor: protoLimits.float64IntegerMax,
            lines: Array.from({ length: protoLimits.linesPerCommandMax }, () => ({
              skuId: max,
              quantity: max,
              unitPriceMinor: max,
            })),
          },
        })),
      },
    });
    t.ok(
      maximal.length <= 50 * 1024,
      `the maximal binary batch is ${maximal.length} bytes (limits.ts says under 50 KiB)`,
    );
    t.ok(decodeClientFrame(maximal, true).ok, 'and it decodes');
    const usual = text({
      requestId: 1_000_000,
      batch: {
        messages: Array.from({ length: protoLimits.batchMessagesMax }, (_, i) => ({
          requestId: 1_700_000_000_000 + i,
          placeOrder: {
            buyerId: 1_234_567,
            totalMinor: 129_999,
            lines: [{ skuId: 12_345, quantity: 1, unitPriceMinor: 129_999 }],
          },
        })),
      },
    });
    t.ok(
      usual.length <= 38 * 1024,
      `a JSON batch of single-line orders is ${usual.length} bytes (limits.ts says under 38 KiB)`,
    );
    t.ok(decodeClientFrame(usual, false).ok, 'and it decodes');
  },
);

// Server messages.

const serverSamples: { name: string; message: ServerMessageInput }[] = [
  {
    name: 'server-authenticated',
    message: {
      kind: 'authenticated',
      requestId: 1,
      role: 'buyer',
      buyerId: 42,
      expiresAtMs: t0Ms + 3_600_000,
    },
  },
  {
    name: 'server-order-ready',
    message: {
      kind: 'order',
      requestId: 2,
      result: ResultCode.ok,
      orderId: 1001,
      status: OrderStatus.readyForCheckout,
      expiresAtMs: t0Ms + 600_000,
      totalMinor: 4548,
      skuId: 0,
      message: '',
      mayReturn: false,
    },
  },
  {
    name: 'server-order-sold-out',
    message: {
      kind: 'order',
      requestId: 5,
      result: ResultCode.soldOut,
      orderId: 0,
      status: OrderStatus.none,
      expiresAtMs: 0,
      totalMinor: 0,
      skuId: 2,
      message: 'sold out; stock may come back when reservations expire',
      mayReturn: true,
    },
  },
  {
    name: 'server-update-checkout-success',
    message: {
      kind: 'update',
      requestId: 0,
      orderId: 1001,
      buyerId: 42,
      status: OrderStatus.checkoutSuccess,
      previous: OrderStatus.readyForCheckout,
      code: ResultCode.ok,
      atMs: t0Ms + 1250.5,
      seq: 2 ** 40 + 3,
    },
  },
  {
    name: 'server-error-busy',
    message: {
      kind: 'error',
      requestId: 7,
      code: 'BUSY',
      message: 'the engine is at capacity',
      retryAfterMs: 50,
    },
  },
  {
    name: 'server-batch-answer',
    message: {
      kind: 'batch',
      requestId: 100,
      answers: [
        { kind: 'pong', requestId: 1, clientTimeMs: 12.5, serverTimeMs: t0Ms },
        { kind: 'subscribed', requestId: 2, orderId: 1001, status: OrderStatus.readyForCheckout },
        {
          kind: 'error',
          requestId: 3,
          code: 'NOT_FOUND',
          message: 'no order 9 for this buyer',
          retryAfterMs: 0,
        },
      ],
    },
  },
];

t.test('answers encode the same in both kinds: JSON text is the mapping of the binary bytes', async (t) => {
  for (const { name, message } of serverSamples) {
    const bytes = encodeServerMessage(message, true);
    const json: unknown = JSON.parse(encodeServerMessage(message, false));
    t.same(json, serverMessageJson(ServerMessage.decode(bytes)), name);
  }
  t.same(
    JSON.parse(encodeServerMessage(serverSamples[2]!.message, false)),
    {
      requestId: 5,
      order: {
        result: 'RESULT_CODE_SOLD_OUT',
        orderId: 0,
        status: 'none',
        expiresAtMs: 0,
        totalMinor: 0,
        skuId: 2,
        message: 'sold out; stock may come back when reservations expire',
        mayReturn: true,
      },
    },
    'enums as names, 64-bit as numbers, every field present',
  );
  const lone = encodeServerMessage(
    { kind: 'error', requestId: 0, code: 'BAD_FRAME', message: 'unknown field "\ud800"', retryAfterMs: 0 },
    true,
  );
  t.equal(
    ServerMessage.decode(lone).error?.message,
    'unknown field "\ufffd"',
    'a lone surrogate is sent as U+FFFD, so the bytes are valid UTF-8',
  );
});

t.test(
  'a ServerMessageInput the schema cannot carry is a TypeError naming the field (a bug, not a client error)',
  async (t) => {
    const order = serverSamples[1]!.message as Extract<ServerMessageInput, { kind: 'order' }>;
    const cases: [string, ServerMessageInput, RegExp][] = [
      ['unknown result code', { ...order, result: 99 }, /message\.result must be a ResultCode, got 99/],
      [
        'NaN expiry',
        { ...order, expiresAtMs: Number.NaN },
        /message\.expiresAtMs must be a finite number, got NaN/,
      ],
      [
        'fractional order id',
        { ...order, orderId: 1.5 },
        /message\.orderId must be an integer from 0 to 9007199254740991/,
      ],
      ['negative request id', { ...order, requestId: -1 }, /message\.requestId must be an integer/],
      [
        'error code in lower case',
        { kind: 'error', requestId: 1, code: 'busy', message: '', retryAfterMs: 0 },
        /message\.code must be an UPPER_SNAKE error code, got "busy"/,
      ],
      [
        'unknown status inside a batch',
        {
          kind: 'batch',
          requestId: 1,
          answers: [{ kind: 'subscribed', requestId: 2, orderId: 1, status: 11 }],
        },
        /message\.answers\[0\]\.status must be an OrderStatus, got 11/,
      ],
    ];
    for (const [label, message, error] of cases) {
      t.throws(
        () => encodeServerMessage(message, true),
        { name: 'TypeError', message: error },
        `${label}: binary`,
      );
      t.throws(
        () => encodeServerMessage(message, false),
        { name: 'TypeError', message: error },
        `${label}: JSON`,
      );
    }
  },
);

// Golden fixtures.

const clientSamples: { name: string; message: stampede.v1.IClientMessage }[] = [
  {
    name: 'client-authenticate',
    message: { requestId: 1, authenticate: { token: 'eyJhbGciOiJFZERTQSJ9.buyer-42' } },
  },
  { name: 'client-place-order', message: validCases[1]!.message },
  { name: 'client-batch', message: validCases.find((c) => c.label.startsWith('batch'))!.message },
];

/** What the client fixture stores: the JSON a client sends (only the fields it set). */
const clientJson = (bytes: Uint8Array): Record<string, unknown> =>
  ClientMessage.toObject(ClientMessage.decode(bytes), { longs: Number });

async function checkFixture(
  t: Test,
  name: string,
  bytes: Uint8Array,
  json: Record<string, unknown>,
): Promise<{ bin: Uint8Array; text: string } | null> {
  const binPath = path.join(fixtureDir, `${name}.bin`);
  const jsonPath = path.join(fixtureDir, `${name}.json`);
  if (updateFixtures) {
    await mkdir(fixtureDir, { recursive: true });
    await writeFile(binPath, bytes);
    await writeFile(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  }
  const [bin, jsonText] = await Promise.all([
    readFile(binPath).catch(() => null),
    readFile(jsonPath, 'utf8').catch(() => null),
  ]);
  if (bin === null || jsonText === null) {
    t.fail(
      `missing fixture proto/fixtures/${name}: run UPDATE_FIXTURES=1 npx tap proto/client-codec.test.ts`,
    );
    return null;
  }
  t.equal(
    Buffer.from(bytes).toString('hex'),
    bin.toString('hex'),
    `${name}: encodes to the golden bytes (a difference is a wire-format change)`,
  );
  t.same(json, JSON.parse(jsonText), `${name}: and to the golden JSON`);
  return { bin: new Uint8Array(bin), text: jsonText };
}

t.test('client messages match the golden fixtures, and both fixtures decode to one value', async (t) => {
  for (const { name, message } of clientSamples) {
    const bytes = binary(message);
    const golden = await checkFixture(t, name, bytes, clientJson(bytes));
    if (golden === null) continue;
    const fromBin = decodeClientFrame(golden.bin, true);
    t.ok(fromBin.ok, `${name}.bin decodes`);
    t.same(
      decodeClientFrame(new TextEncoder().encode(golden.text), false),
      fromBin,
      `${name}.json decodes to the same value`,
    );
    t.same(
      Buffer.from(binary(ClientMessage.fromObject(JSON.parse(golden.text)))),
      Buffer.from(golden.bin),
      `${name}.json encodes back to the same bytes`,
    );
  }
});

/** The protobuf JSON of a text answer: statuses back from the seed's spelling to the enum's value names. */
function protoStatuses(json: Record<string, unknown>): Record<string, unknown> {
  for (const body of [json.order, json.update, json.subscribed] as Record<string, unknown>[]) {
    for (const field of ['status', 'previous']) {
      if (typeof body?.[field] === 'string')
        body[field] = `ORDER_STATUS_${(body[field] as string).toUpperCase()}`;
    }
  }
  for (const answer of (json.batch as { answers?: Record<string, unknown>[] } | undefined)?.answers ?? []) {
    protoStatuses(answer);
  }
  return json;
}

t.test(
  "text answers spell order statuses the seed's way, the enum value name without its prefix",
  async (t) => {
    for (const [key, status] of Object.entries(OrderStatus)) {
      const json = JSON.parse(
        encodeServerMessage({ kind: 'subscribed', requestId: 1, orderId: 1, status }, false),
      ) as { subscribed: { status: string } };
      t.equal(json.subscribed.status, statusName(status), key);
      t.equal(`ORDER_STATUS_${json.subscribed.status.toUpperCase()}`, stampede.v1.OrderStatus[status], key);
    }
    t.equal(statusName(OrderStatus.checkoutSuccess), 'checkout_success');
    t.equal(statusName(OrderStatus.checkedInventory), 'checked_inventory');
  },
);

t.test('server messages match the golden fixtures in both kinds', async (t) => {
  for (const { name, message } of serverSamples) {
    const bytes = encodeServerMessage(message, true);
    const golden = await checkFixture(t, name, bytes, JSON.parse(encodeServerMessage(message, false)));
    if (golden === null) continue;
    t.same(
      serverMessageJson(ServerMessage.decode(golden.bin)),
      JSON.parse(golden.text),
      `${name}.bin decodes to ${name}.json`,
    );
    t.same(
      Buffer.from(
        ServerMessage.encode(ServerMessage.fromObject(protoStatuses(JSON.parse(golden.text)))).finish(),
      ),
      Buffer.from(golden.bin),
      `${name}.json encodes back to the same bytes`,
    );
  }
});

// Fuzz.

/** The IClientMessage of a decoded value: encoding it again must decode to the same value. */
function toProto(message: DecodedClientMessage): stampede.v1.IClientMessage {
  switch (message.kind) {
    case 'authenticate':
      return { requestId: message.requestId, authenticate: { token: message.token } };
    case 'placeOrder':
      return {
        requestId: message.requestId,
        placeOrder: {
          lines: message.lines,
          totalMinor: message.totalMinor,
          buyerId: message.buyerId ?? null,
        },
      };
    case 'pay':
    case 'cancel':
    case 'subscribe':
      return {
        requestId: message.requestId,
        [message.kind]: { orderId: message.orderId, buyerId: message.buyerId ?? null },
      };
    case 'ping':
      return { requestId: message.requestId, ping: { clientTimeMs: message.clientTimeMs } };
    case 'batch':
      return { requestId: message.requestId, batch: { messages: message.messages.map(toProto) } };
    default: {
      const unreachable: never = message;
      throw new Error(`toProto: ${String(unreachable)}`);
    }
  }
}

function encodeClient(message: DecodedClientMessage, isBinary: boolean, longsAsStrings: boolean): Uint8Array {
  const proto = ClientMessage.fromObject(toProto(message));
  return isBinary
    ? ClientMessage.encode(proto).finish()
    : text(ClientMessage.toObject(proto, { longs: longsAsStrings ? String : Number }));
}

function randomValid(random: SeededRandom, inBatch: boolean): DecodedClientMessage {
  const edge = (max: number, min = 0): number =>
    random.pick([min, min + 1, max, max - 1, random.int(min, Math.min(max, 2 ** 32))]);
  const requestId = edge(protoLimits.float64IntegerMax, 1);
  const buyer = (): { buyerId?: number } =>
    random.chance(0.5) ? { buyerId: edge(protoLimits.wordValueMax, 1) } : {};
  const kinds = inBatch
    ? (['placeOrder', 'pay', 'cancel', 'subscribe', 'ping'] as const)
    : (['authenticate', 'placeOrder', 'pay', 'cancel', 'subscribe', 'ping', 'batch'] as const);
  const kind = random.pick(kinds);
  switch (kind) {
    case 'authenticate':
      return { kind, requestId, token: random.pick(['', 'token', 'é✓😀', 'x'.repeat(300)]) };
    case 'placeOrder':
      return {
        kind,
        requestId,
        ...buyer(),
        totalMinor: edge(protoLimits.float64IntegerMax),
        lines: Array.from({ length: random.int(0, protoLimits.linesPerCommandMax) }, () => ({
          skuId: edge(protoLimits.wordValueMax),
          quantity: edge(protoLimits.wordValueMax),
          unitPriceMinor: edge(protoLimits.wordValueMax),
        })),
      };
    case 'pay':
    case 'cancel':
    case 'subscribe':
      return { kind, requestId, orderId: edge(protoLimits.float64IntegerMax), ...buyer() };
    case 'ping':
      return {
        kind,
        requestId,
        clientTimeMs: random.pick([0, -1.5, t0Ms + random.next(), Number.MAX_VALUE]),
      };
    case 'batch':
      return {
        kind,
        requestId,
        messages: Array.from(
          { length: random.int(1, 6) },
          () => randomValid(random, true) as DecodedBatchableMessage,
        ),
      };
    default: {
      const unreachable: never = kind;
      throw new Error(`randomValid: ${String(unreachable)}`);
    }
  }
}

const jsonOddities: unknown[] = [
  null,
  true,
  -1,
  0,
  1.5,
  2 ** 31,
  2 ** 53,
  '12',
  '-3',
  'x',
  '',
  [],
  {},
  [{}],
  'é'.repeat(50),
];
const keyOddities = [
  'requestId',
  'request_id',
  'placeOrder',
  'lines',
  'skuId',
  'batch',
  'messages',
  'refund',
  '__proto__',
  'constructor',
  '',
];

/** One structural change somewhere in a parsed JSON frame: replace, delete or add a field, or wrap a value. */
function mutateJson(random: SeededRandom, value: unknown): unknown {
  if (typeof value !== 'object' || value === null)
    return random.chance(0.5) ? random.pick(jsonOddities) : value;
  const container = value as Record<string, unknown>;
  const keys = Object.keys(container);
  const choice = random.int(0, 4);
  if (keys.length === 0 || choice === 0) {
    container[random.pick(keyOddities)] = random.pick(jsonOddities);
  } else {
    const key = random.pick(keys);
    if (choice === 1) delete container[key];
    else if (choice === 2) container[key] = random.pick(jsonOddities);
    else if (choice === 3) container[key] = [container[key]];
    else container[key] = mutateJson(random, container[key]);
  }
  return value;
}

function mutateBytes(random: SeededRandom, source: Uint8Array, isBinary: boolean): Uint8Array {
  let bytes = Uint8Array.from(source);
  const jsonChars = new TextEncoder().encode('{}[]":,-.0123456789eE+tfn\\u ');
  for (let m = random.int(1, 3); m > 0 && bytes.length > 0; m--) {
    const at = random.int(0, bytes.length - 1);
    bytes[at] = isBinary || random.chance(0.2) ? random.int(0, 255) : random.pick([...jsonChars]);
  }
  if (random.chance(0.2)) bytes = bytes.subarray(0, random.int(0, bytes.length));
  if (random.chance(0.1)) {
    const at = random.int(0, bytes.length);
    const insert = Uint8Array.from({ length: random.int(1, 8) }, () => random.int(0, 255));
    bytes = Uint8Array.from([...bytes.subarray(0, at), ...insert, ...bytes.subarray(at)]);
  }
  return bytes;
}

/** What must hold for any successful decode: every value within its range. */
function checkDecoded(message: DecodedClientMessage, inBatch: boolean): string | null {
  const int = (value: number, min: number, max: number): boolean =>
    Number.isInteger(value) && value >= min && value <= max;
  if (!int(message.requestId, 1, protoLimits.float64IntegerMax)) return 'requestId';
  if ('buyerId' in message && !int(message.buyerId!, 1, protoLimits.wordValueMax)) return 'buyerId';
  switch (message.kind) {
    case 'authenticate':
      return inBatch ? 'authenticate in a batch' : null;
    case 'placeOrder':
      if (!int(message.totalMinor, 0, protoLimits.float64IntegerMax)) return 'totalMinor';
      if (message.lines.length > protoLimits.linesPerCommandMax) return 'lines';
      for (const line of message.lines) {
        for (const value of [line.skuId, line.quantity, line.unitPriceMinor])
          if (!int(value, 0, protoLimits.wordValueMax)) return 'line';
      }
      return null;
    case 'pay':
    case 'cancel':
    case 'subscribe':
      return int(message.orderId, 0, protoLimits.float64IntegerMax) ? null : 'orderId';
    case 'ping':
      return Number.isFinite(message.clientTimeMs) ? null : 'clientTimeMs';
    case 'batch':
      if (inBatch) return 'batch in a batch';
      if (message.messages.length < 1 || message.messages.length > protoLimits.batchMessagesMax)
        return 'messages';
      for (const inner of message.messages) {
        const wrong = checkDecoded(inner, true);
        if (wrong !== null) return `messages: ${wrong}`;
      }
      return null;
    default: {
      const unreachable: never = message;
      return `kind ${String(unreachable)}`;
    }
  }
}

t.test(
  'fuzz: random and mutated frames of both kinds never throw, and every answer is coded and sendable',
  async (t) => {
    const seed = seedFromEnv();
    t.comment(`fuzz SEED=${seed} (replay: SEED=${seed} npx tap proto/client-codec.test.ts)`);
    const random = new SeededRandom(seed);
    const iterations = Number(process.env.FUZZ_ITERATIONS ?? 20_000);
    const counts: Record<string, number> = {
      ok: 0,
      roundTrips: 0,
      BAD_FRAME: 0,
      BAD_COMMAND: 0,
      UNKNOWN_MESSAGE: 0,
      FRAME_TOO_LARGE: 0,
    };
    const fail = (i: number, frame: Uint8Array, isBinary: boolean, what: string): void => {
      const shown = isBinary ? Buffer.from(frame).toString('hex') : Buffer.from(frame).toString('utf8');
      t.fail(`SEED=${seed} iteration ${i} (${isBinary ? 'binary' : 'text'} ${shown.slice(0, 400)}): ${what}`);
    };
    for (let i = 0; i < iterations; i++) {
      const isBinary = random.chance(0.5);
      // Valid messages first: they must decode to themselves in both kinds, 64-bit values as numbers or strings.
      const valid = randomValid(random, false);
      const validFrame = encodeClient(valid, isBinary, random.chance(0.5));
      const again = decodeClientFrame(validFrame, isBinary);
      if (!again.ok || JSON.stringify(again.message) !== JSON.stringify(valid)) {
        fail(i, validFrame, isBinary, `a valid message did not decode to itself: ${JSON.stringify(again)}`);
        return;
      }
      counts.roundTrips!++;

      let frame: Uint8Array;
      const shape = random.int(0, 9);
      if (shape === 0) {
        frame = Uint8Array.from({ length: random.int(0, 64) }, () => random.int(0, 255));
      } else if (shape === 1) {
        frame = new Uint8Array(protoLimits.clientFrameBytesMax + random.int(1, 100));
      } else if (!isBinary && shape <= 5) {
        const parsed: unknown = JSON.parse(new TextDecoder().decode(validFrame));
        frame = text(mutateJson(random, parsed));
      } else {
        frame = mutateBytes(random, validFrame, isBinary);
      }
      let result: ClientFrameResult;
      try {
        result = decodeClientFrame(frame, isBinary);
      } catch (error) {
        fail(i, frame, isBinary, `threw ${String(error)}`);
        return;
      }
      if (result.ok) {
        counts.ok!++;
        const wrong = checkDecoded(result.message, false);
        if (wrong !== null) {
          fail(i, frame, isBinary, `decoded out of range (${wrong}): ${JSON.stringify(result.message)}`);
          return;
        }
        // A decoded value encodes and decodes to itself.
        const reencoded = decodeClientFrame(encodeClient(result.message, isBinary, false), isBinary);
        if (!reencoded.ok || JSON.stringify(reencoded.message) !== JSON.stringify(result.message)) {
          fail(i, frame, isBinary, `did not survive a round trip: ${JSON.stringify(reencoded)}`);
          return;
        }
        continue;
      }
      counts[result.code] = (counts[result.code] ?? 0) + 1;
      if (
        /internal/.test(result.message) ||
        result.message === '' ||
        !(result.requestId === 0 || result.requestId >= 1)
      ) {
        fail(i, frame, isBinary, `a refusal that is not a proper answer: ${JSON.stringify(result)}`);
        return;
      }
      try {
        const error = {
          kind: 'error',
          requestId: result.requestId,
          code: result.code,
          message: result.message,
          retryAfterMs: 0,
        } as const;
        const sent = ServerMessage.decode(encodeServerMessage(error, true)).error?.message;
        const sentAsText = (JSON.parse(encodeServerMessage(error, false)) as { error: { message: string } })
          .error.message;
        if (sent !== result.message.toWellFormed() || sentAsText !== sent) throw new Error(`sent ${sent}`);
      } catch (error) {
        fail(i, frame, isBinary, `its Error answer could not be sent: ${String(error)}`);
        return;
      }
    }
    t.ok(
      Object.values(counts).every((count) => count > 0),
      `SEED=${seed}: ${JSON.stringify(counts)} (every outcome reached)`,
    );
  },
);

t.test(
  'order answers, updates, subscriptions and batches are written to the same bytes protobufjs writes (seeded)',
  async (t) => {
    const seed = seedFromEnv();
    t.comment(`SEED=${seed} (replay: SEED=${seed} npx tap proto/client-codec.test.ts)`);
    const random = new SeededRandom(seed);
    const results = Object.values(ResultCode);
    const statuses = Object.values(OrderStatus);
    // Varint edges (1, 2, 5 and 8 bytes) and anything up to 2^53 - 1.
    const integer = (max: number): number =>
      random.pick(
        [0, 1, 127, 128, 16_383, 16_384, 2 ** 32 - 1, 2 ** 32, 2 ** 35, max, random.int(0, max)].filter(
          (n) => n <= max,
        ),
      );
    const texts = ['', 'sold out', 'stock é ✓ 🚀', 'lone \ud800 surrogate', 'x'.repeat(200)];
    // Half the orders repeat a recent one under a new request id, as a sale's sold-out answers do:
    // the encoder writes those from the body it remembers, and must write the same bytes.
    const recentOrders: ServerMessageInput[] = [];
    const order = (): ServerMessageInput => {
      if (recentOrders.length > 0 && random.chance(0.5))
        return { ...random.pick(recentOrders), requestId: integer(protoLimits.float64IntegerMax) };
      const fresh = newOrder();
      recentOrders[random.int(0, Math.min(recentOrders.length, 2))] = fresh;
      return fresh;
    };
    const newOrder = (): ServerMessageInput => ({
      kind: 'order',
      requestId: integer(protoLimits.float64IntegerMax),
      result: random.pick(results),
      orderId: integer(protoLimits.float64IntegerMax),
      status: random.pick(statuses),
      // Not -0: the JSON the reference goes through has no -0.
      expiresAtMs: random.pick([0, 1.5, -3, Date.now(), Number.MAX_VALUE]),
      totalMinor: integer(protoLimits.float64IntegerMax),
      skuId: integer(2 ** 32 - 1),
      message: random.pick(texts),
      mayReturn: random.chance(0.5),
    });
    const update = (): ServerMessageInput => ({
      kind: 'update',
      requestId: random.chance(0.8) ? 0 : integer(protoLimits.float64IntegerMax),
      orderId: integer(protoLimits.float64IntegerMax),
      buyerId: integer(2 ** 32 - 1),
      status: random.pick(statuses),
      previous: random.pick(statuses),
      code: random.pick(results),
      atMs: random.pick([0, 1.5, -3, Date.now(), Number.MAX_VALUE]),
      seq: integer(protoLimits.float64IntegerMax),
    });
    const subscribed = (): ServerMessageInput => ({
      kind: 'subscribed',
      requestId: integer(protoLimits.float64IntegerMax),
      orderId: integer(protoLimits.float64IntegerMax),
      status: random.pick(statuses),
    });
    const handWritten = (): ServerMessageInput => random.pick([order, order, update, subscribed])();
    const other = (): ServerMessageInput =>
      random.chance(0.5)
        ? {
            kind: 'error',
            requestId: integer(1000),
            code: 'BUSY',
            message: random.pick(texts),
            retryAfterMs: 5,
          }
        : { kind: 'pong', requestId: integer(1000), clientTimeMs: 1, serverTimeMs: 2 };
    const viaProtobufjs = (message: ServerMessageInput): Uint8Array =>
      ServerMessage.encode(
        ServerMessage.fromObject(protoStatuses(JSON.parse(encodeServerMessage(message, false)))),
      ).finish();
    let mismatches = 0;
    for (let i = 0; i < 2_000; i++) {
      const message: ServerMessageInput = random.chance(0.3)
        ? handWritten()
        : {
            kind: 'batch',
            requestId: integer(protoLimits.float64IntegerMax),
            answers: Array.from({ length: random.int(0, 40) }, () =>
              random.chance(0.9) ? handWritten() : other(),
            ),
          };
      const bytes = Buffer.from(encodeServerMessage(message, true)).toString('hex');
      const expected = Buffer.from(viaProtobufjs(message)).toString('hex');
      if (bytes !== expected && mismatches++ < 3)
        t.fail(
          `SEED=${seed} message ${i}: ${JSON.stringify(message).slice(0, 300)}\n got ${bytes}\nwant ${expected}`,
        );
    }
    t.equal(mismatches, 0, 'every message byte for byte');
    t.throws(
      () =>
        encodeServerMessage(
          { ...(order() as object), kind: 'order', result: 999 } as ServerMessageInput,
          true,
        ),
      /message\.result must be a ResultCode, got 999/,
      'an impossible value is still refused by name',
    );
    t.throws(
      () =>
        encodeServerMessage(
          {
            kind: 'batch',
            requestId: 1,
            answers: [order(), { ...(order() as object), skuId: -1 } as ServerMessageInput],
          },
          true,
        ),
      /message\.answers\[1\]\.skuId must be an integer/,
      'in a batch too, with its index',
    );
    const soldOut = order();
    encodeServerMessage(soldOut, true);
    t.throws(
      () => encodeServerMessage({ ...soldOut, requestId: -1 } as ServerMessageInput, true),
      /message\.requestId must be an integer/,
      'an answer like the one remembered is still refused for a bad request id',
    );
    const negativeZero = { ...(newOrder() as object), expiresAtMs: -0 } as ServerMessageInput;
    const alone = Buffer.from(encodeServerMessage(negativeZero, true)).toString('hex');
    encodeServerMessage(newOrder(), true);
    encodeServerMessage({ ...negativeZero, expiresAtMs: 0 } as ServerMessageInput, true);
    t.equal(
      Buffer.from(encodeServerMessage(negativeZero, true)).toString('hex'),
      alone,
      'an expiry of -0 is not the remembered answer with 0',
    );
    t.throws(
      () =>
        encodeServerMessage(
          { ...(update() as object), kind: 'update', atMs: Number.NaN } as ServerMessageInput,
          true,
        ),
      /message\.atMs must be a finite number, got NaN/,
      'an update is checked by field name',
    );
    t.throws(
      () =>
        encodeServerMessage(
          {
            kind: 'batch',
            requestId: 1,
            answers: [subscribed(), { ...(subscribed() as object), status: 99 } as ServerMessageInput],
          },
          true,
        ),
      /message\.answers\[1\]\.status must be an OrderStatus, got 99/,
      'so is a subscription in a batch',
    );
  },
);

t.test(
  'batches of places, payments and subscriptions read on the fast path decode exactly as the full path does (seeded)',
  async (t) => {
    const seed = seedFromEnv();
    t.comment(`SEED=${seed} (replay: SEED=${seed} npx tap proto/client-codec.test.ts)`);
    const random = new SeededRandom(seed);
    const varint = (value: number): number[] => {
      const out: number[] = [];
      while (value >= 0x80) {
        out.push((value % 0x80) | 0x80);
        value = Math.floor(value / 0x80);
      }
      out.push(value);
      return out;
    };
    const field = (tag: number, body: Uint8Array): number[] => [
      ...varint(tag),
      ...varint(body.length),
      ...body,
    ];
    // Edge values of each range, and past them (the full path must then decide).
    // Mostly a plain valid value; now and then an edge, or a value past it, or nothing.
    const pick = (values: number[]): number => (random.chance(0.97) ? values[1]! : random.pick(values));
    const maybe = (value: number): number | null => (random.chance(0.01) ? null : value);
    const place = (): Uint8Array => {
      const lines = Array.from({ length: random.chance(0.1) ? random.int(0, 10) : 1 }, () => ({
        skuId: maybe(pick([0, 7, 1, 2 ** 31 - 1, 2 ** 31])),
        quantity: maybe(pick([0, 1, 2, 2 ** 31 - 1])),
        unitPriceMinor: maybe(pick([0, 1999, 2 ** 31 - 1, 2 ** 31, -1])),
      }));
      const message = ClientMessage.encode({
        requestId: maybe(pick([0, 1e9 + random.int(0, 1e6), 1, 2 ** 53 - 1, 2 ** 53])),
        placeOrder: {
          lines,
          totalMinor: maybe(pick([0, 1999, 2 ** 53 - 1, -1])),
          buyerId: random.chance(0.05)
            ? null
            : pick([0, 100_000 + random.int(0, 1e5), 1, 2 ** 31 - 1, 2 ** 31]),
        },
      }).finish();
      // Sometimes the request id again after the body (a duplicate, or the only one): valid protobuf, last wins.
      if (random.chance(0.02)) return Uint8Array.from([...message, 0x08, ...varint(random.int(1, 1e6))]);
      return message;
    };
    // Pay, cancel and subscribe take the fast path too; ping (and anything else) goes the full way.
    const other = (): Uint8Array => {
      if (random.chance(0.1))
        return ClientMessage.encode({ requestId: 6, ping: { clientTimeMs: 1 } }).finish();
      const body = {
        orderId: maybe(pick([0, 1000 + random.int(0, 1e6), 1, 2 ** 53 - 1, 2 ** 53])),
        buyerId: random.chance(0.3) ? null : pick([0, 100_000 + random.int(0, 1e5), 1, 2 ** 31 - 1, 2 ** 31]),
      };
      const requestId = pick([0, 2 ** 42 + random.int(0, 1e6), 1]);
      const kind = random.pick(['pay', 'cancel', 'subscribe'] as const);
      return ClientMessage.encode({ requestId, [kind]: body }).finish();
    };
    const frame = (): Uint8Array => {
      const messages = Array.from({ length: random.chance(0.05) ? 0 : random.int(1, 12) }, () =>
        random.chance(0.8) ? place() : other(),
      );
      const batch = Uint8Array.from(messages.flatMap((m) => field(0x0a, m)));
      const requestId = random.chance(0.05)
        ? []
        : [0x08, ...varint(pick([0, 1, 2 ** 40 + random.int(0, 1e6)]))];
      const bytes = [...requestId, ...field((16 << 3) | 2, batch)];
      if (random.chance(0.05)) bytes.push(0x10, 0x01); // an unknown field the full path skips
      return Uint8Array.from(bytes);
    };
    const mutate = (bytes: Uint8Array): Uint8Array => {
      const copy = Uint8Array.from(bytes);
      if (random.chance(0.5)) return copy.subarray(0, random.int(0, copy.length));
      copy[random.int(0, copy.length - 1)] = random.int(0, 255);
      return copy;
    };
    let fast = 0;
    let mismatches = 0;
    for (let i = 0; i < 3_000; i++) {
      const limits = random.chance(0.2)
        ? clientFrameLimits({ batchMessagesMax: random.int(1, 4), linesPerOrderMax: random.int(1, 3) })
        : clientFrameLimitsDefault;
      let bytes = frame();
      if (random.chance(0.3)) bytes = mutate(bytes);
      const quick = decodeCommandBatch(bytes, limits);
      const full = decodeClientFrameInFull(bytes, true, limits);
      const served = decodeClientFrame(bytes, true, limits);
      if (quick !== null) fast++;
      const agrees =
        (quick === null || (full.ok && JSON.stringify(full.message) === JSON.stringify(quick))) &&
        JSON.stringify(served) === JSON.stringify(full);
      if (!agrees && mismatches++ < 3)
        t.fail(
          `SEED=${seed} frame ${i} ${Buffer.from(bytes).toString('hex').slice(0, 200)}: fast ${JSON.stringify(quick)?.slice(0, 200)}, full ${JSON.stringify(full).slice(0, 200)}`,
        );
    }
    t.equal(mismatches, 0, 'the fast path and the full path agree on every frame');
    t.ok(fast > 500, `the fast path read ${fast} of 3,000 frames (the rest went the full way)`);
  },
);
