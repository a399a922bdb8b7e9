/**
 * The HTTP API on uWebSockets.js: reads (products, catalog listing with
 * cursor paging, stock, orders), admin commands (admin token), health,
 * readiness, Prometheus metrics, the live dashboard (docs/dashboard.md).
 * Reads come from the embedded read model and the engine's shared
 * availability array, never from the engine thread; admin commands go
 * through the engine like any other command, and answer only once durable.
 * Routes, their query parameters and bodies are described at /openapi.json
 * (openapi.ts, http-bodies.ts), and a request with anything else is refused.
 */
import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { resultName, statusName } from '../engine/codes.ts';
import type { CommandInput } from '../engine/commands.ts';
import { packCurrency } from '../engine/layout.ts';
import { historyFields, type OrderView } from '../projections/embedded/order-table.ts';
import type { EmbeddedReadModel, ProductView } from '../projections/embedded/read-model.ts';
import type { OrderStatusRead, RedisReadModel } from '../projections/redis/read-model.ts';
import { dashboardPage } from './dashboard-page.ts';
import type { DashboardStats } from './dashboard-stats.ts';
import type { CaughtUp } from './durable-event-feed.ts';
import { type EngineCommands, JournalUnavailableError } from './engine-commands.ts';
import { errorCodeOfResult, resultMessage } from './errors.ts';
import {
  addProductBody,
  type BodyOf,
  type BodySpec,
  blockBody,
  parseBody,
  priceBody,
  quoted,
  restockBody,
  saleBody,
} from './http-bodies.ts';
import { Reply, readBody } from './http-io.ts';
import { openApiDocument, queryParameterNames } from './openapi.ts';

export interface Principal {
  role: 'buyer' | 'service' | 'admin';
  /** The buyer a buyer token speaks for (0 for other roles). */
  buyerId: number;
}

export type AuthCheck = { ok: true; principal: Principal } | { ok: false; code: string; message: string };

export interface HttpApiDeps {
  model: EmbeddedReadModel;
  /**
   * Applies the durable events the model lacks: an order read after its answer finds the order (read your
   * writes). A promise while a gap is filled from the journal (false: not within its bound).
   */
  catchUp: () => CaughtUp;
  /**
   * Set when the node reads stock and order status from the Redis projection (readModel 'redis'). Those two
   * routes then ask Redis first and answer from the embedded model when Redis fails or lacks the key; the
   * x-stampede-read-source header says which answered.
   */
  redisReads: RedisReadModel | null;
  availability: Int32Array;
  skusMax: number;
  commands: EngineCommands;
  /** Checks an Authorization header ("Bearer <token>"). */
  authorize: (authorization: string, nowMs: number) => AuthCheck;
  /** The edge error catalogue: HTTP status of a code. */
  httpStatusOf: (code: string) => number;
  metricsText: () => string;
  /** The live dashboard's figures, read when the page polls. */
  dashboard: () => DashboardStats;
  ready: () => { ready: boolean; reason: string };
  bodyBytesMax: number;
  /** What a BUSY answer tells the client to wait before retrying. */
  busyRetryAfterMs: number;
  pageSizeMax: number;
}

export function sendError(
  reply: Reply,
  deps: Pick<HttpApiDeps, 'httpStatusOf'>,
  code: string,
  message: string,
  extra: object = {},
): void {
  reply.json(deps.httpStatusOf(code), { error: { code, message, ...extra } });
}

const productJson = (p: ProductView, available: number) => ({
  skuId: p.skuId,
  priceMinor: p.priceMinor,
  currency: p.currency,
  available,
  sold: p.sold,
  limitPerBuyer: p.limitPerBuyer,
  saleStartsAtMs: p.saleStartsAtMs,
  saleEndsAtMs: p.saleEndsAtMs,
});

export const orderJson = (o: OrderView) => ({
  orderId: o.orderId,
  buyerId: o.buyerId,
  status: statusName(o.status),
  code: resultName(o.code),
  lines: o.lines,
  totalMinor: o.totalMinor,
  createdAtMs: o.createdAtMs,
  expiresAtMs: o.expiresAtMs,
  updatedAtMs: o.updatedAtMs,
  history: historyJson(o.history),
});

function historyJson(history: readonly number[]) {
  const out: { status: string; code: string; atMs: number; seq: number }[] = [];
  for (let i = 0; i < history.length; i += historyFields) {
    out.push({
      status: statusName(history[i]!),
      code: resultName(history[i + 1]!),
      atMs: history[i + 2]!,
      seq: history[i + 3]!,
    });
  }
  return out;
}

/** An order as the Redis projection holds it: status and totals, no lines or history. */
const redisOrderJson = (o: OrderStatusRead) => ({
  orderId: o.orderId,
  buyerId: o.buyerId,
  status: statusName(o.statusCode),
  totalMinor: o.totalMinor,
  updatedAtMs: o.updatedAtMs,
  seq: o.seq,
});

const readSource = (source: 'embedded' | 'redis') => ({ 'x-stampede-read-source': source });

/**
 * Asks Redis, then answers: `found` with Redis's value, or `fallback` when Redis failed or had nothing. A
 * Redis failure is never the caller's problem: the embedded model is always there, and as fresh.
 */
function readThroughRedis<T>(
  reply: Reply,
  read: Promise<T | null>,
  found: (value: T) => void,
  fallback: () => void,
): void {
  read.then(
    (value) => {
      if (reply.aborted) return;
      if (value === null) fallback();
      else found(value);
    },
    () => {
      if (!reply.aborted) fallback();
    },
  );
}

/** Runs `read` once the read model holds every durable event; BUSY when a gap takes longer than its bound. */
function afterCatchUp(reply: Reply, deps: HttpApiDeps, read: () => void): void {
  const caughtUp = deps.catchUp();
  if (caughtUp === true) {
    read();
    return;
  }
  void caughtUp.then((current) => {
    if (reply.aborted) return;
    if (current) read();
    else
      sendError(reply, deps, 'BUSY', 'the read model is catching up with the journal: retry', {
        retryAfterMs: deps.busyRetryAfterMs,
      });
  });
}

/** A non-negative integer from a path or query string, or null. */
function intParam(text: string, max = Number.MAX_SAFE_INTEGER): number | null {
  if (!/^\d{1,16}$/.test(text)) return null;
  const value = Number(text);
  return value <= max ? value : null;
}

/**
 * A request's query string as name -> value, or what is wrong with it: a parameter the route does not
 * describe in /openapi.json (until search exists, `/v1/products?q=` is one), or one given twice. A
 * parameter the server would ignore is refused, as a body field is: the caller meant something by it.
 */
function parseQuery(text: string, allowed: readonly string[]): Map<string, string> | string {
  const query = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(text)) {
    const shown = quoted(name);
    if (!allowed.includes(name)) {
      return allowed.length === 0
        ? `unknown query parameter ${shown}: this route takes none`
        : `unknown query parameter ${shown}: this route takes ${allowed.join(', ')}`;
    }
    if (query.has(name)) return `query parameter ${shown} is given twice`;
    query.set(name, value);
  }
  return query;
}

type RouteHandler = (reply: Reply, req: HttpRequest, query: Map<string, string>) => void;

/**
 * Registers `METHOD path` with its query checked against the route's description (openapi.ts) first.
 * Everything else from `req` must still be read synchronously by the handler (http-io.ts).
 */
function route(
  app: TemplatedApp,
  deps: Pick<HttpApiDeps, 'httpStatusOf'>,
  method: 'get' | 'post',
  path: string,
  handler: RouteHandler,
): void {
  const allowed = queryParameterNames(`${method.toUpperCase()} ${path}`);
  app[method](path, (res, req) => {
    const reply = new Reply(res);
    const query = parseQuery(req.getQuery() ?? '', allowed);
    if (typeof query === 'string') return sendError(reply, deps, 'BAD_REQUEST', query);
    handler(reply, req, query);
  });
}

export function registerHttpApi(app: TemplatedApp, deps: HttpApiDeps): void {
  const availableOf = (skuId: number): number =>
    skuId >= 1 && skuId <= deps.skusMax ? deps.availability[skuId]! : 0;
  const get = (path: string, handler: RouteHandler): void => route(app, deps, 'get', path, handler);

  get('/health', (reply) => reply.json(200, { status: 'ok' }));
  get('/ready', (reply) => {
    const { ready, reason } = deps.ready();
    reply.json(ready ? 200 : 503, { ready, reason });
  });
  get('/metrics', (reply) => reply.send(200, deps.metricsText(), 'text/plain; version=0.0.4'));
  get('/dashboard', (reply) =>
    reply.send(200, dashboardPage.html, 'text/html; charset=utf-8', {
      'content-security-policy': dashboardPage.contentSecurityPolicy,
      'cache-control': 'no-cache',
    }),
  );
  get('/v1/dashboard', (reply) => reply.json(200, deps.dashboard(), { 'cache-control': 'no-store' }));
  const openApi = JSON.stringify(openApiDocument());
  get('/openapi.json', (reply) => reply.send(200, openApi, 'application/json'));

  get('/v1/products', (reply, _req, query) => {
    const after = intParam(query.get('after') ?? '0') ?? -1;
    const limit = intParam(query.get('limit') ?? '50') ?? -1;
    if (after < 0 || limit < 1 || limit > deps.pageSizeMax) {
      return sendError(reply, deps, 'BAD_REQUEST', `after must be a SKU id and limit 1..${deps.pageSizeMax}`);
    }
    const page = deps.model.productsPage(after, limit);
    const last = page[page.length - 1];
    reply.json(200, {
      products: page.map((p) => productJson(p, availableOf(p.skuId))),
      nextCursor: page.length === limit && last !== undefined ? String(last.skuId) : null,
    });
  });

  get('/v1/products/:skuId', (reply, req) => {
    const skuId = intParam(req.getParameter(0) ?? '');
    const product = skuId === null ? undefined : deps.model.products.get(skuId);
    if (product === undefined)
      return sendError(reply, deps, 'NOT_FOUND', `no product with SKU ${req.getParameter(0)}`);
    reply.json(200, productJson(product, availableOf(product.skuId)));
  });

  get('/v1/stock/:skuId', (reply, req) => {
    const skuId = intParam(req.getParameter(0) ?? '');
    if (skuId === null || !deps.model.products.has(skuId)) {
      return sendError(reply, deps, 'NOT_FOUND', `no product with SKU ${req.getParameter(0)}`);
    }
    const embedded = (): void =>
      reply.json(200, { skuId, available: availableOf(skuId) }, readSource('embedded'));
    if (deps.redisReads === null) return embedded();
    readThroughRedis(
      reply,
      deps.redisReads.availability(skuId),
      (available) => reply.json(200, { skuId, available }, readSource('redis')),
      embedded,
    );
  });

  get('/v1/orders/:orderId', (reply, req) => {
    const auth = deps.authorize(req.getHeader('authorization'), Date.now());
    const orderId = intParam(req.getParameter(0) ?? '');
    const orderText = req.getParameter(0);
    if (!auth.ok) return sendError(reply, deps, auth.code, auth.message);
    // Another buyer's order answers like a missing one: ids reveal nothing.
    const visible = (buyerId: number): boolean =>
      auth.principal.role !== 'buyer' || buyerId === auth.principal.buyerId;
    const notFound = (): void => sendError(reply, deps, 'NOT_FOUND', `no order ${orderText} for this caller`);
    const embedded = (): void =>
      afterCatchUp(reply, deps, () => {
        const order = orderId === null ? undefined : deps.model.orders.find(orderId);
        if (order === undefined || !visible(order.buyerId)) notFound();
        else reply.json(200, orderJson(order), readSource('embedded'));
      });
    if (deps.redisReads === null || orderId === null) return embedded();
    readThroughRedis(
      reply,
      deps.redisReads.orderStatus(orderId),
      (order) =>
        visible(order.buyerId) ? reply.json(200, redisOrderJson(order), readSource('redis')) : notFound(),
      embedded,
    );
  });

  const buyerOrders = (reply: Reply, buyerId: number, query: Map<string, string>): void => {
    const limit = intParam(query.get('limit') || '50') ?? -1;
    const before = query.get('before') ?? '';
    const beforeId = before === '' ? Number.POSITIVE_INFINITY : intParam(before);
    if (limit < 1 || limit > deps.pageSizeMax || beforeId === null) {
      sendError(reply, deps, 'BAD_REQUEST', `before must be an order id and limit 1..${deps.pageSizeMax}`);
      return;
    }
    afterCatchUp(reply, deps, () => {
      const orders = deps.model.orders.ofBuyer(buyerId, limit, beforeId);
      const last = orders[orders.length - 1];
      reply.json(200, {
        orders: orders.map(orderJson),
        nextCursor: orders.length === limit && last !== undefined ? String(last.orderId) : null,
      });
    });
  };

  get('/v1/buyers/me/orders', (reply, req, query) => {
    const auth = deps.authorize(req.getHeader('authorization'), Date.now());
    if (!auth.ok) return sendError(reply, deps, auth.code, auth.message);
    if (auth.principal.role !== 'buyer')
      return sendError(reply, deps, 'FORBIDDEN', 'a buyer token is needed for /me');
    buyerOrders(reply, auth.principal.buyerId, query);
  });

  get('/v1/buyers/:buyerId/orders', (reply, req, query) => {
    const auth = deps.authorize(req.getHeader('authorization'), Date.now());
    const buyerId = intParam(req.getParameter(0) ?? '', 2 ** 31 - 1);
    if (!auth.ok) return sendError(reply, deps, auth.code, auth.message);
    if (buyerId === null)
      return sendError(reply, deps, 'BAD_REQUEST', 'buyer id must be an integer from 1 to 2^31 - 1');
    const allowed = auth.principal.role !== 'buyer' || auth.principal.buyerId === buyerId;
    if (!allowed) return sendError(reply, deps, 'FORBIDDEN', 'a buyer sees only their own orders');
    buyerOrders(reply, buyerId, query);
  });

  registerAdminRoutes(app, deps);
}

/**
 * Admin commands: JSON in (checked against its description in http-bodies.ts), the engine's coded answer
 * out once durable: 200 `{ result: "ok" }`, or a refusal as every other error, `{ error: { code, message } }`
 * with the catalogue's status for the code (docs/errors.md).
 */
function registerAdminRoutes(app: TemplatedApp, deps: HttpApiDeps): void {
  const admin = <S extends BodySpec>(
    path: string,
    spec: S,
    toCommand: (body: BodyOf<S>, params: string[]) => CommandInput | string,
  ): void => {
    route(app, deps, 'post', path, (reply, req) => {
      const auth = deps.authorize(req.getHeader('authorization'), Date.now());
      const params = [req.getParameter(0) ?? '', req.getParameter(1) ?? ''];
      void (async () => {
        const body = await readBody(reply, deps.bodyBytesMax);
        if (body === null) return;
        if (!auth.ok) return sendError(reply, deps, auth.code, auth.message);
        if (auth.principal.role !== 'admin')
          return sendError(reply, deps, 'FORBIDDEN', 'an admin token is needed');
        if (body === 'tooLarge')
          return sendError(reply, deps, 'FRAME_TOO_LARGE', `body over ${deps.bodyBytesMax} bytes`);
        const parsed = parseBody(body, spec);
        if (!parsed.ok) return sendError(reply, deps, 'BAD_REQUEST', parsed.message);
        const command = toCommand(parsed.value, params);
        if (typeof command === 'string') return sendError(reply, deps, 'BAD_REQUEST', command);
        const answer = deps.commands.submit(command);
        if (answer === null)
          return sendError(reply, deps, 'BUSY', 'the engine is busy, retry', {
            retryAfterMs: deps.busyRetryAfterMs,
          });
        let result: number;
        try {
          ({ result } = await answer);
        } catch (error) {
          if (!(error instanceof JournalUnavailableError)) throw error;
          return sendError(reply, deps, 'JOURNAL_UNAVAILABLE', 'the journal failed: the outcome is unknown');
        }
        if (result === 0) return reply.json(200, { result: resultName(result) });
        sendError(reply, deps, errorCodeOfResult(result), resultMessage(result));
      })();
    });
  };
  const skuOf = (text: string | undefined): number | string =>
    intParam(text ?? '') ?? 'SKU id must be an integer';

  admin('/v1/admin/products', addProductBody, (body) => ({
    type: 'addProduct',
    skuId: body.skuId,
    priceMinor: body.priceMinor,
    stock: body.stock,
    currency: packCurrency(body.currency),
  }));
  admin('/v1/admin/products/:skuId/restock', restockBody, (body, [sku]) => {
    const skuId = skuOf(sku);
    return typeof skuId === 'string' ? skuId : { type: 'restock', skuId, quantity: body.quantity };
  });
  admin('/v1/admin/products/:skuId/price', priceBody, (body, [sku]) => {
    const skuId = skuOf(sku);
    return typeof skuId === 'string' ? skuId : { type: 'setPrice', skuId, priceMinor: body.priceMinor };
  });
  admin('/v1/admin/products/:skuId/sale', saleBody, (body, [sku]) => {
    const skuId = skuOf(sku);
    if (typeof skuId === 'string') return skuId;
    const { limitPerBuyer, startsAtMs, endsAtMs } = body;
    return { type: 'configureSale', skuId, limitPerBuyer, startsAtMs, endsAtMs };
  });
  admin('/v1/admin/buyers/:buyerId/block', blockBody, (body, [buyer]) => {
    const buyerId = intParam(buyer ?? '', 2 ** 31 - 1);
    if (buyerId === null || buyerId < 1) return 'buyer id must be an integer from 1 to 2^31 - 1';
    return { type: 'blockBuyer', buyerId, blocked: body.blocked };
  });

  // Any other path: a coded 404. Without it uWebSockets.js closes the connection without a word. Routes
  // with a path are always preferred to this wildcard, whatever the order they were registered in.
  app.any('/*', (res, req) => {
    const reply = new Reply(res);
    sendError(reply, deps, 'NOT_FOUND', `no route ${req.getCaseSensitiveMethod()} ${req.getUrl()}`);
  });
}
