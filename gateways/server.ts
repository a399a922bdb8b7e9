/**
 * One Stampede node with its edges: the engine and journal threads
 * (EngineHost), the durable event feed into the embedded read model, the
 * sandbox payment provider, the ticker, and the uWebSockets.js app serving
 * the checkout WebSocket and the HTTP API.
 *
 * Pipeline of a checkout command:
 *   1. a frame arrives on the checkout socket and is decoded and validated;
 *   2. CheckoutService applies the edge rules (auth, ownership, rate limits,
 *      sold out at the edge) and writes the command into the inbound ring;
 *   3. the engine decides; the journal fsyncs; the answer is released when
 *      durable (CommandClient) and sent back in the client's frame kind;
 *   4. the durable event feed updates the read model and pushes order
 *      updates to the buyer's connections and the order's subscribers.
 *
 * Shutdown (SIGTERM/SIGINT): stop accepting connections and commands, wait
 * for the answers in flight, close sockets with SHUTTING_DOWN, stop the
 * engine (drain, fsync, snapshot).
 */
import uWS from 'uWebSockets.js';
import { CommandClient } from '../engine/command-client.ts';
import { EngineHost } from '../engine/engine-host.ts';
import { packCurrency } from '../engine/layout.ts';
import { type EngineLimits, engineLimits } from '../engine/limits.ts';
import {
  fileJournalSelection,
  type JournalSelection,
  journalBackendFor,
} from '../journal/journal-selection.ts';
import { EmbeddedReadModel } from '../projections/embedded-read-model.ts';
import { RedisReadModel } from '../projections/redis-read-model.ts';
import { type RunningProjectors, startProjectors } from '../projections/start-projectors.ts';
import { clientFrameLimits } from '../proto/client-codec.ts';
import { CheckoutService, type RateLimiter, type TokenCheck } from './checkout-service.ts';
import { CheckoutSocket } from './checkout-socket.ts';
import { dashboardStats } from './dashboard-stats.ts';
import { DurableEventFeed } from './durable-event-feed.ts';
import { EngineAnswerSink, EngineCommands } from './engine-commands.ts';
import { type AuthCheck, registerHttpApi } from './http-api.ts';
import { listenExclusive } from './http-listen.ts';
import { JournalStallWatch } from './journal-stall.ts';
import { GatewayMetrics } from './metrics.ts';
import { type SandboxOptions, SandboxPayments } from './payments-sandbox.ts';
import { registerPaymentsWebhook } from './payments-webhook.ts';

export interface ServerOptions {
  dataDir: string;
  /** Which journal the node writes and recovers from (default: the file journal in dataDir). */
  journal?: JournalSelection;
  host: string;
  /** 0 picks a free port (tests). */
  httpPort: number;
  limits?: EngineLimits;
  inboundRingSlots?: number;
  notifyRingSlots: number;
  verifyToken: (token: string, nowMs: number) => TokenCheck;
  buyerLimiter: RateLimiter<number>;
  ipLimiter: RateLimiter<string>;
  httpStatusOf: (code: string) => number;
  closeCodeOf: (code: string) => number | null;
  wsPayloadBytesMax: number;
  linesPerOrderMax: number;
  wsBackpressureBytesMax: number;
  wsIdleTimeoutSeconds: number;
  connectionsMax: number;
  batchMessagesMax: number;
  busyRetryAfterMs: number;
  httpBodyBytesMax: number;
  pageSizeMax: number;
  readModelOrdersMax: number;
  payments: SandboxOptions;
  demoCatalog: boolean;
  log: (message: string) => void;
  /** HMAC key of the payment provider's webhooks; undefined turns the route off. */
  webhookSecret: string | undefined;
  /** Slot of the dashboard's sliding place window (metrics.ts placeWindowSlotMs); tests widen it to hold figures still. */
  placeWindowSlotMs?: number;
  /** Stores the node projects its journal into, and where reads come from (projections/README.md). */
  projections?: ProjectionOptions;
}

export interface ProjectionOptions {
  /** Runs a MySQL projector when set. */
  mysqlUrl: string | undefined;
  /** Runs a Redis projector when set. */
  redisUrl: string | undefined;
  /** Key prefix in Redis (default 'stampede:'). */
  redisPrefix?: string;
  /** 'redis' serves stock and order status from the Redis projection (needs redisUrl). */
  readModel: 'embedded' | 'redis';
}

export class StampedeServer {
  readonly host: EngineHost;
  readonly port: number;
  readonly model: EmbeddedReadModel;
  readonly metrics: GatewayMetrics;
  /** "METHOD /path" of every HTTP route and "WS /path" of every socket route (the OpenAPI test compares). */
  readonly routes: readonly string[];
  private readonly socket: CheckoutSocket;
  private readonly feed: DurableEventFeed;
  private readonly payments: SandboxPayments;
  private readonly projectors: RunningProjectors;
  private readonly redisReads: RedisReadModel | null;
  private readonly client: CommandClient;
  private readonly ticker: NodeJS.Timeout;
  private readonly listenSocket: uWS.us_listen_socket;
  private stopping: Promise<{ lastSeq: number; stateHash: string }> | null = null;

  private constructor(parts: {
    host: EngineHost;
    port: number;
    model: EmbeddedReadModel;
    metrics: GatewayMetrics;
    socket: CheckoutSocket;
    feed: DurableEventFeed;
    payments: SandboxPayments;
    projectors: RunningProjectors;
    redisReads: RedisReadModel | null;
    client: CommandClient;
    ticker: NodeJS.Timeout;
    listenSocket: uWS.us_listen_socket;
    routes: string[];
  }) {
    this.routes = parts.routes;
    this.host = parts.host;
    this.port = parts.port;
    this.model = parts.model;
    this.metrics = parts.metrics;
    this.socket = parts.socket;
    this.feed = parts.feed;
    this.payments = parts.payments;
    this.projectors = parts.projectors;
    this.redisReads = parts.redisReads;
    this.client = parts.client;
    this.ticker = parts.ticker;
    this.listenSocket = parts.listenSocket;
  }

  static async start(options: ServerOptions): Promise<StampedeServer> {
    const limits = options.limits ?? engineLimits();
    const journal = options.journal ?? fileJournalSelection;
    // The host's threads write and recover this journal; the gateway's readers (the event feed's catch-up,
    // the projectors) read the same one, through its reader.
    const journalBackend = await journalBackendFor(journal, options.dataDir, { log: options.log });
    const host = await EngineHost.start({
      dataDir: options.dataDir,
      journal,
      limits,
      notifyRingSlots: options.notifyRingSlots,
      ...(options.inboundRingSlots === undefined ? {} : { inboundRingSlots: options.inboundRingSlots }),
      log: options.log,
    });
    const projection = options.projections;
    // Projectors only read the journal, up to the durable cursor: a store that is down never reaches the engine.
    const projectors = startProjectors({
      dataDir: options.dataDir,
      mysqlUrl: projection?.mysqlUrl,
      redisUrl: projection?.redisUrl,
      redisPrefix: projection?.redisPrefix,
      log: options.log,
      durableSeq: () => host.control.durableSeq,
      openReader: () => journalBackend.openReader(),
    });
    const redisReads =
      projection?.readModel === 'redis' && projection.redisUrl !== undefined
        ? new RedisReadModel({
            url: projection.redisUrl,
            ...(projection.redisPrefix === undefined ? {} : { prefix: projection.redisPrefix }),
          })
        : null;
    try {
      const metrics = new GatewayMetrics(
        options.placeWindowSlotMs === undefined ? {} : { placeWindowSlotMs: options.placeWindowSlotMs },
      );
      const model = new EmbeddedReadModel(options.readModelOrdersMax);
      const client = new CommandClient(host.producers[0]!, host.control);
      const commands = new EngineCommands(client);
      let service: CheckoutService | null = null;
      const journalStall = new JournalStallWatch(host.control);
      const feed = new DurableEventFeed({
        notify: host.notify!,
        control: host.control,
        model,
        openReader: () => journalBackend.openReader(),
        onChange: (change) => service?.onOrderChange(change),
        onForgotten: (orderId) => service?.onOrderForgotten(orderId),
        log: options.log,
      });
      const caughtUp = await feed.catchUp();
      feed.start();
      const payments = new SandboxPayments(options.payments, (orderId, outcome, amountMinor, reference) => {
        const input = {
          type: 'paymentResult',
          orderId,
          outcome: outcome === 'succeeded' ? 1 : 2,
          amountMinor,
          reference,
        } as const;
        // Nobody waits for this answer: the order's change reaches its subscribers from the journal.
        if (!commands.submitTo(input, Date.now(), answerIgnored, 0))
          options.log(`payment result for order ${orderId} refused: engine busy (the order will time out)`);
      });
      service = new CheckoutService({
        commands,
        model,
        availability: host.availability,
        skusMax: limits.skusMax,
        payments,
        metrics,
        verifyToken: options.verifyToken,
        buyerLimiter: options.buyerLimiter,
        ipLimiter: options.ipLimiter,
        busyRetryAfterMs: options.busyRetryAfterMs,
        catchUp: () => feed.caughtUp(),
        catchUpNow: () => feed.catchUpNow(),
        journalKeepsUp: (nowMs) => journalStall.keepsUp(nowMs),
      });
      const socket = new CheckoutSocket(service, metrics, {
        payloadBytesMax: options.wsPayloadBytesMax,
        backpressureBytesMax: options.wsBackpressureBytesMax,
        idleTimeoutSeconds: options.wsIdleTimeoutSeconds,
        connectionsMax: options.connectionsMax,
        closeCodeOf: options.closeCodeOf,
        frameLimits: clientFrameLimits({
          frameBytesMax: options.wsPayloadBytesMax,
          batchMessagesMax: options.batchMessagesMax,
          linesPerOrderMax: Math.min(options.linesPerOrderMax, limits.linesPerOrderMax),
        }),
      });
      const routes: string[] = [];
      const app = recordRoutes(uWS.App(), routes);
      socket.register(app);
      const authorize = (authorization: string, nowMs: number): AuthCheck => {
        const token = authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
        const check = options.verifyToken(token, nowMs);
        if (!check.ok) return check;
        return { ok: true, principal: { role: check.role, buyerId: check.buyerId } };
      };
      registerHttpApi(app, {
        model,
        catchUp: () => feed.caughtUp(),
        redisReads,
        availability: host.availability,
        skusMax: limits.skusMax,
        commands,
        authorize,
        httpStatusOf: options.httpStatusOf,
        metricsText: () =>
          metrics.render(host.control, {
            ring_inbound_depth:
              host.producers[0]!.inbound.slotCount - host.producers[0]!.inbound.freeSlotCount(),
            commands_in_flight: client.inFlightCount,
            ws_connections: socket.connectionCount,
            read_model_orders: model.orders.size,
            subscribed_orders: service?.subscribedOrderCount ?? 0,
          }) + projectors.prometheusText(),
        dashboard: () =>
          dashboardStats(
            {
              model,
              availability: host.availability,
              skusMax: limits.skusMax,
              metrics,
              connectionCount: () => socket.connectionCount,
            },
            performance.now(),
            Date.now(),
          ),
        ready: () =>
          host.failed !== null
            ? { ready: false, reason: host.failed.message }
            : host.control.journalFailed
              ? { ready: false, reason: 'journal failed' }
              : { ready: true, reason: 'engine and journal running' },
        bodyBytesMax: options.httpBodyBytesMax,
        pageSizeMax: options.pageSizeMax,
      });
      registerPaymentsWebhook(app, commands, {
        secret: options.webhookSecret,
        bodyBytesMax: options.httpBodyBytesMax,
        httpStatusOf: options.httpStatusOf,
      });

      // Time enters the engine only as commands: one Tick per timer slot.
      const ticker = setInterval(() => {
        // A tick refused for a failed journal is moot: the node is stopping to restart.
        commands.submit({ type: 'tick' })?.catch(() => {});
      }, limits.timerSlotMs);

      // Before listening: a client that connects once the node says it listens finds the catalog, in
      // the engine and in the read model (the feed is drained: the events are durable by then).
      if (options.demoCatalog && model.products.size === 0) {
        await seedDemoCatalog(commands, options.log);
        await feed.caughtUp();
      }

      const listenSocket = await listenExclusive(app, options.host, options.httpPort).catch(
        async (error: unknown) => {
          // Nothing is served: stop what already runs, so the process can exit with the reason.
          clearInterval(ticker);
          payments.close();
          client.close();
          await feed.stop();
          throw error;
        },
      );
      const port = uWS.us_socket_local_port(listenSocket);
      const server = new StampedeServer({
        host,
        port,
        model,
        metrics,
        socket,
        feed,
        payments,
        projectors,
        redisReads,
        client,
        ticker,
        listenSocket,
        routes,
      });
      options.log(
        `listening on http://${options.host}:${port} (WebSocket ws://${options.host}:${port}/v1/checkout); read model caught up with ${caughtUp} events`,
      );
      host.onFailure((error) => options.log(`node failed: ${error.message}`));
      return server;
    } catch (error) {
      await projectors.stop().catch(() => {});
      await redisReads?.close();
      await host.stop().catch(() => {});
      throw error;
    }
  }

  /** Graceful stop; idempotent. */
  stop(): Promise<{ lastSeq: number; stateHash: string }> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<{ lastSeq: number; stateHash: string }> {
    this.socket.stopAccepting();
    uWS.us_listen_socket_close(this.listenSocket);
    clearInterval(this.ticker);
    this.payments.close();
    // Answers in flight go out; then the sockets close with a coded reason.
    const deadline = Date.now() + 10_000;
    while (this.client.inFlightCount > 0 && Date.now() < deadline && this.host.failed === null) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    this.client.close();
    await new Promise((resolve) => setTimeout(resolve, 10)); // let the last answers leave
    this.socket.closeAll('SHUTTING_DOWN: the server is stopping');
    await this.feed.stop();
    await this.projectors.stop();
    await this.redisReads?.close();
    return this.host.stop();
  }
}

/** The app, noting each route it registers. */
/** For commands whose answer nobody waits for (payment results). */
const answerIgnored = new (class extends EngineAnswerSink {
  engineAnswered(): void {}
  engineUnavailable(): void {}
})();

/** Every TemplatedApp method that registers a route: a route added by any of them is recorded (openapi.test.ts). */
const routeMethods = new Set([
  'get',
  'post',
  'put',
  'patch',
  'del',
  'options',
  'head',
  'connect',
  'trace',
  'any',
  'ws',
]);

function recordRoutes(app: uWS.TemplatedApp, routes: string[]): uWS.TemplatedApp {
  return new Proxy(app, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof property === 'string' && routeMethods.has(property)) {
        return (path: string, handler: unknown) => {
          routes.push(`${String(property).toUpperCase()} ${path}`);
          (value as (path: string, handler: unknown) => unknown).call(target, path, handler);
          return receiver;
        };
      }
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
}

/** A few products for a first look (`--demo` on an empty data directory). */
async function seedDemoCatalog(commands: EngineCommands, log: (line: string) => void): Promise<void> {
  const demo = [
    { skuId: 1, priceMinor: 49_900, stock: 10_000, name: 'flash-sale phone' },
    { skuId: 2, priceMinor: 1_999, stock: 100_000, name: 'phone case' },
    { skuId: 3, priceMinor: 12_999, stock: 500, name: 'limited sneakers' },
  ];
  for (const p of demo) {
    await commands.submit({
      type: 'addProduct',
      skuId: p.skuId,
      priceMinor: p.priceMinor,
      currency: packCurrency('USD'),
      stock: p.stock,
    });
  }
  await commands.submit({ type: 'configureSale', skuId: 1, limitPerBuyer: 1, startsAtMs: 0, endsAtMs: 0 });
  log(`demo catalog: ${demo.map((p) => `sku ${p.skuId} ${p.name} (${p.stock} units)`).join(', ')}`);
}
