/**
 * The one error catalogue of the edges: every code a gateway may answer, with
 * what it means, whether the client may resend, its HTTP status, and what it
 * does to a WebSocket (answered and the connection stays open, or closed with
 * which close code). docs/errors.md shows the same table to client authors;
 * errors.test.ts fails when the two disagree, or when a gateway source
 * answers with a code that is not here.
 *
 * Two families share the table:
 *  - business outcomes: the engine's ResultCodes (engine/codes.ts) under
 *    their names (`soldOut`), numbers alongside. The engine answers them as
 *    values; this table only says how an edge presents them. `ok` is not here.
 *  - edge and operating codes, UPPER_SNAKE (`BAD_FRAME`, `BUSY`): answered by
 *    the gateways themselves, before or instead of the engine.
 *
 * `retriable` has one meaning throughout: sending the same request again
 * (same request id), unchanged, may get a different answer later. The engine
 * remembers every place-order answer except the stock refusals (see
 * docs/engine.md, Idempotency), so most business refusals are not retriable:
 * resending returns the remembered answer, and the client must send a new
 * request instead.
 *
 * WebSocket close codes are 4000 + the RFC 6455 code they mirror where one
 * exists (4008 policy, 4009 too big), and 4001 (as HTTP 401) / 4010 otherwise.
 *
 * Pure data and lookups; safe on any thread.
 */
import { ResultCode, resultName } from '../engine/codes.ts';
import type { TokenErrorCode } from './tokens.ts';

/** Every close code the gateways use, in the application range 4000-4999. */
export const WsCloseCode = {
  /** The token presented could not authenticate the connection. */
  auth: 4001,
  /** The connection broke the edge's policy (mirrors 1008). */
  policy: 4008,
  /** A frame over the size limit (mirrors 1009). */
  tooLarge: 4009,
  /** More than wsBackpressureBytesMax of answers waited for a client that does not read. */
  slowReader: 4010,
} as const;
export type WsCloseCode = (typeof WsCloseCode)[keyof typeof WsCloseCode];

export const ErrorKind = {
  /** A ResultCode of the engine: the request was judged and refused by the business rules. */
  business: 'business',
  /** Refused at the edge: the request, the credentials or the client's behaviour. */
  edge: 'edge',
  /** The node itself cannot serve right now (stopping, journal failed, a bug). */
  operating: 'operating',
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

export interface ErrorSpec {
  readonly kind: ErrorKind;
  /** The engine's ResultCode number (business codes only). */
  readonly resultCode: number | null;
  /** One sentence a client author can act on. */
  readonly meaning: string;
  /** True when resending the same request, unchanged, may succeed later. */
  readonly retriable: boolean;
  /** True when the answer carries retryAfterMs (HTTP: also a Retry-After header): wait that long first. */
  readonly retryAfterMs: boolean;
  /** HTTP status of the answer; null when the code is never answered over HTTP. */
  readonly httpStatus: number | null;
  /**
   * WebSocket: 'open' when the code is answered and the connection stays
   * open; a close code when the connection is closed after the answer (the
   * close reason starts with the code); null when never answered on a socket.
   */
  readonly ws: 'open' | WsCloseCode | null;
}

type BusinessErrorCode = Exclude<keyof typeof ResultCode, 'ok'>;

const business = (
  resultCode: number,
  httpStatus: number,
  retriable: boolean,
  meaning: string,
): ErrorSpec => ({
  kind: 'business',
  resultCode,
  meaning,
  retriable,
  retryAfterMs: false,
  httpStatus,
  ws: 'open',
});

const R = ResultCode;

/** The business outcomes, by ResultCode name. `satisfies` makes a new ResultCode without an entry a compile error. */
const businessErrors = {
  soldOut: business(
    R.soldOut,
    409,
    true,
    'Nothing is left of a SKU in the order; stock refusals are not remembered, and expiring or canceled reservations can bring units back.',
  ),
  insufficientStock: business(
    R.insufficientStock,
    409,
    true,
    'Fewer units of a SKU are left than the order asks for; not remembered, so the same request may pass when reservations are released.',
  ),
  limitPerBuyerExceeded: business(
    R.limitPerBuyerExceeded,
    409,
    false,
    'The order would take the buyer over the per-buyer limit of a SKU; the order was created and failed (fail_checkout).',
  ),
  priceChanged: business(
    R.priceChanged,
    409,
    false,
    'A unit price the buyer saw is no longer the current one; read the price and place a new order.',
  ),
  totalMismatch: business(
    R.totalMismatch,
    422,
    false,
    "The order's total is not the sum of its lines at the current prices.",
  ),
  buyerBlocked: business(R.buyerBlocked, 403, false, 'The buyer is blocked by risk and may not order.'),
  unknownSku: business(R.unknownSku, 404, false, 'A SKU in the command does not exist.'),
  saleNotOpen: business(
    R.saleNotOpen,
    409,
    false,
    "The SKU's sale has not started or has ended; the refusal is remembered, so send a new request once the sale is open.",
  ),
  velocityExceeded: business(
    R.velocityExceeded,
    429,
    false,
    'The buyer placed more orders than the velocity limit allows in its window; send a new request after the window.',
  ),
  quantityInvalid: business(
    R.quantityInvalid,
    422,
    false,
    'A line asks for fewer than 1 or more than quantityPerLineMax units.',
  ),
  linesInvalid: business(
    R.linesInvalid,
    422,
    false,
    "No lines, or more than the engine's linesPerOrderMax; the checkout socket refuses more lines than it takes itself, as BAD_COMMAND.",
  ),
  ordersFull: business(
    R.ordersFull,
    503,
    false,
    'The engine holds as many orders as it has room for (ordersMax); room frees as final orders are forgotten, so send a new request later.',
  ),
  buyersFull: business(
    R.buyersFull,
    503,
    false,
    'The engine tracks as many buyers as it has room for (buyersMax), and a new buyer cannot order until an operator adds capacity.',
  ),
  unknownOrder: business(
    R.unknownOrder,
    404,
    false,
    'No such order in the engine (never created, or final and forgotten after its retention).',
  ),
  notOrderOwner: business(R.notOrderOwner, 403, false, 'The order belongs to another buyer.'),
  invalidTransition: business(
    R.invalidTransition,
    409,
    false,
    "The order's status does not allow this (e.g. cancel after payment, or pay a failed order).",
  ),
  productExists: business(R.productExists, 409, false, 'A product with this SKU id already exists.'),
  skuOutOfRange: business(R.skuOutOfRange, 422, false, 'The SKU id is outside 1..skusMax.'),
  priceInvalid: business(
    R.priceInvalid,
    422,
    false,
    'The price is not an integer from 1 to priceMinorMax minor units.',
  ),
  currencyMismatch: business(
    R.currencyMismatch,
    422,
    false,
    'The lines of the order are priced in more than one currency.',
  ),
  amountMismatch: business(
    R.amountMismatch,
    409,
    false,
    "A payment succeeded for another amount than the order's total: the order is now exception_checkout.",
  ),
  paymentDeclined: business(
    R.paymentDeclined,
    402,
    false,
    'The payment was declined: the order is now error_checkout and its stock released.',
  ),
  expired: business(
    R.expired,
    409,
    false,
    "The order's reservation expired before the payment (timeout), so it can no longer be paid.",
  ),
  buyerSkuPairsFull: business(
    R.buyerSkuPairsFull,
    503,
    false,
    'The engine counts purchases for as many (buyer, SKU) pairs as it has room for (buyerSkuPairsMax); an operator must add capacity.',
  ),
  stockInvalid: business(
    R.stockInvalid,
    422,
    false,
    'The stock quantity is negative, or would take the SKU over stockPerSkuMax.',
  ),
  saleWindowInvalid: business(
    R.saleWindowInvalid,
    422,
    false,
    'The sale window ends before it starts, or lies beyond the latest time the engine accepts.',
  ),
} as const satisfies Record<BusinessErrorCode, ErrorSpec>;

const edge = (
  httpStatus: number | null,
  ws: ErrorSpec['ws'],
  retriable: boolean,
  meaning: string,
  options: { retryAfterMs?: boolean; kind?: ErrorKind } = {},
): ErrorSpec => ({
  kind: options.kind ?? 'edge',
  resultCode: null,
  meaning,
  retriable,
  retryAfterMs: options.retryAfterMs ?? false,
  httpStatus,
  ws,
});
const operating = (
  httpStatus: number | null,
  ws: ErrorSpec['ws'],
  retriable: boolean,
  meaning: string,
  options: { retryAfterMs?: boolean } = {},
): ErrorSpec => edge(httpStatus, ws, retriable, meaning, { ...options, kind: 'operating' });

type TokenCodes = Record<TokenErrorCode, ErrorSpec>;

const edgeErrors = {
  BAD_FRAME: edge(
    400,
    'open',
    false,
    'The frame could not be decoded as a client message (malformed protobuf or JSON).',
  ),
  BAD_COMMAND: edge(
    400,
    'open',
    false,
    'The message decoded but a field is missing, out of range or inconsistent; the message names the field.',
  ),
  BAD_REQUEST: edge(
    400,
    null,
    false,
    'The HTTP request has an invalid path parameter, query or body, or one its route does not describe (/openapi.json); the message says which.',
  ),
  UNKNOWN_MESSAGE: edge(
    400,
    'open',
    false,
    'The message type is not one this gateway knows (a newer client, or a mistake).',
  ),
  FRAME_TOO_LARGE: edge(
    413,
    WsCloseCode.tooLarge,
    false,
    'The WebSocket frame or HTTP body is larger than its limit (wsPayloadBytesMax, httpBodyBytesMax).',
  ),
  TOO_MANY_COMMANDS: edge(
    413,
    'open',
    false,
    'A service batch carries more than commandsPerFrameMax commands; none of them was submitted.',
  ),
  NOT_FOUND: edge(404, 'open', false, 'No such route, product or order for this caller.'),
  AUTH_REQUIRED: edge(
    401,
    'open',
    false,
    'The message needs an authenticated connection or request: authenticate first.',
  ),
  TOKEN_MISSING: edge(401, WsCloseCode.auth, false, 'No token was presented where one is required.'),
  TOKEN_MALFORMED: edge(
    401,
    WsCloseCode.auth,
    false,
    'The token is not a Stampede token: wrong length, alphabet, parts or payload.',
  ),
  TOKEN_BAD_SIGNATURE: edge(
    401,
    WsCloseCode.auth,
    false,
    "The token's signature does not match: it was altered, or signed with another node's secret.",
  ),
  TOKEN_EXPIRED: edge(
    401,
    'open',
    false,
    'The token has expired: get a new one and authenticate again (on the same connection).',
  ),
  TOKEN_WRONG_ROLE: edge(
    403,
    WsCloseCode.auth,
    false,
    'The token is genuine but its role may not use this endpoint (e.g. an admin token on the checkout socket).',
  ),
  FORBIDDEN: edge(
    403,
    'open',
    false,
    "The caller is authenticated but may not do this (e.g. read another buyer's order, or act for another buyer).",
  ),
  WEBHOOK_BAD_SIGNATURE: edge(
    401,
    null,
    false,
    "A payment webhook's signature does not verify with webhookSecret; the notification was ignored.",
  ),
  RATE_LIMITED: edge(
    429,
    'open',
    true,
    'The buyer or the client address sent more than its rate allows; nothing was submitted, resend after retryAfterMs.',
    { retryAfterMs: true },
  ),
  POLICY_VIOLATION: edge(
    null,
    WsCloseCode.policy,
    false,
    'The connection was closed for abusing the protocol, such as sending far beyond its rate limit.',
  ),
  SLOW_READER: edge(
    null,
    WsCloseCode.slowReader,
    true,
    'The client did not read its answers: more than wsBackpressureBytesMax waited, so the connection was closed; reconnect and read the orders.',
  ),
  CONNECTIONS_FULL: edge(
    503,
    null,
    true,
    'The node already holds connectionsMax connections; the WebSocket upgrade was refused.',
  ),
  BUSY: edge(
    503,
    'open',
    true,
    'Backpressure: the inbound ring or the in-flight window is full, or the read model is filling a gap; nothing was submitted, resend after retryAfterMs.',
    { retryAfterMs: true },
  ),
  SHUTTING_DOWN: operating(
    503,
    'open',
    true,
    'The node is stopping and takes no new commands; answers in flight still arrive, then the node closes the connection, so resend after reconnecting.',
    { retryAfterMs: true },
  ),
  JOURNAL_UNAVAILABLE: operating(
    503,
    'open',
    true,
    'The journal failed, so the engine takes no more commands until the node restarts; the outcome is unknown, so resend the same request after the restart.',
  ),
  INTERNAL: operating(
    500,
    'open',
    false,
    "An unexpected failure in the gateway (a bug); the command's outcome is unknown, so read the order before acting again.",
  ),
  CONFIG_INVALID: operating(
    null,
    null,
    false,
    'The node configuration is invalid: the node does not start and lists every bad value.',
  ),
  PORT_IN_USE: operating(
    null,
    null,
    false,
    'The HTTP port is in use (another node, or another program): the node does not start, rather than share the port with another store.',
  ),
  LISTEN_FAILED: operating(
    null,
    null,
    false,
    'The node cannot listen on its host and port for another reason (the address is not local, or the port needs privileges); the message gives the reason.',
  ),
  JOURNAL_MISMATCH: operating(
    null,
    null,
    false,
    'The journal is not the one the data directory or its snapshot belongs to: the node does not start and names both.',
  ),
  JOURNAL_GAP: operating(
    null,
    null,
    false,
    "Records the state needs are missing (a snapshot past the journal's end, segments gone): the node does not start.",
  ),
} as const satisfies Record<string, ErrorSpec> & TokenCodes;

export type EdgeErrorCode = keyof typeof edgeErrors;
export type ErrorCode = BusinessErrorCode | EdgeErrorCode;

/** The catalogue, business outcomes first, each group in the order of its source. */
export const errorCatalogue: Readonly<Record<ErrorCode, ErrorSpec>> = Object.freeze({
  ...businessErrors,
  ...edgeErrors,
});

const specs = new Map<string, ErrorSpec>(Object.entries(errorCatalogue));

export function isErrorCode(code: string): code is ErrorCode {
  return specs.has(code);
}

/**
 * The entry of a code. Accepts a plain string because codes travel as
 * strings through the gateways, but a code missing from the catalogue is a
 * bug in the gateway (errors.test.ts scans the gateway sources for them):
 * it throws.
 */
export function errorSpec(code: string): ErrorSpec {
  const spec = specs.get(code);
  if (spec === undefined) throw new Error(`error code '${code}' is not in the edge error catalogue`);
  return spec;
}

/** HTTP status for a code; throws for codes never answered over HTTP (a bug in the caller). */
export function httpStatusOf(code: string): number {
  const status = errorSpec(code).httpStatus;
  if (status === null) throw new Error(`error code '${code}' is never answered over HTTP`);
  return status;
}

/**
 * The close code to end a WebSocket with after answering `code`, or null when
 * the connection stays open. Throws for codes never answered on a socket.
 */
export function closeCodeOf(code: string): WsCloseCode | null {
  const ws = errorSpec(code).ws;
  if (ws === null) throw new Error(`error code '${code}' is never answered on a WebSocket`);
  return ws === 'open' ? null : ws;
}

export function isRetriable(code: string): boolean {
  return errorSpec(code).retriable;
}

/** The catalogue code of an engine ResultCode number (not `ok`, which is no error). */
export function errorCodeOfResult(resultCode: number): BusinessErrorCode {
  const name = resultName(resultCode);
  if (resultCode === ResultCode.ok || !(name in businessErrors)) {
    throw new Error(`result ${name} has no error code`);
  }
  return name as BusinessErrorCode;
}

/**
 * The human message of an engine answer: '' for ok, the catalogue's meaning for a refusal, so every
 * refusal says why in words on the socket and over HTTP alike. Clients match on the code, never on this.
 */
export function resultMessage(resultCode: number): string {
  return resultCode === ResultCode.ok ? '' : errorSpec(errorCodeOfResult(resultCode)).meaning;
}
