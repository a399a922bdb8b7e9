/**
 * The OpenAPI 3.1 description of the HTTP API, served at GET /openapi.json.
 * One entry per route; gateways/openapi.test.ts checks that the routes the
 * server registers and the routes described here are the same set.
 */
import { dashboardSkusMax } from './dashboard-stats.ts';
import {
  addProductBody,
  type BodySpec,
  blockBody,
  bodySchemaOf,
  priceBody,
  restockBody,
  saleBody,
  webhookBody,
} from './http-bodies.ts';

const bearer = [{ bearer: [] }];
const errorResponse = {
  description: 'a coded error (docs/errors.md)',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};
const json = (description: string, schema: object = { type: 'object' }) => ({
  description,
  content: { 'application/json': { schema } },
});
const pathParam = (name: string, description: string) => ({
  name,
  in: 'path',
  required: true,
  schema: { type: 'integer', minimum: 0 },
  description,
});
const queryParam = (name: string, description: string) => ({
  name,
  in: 'query',
  required: false,
  schema: { type: 'string' },
  description,
});
/** A body the server checks against the same spec (http-bodies.ts): unknown fields are refused. */
const requestBody = (spec: BodySpec) => ({
  required: true,
  content: { 'application/json': { schema: bodySchemaOf(spec) } },
});
const int = { type: 'integer' };
/** A read the Redis read model may answer (STAMPEDE_READ_MODEL=redis), falling back to the embedded one. */
const readModelAnswer = (description: string) => ({
  ...json(description),
  headers: {
    'x-stampede-read-source': {
      description:
        'which read model answered: redis, or embedded (the default, and the fallback when Redis is unreachable)',
      schema: { enum: ['embedded', 'redis'] },
    },
  },
});
const adminAnswer = {
  200: json('applied', { type: 'object', properties: { result: { const: 'ok' } } }),
  default: {
    ...errorResponse,
    description:
      'a coded error (docs/errors.md): a bad request, or the engine refused the command (code names the ResultCode, e.g. productExists, 409)',
  },
};

const num = { type: 'number' };
const msOrNull = {
  type: ['number', 'null'],
  description: 'ms; upper bound of its log bucket (≤ 12.5% high)',
};
const dashboardSchema = {
  type: 'object',
  properties: {
    atMs: num,
    skus: {
      type: 'array',
      description: `at most ${dashboardSkusMax}, in SKU order; reserved = stockTotal - sold - available`,
      items: {
        type: 'object',
        properties: {
          skuId: int,
          name: { type: ['string', 'null'], description: 'null when no module of the node knows its name' },
          stockTotal: int,
          available: int,
          reserved: int,
          sold: int,
        },
      },
    },
    skuCount: int,
    window: {
      type: 'object',
      properties: {
        windowMs: num,
        placesPerSecond: num,
        ordersPerSecond: num,
        placeCount: int,
        latencyMsP50: msOrNull,
        latencyMsP99: msOrNull,
        latencyMsMax: msOrNull,
      },
    },
    history: {
      type: 'object',
      description:
        'place answers and orders per second, one per second of the last two minutes, oldest first',
      properties: {
        slotMs: int,
        placesPerSecond: { type: 'array', items: num },
        ordersPerSecond: { type: 'array', items: num },
      },
    },
    placesAnsweredTotal: int,
    ordersPlacedTotal: int,
    answersByCode: { type: 'object', additionalProperties: int },
    connections: {
      type: 'object',
      properties: { open: int, openedTotal: int, closedTotal: int },
    },
  },
};

/** `:name` path parameters in uWS style, keyed as "METHOD /path". */
export const describedRoutes: Record<string, object> = {
  'GET /health': { summary: 'liveness', responses: { 200: json('the process answers') } },
  'GET /ready': {
    summary: 'readiness: engine and journal running',
    responses: { 200: json('ready'), 503: json('not ready, with the reason') },
  },
  'GET /metrics': {
    summary: 'Prometheus metrics',
    responses: { 200: { description: 'text exposition format', content: { 'text/plain': {} } } },
  },
  'GET /openapi.json': { summary: 'this document', responses: { 200: json('OpenAPI 3.1') } },
  'GET /dashboard': {
    summary: 'the live dashboard: a self-contained page polling /v1/dashboard (docs/dashboard.md)',
    responses: { 200: { description: 'HTML page', content: { 'text/html': {} } } },
  },
  'GET /v1/dashboard': {
    summary: "the dashboard's figures: stock per SKU, place rates and latency over a sliding window, answers",
    responses: { 200: json('dashboard figures', dashboardSchema) },
  },
  'GET /v1/products': {
    summary: 'catalog listing, SKU order, cursor paging',
    parameters: [
      queryParam('after', 'SKU id cursor (nextCursor of the previous page)'),
      queryParam('limit', '1..500, default 50'),
    ],
    responses: { 200: json('{ products, nextCursor }'), default: errorResponse },
  },
  'GET /v1/products/:skuId': {
    summary: 'one product with its live availability',
    parameters: [pathParam('skuId', 'SKU id')],
    responses: { 200: json('product'), default: errorResponse },
  },
  'GET /v1/stock/:skuId': {
    summary: 'available units of a SKU (the engine’s shared array)',
    parameters: [pathParam('skuId', 'SKU id')],
    responses: { 200: readModelAnswer('{ skuId, available }'), default: errorResponse },
  },
  'GET /v1/orders/:orderId': {
    summary: 'an order with its status history (buyer token: own orders only; service/admin: any)',
    security: bearer,
    parameters: [pathParam('orderId', 'order id')],
    responses: { 200: readModelAnswer('order'), default: errorResponse },
  },
  'GET /v1/buyers/me/orders': {
    summary: "the caller's orders, newest first, cursor paging (buyer token)",
    security: bearer,
    parameters: [queryParam('before', 'order id cursor'), queryParam('limit', '1..500, default 50')],
    responses: { 200: json('{ orders, nextCursor }'), default: errorResponse },
  },
  'GET /v1/buyers/:buyerId/orders': {
    summary: "a buyer's orders (buyer token for itself; service/admin: any buyer)",
    security: bearer,
    parameters: [
      pathParam('buyerId', 'buyer id'),
      queryParam('before', 'order id cursor'),
      queryParam('limit', '1..500, default 50'),
    ],
    responses: { 200: json('{ orders, nextCursor }'), default: errorResponse },
  },
  'POST /v1/admin/products': {
    summary: 'add a product (admin token)',
    security: bearer,
    requestBody: requestBody(addProductBody),
    responses: adminAnswer,
  },
  'POST /v1/admin/products/:skuId/restock': {
    summary: 'add stock (admin token)',
    security: bearer,
    parameters: [pathParam('skuId', 'SKU id')],
    requestBody: requestBody(restockBody),
    responses: adminAnswer,
  },
  'POST /v1/admin/products/:skuId/price': {
    summary: 'set the price (admin token)',
    security: bearer,
    parameters: [pathParam('skuId', 'SKU id')],
    requestBody: requestBody(priceBody),
    responses: adminAnswer,
  },
  'POST /v1/admin/products/:skuId/sale': {
    summary: 'configure a sale: per-buyer limit and window, 0 = none (admin token)',
    security: bearer,
    parameters: [pathParam('skuId', 'SKU id')],
    requestBody: requestBody(saleBody),
    responses: adminAnswer,
  },
  'POST /v1/admin/buyers/:buyerId/block': {
    summary: 'block or unblock a buyer (admin token)',
    security: bearer,
    parameters: [pathParam('buyerId', 'buyer id')],
    requestBody: requestBody(blockBody),
    responses: adminAnswer,
  },
  'POST /v1/payments/webhook': {
    summary:
      "a payment provider's outcome; header stampede-signature: sha256=<hex HMAC of the body>; idempotent on eventId: a redelivery gets the first answer, also after a restart (the engine remembers the last 262,144 deliveries by default, engine limit paymentReferencesMax)",
    requestBody: requestBody(webhookBody),
    responses: { 200: json('{ eventId, result, status }'), default: errorResponse },
  },
};

/**
 * The query parameters a route takes, by its key ("GET /v1/products"); the server refuses any other
 * (http-api.ts), so this document is the list of what a route reads.
 */
export function queryParameterNames(route: string): string[] {
  const operation = describedRoutes[route] as { parameters?: { name: string; in: string }[] } | undefined;
  return (operation?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
}

export function openApiDocument(): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const [key, operation] of Object.entries(describedRoutes)) {
    const [method, path] = key.split(' ') as [string, string];
    const openApiPath = path.replace(/:([A-Za-z]+)/g, '{$1}');
    paths[openApiPath] ??= {};
    paths[openApiPath][method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Stampede HTTP API',
      version: '1',
      description:
        'Reads, admin and payments webhook. Checkout is the WebSocket at /v1/checkout (docs/websocket-protocol.md).',
    },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'stampede token (buyer, service or admin)' },
      },
      schemas: {
        Error: {
          type: 'object',
          properties: {
            error: {
              type: 'object',
              properties: {
                code: { type: 'string' },
                message: { type: 'string' },
                retryAfterMs: { type: 'integer' },
              },
            },
          },
        },
      },
    },
  };
}
