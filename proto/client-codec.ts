/**
 * Frames of the checkout WebSocket (proto/stampede/v1/client.proto) at the
 * gateway. decodeClientFrame turns one client frame, binary protobuf or JSON
 * text, into a plain DecodedClientMessage, or a coded refusal (BAD_FRAME,
 * FRAME_TOO_LARGE, UNKNOWN_MESSAGE) naming the field; encodeServerMessage
 * turns a plain ServerMessageInput into a frame of the kind the request came
 * in. The server never sees a protobufjs object.
 *
 * Runs on the gateway's network thread, once per frame. Never throws on
 * anything a client sends (fuzzed in client-codec.test.ts), and keeps no
 * reference to the frame's bytes: uWebSockets.js reuses that memory as soon
 * as the message handler returns.
 *
 * Decoding a binary frame is three steps:
 *   1. WireScan: a walk over the wire format driven by clientSchema that
 *      refuses what protobufjs would let through: a known field with the
 *      wrong wire type, invalid UTF-8, groups, two bodies, a Batch inside a
 *      Batch, an unknown body (UNKNOWN_MESSAGE). Its depth is bounded by the
 *      schema (at most five messages deep), whatever the bytes say;
 *   2. the generated stampede.v1.ClientMessage.decode;
 *   3. narrow: presence and ranges (proto/limits.ts), into the plain union.
 * Except the sale's hot frame, a Batch of plain place orders, payments,
 * cancellations and subscriptions, which decodeCommandBatch reads in one pass
 * into the same value (anything less plain goes through the three steps).
 * Likewise order answers, updates and subscriptions are written by hand
 * (encodeBinaryByHand); proto/README.md has both, with their figures.
 * A text frame: strict UTF-8, JSON.parse, fromJson (the proto3 JSON mapping,
 * strictly: unknown or misspelt fields and wrong JSON types are refused, which
 * protobufjs's fromObject would ignore or coerce), then the same narrow.
 *
 * Unknown fields: in JSON they are refused at every depth (there a stranger
 * field is a typo), as BAD_FRAME; only an unknown lowerCamelCase top-level key
 * holding an object is taken for a newer message kind (UNKNOWN_MESSAGE). In binary they are skipped, as protobuf intends, so that
 * an older gateway accepts a newer client's optional additions; the exception
 * is an unknown field number of 10 and up in a ClientMessage: that is a
 * message kind this gateway does not know, and it is UNKNOWN_MESSAGE.
 */
import type { IConversionOptions } from 'protobufjs';
import { OrderStatus, ResultCode, statusName } from '../engine/codes.ts';
import { stampede } from './generated/stampede.js';
import { protoLimits } from './limits.ts';
import { noBytes, WireReader } from './wire-reader.ts';
import { utf8Of, varintBytes, WireWriter } from './wire-writer.ts';

// Decoded client messages

/**
 * The codes decodeClientFrame answers with, as the edge error catalogue
 * (gateways/errors.ts, docs/errors.md) defines them; never rename one.
 */
export const ClientFrameErrorCode = {
  /** Not a client message: malformed protobuf or JSON, or JSON that does not fit the schema (unknown field, wrong type). */
  badFrame: 'BAD_FRAME',
  /** A client message, but a field is missing, out of range or inconsistent (no body, two bodies, a nested batch). */
  badCommand: 'BAD_COMMAND',
  /** A Batch of more than batchMessagesMax messages (ClientFrameLimits). */
  tooManyCommands: 'TOO_MANY_COMMANDS',
  /** Over frameBytesMax (ClientFrameLimits). */
  frameTooLarge: 'FRAME_TOO_LARGE',
  /** A message kind (oneof body) this gateway does not know. */
  unknownMessage: 'UNKNOWN_MESSAGE',
} as const;
export type ClientFrameErrorCode = (typeof ClientFrameErrorCode)[keyof typeof ClientFrameErrorCode];

/** One line of a place order: integers from 0 to 2^31-1 (the engine judges zero and unknown SKUs). */
export interface DecodedOrderLine {
  skuId: number;
  quantity: number;
  unitPriceMinor: number;
}

/**
 * A command a Batch may hold: everything but authenticate (a connection's
 * identity does not change in the middle of a batch) and batch itself.
 * `buyerId` is present only when the client sent a non-zero buyer_id (1 to
 * 2^31-1); 0, the proto3 default some client libraries always write, reads
 * as absent. requestId is from 1 to 2^53-1, order ids and totals from 0 to
 * 2^53-1.
 */
export type DecodedBatchableMessage =
  | {
      kind: 'placeOrder';
      requestId: number;
      buyerId?: number;
      totalMinor: number;
      /** 0 to linesPerOrderMax (8 by default) lines. */
      lines: DecodedOrderLine[];
    }
  | { kind: 'pay'; requestId: number; orderId: number; buyerId?: number }
  | { kind: 'cancel'; requestId: number; orderId: number; buyerId?: number }
  | { kind: 'subscribe'; requestId: number; orderId: number; buyerId?: number }
  /** clientTimeMs: any finite number, echoed in the Pong. */
  | { kind: 'ping'; requestId: number; clientTimeMs: number };

/** One client frame, narrowed: plain values only, every range of proto/limits.ts checked. */
export type DecodedClientMessage =
  | DecodedBatchableMessage
  | { kind: 'authenticate'; requestId: number; token: string }
  /** 1 to batchMessagesMax (256 by default) commands, in order. */
  | { kind: 'batch'; requestId: number; messages: DecodedBatchableMessage[] };

export interface ClientFrameError {
  ok: false;
  code: ClientFrameErrorCode;
  /** Says what was wrong and where (the field path as the client wrote it: lowerCamelCase in JSON, snake_case in binary). */
  message: string;
  /**
   * The frame's request_id when it could be read and is valid, so that the
   * Error answer can echo it; 0 otherwise (the protocol's "no request").
   */
  requestId: number;
}

export type ClientFrameResult = { ok: true; message: DecodedClientMessage } | ClientFrameError;

// The schema, for the wire scan and the JSON walk

export type ClientMessageType =
  | 'ClientMessage'
  | 'Authenticate'
  | 'ClientPlaceOrder'
  | 'OrderLine'
  | 'Pay'
  | 'Cancel'
  | 'Subscribe'
  | 'Ping'
  | 'Batch';

type ScalarKind = 'uint32' | 'uint64' | 'int64' | 'double' | 'string';

export interface ClientFieldSpec {
  readonly number: number;
  /** lowerCamelCase: the JSON name and the generated code's property name. */
  readonly jsonName: string;
  /** As written in client.proto. */
  readonly protoName: string;
  readonly kind: ScalarKind | 'message';
  readonly message?: ClientMessageType;
  readonly repeated?: true;
}

const scalar = (number: number, jsonName: string, protoName: string, kind: ScalarKind): ClientFieldSpec => ({
  number,
  jsonName,
  protoName,
  kind,
});
const message = (
  number: number,
  jsonName: string,
  protoName: string,
  type: ClientMessageType,
  repeated?: true,
): ClientFieldSpec =>
  repeated === undefined
    ? { number, jsonName, protoName, kind: 'message', message: type }
    : { number, jsonName, protoName, kind: 'message', message: type, repeated };

/** Field numbers from this one up in a ClientMessage are message kinds (client.proto's rule). */
const bodyFieldNumberMin = 10;

/**
 * client.proto's client-side messages, field for field (client-codec.test.ts
 * compares this table with the .proto through protobufjs reflection, so the
 * two cannot drift apart). The generated code has no descriptors at run time.
 */
export const clientSchema: Readonly<Record<ClientMessageType, readonly ClientFieldSpec[]>> = Object.freeze({
  ClientMessage: [
    scalar(1, 'requestId', 'request_id', 'uint64'),
    message(10, 'authenticate', 'authenticate', 'Authenticate'),
    message(11, 'placeOrder', 'place_order', 'ClientPlaceOrder'),
    message(12, 'pay', 'pay', 'Pay'),
    message(13, 'cancel', 'cancel', 'Cancel'),
    message(14, 'subscribe', 'subscribe', 'Subscribe'),
    message(15, 'ping', 'ping', 'Ping'),
    message(16, 'batch', 'batch', 'Batch'),
  ],
  Authenticate: [scalar(1, 'token', 'token', 'string')],
  ClientPlaceOrder: [
    message(1, 'lines', 'lines', 'OrderLine', true),
    scalar(2, 'totalMinor', 'total_minor', 'int64'),
    scalar(3, 'buyerId', 'buyer_id', 'uint32'),
  ],
  OrderLine: [
    scalar(1, 'skuId', 'sku_id', 'uint32'),
    scalar(2, 'quantity', 'quantity', 'uint32'),
    scalar(3, 'unitPriceMinor', 'unit_price_minor', 'int64'),
  ],
  Pay: [scalar(1, 'orderId', 'order_id', 'uint64'), scalar(2, 'buyerId', 'buyer_id', 'uint32')],
  Cancel: [scalar(1, 'orderId', 'order_id', 'uint64'), scalar(2, 'buyerId', 'buyer_id', 'uint32')],
  Subscribe: [scalar(1, 'orderId', 'order_id', 'uint64'), scalar(2, 'buyerId', 'buyer_id', 'uint32')],
  Ping: [scalar(1, 'clientTimeMs', 'client_time_ms', 'double')],
  Batch: [message(1, 'messages', 'messages', 'ClientMessage', true)],
});

const bodyFields = clientSchema.ClientMessage.filter((field) => field.number >= bodyFieldNumberMin);
const fieldsByNumber = new Map<ClientMessageType, Map<number, ClientFieldSpec>>();
const fieldsByJsonName = new Map<ClientMessageType, Map<string, ClientFieldSpec>>();
const fieldsByProtoName = new Map<ClientMessageType, Map<string, ClientFieldSpec>>();
/** jsonName -> protoName, for error paths in binary frames (one proto name per JSON name: tested). */
const protoNames = new Map<string, string>();
for (const [type, fields] of Object.entries(clientSchema) as [ClientMessageType, ClientFieldSpec[]][]) {
  fieldsByNumber.set(type, new Map(fields.map((field) => [field.number, field])));
  fieldsByJsonName.set(type, new Map(fields.map((field) => [field.jsonName, field])));
  fieldsByProtoName.set(type, new Map(fields.map((field) => [field.protoName, field])));
  for (const field of fields) protoNames.set(field.jsonName, field.protoName);
}

const WireType = {
  varint: 0,
  fixed64: 1,
  lengthDelimited: 2,
  startGroup: 3,
  endGroup: 4,
  fixed32: 5,
} as const;

const wireTypeOf = (kind: ClientFieldSpec['kind']): number => {
  switch (kind) {
    case 'uint32':
    case 'uint64':
    case 'int64':
      return WireType.varint;
    case 'double':
      return WireType.fixed64;
    case 'string':
    case 'message':
      return WireType.lengthDelimited;
    default: {
      const unreachable: never = kind;
      throw new Error(`wireTypeOf: unhandled kind ${String(unreachable)}`);
    }
  }
};

// Refusals

/** Thrown inside this module only, and always caught by decodeClientFrame. */
class Rejection extends Error {
  readonly code: ClientFrameErrorCode;

  constructor(code: ClientFrameErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

const badFrame = (message: string): Rejection => new Rejection(ClientFrameErrorCode.badFrame, message);
const badCommand = (message: string): Rejection => new Rejection(ClientFrameErrorCode.badCommand, message);

/** Client text in a message is quoted and cut short: the answer must stay small and printable. */
const quote = (text: string): string => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);

function describe(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * Field paths as the client wrote them: `placeOrder.lines[1].skuId` in JSON,
 * `place_order.lines[1].sku_id` in binary. A field's path is built only when
 * refusing it; on the accepting path only a nested JSON message and a Batch
 * element carry theirs.
 */
type Naming = 'json' | 'proto';

const nameIn = (naming: Naming, jsonName: string): string =>
  naming === 'json' ? jsonName : protoNames.get(jsonName)!;

/** `path.a[index].b` in the frame's naming; index -1 and b undefined are left out. */
function show(naming: Naming, path: string, a: string, index = -1, b?: string): string {
  let at = path === '' ? nameIn(naming, a) : `${path}.${nameIn(naming, a)}`;
  if (index >= 0) at += `[${index}]`;
  if (b !== undefined) at += `.${nameIn(naming, b)}`;
  return at;
}

const inMessage = (path: string): string => (path === '' ? '' : `${path}: `);

// Decoding

/**
 * The limits a deployment may set (gateways/config.ts: wsPayloadBytesMax,
 * commandsPerFrameMax, linesPerOrderMax). Build them with clientFrameLimits,
 * once at start-up; the defaults are proto/limits.ts's.
 */
export interface ClientFrameLimits {
  /** Largest frame decoded, in bytes; larger is FRAME_TOO_LARGE before any parsing. */
  frameBytesMax: number;
  /** Messages in one Batch; more is TOO_MANY_COMMANDS. */
  batchMessagesMax: number;
  /** Lines in one place order; more is BAD_COMMAND. At most what the command slot holds. */
  linesPerOrderMax: number;
}

export const clientFrameLimitsDefault: Readonly<ClientFrameLimits> = Object.freeze({
  frameBytesMax: protoLimits.clientFrameBytesMax,
  batchMessagesMax: protoLimits.batchMessagesMax,
  linesPerOrderMax: protoLimits.linesPerCommandMax,
});

/** Checks and freezes limits for decodeClientFrame; a value out of range is a RangeError naming it. */
export function clientFrameLimits(overrides: Partial<ClientFrameLimits> = {}): Readonly<ClientFrameLimits> {
  const limits = { ...clientFrameLimitsDefault, ...overrides };
  const check = (name: keyof ClientFrameLimits, max: number): void => {
    const value = limits[name];
    if (!Number.isSafeInteger(value) || value < 1 || value > max) {
      throw new RangeError(`${name} must be an integer from 1 to ${max}, got ${String(value)}`);
    }
  };
  check('frameBytesMax', 2 ** 31 - 1);
  check('batchMessagesMax', 2 ** 31 - 1);
  // The command slot (engine/layout.ts) holds no more; a larger setting could not be carried.
  check('linesPerOrderMax', protoLimits.linesPerCommandMax);
  return Object.freeze(limits);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one frame. isBinary is the WebSocket frame's opcode (uWebSockets.js
 * passes it to the message handler): binary frames are protobuf, text frames
 * the protobuf JSON mapping.
 */
export function decodeClientFrame(
  data: ArrayBuffer | Uint8Array,
  isBinary: boolean,
  limits: Readonly<ClientFrameLimits> = clientFrameLimitsDefault,
): ClientFrameResult {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length > limits.frameBytesMax) {
    return {
      ok: false,
      code: ClientFrameErrorCode.frameTooLarge,
      message: `a frame of ${bytes.length} bytes is over the limit of ${limits.frameBytesMax}`,
      requestId: 0,
    };
  }
  if (isBinary) {
    const batch = decodeCommandBatch(bytes, limits);
    if (batch !== null) return { ok: true, message: batch };
  }
  return decodeClientFrameInFull(bytes, isBinary, limits);
}

/** decodeClientFrame without the fast path (decodeCommandBatch): every frame walked, decoded and narrowed. */
export function decodeClientFrameInFull(
  bytes: Uint8Array,
  isBinary: boolean,
  limits: Readonly<ClientFrameLimits>,
): ClientFrameResult {
  // Read as early as possible, so that a refusal can still be matched to its request.
  let requestId: number | undefined;
  try {
    if (isBinary) {
      const scan = new WireScan(bytes);
      try {
        scan.message('ClientMessage', bytes.length, false);
      } finally {
        requestId = scan.requestId;
      }
      let decoded: stampede.v1.ClientMessage;
      try {
        decoded = stampede.v1.ClientMessage.decode(bytes);
      } catch (error) {
        // Not expected after the scan; protobufjs throws Error / RangeError on malformed input.
        throw badFrame(`malformed protobuf: ${error instanceof Error ? error.message : String(error)}`);
      }
      return { ok: true, message: narrow(decoded, 'proto', '', false, limits) };
    }
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      throw badFrame('text frame is not valid UTF-8');
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw badFrame(`text frame is not JSON (${error instanceof Error ? error.message : 'unparsable'})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw badFrame(`a text frame holds one JSON object (a ClientMessage), got ${describe(value)}`);
    }
    requestId = jsonRequestId(value);
    const message = fromJson(value, 'ClientMessage', '', false) as stampede.v1.IClientMessage;
    return { ok: true, message: narrow(message, 'json', '', false, limits) };
  } catch (error) {
    const refusal =
      error instanceof Rejection
        ? error
        : // A bug here must not take the connection's thread down: answer, and let the fuzz test find it.
          badFrame(`undecodable frame (internal: ${error instanceof Error ? error.message : String(error)})`);
    // '{' is field 15 with wire type 3 (a group), which no valid ClientMessage starts with.
    const hint =
      isBinary && bytes[0] === 0x7b ? ' (a binary frame starting with "{": JSON goes in a text frame)' : '';
    return { ok: false, code: refusal.code, message: refusal.message + hint, requestId: requestId ?? 0 };
  }
}

/**
 * The frame a checkout backend sends in a sale, a Batch of place orders (and
 * the subscriptions, payments and cancellations that follow them), read in
 * one pass over the bytes into the same DecodedClientMessage the full path
 * makes. Only the plain shape is read here: every field known, none twice,
 * every value present and in range. Anything else (another kind, an unknown or
 * repeated field, a value out of range, malformed bytes) returns null, and the
 * full path decodes the frame, or refuses it with its coded, field-naming
 * error. A seeded test in client-codec.test.ts holds both paths to the same
 * result. Measured: proto/client-codec.bench.ts (figures in proto/README.md).
 */
export function decodeCommandBatch(
  bytes: Uint8Array,
  limits: Readonly<ClientFrameLimits>,
): DecodedClientMessage | null {
  commandReader.bytes = bytes;
  commandReader.at = 0;
  const decoded = readCommandBatch(commandReader, bytes, limits);
  commandReader.bytes = noBytes; // uWS reuses the frame's memory: keep no reference to it
  return decoded;
}

function readCommandBatch(
  reader: CommandReader,
  bytes: Uint8Array,
  limits: Readonly<ClientFrameLimits>,
): DecodedClientMessage | null {
  if (!reader.envelope(bytes.length, CommandTag.batch, CommandTag.batch)) return null;
  const requestId = reader.requestId;
  const batchEnd = reader.bodyEnd;
  const messages: DecodedBatchableMessage[] = [];
  while (reader.at < batchEnd) {
    if (reader.varint(batchEnd) !== CommandTag.message) return null;
    const end = reader.length(batchEnd);
    if (end < 0 || messages.length === limits.batchMessagesMax) return null;
    const message = readCommand(reader, end, limits.linesPerOrderMax);
    if (message === null) return null;
    messages.push(message);
    reader.at = end; // its request_id may follow its body
  }
  if (messages.length === 0) return null;
  return { kind: 'batch', requestId, messages };
}

/** A ClientMessage holding a place order, pay, cancel or subscribe, ending at `end`; null when not plainly that. */
function readCommand(reader: CommandReader, end: number, linesMax: number): DecodedBatchableMessage | null {
  if (!reader.envelope(end, CommandTag.placeOrder, CommandTag.subscribe)) return null;
  const { requestId, bodyEnd } = reader;
  switch (reader.bodyTag) {
    case CommandTag.placeOrder:
      return readPlaceOrder(reader, requestId, bodyEnd, linesMax);
    case CommandTag.pay:
      return readOrderCommand(reader, 'pay', requestId, bodyEnd);
    case CommandTag.cancel:
      return readOrderCommand(reader, 'cancel', requestId, bodyEnd);
    default:
      return readOrderCommand(reader, 'subscribe', requestId, bodyEnd);
  }
}

function readPlaceOrder(
  reader: CommandReader,
  requestId: number,
  end: number,
  linesMax: number,
): DecodedBatchableMessage | null {
  const lines: DecodedOrderLine[] = [];
  let totalMinor = -1;
  let buyerId = -1;
  while (reader.at < end) {
    const tag = reader.varint(end);
    if (tag === CommandTag.line && lines.length < linesMax) {
      const lineEnd = reader.length(end);
      if (lineEnd < 0) return null;
      const line = readLine(reader, lineEnd);
      if (line === null) return null;
      lines.push(line);
    } else if (tag === CommandTag.totalMinor && totalMinor < 0) totalMinor = reader.varint(end);
    else if (tag === CommandTag.placeBuyerId && buyerId < 0) buyerId = reader.varint(end);
    else return null;
    if (reader.at < 0) return null;
  }
  if (totalMinor < 0 || buyerId > protoLimits.wordValueMax) return null;
  // buyer_id 0, proto3's default, reads as absent (optionalBuyerId).
  return buyerId <= 0
    ? { kind: 'placeOrder', requestId, totalMinor, lines }
    : { kind: 'placeOrder', requestId, buyerId, totalMinor, lines };
}

/** Pay, Cancel and Subscribe: order_id (required), buyer_id (optional). */
function readOrderCommand(
  reader: CommandReader,
  kind: 'pay' | 'cancel' | 'subscribe',
  requestId: number,
  end: number,
): DecodedBatchableMessage | null {
  let orderId = -1;
  let buyerId = -1;
  while (reader.at < end) {
    const tag = reader.varint(end);
    if (tag === CommandTag.orderId && orderId < 0) orderId = reader.varint(end);
    else if (tag === CommandTag.orderBuyerId && buyerId < 0) buyerId = reader.varint(end);
    else return null;
    if (reader.at < 0) return null;
  }
  if (orderId < 0 || buyerId > protoLimits.wordValueMax) return null;
  return buyerId <= 0 ? { kind, requestId, orderId } : { kind, requestId, orderId, buyerId };
}

function readLine(reader: CommandReader, end: number): DecodedOrderLine | null {
  let skuId = -1;
  let quantity = -1;
  let unitPriceMinor = -1;
  while (reader.at < end) {
    const tag = reader.varint(end);
    if (tag === CommandTag.lineSkuId && skuId < 0) skuId = reader.varint(end);
    else if (tag === CommandTag.lineQuantity && quantity < 0) quantity = reader.varint(end);
    else if (tag === CommandTag.lineUnitPriceMinor && unitPriceMinor < 0) unitPriceMinor = reader.varint(end);
    else return null;
    if (reader.at < 0) return null;
  }
  const max = protoLimits.wordValueMax;
  if (
    skuId < 0 ||
    skuId > max ||
    quantity < 0 ||
    quantity > max ||
    unitPriceMinor < 0 ||
    unitPriceMinor > max
  )
    return null;
  return { skuId, quantity, unitPriceMinor };
}

const CommandTag = {
  requestId: (1 << 3) | 0,
  batch: (16 << 3) | 2,
  message: (1 << 3) | 2,
  // The batchable bodies, consecutive field numbers: place_order, pay, cancel, subscribe.
  placeOrder: (11 << 3) | 2,
  pay: (12 << 3) | 2,
  cancel: (13 << 3) | 2,
  subscribe: (14 << 3) | 2,
  line: (1 << 3) | 2,
  totalMinor: (2 << 3) | 0,
  placeBuyerId: (3 << 3) | 0,
  lineSkuId: (1 << 3) | 0,
  lineQuantity: (2 << 3) | 0,
  lineUnitPriceMinor: (3 << 3) | 0,
  orderId: (1 << 3) | 0,
  orderBuyerId: (2 << 3) | 0,
} as const;

/** The fast path's reader (wire-reader.ts): varints, lengths, and a ClientMessage's envelope. */
class CommandReader extends WireReader {
  /** The last envelope read: its request_id, its body's tag, and where the body ends. */
  requestId = -1;
  bodyTag = -1;
  bodyEnd = -1;

  /**
   * A ClientMessage ending at `end`: a valid request_id and exactly one body,
   * whose tag lies from `bodyTagMin` to `bodyTagMax` (length-delimited), in
   * either order. Leaves `at` at the body's start; false when not plainly that.
   */
  envelope(end: number, bodyTagMin: number, bodyTagMax: number): boolean {
    let requestId = -1;
    let bodyTag = -1;
    let bodyStart = -1;
    let bodyEnd = -1;
    while (this.at < end) {
      const tag = this.varint(end);
      if (tag === CommandTag.requestId && requestId < 0) requestId = this.varint(end);
      else if (bodyTag < 0 && tag >= bodyTagMin && tag <= bodyTagMax && (tag & 7) === 2) {
        bodyTag = tag;
        bodyEnd = this.length(end);
        bodyStart = this.at;
        this.at = bodyEnd;
      } else return false;
      if (this.at < 0) return false;
    }
    if (requestId < 1 || bodyStart < 0) return false;
    this.requestId = requestId;
    this.bodyTag = bodyTag;
    this.bodyEnd = bodyEnd;
    this.at = bodyStart;
    return true;
  }
}
const commandReader = new CommandReader();

const isValidRequestId = (value: unknown): value is number =>
  typeof value === 'number' &&
  Number.isInteger(value) &&
  value >= 1 &&
  value <= protoLimits.float64IntegerMax;

function jsonRequestId(value: object): number | undefined {
  const raw: unknown = (value as Record<string, unknown>).requestId;
  const id = typeof raw === 'string' && /^[1-9][0-9]{0,15}$/.test(raw) ? Number(raw) : raw;
  return isValidRequestId(id) ? id : undefined;
}

/** A message type's fields by number, as an array (numbers are small). */
const fieldTables = new Map<ClientMessageType, readonly (ClientFieldSpec | undefined)[]>();
for (const [type, byNumber] of fieldsByNumber) {
  const table: (ClientFieldSpec | undefined)[] = [];
  for (const [number, field] of byNumber) table[number] = field;
  fieldTables.set(type, table);
}

/**
 * Step 1 for binary frames: walks the protobuf wire format of a ClientMessage
 * along clientSchema, skipping values rather than decoding them (except the
 * top-level request_id). Recursion follows the schema's message fields only,
 * and a Batch inside a Batch is refused, so the depth is at most five.
 */
class WireScan {
  private readonly bytes: Uint8Array;
  private pos = 0;
  /** The top-level request_id once read, if valid. */
  requestId: number | undefined;
  /** The fields (with their index when repeated, else -1) leading to the message being scanned, for error paths. */
  private readonly trail: ClientFieldSpec[] = [];
  private readonly trailIndexes: number[] = [];

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /** The path of the message being scanned, or of its `field` (at `index`). */
  private path(field?: ClientFieldSpec, index = -1): string {
    let path = '';
    for (let i = 0; i < this.trail.length; i++) {
      path = show('proto', path, this.trail[i]!.jsonName, this.trailIndexes[i]);
    }
    return field === undefined ? path : show('proto', path, field.jsonName, index);
  }

  message(type: ClientMessageType, end: number, inBatch: boolean): void {
    const fields = fieldTables.get(type)!;
    let body: ClientFieldSpec | undefined;
    let repeatedIndex = 0; // each message type has at most one repeated field
    while (this.pos < end) {
      const tag = this.varint(end);
      const number = Math.floor(tag / 8);
      const wireType = tag % 8;
      if (number < 1 || number > 2 ** 29 - 1) {
        throw badFrame(
          `${inMessage(this.path())}malformed protobuf: field number ${number} at byte ${this.pos}`,
        );
      }
      const field = fields[number];
      if (field === undefined) {
        if (type === 'ClientMessage' && number >= bodyFieldNumberMin) {
          throw new Rejection(
            ClientFrameErrorCode.unknownMessage,
            `${inMessage(this.path())}unknown message kind (ClientMessage field ${number}); this gateway knows ${bodyFields.map((f) => `${f.protoName} = ${f.number}`).join(', ')}`,
          );
        }
        this.skip(wireType, end);
        continue;
      }
      const index = field.repeated ? repeatedIndex++ : -1;
      const expected = wireTypeOf(field.kind);
      if (wireType !== expected) {
        throw badFrame(
          `${this.path(field, index)} has wire type ${wireType}, expected ${expected} for a ${field.kind}`,
        );
      }
      switch (field.kind) {
        case 'uint32':
        case 'uint64':
        case 'int64': {
          const value = this.varint(end, field, index);
          if (this.trail.length === 0 && field.number === 1) {
            this.requestId = isValidRequestId(value) ? value : undefined;
          }
          break;
        }
        case 'double':
          this.take(8, end, field, index);
          break;
        case 'string': {
          const length = this.varint(end, field, index);
          const start = this.take(length, end, field, index);
          try {
            utf8.decode(this.bytes.subarray(start, start + length));
          } catch {
            throw badFrame(`${this.path(field, index)} is not valid UTF-8`);
          }
          break;
        }
        case 'message': {
          const length = this.varint(end, field, index);
          const start = this.take(length, end, field, index);
          if (type === 'ClientMessage' && field.number >= bodyFieldNumberMin) {
            if (body !== undefined) {
              throw badCommand(
                `${inMessage(this.path())}more than one body: ${body.protoName} and ${field.protoName}`,
              );
            }
            body = field;
            if (field.message === 'Batch' && inBatch) {
              throw badCommand(`${this.path(field, index)}: a batch cannot hold a batch`);
            }
          }
          this.pos = start;
          this.trail.push(field);
          this.trailIndexes.push(index);
          this.message(field.message!, start + length, inBatch || field.message === 'Batch');
          this.trail.pop();
          this.trailIndexes.pop();
          break;
        }
        default: {
          const unreachable: never = field.kind;
          throw new Error(`WireScan: unhandled kind ${String(unreachable)}`);
        }
      }
    }
  }

  /**
   * A varint as a double: exact below 2^53, and never below 2^53 when the
   * true value is not (rounding is monotonic), so range checks stay right.
   */
  private varint(end: number, field?: ClientFieldSpec, index = -1): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) {
        throw badFrame(`${inMessage(this.path(field, index))}malformed protobuf: truncated varint`);
      }
      const byte = this.bytes[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw badFrame(`${inMessage(this.path(field, index))}malformed protobuf: varint longer than 10 bytes`);
  }

  /** Moves past `length` bytes that must lie before `end`; returns where they start. */
  private take(length: number, end: number, field?: ClientFieldSpec, index = -1): number {
    if (length > end - this.pos) {
      throw badFrame(
        `${inMessage(this.path(field, index))}malformed protobuf: ${length} bytes announced, ${end - this.pos} left`,
      );
    }
    const start = this.pos;
    this.pos += length;
    return start;
  }

  private skip(wireType: number, end: number): void {
    switch (wireType) {
      case WireType.varint:
        this.varint(end);
        return;
      case WireType.fixed64:
        this.take(8, end);
        return;
      case WireType.lengthDelimited:
        this.take(this.varint(end), end);
        return;
      case WireType.fixed32:
        this.take(4, end);
        return;
      default:
        // Groups (3, 4) are proto2 only and none is in the schema; 6 and 7 do not exist.
        throw badFrame(`${inMessage(this.path())}malformed protobuf: wire type ${wireType}`);
    }
  }
}

/**
 * The proto3 JSON mapping, strictly, into the shape protobufjs decodes to
 * (lowerCamelCase keys, 64-bit integers as numbers): field names in
 * lowerCamelCase only; null means absent; integers as JSON numbers or decimal
 * strings; doubles as numbers (or numeric strings). Recursion follows the
 * schema only, and a Batch inside a Batch is refused before walking it.
 *
 * Known leniencies, both from JSON.parse: a duplicated key keeps its last
 * value, and a number above 2^53 has already been rounded (to a value that is
 * still refused as too large).
 */
function fromJson(
  value: object,
  type: ClientMessageType,
  path: string,
  inBatch: boolean,
): Record<string, unknown> {
  const fields = fieldsByJsonName.get(type)!;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item: unknown = (value as Record<string, unknown>)[key];
    const field = fields.get(key);
    if (field === undefined) {
      const snake = fieldsByProtoName.get(type)!.get(key);
      if (
        type === 'ClientMessage' &&
        snake === undefined &&
        jsonMessageKindName.test(key) &&
        typeof item === 'object' &&
        item !== null &&
        !Array.isArray(item)
      ) {
        throw new Rejection(
          ClientFrameErrorCode.unknownMessage,
          `${inMessage(path)}unknown message kind ${quote(key)}; this gateway knows ${bodyFields.map((f) => f.jsonName).join(', ')}`,
        );
      }
      const hint = snake === undefined ? '' : ` (field names are lowerCamelCase: ${snake.jsonName})`;
      throw badFrame(`${inMessage(path)}unknown field ${quote(key)}${hint}`);
    }
    if (item === null) continue;
    if (field.repeated) {
      if (!Array.isArray(item))
        throw badFrame(`${show('json', path, key)} must be a list, got ${describe(item)}`);
      const elements: unknown[] = [];
      for (let i = 0; i < item.length; i++) elements.push(jsonMessage(item[i], field, path, i, inBatch));
      out[key] = elements;
    } else if (field.kind === 'message') {
      out[key] = jsonMessage(item, field, path, -1, inBatch);
    } else {
      out[key] = jsonScalar(item, field.kind, path, key);
    }
  }
  return out;
}

function jsonMessage(
  value: unknown,
  field: ClientFieldSpec,
  path: string,
  index: number,
  inBatch: boolean,
): unknown {
  const type = field.message!;
  const at = show('json', path, field.jsonName, index);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badFrame(`${at} must be an object (${type}), got ${describe(value)}`);
  }
  if (type === 'Batch' && inBatch) throw badCommand(`${at}: a batch cannot hold a batch`);
  return fromJson(value, type, at, inBatch || type === 'Batch');
}

/**
 * What a newer client's message kind looks like in JSON: a lowerCamelCase
 * name (proto3 JSON's form of a field name) holding an object. Any other
 * unknown top-level key (a snake_case spelling of a known kind, `__proto__`,
 * `place-order`) is a mistake, BAD_FRAME, as unknown fields are at any depth.
 */
const jsonMessageKindName = /^[a-z][a-zA-Z0-9]*$/;

const decimalInteger = /^-?(0|[1-9][0-9]*)$/;
const jsonNumberText = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;
const nonFiniteNames = new Set(['NaN', 'Infinity', '-Infinity']);

function jsonScalar(value: unknown, kind: ScalarKind, path: string, key: string): number | string {
  switch (kind) {
    case 'string':
      if (typeof value !== 'string')
        throw badFrame(`${show('json', path, key)} must be a string, got ${describe(value)}`);
      return value;
    case 'double': {
      // proto3 JSON: a number, a numeric string, or "NaN" / "Infinity" / "-Infinity" (which narrow refuses).
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && (jsonNumberText.test(value) || nonFiniteNames.has(value))) {
        return Number(value);
      }
      throw badFrame(`${show('json', path, key)} must be a number, got ${describe(value)}`);
    }
    case 'uint32':
    case 'uint64':
    case 'int64': {
      // proto3 JSON: integers as numbers, or as decimal strings (the canonical form for 64 bits).
      // A number too large for a double (1e400) has become Infinity in JSON.parse: it is an integer
      // out of range, like 1e30, and narrow refuses both as BAD_COMMAND.
      if (typeof value === 'number' && (Number.isInteger(value) || !Number.isFinite(value))) return value;
      if (typeof value === 'string' && decimalInteger.test(value)) return Number(value);
      throw badFrame(
        `${show('json', path, key)} must be an integer (a number or a decimal string), got ${describe(value)}`,
      );
    }
    default: {
      const unreachable: never = kind;
      throw new Error(`jsonScalar: unhandled kind ${String(unreachable)}`);
    }
  }
}

type BodyKind = DecodedClientMessage['kind'];

/**
 * Step 3, for both frame kinds: presence and ranges, into the plain union.
 * `m` is a decoded stampede.v1.ClientMessage or fromJson's object (whose
 * values have the JSON types the generated interface declares, checked by
 * fromJson); a missing field reads as undefined or null (the generated
 * prototype's default for an `optional` field), either of which is "missing".
 */
function narrow(
  m: stampede.v1.IClientMessage,
  naming: Naming,
  path: string,
  inBatch: boolean,
  limits: Readonly<ClientFrameLimits>,
): DecodedClientMessage {
  const requestId = m.requestId;
  if (!isValidRequestId(requestId)) {
    throw missingOr(
      requestId,
      show(naming, path, 'requestId'),
      `an integer from 1 to ${protoLimits.float64IntegerMax}`,
    );
  }
  let bodies = 0;
  let kind: BodyKind = 'ping';
  if (m.authenticate != null) {
    bodies++;
    kind = 'authenticate';
  }
  if (m.placeOrder != null) {
    bodies++;
    kind = 'placeOrder';
  }
  if (m.pay != null) {
    bodies++;
    kind = 'pay';
  }
  if (m.cancel != null) {
    bodies++;
    kind = 'cancel';
  }
  if (m.subscribe != null) {
    bodies++;
    kind = 'subscribe';
  }
  if (m.ping != null) {
    bodies++;
    kind = 'ping';
  }
  if (m.batch != null) {
    bodies++;
    kind = 'batch';
  }
  if (bodies !== 1) {
    const present = bodyFields.filter((f) => (m as Record<string, unknown>)[f.jsonName] != null);
    const names = (fields: readonly ClientFieldSpec[]): string[] =>
      fields.map((f) => nameIn(naming, f.jsonName));
    throw badCommand(
      bodies === 0
        ? `${inMessage(path)}no body: one of ${names(bodyFields).join(', ')}`
        : `${inMessage(path)}more than one body: ${names(present).join(' and ')}`,
    );
  }
  switch (kind) {
    case 'authenticate': {
      if (inBatch) throw badCommand(`${show(naming, path, kind)}: authenticate cannot be batched`);
      const token = m.authenticate!.token;
      if (typeof token !== 'string')
        throw missingOr(token, show(naming, path, kind, -1, 'token'), 'a string');
      return { kind, requestId, token };
    }
    case 'placeOrder': {
      const body = m.placeOrder!;
      const lines = orderLines(body.lines, naming, path, limits.linesPerOrderMax);
      const totalMinor = integer(
        body.totalMinor,
        0,
        protoLimits.float64IntegerMax,
        naming,
        path,
        kind,
        'totalMinor',
      );
      const buyerId = optionalBuyerId(body.buyerId, naming, path, kind);
      return buyerId === undefined
        ? { kind, requestId, totalMinor, lines }
        : { kind, requestId, buyerId, totalMinor, lines };
    }
    case 'pay':
    case 'cancel':
    case 'subscribe': {
      const body = m[kind]!;
      const orderId = integer(body.orderId, 0, protoLimits.float64IntegerMax, naming, path, kind, 'orderId');
      const buyerId = optionalBuyerId(body.buyerId, naming, path, kind);
      return buyerId === undefined ? { kind, requestId, orderId } : { kind, requestId, orderId, buyerId };
    }
    case 'ping': {
      const clientTimeMs = m.ping!.clientTimeMs;
      if (typeof clientTimeMs !== 'number' || !Number.isFinite(clientTimeMs)) {
        throw missingOr(clientTimeMs, show(naming, path, kind, -1, 'clientTimeMs'), 'a finite number');
      }
      return { kind, requestId, clientTimeMs };
    }
    case 'batch': {
      // Refused earlier by both walks; checked again because the cast below relies on it.
      if (inBatch) throw badCommand(`${show(naming, path, kind)}: a batch cannot hold a batch`);
      const at = show(naming, path, kind, -1, 'messages');
      const messages = m.batch!.messages;
      if (!Array.isArray(messages) || messages.length === 0) {
        throw badCommand(`${at}: a batch holds 1 to ${limits.batchMessagesMax} messages, got none`);
      }
      if (messages.length > limits.batchMessagesMax) {
        throw new Rejection(
          ClientFrameErrorCode.tooManyCommands,
          `${at}: ${messages.length} messages, more than the ${limits.batchMessagesMax} a batch may hold`,
        );
      }
      const decoded: DecodedBatchableMessage[] = [];
      for (let i = 0; i < messages.length; i++) {
        // narrow refuses authenticate and batch when inBatch, so what comes back is batchable.
        decoded.push(narrow(messages[i]!, naming, `${at}[${i}]`, true, limits) as DecodedBatchableMessage);
      }
      return { kind, requestId, messages: decoded };
    }
    default: {
      const unreachable: never = kind;
      throw new Error(`narrow: unhandled body ${String(unreachable)}`);
    }
  }
}

function orderLines(value: unknown, naming: Naming, path: string, linesMax: number): DecodedOrderLine[] {
  // No lines is representable: the engine refuses it as LINES_INVALID, like any business rule.
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw badCommand(`${show(naming, path, 'placeOrder', -1, 'lines')} must be a list`);
  if (value.length > linesMax) {
    throw badCommand(
      `${show(naming, path, 'placeOrder', -1, 'lines')} has ${value.length} lines, more than the ${linesMax} an order may have`,
    );
  }
  const lines: DecodedOrderLine[] = [];
  for (let i = 0; i < value.length; i++) {
    const line = value[i] as stampede.v1.IOrderLine;
    const max = protoLimits.wordValueMax;
    lines.push({
      skuId: integer(line.skuId, 0, max, naming, path, 'placeOrder', 'skuId', i),
      quantity: integer(line.quantity, 0, max, naming, path, 'placeOrder', 'quantity', i),
      // The unit price travels in one Int32 slot word, like the ids (see limits.ts).
      unitPriceMinor: integer(line.unitPriceMinor, 0, max, naming, path, 'placeOrder', 'unitPriceMinor', i),
    });
  }
  return lines;
}

function missingOr(value: unknown, at: string, expected: string): Rejection {
  if (value === undefined || value === null) return badCommand(`${at} is missing`);
  return badCommand(`${at} must be ${expected}, got ${describe(value)}`);
}

/**
 * An integer field of a body (`lineIndex` >= 0: of that order line), from
 * min to max. The path is built only when refusing.
 */
function integer(
  value: unknown,
  min: number,
  max: number,
  naming: Naming,
  path: string,
  body: BodyKind,
  field: string,
  lineIndex = -1,
): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  const at =
    lineIndex < 0
      ? show(naming, path, body, -1, field)
      : `${show(naming, path, body, -1, 'lines')}[${lineIndex}].${nameIn(naming, field)}`;
  throw missingOr(value, at, `an integer from ${min} to ${max}`);
}

/** buyer_id: absent, or 0 (proto3's default, which some libraries always write), is "not given". */
function optionalBuyerId(value: unknown, naming: Naming, path: string, body: BodyKind): number | undefined {
  if (value === undefined || value === null || value === 0) return undefined;
  return integer(value, 1, protoLimits.wordValueMax, naming, path, body, 'buyerId');
}

// Encoding

/**
 * What the server sends, as plain values; enums are the engine's numbers
 * (engine/codes.ts ResultCode and OrderStatus, which are the proto's).
 * requestId is 0 in a push (update) and in an error about a frame whose
 * request id could not be read.
 */
export type ServerMessageInput =
  | { kind: 'authenticated'; requestId: number; role: string; buyerId: number; expiresAtMs: number }
  | {
      kind: 'order';
      requestId: number;
      result: number;
      orderId: number;
      status: number;
      expiresAtMs: number;
      totalMinor: number;
      skuId: number;
      message: string;
      mayReturn: boolean;
    }
  | {
      kind: 'update';
      requestId: number;
      orderId: number;
      buyerId: number;
      status: number;
      previous: number;
      code: number;
      atMs: number;
      seq: number;
    }
  | { kind: 'error'; requestId: number; code: string; message: string; retryAfterMs: number }
  | { kind: 'pong'; requestId: number; clientTimeMs: number; serverTimeMs: number }
  | { kind: 'batch'; requestId: number; answers: readonly ServerMessageInput[] }
  | { kind: 'subscribed'; requestId: number; orderId: number; status: number };

/**
 * The protobuf JSON mapping of text answers, as protobufjs's toObject makes
 * it: lowerCamelCase names, enums as names ("RESULT_CODE_SOLD_OUT"), 64-bit
 * integers as JSON numbers (all below 2^53), and every field present even when
 * zero, so each kind of answer has one shape.
 */
export const serverJsonOptions: Readonly<IConversionOptions> = Object.freeze({
  enums: String,
  longs: Number,
  defaults: true,
});

/**
 * Encodes an answer or a push: protobuf bytes for a binary frame, JSON text
 * for a text frame. Send the returned Uint8Array itself (a view that may share
 * its ArrayBuffer with other answers), never its `.buffer`.
 *
 * The input is the server's own, so a value the schema cannot carry (an
 * unknown result code, a NaN time, a fractional id) is a bug: it throws a
 * TypeError naming the field rather than sending a wrong answer. Strings are
 * made well-formed first, so a message quoting a client's text stays valid UTF-8.
 */
export function encodeServerMessage(message: ServerMessageInput, binary: true): Uint8Array;
export function encodeServerMessage(message: ServerMessageInput, binary: false): string;
export function encodeServerMessage(message: ServerMessageInput, binary: boolean): Uint8Array | string;
export function encodeServerMessage(message: ServerMessageInput, binary: boolean): Uint8Array | string {
  if (binary && (message.kind === 'batch' || isHandWritten(message))) return encodeBinaryByHand(message);
  const proto = serverToProto(message, 'message');
  if (binary) return stampede.v1.ServerMessage.encode(proto).finish();
  return JSON.stringify(serverMessageJson(proto));
}

/**
 * A ServerMessage as a text frame carries it: the protobuf JSON mapping (serverJsonOptions), except that
 * order statuses (`status`, `previous`) are spelled as everywhere else, the seed's way (`checkout_success`,
 * engine/codes.ts statusName), not as the enum's value names (`ORDER_STATUS_CHECKOUT_SUCCESS`), whose
 * prefix protobuf's naming rule needs and a JSON reader does not. Binary frames carry the enum's number.
 */
export function serverMessageJson(message: stampede.v1.IServerMessage): Record<string, unknown> {
  // The generated toObject reads own properties only, so a plain object serves as the message.
  const json = stampede.v1.ServerMessage.toObject(message as stampede.v1.ServerMessage, serverJsonOptions);
  seedStatuses(json);
  return json;
}

type StatusBody = { status?: unknown; previous?: unknown } | undefined;

function seedStatuses(json: { [body: string]: unknown }): void {
  for (const body of [json.order, json.update, json.subscribed] as StatusBody[]) {
    if (body === undefined) continue;
    if (typeof body.status === 'string') body.status = seedStatus(body.status);
    if (typeof body.previous === 'string') body.previous = seedStatus(body.previous);
  }
  const batch = json.batch as { answers?: { [body: string]: unknown }[] } | undefined;
  for (const answer of batch?.answers ?? []) seedStatuses(answer);
}

const seedStatus = (protoName: string): string =>
  statusName(stampede.v1.OrderStatus[protoName as keyof typeof stampede.v1.OrderStatus]);

const resultCodes = new Set<number>(Object.values(ResultCode));
const orderStatuses = new Set<number>(Object.values(OrderStatus));
const uint32Max = 2 ** 32 - 1;
const errorCodePattern = /^[A-Z][A-Z0-9_]*$/;

type OrderInput = Extract<ServerMessageInput, { kind: 'order' }>;
type UpdateInput = Extract<ServerMessageInput, { kind: 'update' }>;
type SubscribedInput = Extract<ServerMessageInput, { kind: 'subscribed' }>;

/**
 * Checks and converts one answer. `at` and `index` name it in an error
 * (`message`, or `message.answers[index]`); the path is only spelled out on
 * a failure, as this runs for every answer and push.
 */
function serverToProto(m: ServerMessageInput, at: string, index = -1): stampede.v1.IServerMessage {
  const requestId = uint(m.requestId, protoLimits.float64IntegerMax, at, index, 'requestId');
  switch (m.kind) {
    case 'authenticated':
      return {
        requestId,
        authenticated: {
          role: text(m.role, at, index, 'role'),
          buyerId: uint(m.buyerId, uint32Max, at, index, 'buyerId'),
          expiresAtMs: finite(m.expiresAtMs, at, index, 'expiresAtMs'),
        },
      };
    case 'order': {
      const message = checkOrder(m, at, index);
      const { result, orderId, status, expiresAtMs, totalMinor, skuId, mayReturn } = m;
      return {
        requestId,
        order: { result, orderId, status, expiresAtMs, totalMinor, skuId, message, mayReturn },
      };
    }
    case 'update': {
      checkUpdate(m, at, index);
      const { orderId, buyerId, status, previous, code, atMs, seq } = m;
      return { requestId, update: { orderId, buyerId, status, previous, code, atMs, seq } };
    }
    case 'error': {
      const code = text(m.code, at, index, 'code');
      if (!errorCodePattern.test(code)) fail(pathOf(at, index, 'code'), 'an UPPER_SNAKE error code', code);
      return {
        requestId,
        error: {
          code,
          message: text(m.message, at, index, 'message'),
          retryAfterMs: uint(m.retryAfterMs, uint32Max, at, index, 'retryAfterMs'),
        },
      };
    }
    case 'pong':
      return {
        requestId,
        pong: {
          clientTimeMs: finite(m.clientTimeMs, at, index, 'clientTimeMs'),
          serverTimeMs: finite(m.serverTimeMs, at, index, 'serverTimeMs'),
        },
      };
    case 'batch':
      if (!Array.isArray(m.answers)) fail(pathOf(at, index, 'answers'), 'a list', m.answers);
      return { requestId, batch: { answers: batchAnswersToProto(m.answers, pathOf(at, index, 'answers')) } };
    case 'subscribed':
      checkSubscribed(m, at, index);
      return { requestId, subscribed: { orderId: m.orderId, status: m.status } };
    default: {
      const unreachable: never = m;
      return fail(pathOf(at, index, ''), 'a ServerMessageInput', (unreachable as { kind?: unknown }).kind);
    }
  }
}

/** Checks an order answer's fields in field order (throws naming the first bad one); returns its message, well-formed. */
function checkOrder(m: OrderInput, at: string, index: number): string {
  member(m.result, resultCodes, 'a ResultCode', at, index, 'result');
  uint(m.orderId, protoLimits.float64IntegerMax, at, index, 'orderId');
  member(m.status, orderStatuses, 'an OrderStatus', at, index, 'status');
  finite(m.expiresAtMs, at, index, 'expiresAtMs');
  uint(m.totalMinor, protoLimits.float64IntegerMax, at, index, 'totalMinor');
  uint(m.skuId, uint32Max, at, index, 'skuId');
  const message = text(m.message, at, index, 'message');
  flag(m.mayReturn, at, index, 'mayReturn');
  return message;
}

function checkUpdate(m: UpdateInput, at: string, index: number): void {
  uint(m.orderId, protoLimits.float64IntegerMax, at, index, 'orderId');
  uint(m.buyerId, uint32Max, at, index, 'buyerId');
  member(m.status, orderStatuses, 'an OrderStatus', at, index, 'status');
  member(m.previous, orderStatuses, 'an OrderStatus', at, index, 'previous');
  member(m.code, resultCodes, 'a ResultCode', at, index, 'code');
  finite(m.atMs, at, index, 'atMs');
  uint(m.seq, protoLimits.float64IntegerMax, at, index, 'seq');
}

function checkSubscribed(m: SubscribedInput, at: string, index: number): void {
  uint(m.orderId, protoLimits.float64IntegerMax, at, index, 'orderId');
  member(m.status, orderStatuses, 'an OrderStatus', at, index, 'status');
}

function batchAnswersToProto(
  answers: readonly ServerMessageInput[],
  at: string,
): stampede.v1.IServerMessage[] {
  const protos = new Array<stampede.v1.IServerMessage>(answers.length);
  for (let i = 0; i < answers.length; i++) protos[i] = serverToProto(answers[i]!, at, i);
  return protos;
}

/** `at.field`, `at[index].field`, or (field '') the message itself. */
function pathOf(at: string, index: number, field: string): string {
  const message = index < 0 ? at : `${at}[${index}]`;
  return field === '' ? message : `${message}.${field}`;
}

function fail(at: string, expected: string, value: unknown): never {
  throw new TypeError(`encodeServerMessage: ${at} must be ${expected}, got ${describe(value)}`);
}

function uint(value: number, max: number, at: string, index: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max)
    fail(pathOf(at, index, field), `an integer from 0 to ${max}`, value);
  return value;
}

function finite(value: number, at: string, index: number, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    fail(pathOf(at, index, field), 'a finite number', value);
  return value;
}

function member(
  value: number,
  known: ReadonlySet<number>,
  expected: string,
  at: string,
  index: number,
  field: string,
): number {
  if (!known.has(value)) fail(pathOf(at, index, field), expected, value);
  return value;
}

function text(value: string, at: string, index: number, field: string): string {
  if (typeof value !== 'string') fail(pathOf(at, index, field), 'a string', value);
  return value.toWellFormed();
}

function flag(value: boolean, at: string, index: number, field: string): boolean {
  if (typeof value !== 'boolean') fail(pathOf(at, index, field), 'a boolean', value);
  return value;
}

/**
 * The messages a sale is made of, written by hand (proto/wire-writer.ts):
 * order answers, order updates (pushes), subscriptions, and batches of any
 * answers. The same bytes protobufjs writes (every field, zeros included, in
 * field-number order; the golden fixtures and a seeded comparison in
 * client-codec.test.ts hold it to that), checked the same way, without
 * protobufjs's allocation per field. Other kinds (errors, pongs,
 * authentication), alone or in a batch, still go through protobufjs.
 * Measured: proto/client-codec.bench.ts (figures in proto/README.md).
 */
type HandWritten = OrderInput | UpdateInput | SubscribedInput;
const isHandWritten = (m: ServerMessageInput): m is HandWritten =>
  m.kind === 'order' || m.kind === 'update' || m.kind === 'subscribed';

/** ServerMessage's fields (subscribed's tag takes two bytes), then each body's (one byte each). */
const ServerTag = {
  requestId: (1 << 3) | 0,
  order: (11 << 3) | 2,
  update: (12 << 3) | 2,
  batch: (15 << 3) | 2,
  subscribed: (16 << 3) | 2,
} as const;
const BatchTag = { answer: (1 << 3) | 2 } as const;
const OrderTag = {
  result: (1 << 3) | 0,
  orderId: (2 << 3) | 0,
  status: (3 << 3) | 0,
  expiresAtMs: (4 << 3) | 1,
  totalMinor: (5 << 3) | 0,
  skuId: (6 << 3) | 0,
  message: (7 << 3) | 2,
  mayReturn: (8 << 3) | 0,
} as const;
const UpdateTag = {
  orderId: (1 << 3) | 0,
  buyerId: (2 << 3) | 0,
  status: (3 << 3) | 0,
  previous: (4 << 3) | 0,
  code: (5 << 3) | 0,
  atMs: (6 << 3) | 1,
  seq: (7 << 3) | 0,
} as const;
const SubscribedTag = { orderId: (1 << 3) | 0, status: (2 << 3) | 0 } as const;

const bodyTagOf = {
  order: ServerTag.order,
  update: ServerTag.update,
  subscribed: ServerTag.subscribed,
} as const;

/**
 * The body of an order answer written earlier, with the fields it was written
 * from. A sale's answers are mostly one answer (sold out, of one SKU) to
 * many requests: an answer equal to it in every field but its request id is
 * written by copying these bytes, not checked and written field by field
 * again (equal by ===, so it holds only values that passed the checks).
 * Measured: proto/client-codec.bench.ts, encode.order-answers.
 */
class RememberedOrderBody {
  private result = -1;
  private orderId = 0;
  private status = 0;
  private expiresAtMs = 0;
  private totalMinor = 0;
  private skuId = 0;
  private message = '';
  private mayReturn = false;
  /** Bodies longer than this (a long message) are not remembered. */
  private readonly buffer = new Uint8Array(128);
  /** The remembered body: a view of `buffer`, empty when none. */
  private body = this.buffer.subarray(0, 0);

  get length(): number {
    return this.body.length;
  }

  matches(m: OrderInput): boolean {
    return (
      this.body.length > 0 &&
      m.result === this.result &&
      m.skuId === this.skuId &&
      m.orderId === this.orderId &&
      m.status === this.status &&
      m.totalMinor === this.totalMinor &&
      Object.is(m.expiresAtMs, this.expiresAtMs) && // -0 is written with its sign
      m.message === this.message &&
      m.mayReturn === this.mayReturn
    );
  }

  /** Remembers `m`, whose body is `body` (checked and written by the caller). */
  remember(m: OrderInput, body: Uint8Array): void {
    if (body.length > this.buffer.length) {
      this.body = this.buffer.subarray(0, 0);
      return;
    }
    this.buffer.set(body);
    this.body = this.buffer.subarray(0, body.length);
    this.result = m.result;
    this.orderId = m.orderId;
    this.status = m.status;
    this.expiresAtMs = m.expiresAtMs;
    this.totalMinor = m.totalMinor;
    this.skuId = m.skuId;
    this.message = m.message;
    this.mayReturn = m.mayReturn;
  }

  /** Writes the remembered body as answer `requestId`'s (the caller sized it: this.length). */
  write(requestId: number): void {
    wire.varint(ServerTag.requestId);
    wire.varint(requestId);
    wire.varint(ServerTag.order);
    wire.varint(this.body.length);
    wire.raw(this.body);
  }
}

const wire = new WireWriter();
const rememberedOrder = new RememberedOrderBody();
const noMessage = new Uint8Array(0);
/** Per batch answer, measured in the first pass and used in the second: its message's UTF-8 (orders), sizes, or protobufjs's bytes. */
const batchMessageUtf8: Uint8Array[] = [];
const batchOthers: (Uint8Array | null)[] = [];
const batchAnswerBytes: number[] = [];
const batchBodyBytes: number[] = [];
/** Per batch answer: whether it is written as the remembered order body. */
const batchRemembered: boolean[] = [];

/** A hand-written answer's body bytes (its message's UTF-8 length for an order); the fields are checked. */
function bodyBytes(m: HandWritten, messageBytes: number): number {
  switch (m.kind) {
    case 'order':
      return (
        8 + // eight one-byte tags
        varintBytes(m.result) +
        varintBytes(m.orderId) +
        varintBytes(m.status) +
        8 +
        varintBytes(m.totalMinor) +
        varintBytes(m.skuId) +
        varintBytes(messageBytes) +
        messageBytes +
        1
      );
    case 'update':
      return (
        7 + // seven one-byte tags
        varintBytes(m.orderId) +
        varintBytes(m.buyerId) +
        varintBytes(m.status) +
        varintBytes(m.previous) +
        varintBytes(m.code) +
        8 +
        varintBytes(m.seq)
      );
    case 'subscribed':
      return 2 + varintBytes(m.orderId) + varintBytes(m.status);
  }
}

/** Checks a hand-written answer (throws naming the first bad field); returns its message's UTF-8 (empty unless an order). */
function checkHandWritten(m: HandWritten, at: string, index: number): Uint8Array {
  uint(m.requestId, protoLimits.float64IntegerMax, at, index, 'requestId');
  switch (m.kind) {
    case 'order':
      return utf8Of(checkOrder(m, at, index));
    case 'update':
      checkUpdate(m, at, index);
      return noMessage;
    case 'subscribed':
      checkSubscribed(m, at, index);
      return noMessage;
  }
}

/** A ServerMessage holding one hand-written body: its bytes. */
function messageBytes(m: HandWritten, bodyBytes: number): number {
  return 1 + varintBytes(m.requestId) + varintBytes(bodyTagOf[m.kind]) + varintBytes(bodyBytes) + bodyBytes;
}

/** Writes a checked, sized hand-written answer; returns where its body starts in `wire`. */
function writeMessage(m: HandWritten, messageUtf8: Uint8Array, bodyBytes: number): number {
  wire.varint(ServerTag.requestId);
  wire.varint(m.requestId);
  wire.varint(bodyTagOf[m.kind]);
  wire.varint(bodyBytes);
  const bodyAt = wire.length;
  switch (m.kind) {
    case 'order':
      wire.varint(OrderTag.result);
      wire.varint(m.result);
      wire.varint(OrderTag.orderId);
      wire.varint(m.orderId);
      wire.varint(OrderTag.status);
      wire.varint(m.status);
      wire.varint(OrderTag.expiresAtMs);
      wire.double(m.expiresAtMs);
      wire.varint(OrderTag.totalMinor);
      wire.varint(m.totalMinor);
      wire.varint(OrderTag.skuId);
      wire.varint(m.skuId);
      wire.varint(OrderTag.message);
      wire.varint(messageUtf8.length);
      wire.raw(messageUtf8);
      wire.varint(OrderTag.mayReturn);
      wire.varint(m.mayReturn ? 1 : 0);
      return bodyAt;
    case 'update':
      wire.varint(UpdateTag.orderId);
      wire.varint(m.orderId);
      wire.varint(UpdateTag.buyerId);
      wire.varint(m.buyerId);
      wire.varint(UpdateTag.status);
      wire.varint(m.status);
      wire.varint(UpdateTag.previous);
      wire.varint(m.previous);
      wire.varint(UpdateTag.code);
      wire.varint(m.code);
      wire.varint(UpdateTag.atMs);
      wire.double(m.atMs);
      wire.varint(UpdateTag.seq);
      wire.varint(m.seq);
      return bodyAt;
    case 'subscribed':
      wire.varint(SubscribedTag.orderId);
      wire.varint(m.orderId);
      wire.varint(SubscribedTag.status);
      wire.varint(m.status);
      return bodyAt;
  }
}

function encodeBinaryByHand(m: HandWritten | Extract<ServerMessageInput, { kind: 'batch' }>): Uint8Array {
  if (m.kind === 'batch') {
    try {
      return encodeBatchBinary(m);
    } finally {
      // Let go of what this batch referenced, also when one of its answers failed its checks.
      batchOthers.length = 0;
      batchMessageUtf8.length = 0;
    }
  }
  if (m.kind === 'order' && rememberedOrder.matches(m)) {
    const requestId = uint(m.requestId, protoLimits.float64IntegerMax, 'message', -1, 'requestId');
    wire.begin(messageBytes(m, rememberedOrder.length));
    rememberedOrder.write(requestId);
    return wire.finish();
  }
  const messageUtf8 = checkHandWritten(m, 'message', -1);
  const body = bodyBytes(m, messageUtf8.length);
  wire.begin(messageBytes(m, body));
  const bodyAt = writeMessage(m, messageUtf8, body);
  if (m.kind === 'order') rememberedOrder.remember(m, wire.view().subarray(bodyAt));
  return wire.finish();
}

/** A BatchAnswer in two passes: check and size every answer, then write them (encodeBinaryByHand clears up). */
function encodeBatchBinary(m: Extract<ServerMessageInput, { kind: 'batch' }>): Uint8Array {
  const requestId = uint(m.requestId, protoLimits.float64IntegerMax, 'message', -1, 'requestId');
  const { answers } = m;
  if (!Array.isArray(answers)) fail('message.answers', 'a list', answers);
  const at = 'message.answers';
  const count = answers.length;
  let batchBytes = 0;
  for (let i = 0; i < count; i++) {
    const answer = answers[i]!;
    let bytes: number;
    batchRemembered[i] = answer.kind === 'order' && rememberedOrder.matches(answer);
    if (batchRemembered[i]) {
      uint(answer.requestId, protoLimits.float64IntegerMax, at, i, 'requestId');
      bytes = messageBytes(answer as OrderInput, rememberedOrder.length);
    } else if (isHandWritten(answer)) {
      const messageUtf8 = checkHandWritten(answer, at, i);
      const body = bodyBytes(answer, messageUtf8.length);
      batchMessageUtf8[i] = messageUtf8;
      batchOthers[i] = null;
      batchBodyBytes[i] = body;
      bytes = messageBytes(answer, body);
    } else {
      const encoded = stampede.v1.ServerMessage.encode(serverToProto(answer, at, i)).finish();
      batchOthers[i] = encoded;
      bytes = encoded.length;
    }
    batchAnswerBytes[i] = bytes;
    batchBytes += 1 + varintBytes(bytes) + bytes;
  }
  wire.begin(1 + varintBytes(requestId) + 1 + varintBytes(batchBytes) + batchBytes);
  wire.varint(ServerTag.requestId);
  wire.varint(requestId);
  wire.varint(ServerTag.batch);
  wire.varint(batchBytes);
  // The remembered body may change only after the loop: answers were sized against it.
  let lastOrder = -1;
  let lastOrderBodyAt = 0;
  for (let i = 0; i < count; i++) {
    wire.varint(BatchTag.answer);
    wire.varint(batchAnswerBytes[i]!);
    const other = batchOthers[i];
    if (batchRemembered[i]) rememberedOrder.write(answers[i]!.requestId);
    else if (other !== null && other !== undefined) wire.raw(other);
    else {
      const bodyAt = writeMessage(answers[i] as HandWritten, batchMessageUtf8[i]!, batchBodyBytes[i]!);
      if (answers[i]!.kind === 'order') {
        lastOrder = i;
        lastOrderBodyAt = bodyAt;
      }
    }
  }
  if (lastOrder >= 0)
    rememberedOrder.remember(
      answers[lastOrder] as OrderInput,
      wire.view().subarray(lastOrderBodyAt, lastOrderBodyAt + batchBodyBytes[lastOrder]!),
    );
  return wire.finish();
}
