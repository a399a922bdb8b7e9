/**
 * Limits of the protobuf edge in one table, unit last. A command outside them
 * is answered with BAD_COMMAND before it reaches a ring; anything inside them
 * that the engine's rules refuse gets a business ResultCode from the engine
 * instead (unknown SKU, quantity over the per-line limit, price changed...).
 * The edge checks what the fixed slot layout can carry faithfully, the engine
 * checks what the business allows.
 */
import { linesPerOrderMaxLayout } from '../engine/layout.ts';
import { engineTimeMsMax } from '../engine/limits.ts';

export const protoLimits = Object.freeze({
  /**
   * Largest encoded Command accepted. A PlaceOrder with the most lines and
   * every field at its maximum is under 300 bytes (codec.test.ts checks);
   * the rest is slack for fields a newer client may add.
   */
  commandBytesMax: 1024,
  /** Lines in one PlaceOrder: the command slot has room for this many (engine/layout.ts). */
  linesPerCommandMax: linesPerOrderMaxLayout,
  /**
   * Ids, counts and unit prices that travel in one Int32 slot word. A uint32
   * above this would wrap to a negative word, and a wrapped unit price could
   * even match the real one: refuse instead.
   */
  wordValueMax: 2 ** 31 - 1,
  /** order_id, request_id and amounts travel in a Float64 slot field: integers must be exact. */
  float64IntegerMax: Number.MAX_SAFE_INTEGER,
  /** Latest time accepted (now_ms, starts_at_ms, ends_at_ms): the engine's own bound, see engine/limits.ts. */
  timeMsMax: engineTimeMsMax,
  /**
   * Largest checkout WebSocket frame (client.proto, either kind) decoded by
   * default; larger is FRAME_TOO_LARGE before any parsing. A deployment sets
   * its own through clientFrameLimits (client-codec.ts). Sized for a service
   * connection's full Batch: batchMessagesMax place orders with every line
   * and every field at its maximum are under 50 KiB in binary, and
   * batchMessagesMax single-line orders with realistic ids under 38 KiB in
   * JSON (client-codec.test.ts measures both). A buyer device needs under
   * 1 KiB.
   */
  clientFrameBytesMax: 64 * 1024,
  /** Commands in one Batch by default (service connections); one BatchAnswer holds as many answers. */
  batchMessagesMax: 256,
} as const);
