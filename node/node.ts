/**
 * One Stampede node, assembled from its module list (node/modules.ts): the
 * modules asked for are ordered by what they need, started one at a time,
 * and the node then listens; it stops in reverse (node/assemble.ts).
 *
 * Pipeline of a checkout command through the default modules:
 *   1. a frame arrives on the checkout socket (checkout) and is decoded and validated;
 *   2. CheckoutService applies the edge rules (auth, ownership, rate limits,
 *      sold out at the edge) and writes the command into the inbound ring (engine);
 *   3. the engine decides; the journal fsyncs; the answer is released when
 *      durable (CommandClient) and sent back in the client's frame kind;
 *   4. the durable event feed (read-model) updates the read model and pushes
 *      order updates to the buyer's connections and the order's subscribers;
 *   5. the projectors (projection-*) carry the journal into MySQL and Redis.
 *
 * Shutdown (SIGTERM/SIGINT): stop listening, then each module in reverse:
 * the checkout socket refuses new commands, waits for the answers in flight
 * and closes its sockets with SHUTTING_DOWN; ...; the engine drains, fsyncs
 * and writes a snapshot.
 *
 * Main thread; start-up and shutdown only.
 */

import uWS from 'uWebSockets.js';
import type { Logger } from 'pino';
import { listenExclusive } from '../gateways/http-listen.ts';
import { GatewayMetrics } from '../gateways/metrics.ts';
import type { EmbeddedReadModel } from '../projections/embedded/read-model.ts';
import type { Projector } from '../projections/projector.ts';
import { prometheusText } from '../projections/start-projectors.ts';
import { type Assembly, chooseModules, startModules, stopModules } from './assemble.ts';
import type { EngineHost } from './host/engine-host.ts';
import type { EngineParts, ListedModule } from './module.ts';
import { nodeModules } from './modules.ts';
import type { NodeOptions } from './node-options.ts';

export interface NodeStartOptions {
  /** Names of the modules to run (`serve --modules`); all of the list when undefined. */
  modules?: readonly string[] | undefined;
  /** The module list (default node/modules.ts); tests give their own. */
  list?: readonly ListedModule[];
}

/** Methods of a uWS app that register a route, and how a route is written ("GET /path"). */
const routeMethods: Readonly<Record<string, string>> = {
  get: 'GET',
  post: 'POST',
  put: 'PUT',
  patch: 'PATCH',
  del: 'DELETE',
  options: 'OPTIONS',
  head: 'HEAD',
  connect: 'CONNECT',
  trace: 'TRACE',
  any: 'ANY',
  ws: 'WS',
};

export class StampedeNode {
  /** The HTTP and WebSocket port; 0 on a node none of whose modules has a route (it does not listen). */
  readonly port: number;
  readonly metrics: GatewayMetrics;
  /** "METHOD /path" of every HTTP route and "WS /path" of every socket route (the OpenAPI test compares). */
  readonly routes: readonly string[];
  /** The same routes, by the module that registered them. */
  readonly routesByModule: ReadonlyMap<string, readonly string[]>;
  /** Names of the modules running, in start order. */
  readonly modules: readonly string[];
  private readonly assembly: Assembly;
  private readonly listenSocket: uWS.us_listen_socket | null;
  private readonly log: Logger;
  private stopping: Promise<{ lastSeq: number; stateHash: string } | null> | null = null;

  private constructor(parts: {
    port: number;
    metrics: GatewayMetrics;
    routesByModule: Map<string, string[]>;
    assembly: Assembly;
    listenSocket: uWS.us_listen_socket | null;
    log: Logger;
  }) {
    this.log = parts.log;
    this.port = parts.port;
    this.metrics = parts.metrics;
    this.routesByModule = parts.routesByModule;
    this.routes = [...parts.routesByModule.values()].flat();
    this.assembly = parts.assembly;
    this.modules = parts.assembly.running.map((r) => r.module.name);
    this.listenSocket = parts.listenSocket;
  }

  static async start(options: NodeOptions, start: NodeStartOptions = {}): Promise<StampedeNode> {
    const log = options.logger.child({ module: 'node' });
    const chosen = chooseModules(start.list ?? nodeModules, start.modules, options);
    for (const { name, reason } of chosen.skipped) log.info(`module ${name} off: ${reason}`);
    log.info(
      { modules: chosen.ordered.map((m) => m.name) },
      `starting ${chosen.ordered.map((m) => m.name).join(', ')}`,
    );
    const metrics = new GatewayMetrics(
      options.placeWindowSlotMs === undefined ? {} : { placeWindowSlotMs: options.placeWindowSlotMs },
    );
    const app = uWS.App();
    const routesByModule = new Map<string, string[]>();
    let assembly: Assembly | null = null;
    assembly = await startModules(chosen.ordered, {
      options,
      log: options.logger,
      metrics,
      appFor: (name) => {
        const routes: string[] = [];
        routesByModule.set(name, routes);
        return recordRoutes(app, routes);
      },
      metricsText: () => (assembly === null ? '' : nodeMetricsText(assembly, metrics)),
    });
    try {
      // A node of modules without routes (a projector node) serves no HTTP: it does not take a port.
      const listenSocket = [...routesByModule.values()].some((routes) => routes.length > 0)
        ? await listenExclusive(app, options.host, options.httpPort)
        : null;
      if (listenSocket === null) {
        const node = new StampedeNode({ port: 0, metrics, routesByModule, assembly, listenSocket, log });
        log.info('no module serves HTTP: not listening');
        return node;
      }
      const port = uWS.us_socket_local_port(listenSocket);
      const node = new StampedeNode({ port, metrics, routesByModule, assembly, listenSocket, log });
      const caughtUp = assembly.provided.readModel?.caughtUpCount;
      log.info(
        { host: options.host, port },
        `listening on http://${options.host}:${port}${node.routes.includes('WS /v1/checkout') ? ` (WebSocket ws://${options.host}:${port}/v1/checkout)` : ''}${caughtUp === undefined ? '' : `; read model caught up with ${caughtUp} events`}`,
      );
      return node;
    } catch (error) {
      await stopModules(assembly.running).catch(() => {});
      throw error;
    }
  }

  /** The engine parts when this node runs the engine module, else null. */
  get engine(): EngineParts | null {
    return this.assembly.provided.engine ?? null;
  }

  /** The engine host; only on a node that runs the engine module. */
  get host(): EngineHost {
    const engine = this.engine;
    if (engine === null) throw new Error('this node runs no engine module');
    return engine.host;
  }

  /** The embedded read model; only on a node that runs the read-model module. */
  get model(): EmbeddedReadModel {
    const readModel = this.assembly.provided.readModel;
    if (readModel === undefined) throw new Error('this node runs no read-model module');
    return readModel.model;
  }

  /** Graceful stop; idempotent. Resolves with the engine's final state (null on a node without the engine). */
  stop(): Promise<{ lastSeq: number; stateHash: string } | null> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<{ lastSeq: number; stateHash: string } | null> {
    this.log.info(`stopping ${[...this.modules].reverse().join(', ')}`);
    if (this.listenSocket !== null) uWS.us_listen_socket_close(this.listenSocket);
    await stopModules(this.assembly.running);
    // The engine module's stop returned once its host stopped, or overran its bound: this waits for the end.
    const stopped = this.engine === null ? null : await this.engine.host.stop();
    this.log.info(stopped ?? {}, 'stopped');
    return stopped;
  }
}

/** The whole node's /metrics: the node's counters with every module's gauges, each module's text, the projectors. */
function nodeMetricsText(assembly: Assembly, metrics: GatewayMetrics): string {
  const gauges: Record<string, number> = {};
  let text = '';
  const projectors: Projector[] = [];
  for (const { started } of assembly.running) {
    if (started.gauges !== undefined) Object.assign(gauges, started.gauges());
    if (started.metricsText !== undefined) text += started.metricsText();
    if (started.projectors !== undefined) projectors.push(...started.projectors);
  }
  const engine = assembly.provided.engine;
  const counters = engine === undefined ? '' : metrics.render(engine.host.control, gauges);
  return counters + text + prometheusText(projectors.map((p) => [p.name, p.metrics()]));
}

/** The app, noting in `routes` each route registered through it. */
function recordRoutes(app: uWS.TemplatedApp, routes: string[]): uWS.TemplatedApp {
  return new Proxy(app, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const method =
        typeof property === 'string' && Object.hasOwn(routeMethods, property)
          ? routeMethods[property]
          : undefined;
      if (method !== undefined) {
        return (path: string, handler: unknown) => {
          routes.push(`${method} ${path}`);
          (value as (path: string, handler: unknown) => unknown).call(target, path, handler);
          return receiver;
        };
      }
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
}
