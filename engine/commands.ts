/**
 * Writers of command slots (layout.ts). Producers (gateways, the simulator,
 * benchmarks, the server's ticker) fill a claimed ring slot through these and
 * nothing else. placeOrder has a primitive-argument form for hot loops.
 */
import { CommandType } from './codes.ts';
import { CommandSlot as C, paymentReferenceCharsMax } from './layout.ts';

export interface OrderLineInput {
  skuId: number;
  quantity: number;
  unitPriceMinor: number;
}

export type CommandInput =
  | { type: 'addProduct'; skuId: number; priceMinor: number; currency: number; stock: number }
  | { type: 'restock'; skuId: number; quantity: number }
  | { type: 'setPrice'; skuId: number; priceMinor: number }
  | { type: 'configureSale'; skuId: number; limitPerBuyer: number; startsAtMs: number; endsAtMs: number }
  | { type: 'blockBuyer'; buyerId: number; blocked: boolean }
  | { type: 'placeOrder'; buyerId: number; requestId: number; totalMinor: number; lines: OrderLineInput[] }
  | {
      type: 'paymentResult';
      orderId: number;
      outcome: number;
      amountMinor: number;
      /** The provider's id of this delivery (see paymentReferenceValid); a redelivery gets the first answer. */
      reference?: string;
    }
  | { type: 'cancelOrder'; buyerId: number; requestId: number; orderId: number }
  | { type: 'tick' };

function header(
  w: Int32Array,
  f: Float64Array,
  at: number,
  type: number,
  correlationId: number,
  nowMs: number,
): void {
  // Clear the fields a previous occupant of the slot may have left.
  w.fill(0, at, at + C.lines);
  w[at + C.type] = type;
  w[at + C.correlationId] = correlationId;
  f[(at + C.nowMs) >> 1] = nowMs;
}

/** Writes any command (allocation-free apart from the input object the caller made). */
export function writeCommand(
  w: Int32Array,
  f: Float64Array,
  at: number,
  correlationId: number,
  nowMs: number,
  input: CommandInput,
): void {
  switch (input.type) {
    case 'addProduct':
      header(w, f, at, CommandType.addProduct, correlationId, nowMs);
      w[at + C.skuId] = input.skuId;
      f[(at + C.amountMinor) >> 1] = input.priceMinor;
      w[at + C.quantity] = input.stock;
      w[at + C.arg] = input.currency;
      return;
    case 'restock':
      header(w, f, at, CommandType.restock, correlationId, nowMs);
      w[at + C.skuId] = input.skuId;
      w[at + C.quantity] = input.quantity;
      return;
    case 'setPrice':
      header(w, f, at, CommandType.setPrice, correlationId, nowMs);
      w[at + C.skuId] = input.skuId;
      f[(at + C.amountMinor) >> 1] = input.priceMinor;
      return;
    case 'configureSale':
      header(w, f, at, CommandType.configureSale, correlationId, nowMs);
      w[at + C.skuId] = input.skuId;
      w[at + C.quantity] = input.limitPerBuyer;
      f[(at + C.startsAtMs) >> 1] = input.startsAtMs;
      f[(at + C.endsAtMs) >> 1] = input.endsAtMs;
      return;
    case 'blockBuyer':
      header(w, f, at, CommandType.blockBuyer, correlationId, nowMs);
      w[at + C.buyerId] = input.buyerId;
      w[at + C.arg] = input.blocked ? 1 : 0;
      return;
    case 'placeOrder': {
      writePlaceOrderHeader(
        w,
        f,
        at,
        correlationId,
        nowMs,
        input.buyerId,
        input.requestId,
        input.totalMinor,
        input.lines.length,
      );
      input.lines.forEach((line, i) => {
        writeOrderLine(w, at, i, line.skuId, line.quantity, line.unitPriceMinor);
      });
      return;
    }
    case 'paymentResult':
      header(w, f, at, CommandType.paymentResult, correlationId, nowMs);
      f[(at + C.orderId) >> 1] = input.orderId;
      w[at + C.arg] = input.outcome;
      f[(at + C.amountMinor) >> 1] = input.amountMinor;
      writePaymentReference(w, at, input.reference ?? '');
      return;
    case 'cancelOrder':
      header(w, f, at, CommandType.cancelOrder, correlationId, nowMs);
      w[at + C.buyerId] = input.buyerId;
      f[(at + C.requestId) >> 1] = input.requestId;
      f[(at + C.orderId) >> 1] = input.orderId;
      return;
    case 'tick':
      header(w, f, at, CommandType.tick, correlationId, nowMs);
      return;
    default: {
      const unreachable: never = input;
      throw new Error(`writeCommand: unknown command ${JSON.stringify(unreachable)}`);
    }
  }
}

export const paymentReferencePattern = new RegExp(`^[\\x21-\\x7e]{1,${paymentReferenceCharsMax}}$`);

/** A provider reference the engine can hold: 1..96 printable ASCII characters, no spaces. */
export function paymentReferenceValid(reference: string): boolean {
  return paymentReferencePattern.test(reference);
}

/** The reference into the lines area, four chars a word (the byte order of a little-endian word), zero-padded. */
function writePaymentReference(w: Int32Array, at: number, reference: string): void {
  if (reference !== '' && !paymentReferenceValid(reference)) {
    throw new RangeError(
      `payment reference must be 1..${paymentReferenceCharsMax} printable ASCII characters`,
    );
  }
  w[at + C.quantity] = reference.length;
  for (let i = 0; i < reference.length; i += 4) {
    let word = 0;
    for (let j = 0; j < 4 && i + j < reference.length; j++) word |= reference.charCodeAt(i + j) << (8 * j);
    w[at + C.lines + (i >> 2)] = word;
  }
}

/** The reference written by writePaymentReference, back from `chars` characters in words from `at`. */
export function readPaymentReference(words: Int32Array, at: number, chars: number): string {
  let out = '';
  for (let i = 0; i < chars; i++)
    out += String.fromCharCode((words[at + (i >> 2)]! >>> (8 * (i & 3))) & 0xff);
  return out;
}

/** placeOrder without an input object; follow with writeOrderLine for each line. */
export function writePlaceOrderHeader(
  w: Int32Array,
  f: Float64Array,
  at: number,
  correlationId: number,
  nowMs: number,
  buyerId: number,
  requestId: number,
  totalMinor: number,
  lineCount: number,
): void {
  header(w, f, at, CommandType.placeOrder, correlationId, nowMs);
  w[at + C.buyerId] = buyerId;
  f[(at + C.requestId) >> 1] = requestId;
  f[(at + C.amountMinor) >> 1] = totalMinor;
  w[at + C.lineCount] = lineCount;
}

export function writeOrderLine(
  w: Int32Array,
  at: number,
  index: number,
  skuId: number,
  quantity: number,
  unitPriceMinor: number,
): void {
  const line = at + C.lines + index * C.lineWords;
  w[line + C.lineSkuId] = skuId;
  w[line + C.lineQuantity] = quantity;
  w[line + C.lineUnitPriceMinor] = unitPriceMinor;
}
