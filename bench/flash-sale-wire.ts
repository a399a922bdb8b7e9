/**
 * The bench client's own protobuf codec for the frames of a sale: batches of
 * place and pay written by hand, and server messages read field by
 * field into one reused reader. The load generator shares two cores with the
 * server it measures, and protobufjs (an object per message and per field,
 * a string per answer's text) was about two fifths of its CPU: every CPU
 * second it spends is one the server does not get.
 *
 * The bytes are the ones protobufjs writes (flash-sale-wire.test.ts holds both
 * directions to protobufjs on seeded messages). The reader is strict: a wire
 * type a field cannot have, a truncated field or a length past its message
 * throws (a broken server is a failed run, not a guess); unknown fields are
 * skipped as protobuf says.
 */
import { WireReader } from '../proto/wire-reader.ts';
import { varintBytes, WireWriter } from '../proto/wire-writer.ts';

const WireType = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;
const tag = (field: number, wireType: number): number => (field << 3) | wireType;

/** ClientMessage and the bodies the bench sends (proto/stampede/v1/client.proto). */
const ClientTag = {
  requestId: tag(1, WireType.varint),
  placeOrder: tag(11, WireType.bytes),
  pay: tag(12, WireType.bytes),
  batch: tag(16, WireType.bytes),
  batchMessage: tag(1, WireType.bytes),
  placeLine: tag(1, WireType.bytes),
  placeTotalMinor: tag(2, WireType.varint),
  placeBuyerId: tag(3, WireType.varint),
  lineSkuId: tag(1, WireType.varint),
  lineQuantity: tag(2, WireType.varint),
  lineUnitPriceMinor: tag(3, WireType.varint),
  /** Pay's fields. */
  orderId: tag(1, WireType.varint),
  buyerId: tag(2, WireType.varint),
} as const;

/** A command's bytes at most: each of its numbers a varint of at most 8 bytes (2^53 - 1), framing included. */
const commandBytesMax = 96;

/**
 * Writes one Batch frame: begin(), one call per command, finish(). Each
 * command is written as it comes, into a body buffer; finish() puts the
 * frame's header (which holds the body's length) in front of it.
 */
export class BatchFrameWriter {
  private readonly body = new WireWriter();
  private readonly frame = new WireWriter();
  private requestId = 0;
  private commands = 0;
  /** Per SKU: the last quantity and unit price asked, and the place body's line and total for them. */
  private readonly placeTails = new Map<
    number,
    { quantity: number; unitPriceMinor: number; bytes: Uint8Array }
  >();

  get count(): number {
    return this.commands;
  }

  begin(requestId: number): void {
    this.requestId = requestId;
    this.commands = 0;
    this.body.begin(0);
  }

  /**
   * A place order of one line; its total is quantity × unit price. The body's
   * bytes up to its buyer (the line and the total) are the same for every
   * buyer of a SKU: they are written once and copied (four varints a place
   * instead of ten: 0.29 → 0.19 µs a place, frames of 128 on this machine).
   */
  place(requestId: number, buyerId: number, skuId: number, quantity: number, unitPriceMinor: number): void {
    const tail = this.placeTailOf(skuId, quantity, unitPriceMinor);
    const wire = this.message(requestId, ClientTag.placeOrder, tail.length + 1 + varintBytes(buyerId));
    wire.raw(tail);
    field(wire, ClientTag.placeBuyerId, buyerId);
  }

  pay(requestId: number, orderId: number, buyerId: number): void {
    const wire = this.message(requestId, ClientTag.pay, 2 + varintBytes(orderId) + varintBytes(buyerId));
    field(wire, ClientTag.orderId, orderId);
    field(wire, ClientTag.buyerId, buyerId);
  }

  finish(): Uint8Array {
    const commands = this.body.view();
    const frame = this.frame;
    frame.begin(1 + varintBytes(this.requestId) + 2 + varintBytes(commands.length) + commands.length);
    field(frame, ClientTag.requestId, this.requestId);
    field(frame, ClientTag.batch, commands.length);
    frame.raw(commands);
    return frame.finish();
  }

  /**
   * A place body's line and total, kept per SKU for the last quantity and unit price asked: a sale asks
   * the same ones over and over, and a sale of several SKUs interleaves them (one entry for all SKUs
   * was rewritten at nearly every place: 1.0–1.4 µs a place over five SKUs, against 0.06 for one).
   */
  private placeTailOf(skuId: number, quantity: number, unitPriceMinor: number): Uint8Array {
    const kept = this.placeTails.get(skuId);
    if (kept !== undefined && kept.quantity === quantity && kept.unitPriceMinor === unitPriceMinor)
      return kept.bytes;
    const totalMinor = quantity * unitPriceMinor;
    const line = 3 + varintBytes(skuId) + varintBytes(quantity) + varintBytes(unitPriceMinor);
    const wire = new WireWriter(commandBytesMax);
    field(wire, ClientTag.placeLine, line); // the line's length: its fields follow
    field(wire, ClientTag.lineSkuId, skuId);
    field(wire, ClientTag.lineQuantity, quantity);
    field(wire, ClientTag.lineUnitPriceMinor, unitPriceMinor);
    field(wire, ClientTag.placeTotalMinor, totalMinor);
    const bytes = wire.finish();
    this.placeTails.set(skuId, { quantity, unitPriceMinor, bytes });
    return bytes;
  }

  /** Writes a batch member's framing up to its body of `bodyBytes`, which the caller writes next. */
  private message(requestId: number, bodyTag: number, bodyBytes: number): WireWriter {
    const wire = this.body;
    wire.room(commandBytesMax);
    this.commands++;
    field(wire, ClientTag.batchMessage, 1 + varintBytes(requestId) + 1 + varintBytes(bodyBytes) + bodyBytes);
    field(wire, ClientTag.requestId, requestId);
    field(wire, bodyTag, bodyBytes);
    return wire;
  }
}

/** A varint field, or a length-delimited field's tag and length (its bytes follow). */
function field(wire: WireWriter, tag: number, value: number): void {
  wire.varint(tag);
  wire.varint(value);
}

/** BatchAnswer's one field: repeated ServerMessage answers = 1. */
const batchAnswerTag = tag(1, WireType.bytes);

/** What the last message (or batch answer) read was. */
export const ServerKind = {
  other: 0,
  order: 11,
  update: 12,
  error: 13,
  batch: 15,
} as const;
export type ServerKind = (typeof ServerKind)[keyof typeof ServerKind];

/** ServerMessage body fields read here (proto/stampede/v1/client.proto); other bodies are skipped. */
const bodyKinds = new Map<number, ServerKind>([
  [ServerKind.order, ServerKind.order],
  [ServerKind.update, ServerKind.update],
  [ServerKind.error, ServerKind.error],
  [ServerKind.batch, ServerKind.batch],
]);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a ServerMessage into its fields: read(bytes), then, for a batch,
 * nextAnswer() until it returns false. Fields a kind does not have are 0 or ''.
 * Only what the bench acts on is read: an order's result, id and status; an
 * update's order id and status; an error's code, message and retry-after.
 */
export class ServerMessageReader extends WireReader {
  kind: ServerKind = ServerKind.other;
  requestId = 0;
  result = 0;
  orderId = 0;
  status = 0;
  errorCode = '';
  errorMessage = '';
  retryAfterMs = 0;
  /** The batch's answers end here. */
  private batchEnd = 0;

  read(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.at = 0;
    this.batchEnd = 0;
    const bodyAt = this.message(bytes.length);
    if (this.kind === ServerKind.batch) {
      this.batchEnd = this.at;
      this.at = bodyAt;
    }
  }

  /** Reads the batch's next answer into the fields; false after the last. */
  nextAnswer(): boolean {
    while (this.at < this.batchEnd) {
      const key = this.value(this.batchEnd);
      if (key !== batchAnswerTag) {
        this.skip(key, this.batchEnd);
        continue;
      }
      const end = this.lengthEnd(this.batchEnd);
      this.message(end);
      if (this.kind === ServerKind.batch) throw new Error('server message: a batch inside a batch');
      return true;
    }
    return false;
  }

  /**
   * Reads one ServerMessage ending at `end` into the fields; leaves `at` at
   * `end`. For a batch, returns where its answers start (and `at` is their end).
   */
  private message(end: number): number {
    this.kind = ServerKind.other;
    this.requestId = 0;
    this.result = 0;
    this.orderId = 0;
    this.status = 0;
    this.errorCode = '';
    this.errorMessage = '';
    this.retryAfterMs = 0;
    let batchAt = -1;
    let batchEnd = -1;
    while (this.at < end) {
      const key = this.value(end);
      const field = key >>> 3;
      if (key === ClientTag.requestId) {
        this.requestId = this.value(end);
        continue;
      }
      const kind = (key & 7) === WireType.bytes ? bodyKinds.get(field) : undefined;
      if (kind === undefined) {
        this.skip(key, end);
        continue;
      }
      this.kind = kind;
      const bodyEnd = this.lengthEnd(end);
      if (kind === ServerKind.batch) {
        batchAt = this.at;
        batchEnd = bodyEnd;
        this.at = bodyEnd;
      } else this.body(kind, bodyEnd);
    }
    if (batchAt < 0) return -1;
    this.at = batchEnd;
    return batchAt;
  }

  private body(kind: ServerKind, end: number): void {
    while (this.at < end) {
      const key = this.value(end);
      const field = key >>> 3;
      const wireType = key & 7;
      if (kind === ServerKind.error && (field === 1 || field === 2) && wireType === WireType.bytes) {
        const textEnd = this.lengthEnd(end);
        const text = utf8.decode(this.bytes.subarray(this.at, textEnd));
        if (field === 1) this.errorCode = text;
        else this.errorMessage = text;
        this.at = textEnd;
      } else if (wireType !== WireType.varint) this.skip(key, end);
      else {
        const value = this.value(end);
        if (kind === ServerKind.order) {
          if (field === 1) this.result = value;
          else if (field === 2) this.orderId = value;
          else if (field === 3) this.status = value;
        } else if (kind === ServerKind.update) {
          if (field === 1) this.orderId = value;
          else if (field === 3) this.status = value;
        } else if (kind === ServerKind.error && field === 3) this.retryAfterMs = value;
      }
    }
    if (this.at !== end) throw new Error('server message: a field runs past its message');
  }

  /** WireReader's varint, thrown when it could not read one (truncated, above 2^53 - 1). */
  private value(end: number): number {
    const value = this.varint(end);
    if (value < 0) throw new Error('server message: a truncated varint, or one above 2^53 - 1');
    return value;
  }

  /** WireReader's length: where a length-delimited field ends, thrown when past `end`. */
  private lengthEnd(end: number): number {
    const stop = this.length(end);
    if (stop < 0) throw new Error('server message: a truncated length, or one past the end of its message');
    return stop;
  }

  private skip(key: number, end: number): void {
    switch (key & 7) {
      case WireType.varint:
        this.value(end);
        return;
      case WireType.fixed64:
        this.at += 8;
        break;
      case WireType.bytes:
        this.at = this.lengthEnd(end);
        return;
      case WireType.fixed32:
        this.at += 4;
        break;
      default:
        throw new Error(`server message: wire type ${key & 7} of field ${key >>> 3}`);
    }
    if (this.at > end) throw new Error('server message: truncated field');
  }
}
