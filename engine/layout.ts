/**
 * Fixed binary layouts of the records that cross threads: commands (inbound
 * rings), events (outbound ring, and the journal payload), replies (reply
 * rings). Every offset is in 32-bit words from the start of a slot; a Float64
 * field sits at an even word offset and is read through the ring's Float64Array
 * view as f64[(slotOffset + field) >> 1]. Nothing else does offset arithmetic
 * with literals: code reads and writes through these names, and reads an
 * event's payload through event-view.ts's accessors over them.
 *
 * Why fixed words and not protobuf: the hot path must not allocate or parse.
 * Protobuf lives at the edges (proto/); the journal stores the event payload
 * words below verbatim (little-endian), framed by journal/record-frame.ts.
 *
 * Command slot (CommandSlot.words = 44 words = 176 bytes)
 *
 *   word  0 type            1 correlationId   2..3 nowMs (f64)
 *         4..5 requestId (f64, integer < 2^53)            6 buyerId (u32)
 *         7 skuId           8..9 orderId (f64)            10..11 amountMinor (f64)
 *         12 quantity       13 lineCount      14 arg      15 (reserved)
 *         16..17 startsAtMs (f64)             18..19 endsAtMs (f64)
 *         20.. lines: lineCount x [skuId, quantity, unitPriceMinor]
 *
 *   per type: addProduct    skuId, amountMinor=price, quantity=stock, arg=currency
 *             restock       skuId, quantity
 *             setPrice      skuId, amountMinor=price
 *             configureSale skuId, quantity=limitPerBuyer (0 = none), startsAtMs, endsAtMs
 *             blockBuyer    buyerId, arg=1 block / 0 unblock
 *             placeOrder    buyerId, requestId, amountMinor=total the buyer saw, lines
 *             paymentResult orderId, arg=PaymentOutcome, amountMinor=amount paid,
 *                           quantity=reference chars (0 = none), lines area = the
 *                           provider's reference, printable ASCII, 4 chars a word
 *                           (little-endian bytes), zero-padded
 *             cancelOrder   buyerId, requestId, orderId
 *             tick          nowMs only
 *
 * Event slot (EventSlot.words = 44): a header, then the payload the journal stores.
 *
 *   word  0 type   1 payloadWords   2..3 seq (f64)   4..5 atMs (f64)   6.. payload
 *
 * Reply slot (ReplySlot.words = 12)
 *
 *   word  0 correlationId   1 result (ResultCode)   2..3 orderId (f64)
 *         4 status (OrderStatus)   5 skuId (the line a refusal is about, or 0)
 *         6..7 durableSeqNeeded (f64): release the reply once the journal's
 *              durable sequence is at or past it
 *         8..9 expiresAtMs (f64)   10..11 totalMinor (f64)
 */

export const linesPerOrderMaxLayout = 8;

export const CommandSlot = {
  type: 0,
  correlationId: 1,
  nowMs: 2,
  requestId: 4,
  buyerId: 6,
  skuId: 7,
  orderId: 8,
  amountMinor: 10,
  quantity: 12,
  lineCount: 13,
  arg: 14,
  startsAtMs: 16,
  endsAtMs: 18,
  lines: 20,
  lineWords: 3,
  lineSkuId: 0,
  lineQuantity: 1,
  lineUnitPriceMinor: 2,
  words: 20 + 3 * linesPerOrderMaxLayout, // 44
} as const;

export const EventSlot = {
  type: 0,
  payloadWords: 1,
  seq: 2,
  atMs: 4,
  payload: 6,
  words: 44,
} as const;

/** Payload offsets, relative to the payload start (EventSlot.payload in a slot, 0 in a journal record). */
export const ProductAdded = { skuId: 0, priceMinor: 1, currency: 2, stock: 3, words: 4 } as const;
export const StockRestocked = { skuId: 0, quantity: 1, words: 2 } as const;
export const PriceSet = { skuId: 0, priceMinor: 1, words: 2 } as const;
export const SaleConfigured = { skuId: 0, limitPerBuyer: 1, startsAtMs: 2, endsAtMs: 4, words: 6 } as const;
export const BuyerBlocked = { buyerId: 0, blocked: 1, words: 2 } as const;
export const OrderRefused = { buyerId: 0, code: 1, requestId: 2, skuId: 4, words: 6 } as const;
export const OrderCreated = {
  buyerId: 0,
  lineCount: 1,
  orderId: 2,
  requestId: 4,
  expiresAtMs: 6,
  totalMinor: 8,
  lines: 10,
  lineWords: 3,
  lineSkuId: 0,
  lineQuantity: 1,
  lineUnitPriceMinor: 2,
  /** Payload words for a given line count (the journal stores only these). */
  wordsFor: (lineCount: number): number => 10 + 3 * lineCount,
} as const;
export const OrderStatusChanged = {
  status: 0,
  code: 1,
  orderId: 2,
  buyerId: 4,
  previous: 5,
  /** The line a failCheckout is about (limit or price), else 0. Absent (read as 0) in 6-word records of older journals. */
  skuId: 6,
  words: 7,
  /** The layout before skuId: still decoded, with skuId 0. */
  wordsWithoutSkuId: 6,
} as const;
export const OrderForgotten = { orderId: 0, words: 2 } as const;

/** Longest provider reference (a webhook's event id): what fits the command slot's lines area. */
export const paymentReferenceCharsMax = 4 * (CommandSlot.words - CommandSlot.lines); // 96

/**
 * One payment delivery for a known order: the money as the provider reported
 * it, and what it did (the status changes it made are their own events,
 * before it). `reference` is the provider's id, as in the command.
 */
export const PaymentReceived = {
  orderId: 0,
  amountMinor: 2,
  buyerId: 4,
  outcome: 5,
  result: 6,
  previous: 7,
  status: 8,
  referenceChars: 9,
  reference: 10,
  /** Payload words for a reference of this many chars. */
  wordsFor: (referenceChars: number): number => 10 + ((referenceChars + 3) >> 2),
} as const;

export const eventPayloadWordsMax = EventSlot.words - EventSlot.payload;

export const ReplySlot = {
  correlationId: 0,
  result: 1,
  orderId: 2,
  status: 4,
  skuId: 5,
  durableSeqNeeded: 6,
  expiresAtMs: 8,
  totalMinor: 10,
  words: 12,
} as const;

/** ISO 4217 code packed as three ASCII bytes in a u32 ('USD' -> 0x555344). */
export function packCurrency(code: string): number {
  if (!/^[A-Z]{3}$/.test(code)) throw new RangeError(`currency must be three capital letters, got '${code}'`);
  return (code.charCodeAt(0) << 16) | (code.charCodeAt(1) << 8) | code.charCodeAt(2);
}

export function unpackCurrency(packed: number): string {
  return String.fromCharCode((packed >>> 16) & 0xff, (packed >>> 8) & 0xff, packed & 0xff);
}
