/**
 * Commands at the edge: protobuf bytes or a decoded stampede.v1.Command in,
 * a filled command slot (engine/layout.ts) out. Runs on gateway and tool
 * threads, never on the engine thread. Never throws on bad input: malformed
 * bytes, a missing field, a value the slot cannot carry or an unknown body all
 * come back as { ok: false, code: 'BAD_COMMAND', message } naming the field, so
 * a gateway can answer the client and carry on. Writes nothing into the slot
 * unless the whole command is valid.
 *
 * What is checked here and what is not: see proto/limits.ts. In short, the
 * edge refuses what the slot cannot represent (and what the proto types rule
 * out, like a negative quantity); the engine answers everything else with a
 * business ResultCode.
 */
import { PaymentOutcome } from '../engine/codes.ts';
import {
  type CommandInput,
  type OrderLineInput,
  paymentReferenceValid,
  writeCommand,
} from '../engine/commands.ts';
import { packCurrency, paymentReferenceCharsMax } from '../engine/layout.ts';
import { stampede } from './generated/stampede.js';
import { protoLimits } from './limits.ts';

/** The edge's one error code for commands; clients and logs match on it, so never rename it. */
export const CommandErrorCode = { badCommand: 'BAD_COMMAND' } as const;
export type CommandErrorCode = (typeof CommandErrorCode)[keyof typeof CommandErrorCode];

export interface BadCommand {
  ok: false;
  code: CommandErrorCode;
  /** Names the proto field (snake_case, as clients write it) and what was wrong with it. */
  message: string;
}

export type CommandSlotResult = { ok: true } | BadCommand;

/** A command that passed the edge's checks, ready for writeCommand. */
export interface ValidCommand {
  ok: true;
  nowMs: number;
  correlationId: number;
  input: CommandInput;
}

const badCommand = (message: string): BadCommand => ({
  ok: false,
  code: CommandErrorCode.badCommand,
  message,
});

/**
 * Decodes a Command from bytes off the network, enforcing the size limit first.
 * Only the encoding is checked here; follow with validateCommand or commandToSlot.
 */
export function decodeCommand(bytes: Uint8Array): { ok: true; command: stampede.v1.Command } | BadCommand {
  if (bytes.length > protoLimits.commandBytesMax) {
    return badCommand(
      `command of ${bytes.length} bytes exceeds commandBytesMax (${protoLimits.commandBytesMax})`,
    );
  }
  try {
    return { ok: true, command: stampede.v1.Command.decode(bytes) };
  } catch (error) {
    // protobufjs throws plain Errors (and RangeError for truncation) on malformed input.
    return badCommand(`malformed command bytes: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Thrown inside this module only, and always caught by validateCommand. */
class Rejection extends Error {}

/** The oneof `body` members in CommandType order, with the proto field name for messages. */
const bodies = [
  ['addProduct', 'add_product'],
  ['restock', 'restock'],
  ['setPrice', 'set_price'],
  ['configureSale', 'configure_sale'],
  ['blockBuyer', 'block_buyer'],
  ['placeOrder', 'place_order'],
  ['paymentResult', 'payment_result'],
  ['cancelOrder', 'cancel_order'],
  ['tick', 'tick'],
] as const satisfies readonly (readonly [keyof stampede.v1.ICommand, string])[];

/**
 * Checks every field of a decoded (or hand-built) Command and turns it into a
 * CommandInput. Safe on any object shape: a field of the wrong JS type is
 * reported like a missing one.
 */
export function validateCommand(command: stampede.v1.ICommand): ValidCommand | BadCommand {
  try {
    if (typeof command !== 'object' || command === null) throw new Rejection('command must be an object');
    const nowMs = timeMs(command.nowMs, 'now_ms');
    const correlationId = wordInt(command.correlationId, 'correlation_id');
    let found: (typeof bodies)[number] | undefined;
    for (const body of bodies) {
      if (command[body[0]] === undefined || command[body[0]] === null) continue;
      if (found !== undefined) throw new Rejection(`command has two bodies: ${found[1]} and ${body[1]}`);
      found = body;
    }
    if (found === undefined) {
      throw new Rejection(`command has no body (one of ${bodies.map((b) => b[1]).join(', ')})`);
    }
    return { ok: true, nowMs, correlationId, input: bodyInput(command, found[0], found[1]) };
  } catch (error) {
    if (error instanceof Rejection) return badCommand(error.message);
    throw error;
  }
}

/**
 * Validates a decoded Command and writes it into the command slot at word `at`
 * of (words, f64). On BAD_COMMAND the slot is left untouched; a producer that
 * must publish every claimed ring slot should call validateCommand before
 * claiming instead.
 */
export function commandToSlot(
  command: stampede.v1.ICommand,
  words: Int32Array,
  f64: Float64Array,
  at: number,
): CommandSlotResult {
  const valid = validateCommand(command);
  if (!valid.ok) return valid;
  writeCommand(words, f64, at, valid.correlationId, valid.nowMs, valid.input);
  return { ok: true };
}

function bodyInput(
  command: stampede.v1.ICommand,
  name: (typeof bodies)[number][0],
  protoName: string,
): CommandInput {
  const body: unknown = command[name];
  if (typeof body !== 'object' || body === null) throw new Rejection(`${protoName} must be a message`);
  const field = (key: string): unknown => (body as Record<string, unknown>)[key];
  const at = (fieldName: string): string => `${protoName}.${fieldName}`;
  switch (name) {
    case 'addProduct':
      return {
        type: 'addProduct',
        skuId: wordInt(field('skuId'), at('sku_id')),
        priceMinor: money(field('priceMinor'), at('price_minor')),
        currency: currency(field('currency'), at('currency')),
        stock: wordInt(field('stock'), at('stock')),
      };
    case 'restock':
      return {
        type: 'restock',
        skuId: wordInt(field('skuId'), at('sku_id')),
        quantity: wordInt(field('quantity'), at('quantity')),
      };
    case 'setPrice':
      return {
        type: 'setPrice',
        skuId: wordInt(field('skuId'), at('sku_id')),
        priceMinor: money(field('priceMinor'), at('price_minor')),
      };
    case 'configureSale':
      return {
        type: 'configureSale',
        skuId: wordInt(field('skuId'), at('sku_id')),
        limitPerBuyer: wordInt(field('limitPerBuyer'), at('limit_per_buyer')),
        startsAtMs: timeMs(field('startsAtMs'), at('starts_at_ms')),
        endsAtMs: timeMs(field('endsAtMs'), at('ends_at_ms')),
      };
    case 'blockBuyer': {
      const blocked = field('blocked');
      if (typeof blocked !== 'boolean') throw missingOr(blocked, at('blocked'), 'a bool');
      return { type: 'blockBuyer', buyerId: wordInt(field('buyerId'), at('buyer_id')), blocked };
    }
    case 'placeOrder':
      return {
        type: 'placeOrder',
        buyerId: wordInt(field('buyerId'), at('buyer_id')),
        requestId: float64Int(field('requestId'), at('request_id')),
        totalMinor: money(field('totalMinor'), at('total_minor')),
        lines: orderLines(field('lines'), at('lines')),
      };
    case 'paymentResult': {
      const outcome = field('outcome');
      if (outcome !== PaymentOutcome.succeeded && outcome !== PaymentOutcome.declined) {
        throw missingOr(
          outcome,
          at('outcome'),
          'PAYMENT_OUTCOME_SUCCEEDED (1) or PAYMENT_OUTCOME_DECLINED (2)',
        );
      }
      return {
        type: 'paymentResult',
        orderId: float64Int(field('orderId'), at('order_id')),
        outcome,
        amountMinor: money(field('amountMinor'), at('amount_minor')),
        reference: paymentReference(field('reference'), at('reference')),
      };
    }
    case 'cancelOrder':
      return {
        type: 'cancelOrder',
        buyerId: wordInt(field('buyerId'), at('buyer_id')),
        requestId: float64Int(field('requestId'), at('request_id')),
        orderId: float64Int(field('orderId'), at('order_id')),
      };
    case 'tick':
      return { type: 'tick' };
    default: {
      const unreachable: never = name;
      throw new Error(`validateCommand: unhandled body ${String(unreachable)}`);
    }
  }
}

function orderLines(value: unknown, where: string): OrderLineInput[] {
  // Zero lines is representable: the engine refuses it as linesInvalid, like any business rule.
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Rejection(`${where} must be a list of OrderLine`);
  if (value.length > protoLimits.linesPerCommandMax) {
    throw new Rejection(
      `${where} has ${value.length} lines, more than linesPerCommandMax (${protoLimits.linesPerCommandMax})`,
    );
  }
  return value.map((line: unknown, i): OrderLineInput => {
    const at = `${where}[${i}]`;
    if (typeof line !== 'object' || line === null) throw new Rejection(`${at} must be an OrderLine`);
    const field = (key: string): unknown => (line as Record<string, unknown>)[key];
    return {
      skuId: wordInt(field('skuId'), `${at}.sku_id`),
      quantity: wordInt(field('quantity'), `${at}.quantity`),
      // The unit price travels in one Int32 word: bound it by the word, not by float64IntegerMax.
      unitPriceMinor: boundedInt(field('unitPriceMinor'), `${at}.unit_price_minor`, protoLimits.wordValueMax),
    };
  });
}

function missingOr(value: unknown, where: string, expected: string): Rejection {
  if (value === undefined || value === null) return new Rejection(`${where} is missing`);
  return new Rejection(`${where} must be ${expected}, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return typeof value;
}

function boundedInt(value: unknown, where: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw missingOr(value, where, `an integer from 0 to ${max}`);
  }
  return value;
}

/** uint32 ids and counts that travel in one Int32 slot word. */
const wordInt = (value: unknown, where: string): number => boundedInt(value, where, protoLimits.wordValueMax);

/** uint64 ids that travel in a Float64 slot field. */
const float64Int = (value: unknown, where: string): number =>
  boundedInt(value, where, protoLimits.float64IntegerMax);

/** Money in minor units: never negative, exact in a Float64. */
const money = float64Int;

function timeMs(value: unknown, where: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= protoLimits.timeMsMax)) {
    throw missingOr(value, where, `milliseconds since the epoch from 0 to ${protoLimits.timeMsMax}`);
  }
  return value;
}

/** Optional: absent or empty is no reference. */
function paymentReference(value: unknown, where: string): string {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value !== 'string' || !paymentReferenceValid(value)) {
    throw missingOr(value, where, `1 to ${paymentReferenceCharsMax} printable ASCII characters`);
  }
  return value;
}

function currency(value: unknown, where: string): number {
  if (typeof value !== 'string' || !/^[A-Z]{3}$/.test(value)) {
    throw missingOr(value, where, 'an ISO 4217 code of three capital letters');
  }
  return packCurrency(value);
}
