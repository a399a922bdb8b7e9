/**
 * The HTTP API on uWebSockets.js: reads (products, catalog listing with
 * cursor paging, stock, orders), admin commands (admin token), health,
 * readiness, Prometheus metrics, the live dashboard (docs/dashboard.md).
 * Reads come from the embedded read model and the engine's shared
 * availability array, never from the engine thread; admin commands go
 * through the engine like any other command, and answer only once durable.
 * Routes and their errors are listed in docs/http-api.md.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import { resultName, statusName } from '../engine/codes.ts';
import type { CommandInput } from '../engine/commands.ts';
import { packCurrency } from '../engine/layout.ts';
import { engineTimeMsMax } from '../engine/limits.ts';
import type { EmbeddedReadModel, ProductView } from '../projections/embedded-read-model.ts';
import { historyFields, type OrderView } from '../projections/order-table.ts';
import type { OrderStatusRead, RedisReadModel } from '../projections/redis-read-model.ts';
import { dashboardPage } from './dashboard-page.ts';
import type { DashboardStats } from './dashboard-stats.ts';
import { type EngineCommands, JournalUnavailableError } from './engine-commands.ts';
import { Reply, readBody } from './http-io.ts';
import { openApiDocument } from './openapi.ts';

export interface Principal {
  role: 'buyer' | 'service' | 'admin';
  /** The buyer a buyer token speaks for (0 for other roles). */
  buyerId: number;
}

export type AuthCheck = { ok: true; principal: Principal } | { ok: false; code: string; message: string };

export interface HttpApiDeps {
  model: EmbeddedReadModel;
  /** Applies the durable events the model lacks: an order read after its answer finds the order (read your writes). */
  catchUp: () => void;
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

/** A non-negative integer from a path or query string, or null. */
function intParam(text: string, max = Number.MAX_SAFE_INTEGER): number | null {
  if (!/^\d{1,16}$/.test(text)) return null;
  const value = Number(text);
  return value <= max ? value : null;
}

export function registerHttpApi(app: TemplatedApp, deps: HttpApiDeps): void {
  const availableOf = (skuId: number): number =>
    skuId >= 1 && skuId <= deps.skusMax ? deps.availability[skuId]! : 0;

  app.get('/health', (res) => new Reply(res).json(200, { status: 'ok' }));
  app.get('/ready', (res) => {
    const { ready, reason } = deps.ready();
    new Reply(res).json(ready ? 200 : 503, { ready, reason });
  });
  app.get('/metrics', (res) => new Reply(res).send(200, deps.metricsText(), 'text/plain; version=0.0.4'));
  app.get('/dashboard', (res) =>
    new Reply(res).send(200, dashboardPage.html, 'text/html; charset=utf-8', {
      'content-security-policy': dashboardPage.contentSecurityPolicy,
      'cache-control': 'no-cache',
    }),
  );
  app.get('/v1/dashboard', (res) =>
    new Reply(res).json(200, deps.dashboard(), { 'cache-control': 'no-store' }),
  );
  const openApi = JSON.stringify(openApiDocument());
  app.get('/openapi.json', (res) => new Reply(res).send(200, openApi, 'application/json'));

  app.get('/v1/products', (res, req) => {
    const reply = new Reply(res);
    const after = intParam(req.getQuery('after') ?? '0') ?? -1;
    const limit = intParam(req.getQuery('limit') ?? '50') ?? -1;
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

  app.get('/v1/products/:skuId', (res, req) => {
    const reply = new Reply(res);
    const skuId = intParam(req.getParameter(0) ?? '');
    const product = skuId === null ? undefined : deps.model.products.get(skuId);
    if (product === undefined)
      return sendError(reply, deps, 'NOT_FOUND', `no product with SKU ${req.getParameter(0)}`);
    reply.json(200, productJson(product, availableOf(product.skuId)));
  });

  app.get('/v1/stock/:skuId', (res, req) => {
    const reply = new Reply(res);
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

  app.get('/v1/orders/:orderId', (res, req) => {
    const reply = new Reply(res);
    const auth = deps.authorize(req.getHeader('authorization'), Date.now());
    const orderId = intParam(req.getParameter(0) ?? '');
    const orderText = req.getParameter(0);
    if (!auth.ok) return sendError(reply, deps, auth.code, auth.message);
    // Another buyer's order answers like a missing one: ids reveal nothing.
    const visible = (buyerId: number): boolean =>
      auth.principal.role !== 'buyer' || buyerId === auth.principal.buyerId;
    const notFound = (): void => sendError(reply, deps, 'NOT_FOUND', `no order ${orderText} for this caller`);
    const embedded = (): void => {
      deps.catchUp();
      const order = orderId === null ? undefined : deps.model.orders.find(orderId);
      if (order === undefined || !visible(order.buyerId)) notFound();
      else reply.json(200, orderJson(order), readSource('embedded'));
    };
    if (deps.redisReads === null || orderId === null) return embedded();
    readThroughRedis(
      reply,
      deps.redisReads.orderStatus(orderId),
      (order) =>
        visible(order.buyerId) ? reply.json(200, redisOrderJson(order), readSource('redis')) : notFound(),
      embedded,
    );
  });

  const buyerOrders = (reply: Reply, buyerId: number, before: string, limitText: string): void => {
    const limit = intParam(limitText || '50') ?? -1;
    const beforeId = before === '' ? Number.POSITIVE_INFINITY : intParam(before);
    if (limit < 1 || limit > deps.pageSizeMax || beforeId === null) {
      sendError(reply, deps, 'BAD_REQUEST', `before must be an order id and limit 1..${deps.pageSizeMax}`);
      return;
    }
    deps.catchUp();
    const orders = deps.model.orders.ofBuyer(buyerId, limit, beforeId);
    const last = orders[orders.length - 1];
    reply.json(200, {
      orders: orders.map(orderJson),
      nextCursor: orders.length === limit && last !== undefined ? String(last.orderId) : null,
    });
  };

  app.get('/v1/buyers/me/orders', (res, req) => {
    const reply = new Reply(res);
    const auth = deps.authorize(req.getHeader('authorization'), Date.now());
    const before = req.getQuery('before') ?? '';
    const limit = req.getQuery('limit') ?? '';
    if (!auth.ok) return sendError(reply, deps, auth.code, auth.message);
    if (auth.principal.role !== 'buyer')
      return sendError(reply, deps, 'FORBIDDEN', 'a buyer token is needed for /me');
    buyerOrders(reply, auth.principal.buyerId, before, limit);
  });

  app.get('/v1/buyers/:buyerId/orders', (res, req) => {
    const reply = new Reply(res);
    const auth = deps.authorize(req.getHeader('authorization'), Date.now());
    const buyerId = intParam(req.getParameter(0) ?? '', 2 ** 31 - 1);
    const before = req.getQuery('before') ?? '';
    const limit = req.getQuery('limit') ?? '';
    if (!auth.ok) return sendError(reply, deps, auth.code, auth.message);
    if (buyerId === null)
      return sendError(reply, deps, 'BAD_REQUEST', 'buyer id must be an integer from 1 to 2^31 - 1');
    const allowed = auth.principal.role !== 'buyer' || auth.principal.buyerId === buyerId;
    if (!allowed) return sendError(reply, deps, 'FORBIDDEN', 'a buyer sees only their own orders');
    buyerOrders(reply, buyerId, before, limit);
  });

  registerAdminRoutes(app, deps);
}

/** Admin commands: JSON in, the engine's coded answer out (after it is durable). */
function registerAdminRoutes(app: TemplatedApp, deps: HttpApiDeps): void {
  const admin = (
    path: string,
    toCommand: (body: Record<string, unknown>, params: string[]) => CommandInput | string,
  ): void => {
    app.post(path, (res, req) => {
      const reply = new Reply(res);
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
        let parsed: unknown;
        try {
          parsed = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
        } catch {
          return sendError(reply, deps, 'BAD_REQUEST', 'body is not JSON');
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          return sendError(reply, deps, 'BAD_REQUEST', 'body must be a JSON object');
        }
        const command = toCommand(parsed as Record<string, unknown>, params);
        if (typeof command === 'string') return sendError(reply, deps, 'BAD_REQUEST', command);
        const answer = deps.commands.submit(command);
        if (answer === null)
          return sendError(reply, deps, 'BUSY', 'the engine is busy, retry', { retryAfterMs: 50 });
        let result: number;
        try {
          ({ result } = await answer);
        } catch (error) {
          if (!(error instanceof JournalUnavailableError)) throw error;
          return sendError(reply, deps, 'JOURNAL_UNAVAILABLE', 'the journal failed: the outcome is unknown');
        }
        reply.json(result === 0 ? 200 : 422, { result: resultName(result) });
      })();
    });
  };
  const int = (body: Record<string, unknown>, key: string, min: number, max: number): number | string => {
    const value = body[key];
    return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
      ? value
      : `${key} must be an integer from ${min} to ${max}`;
  };
  const all = (...values: (number | string)[]): string | null =>
    values.find((v) => typeof v === 'string') as string | null;

  admin('/v1/admin/products', (body) => {
    const skuId = int(body, 'skuId', 1, deps.skusMax);
    const priceMinor = int(body, 'priceMinor', 0, 2 ** 31 - 1);
    const stock = int(body, 'stock', 0, 2 ** 30);
    const currency =
      typeof body.currency === 'string' && /^[A-Z]{3}$/.test(body.currency) ? body.currency : null;
    const problem =
      all(skuId, priceMinor, stock) ?? (currency === null ? 'currency must be three capital letters' : null);
    if (problem !== null) return problem;
    return {
      type: 'addProduct',
      skuId: skuId as number,
      priceMinor: priceMinor as number,
      stock: stock as number,
      currency: packCurrency(currency as string),
    };
  });
  admin('/v1/admin/products/:skuId/restock', (body, [sku]) => {
    const skuId = intParam(sku ?? '');
    const quantity = int(body, 'quantity', 1, 2 ** 30);
    if (skuId === null) return 'SKU id must be an integer';
    return all(quantity) ?? { type: 'restock', skuId, quantity: quantity as number };
  });
  admin('/v1/admin/products/:skuId/price', (body, [sku]) => {
    const skuId = intParam(sku ?? '');
    const priceMinor = int(body, 'priceMinor', 0, 2 ** 31 - 1);
    if (skuId === null) return 'SKU id must be an integer';
    return all(priceMinor) ?? { type: 'setPrice', skuId, priceMinor: priceMinor as number };
  });
  admin('/v1/admin/products/:skuId/sale', (body, [sku]) => {
    const skuId = intParam(sku ?? '');
    const limitPerBuyer = int(body, 'limitPerBuyer', 0, 2 ** 30);
    const startsAtMs = int(body, 'startsAtMs', 0, engineTimeMsMax);
    const endsAtMs = int(body, 'endsAtMs', 0, engineTimeMsMax);
    if (skuId === null) return 'SKU id must be an integer';
    return (
      all(limitPerBuyer, startsAtMs, endsAtMs) ?? {
        type: 'configureSale',
        skuId,
        limitPerBuyer: limitPerBuyer as number,
        startsAtMs: startsAtMs as number,
        endsAtMs: endsAtMs as number,
      }
    );
  });
  admin('/v1/admin/buyers/:buyerId/block', (body, [buyer]) => {
    const buyerId = intParam(buyer ?? '', 2 ** 31 - 1);
    if (buyerId === null || buyerId < 1) return 'buyer id must be an integer from 1 to 2^31 - 1';
    if (typeof body.blocked !== 'boolean') return 'blocked must be true or false';
    return { type: 'blockBuyer', buyerId, blocked: body.blocked };
  });

  // Any other path: a coded 404. Without it uWebSockets.js closes the connection without a word. Routes
  // with a path are always preferred to this wildcard, whatever the order they were registered in.
  app.any('/*', (res, req) => {
    const reply = new Reply(res);
    sendError(reply, deps, 'NOT_FOUND', `no route ${req.getCaseSensitiveMethod()} ${req.getUrl()}`);
  });
}
