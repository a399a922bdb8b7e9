/**
 * The JSON request bodies of the HTTP API, described once. The same
 * description checks a request (`parseBody`) and is served in /openapi.json
 * (`bodySchemaOf`), so the document and the server cannot disagree: every
 * field described is required, and a field the description lacks is refused
 * (`additionalProperties: false`), `__proto__` included, as the checkout
 * WebSocket refuses one. A typo must never pass silently and apply a command
 * without the field the caller meant to set.
 *
 * Pure functions; safe on any thread.
 */
import { paymentReferencePattern } from '../engine/commands.ts';
import { paymentReferenceCharsMax } from '../engine/layout.ts';
import { engineTimeMsMax } from '../engine/limits.ts';

export type FieldSpec =
  | { readonly type: 'integer'; readonly min: number; readonly max: number }
  | { readonly type: 'boolean' }
  | { readonly type: 'string'; readonly pattern: RegExp; readonly meaning: string }
  | { readonly type: 'enum'; readonly values: readonly string[] };

/** A body's fields, every one required. */
export type BodySpec = Readonly<Record<string, FieldSpec>>;

/** The value a checked body holds: integers and booleans as such, strings and enums as strings. */
export type BodyOf<S extends BodySpec> = {
  -readonly [K in keyof S]: S[K] extends { type: 'integer' }
    ? number
    : S[K] extends { type: 'boolean' }
      ? boolean
      : string;
};

export type ParsedBody<S extends BodySpec> = { ok: true; value: BodyOf<S> } | { ok: false; message: string };

const int32Max = 2 ** 31 - 1;
const integer = (min: number, max: number) => ({ type: 'integer', min, max }) as const;

export const addProductBody = {
  // Up to the ring's 32-bit word: the engine answers skuOutOfRange beyond its skusMax.
  skuId: integer(1, int32Max),
  priceMinor: integer(0, int32Max),
  currency: { type: 'string', pattern: /^[A-Z]{3}$/, meaning: 'three capital letters (ISO 4217)' },
  stock: integer(0, 2 ** 30),
} as const satisfies BodySpec;
export const restockBody = { quantity: integer(1, 2 ** 30) } as const satisfies BodySpec;
export const priceBody = { priceMinor: integer(0, int32Max) } as const satisfies BodySpec;
export const saleBody = {
  limitPerBuyer: integer(0, 2 ** 30),
  startsAtMs: integer(0, engineTimeMsMax),
  endsAtMs: integer(0, engineTimeMsMax),
} as const satisfies BodySpec;
export const blockBody = { blocked: { type: 'boolean' } } as const satisfies BodySpec;
export const webhookBody = {
  // The engine journals the delivery's id as the payment's reference (engine/commands.ts paymentReferenceValid).
  eventId: {
    type: 'string',
    pattern: paymentReferencePattern,
    meaning: `1 to ${paymentReferenceCharsMax} printable ASCII characters, no spaces`,
  },
  orderId: integer(1, Number.MAX_SAFE_INTEGER),
  outcome: { type: 'enum', values: ['succeeded', 'declined'] },
  amountMinor: integer(0, Number.MAX_SAFE_INTEGER),
} as const satisfies BodySpec;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A client's value in a message: JSON, cut short, so the answer stays small. */
export function quoted(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** What a field must be, as a sentence's end: "an integer from 1 to 10". */
function expectation(spec: FieldSpec): string {
  switch (spec.type) {
    case 'integer':
      return `an integer from ${spec.min} to ${spec.max}`;
    case 'boolean':
      return 'true or false';
    case 'string':
      return `a string of ${spec.meaning}`;
    case 'enum':
      return `one of ${spec.values.join(', ')}`;
    default: {
      const unreachable: never = spec;
      return unreachable;
    }
  }
}

function fits(spec: FieldSpec, value: unknown): boolean {
  switch (spec.type) {
    case 'integer':
      return Number.isSafeInteger(value) && (value as number) >= spec.min && (value as number) <= spec.max;
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string' && spec.pattern.test(value);
    case 'enum':
      return typeof value === 'string' && spec.values.includes(value);
    default: {
      const unreachable: never = spec;
      return unreachable;
    }
  }
}

/**
 * Checks a request body (UTF-8 JSON; empty is `{}`) against its spec: the first
 * problem found, in the order unknown fields, then the spec's fields in order,
 * is the message.
 */
export function parseBody<S extends BodySpec>(bytes: Uint8Array, spec: S): ParsedBody<S> {
  let parsed: unknown;
  try {
    parsed = bytes.length === 0 ? {} : JSON.parse(utf8.decode(bytes));
  } catch {
    return { ok: false, message: 'body is not UTF-8 JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, message: 'body must be a JSON object' };
  }
  const body = parsed as Record<string, unknown>;
  // Own keys only, and hasOwn on the spec: `__proto__` or `constructor` must not find Object.prototype's.
  for (const key of Object.keys(body)) {
    if (!Object.hasOwn(spec, key)) return { ok: false, message: `unknown field ${quoted(key)}` };
  }
  for (const [key, field] of Object.entries(spec)) {
    if (!Object.hasOwn(body, key)) return { ok: false, message: `${key} is required` };
    if (!fits(field, body[key])) {
      return { ok: false, message: `${key} must be ${expectation(field)}, got ${quoted(body[key])}` };
    }
  }
  return { ok: true, value: body as BodyOf<S> };
}

/** The JSON Schema of a body, for /openapi.json. */
export function bodySchemaOf(spec: BodySpec): object {
  const properties: Record<string, object> = {};
  for (const [key, field] of Object.entries(spec)) {
    switch (field.type) {
      case 'integer':
        properties[key] = { type: 'integer', minimum: field.min, maximum: field.max };
        break;
      case 'boolean':
        properties[key] = { type: 'boolean' };
        break;
      case 'string':
        properties[key] = { type: 'string', pattern: field.pattern.source, description: field.meaning };
        break;
      case 'enum':
        properties[key] = { enum: field.values };
        break;
      default: {
        const unreachable: never = field;
        throw new Error(`unknown field spec ${String(unreachable)}`);
      }
    }
  }
  return { type: 'object', properties, required: Object.keys(spec), additionalProperties: false };
}
