/**
 * The module contract: a node is a list of modules (node/modules.ts), each
 * declaring in one object what it is called, which settings it reads, what
 * it needs from other modules and what it gives them, how it starts and how
 * it stops. node/assemble.ts orders them by what they need, starts them in
 * that order and stops them in reverse, each stop bounded by its stopMsMax.
 * In the spirit of fastify plugins (avvio) and Medusa modules: a module
 * talks to another only through what that one gives (`Provided`), never
 * through its internals.
 *
 * `Provided` is the typed registry of everything one module can give
 * another: a module that needs `engine` gets exactly the `EngineParts` type,
 * checked by the compiler; which module gives it is found from the list.
 *
 * Runs on the main thread, at start-up and shutdown only: nothing here is on
 * a hot path.
 */

import type uWS from 'uWebSockets.js';
import type { Logger } from 'pino';
import type { CommandClient } from '../engine/command-client.ts';
import type { EngineLimits } from '../engine/limits.ts';
import type { CheckoutService } from '../gateways/checkout-service.ts';
import type { CheckoutSocket } from '../gateways/checkout-socket.ts';
import type { DashboardStats } from '../gateways/dashboard-stats.ts';
import type { DurableEventFeed } from '../gateways/durable-event-feed.ts';
import type { EngineCommands } from '../gateways/engine-commands.ts';
import type { GatewayMetrics } from '../gateways/metrics.ts';
import type { SandboxPayments } from '../gateways/payments-sandbox.ts';
import type { JournalBackend } from '../journal/journal-backend.ts';
import type { EmbeddedReadModel, OrderChange } from '../projections/embedded/read-model.ts';
import type { Projector } from '../projections/projector.ts';
import type { RedisReadModel } from '../projections/redis/read-model.ts';
import type { EngineHost } from './host/engine-host.ts';
import type { NodeOptions } from './node-options.ts';

/** The engine and journal threads and the one command path into them. */
export interface EngineParts {
  readonly host: EngineHost;
  readonly limits: EngineLimits;
  readonly client: CommandClient;
  readonly commands: EngineCommands;
  /** Resolves once no command awaits its answer, or at `deadlineMs` (Date.now() clock), or when the engine failed. */
  settled(deadlineMs: number): Promise<void>;
}

/** The embedded read model and the feed of durable events that keeps it current. */
export interface ReadModelParts {
  readonly model: EmbeddedReadModel;
  readonly feed: DurableEventFeed;
  /** Events applied from the journal before the feed went live. */
  readonly caughtUpCount: number;
  /** Adds who hears of each durable order change (the checkout socket's pushes); at start only. */
  listen(listener: OrderListener): void;
}

export interface OrderListener {
  onOrderChange(change: OrderChange): void;
  /** The engine forgot an order: nothing about it will change or be answered any more. */
  onOrderForgotten(orderId: number): void;
}

export interface CheckoutParts {
  readonly service: CheckoutService;
  readonly socket: CheckoutSocket;
}

/** Everything one module can give another, by name. Adding a capability is one line here. */
export interface Provided {
  journal: JournalBackend;
  engine: EngineParts;
  readModel: ReadModelParts;
  redisReads: RedisReadModel;
  payments: SandboxPayments;
  checkout: CheckoutParts;
  dashboard: () => DashboardStats;
  /** A product's display name by SKU id, from the module that knows names (the demo catalog; the catalog, later). */
  productNames: (skuId: number) => string | undefined;
}
export type Capability = keyof Provided;

/** What a module is given at start. */
export interface ModuleContext<Needs extends Capability, Settings extends keyof NodeOptions> {
  /** Its slice of the node's settings: only the keys it declared. */
  readonly settings: Pick<NodeOptions, Settings>;
  /** A child of the node's logger: every line carries `module: <name>`. */
  readonly log: Logger;
  /** What the modules it needs gave (they started before it). */
  need<K extends Needs>(capability: K): Provided[K];
  /** What another module gave, if that module is in the node (it started before this one). */
  optional<K extends Capability>(capability: K): Provided[K] | undefined;
  /** The node's uWebSockets.js app; every route registered through it is recorded under the module's name. */
  readonly app: uWS.TemplatedApp;
  /** The node's gateway counters (one instance, shared by the modules that count). */
  readonly metrics: GatewayMetrics;
  /** The whole node's metrics in Prometheus text (for the module that serves /metrics). */
  metricsText(): string;
}

/** What a started module hands back. */
export interface StartedModule<Gives extends Capability> {
  readonly gives: { readonly [K in Gives]: Provided[K] };
  /** Undoes start; called in reverse start order, bounded by the module's stopMsMax. */
  stop?(): Promise<void>;
  /** Its gauges, rendered with the node's counters on /metrics (name without the stampede_ prefix). */
  gauges?(): Record<string, number>;
  /** Its own metric families, Prometheus text exposition, appended to /metrics. */
  metricsText?(): string;
  /** Its projector stores: their lag and state go to /metrics, one family per metric for the whole node. */
  readonly projectors?: readonly Projector[];
}

export interface NodeModule<
  Needs extends Capability = Capability,
  Gives extends Capability = Capability,
  Settings extends keyof NodeOptions = keyof NodeOptions,
> {
  /** Kebab-case, unique in the list; what `serve --modules` names. */
  readonly name: string;
  /** One line for `serve --help` and docs/architecture.md. */
  readonly summary: string;
  /** The node settings it reads (node-options.ts says which config table entry each comes from). */
  readonly settings: readonly Settings[];
  /** Capabilities it cannot start without. */
  readonly needs: readonly Needs[];
  /** Capabilities it uses when their module is in the node (it then starts after that module). */
  readonly uses: readonly Capability[];
  readonly gives: readonly Gives[];
  /** WebSocket message kinds it handles (docs/websocket-protocol.md); its HTTP routes are recorded as it registers them. */
  readonly messageKinds: readonly string[];
  /** Longest its stop may take before the node logs a warning and goes on stopping the rest. */
  readonly stopMsMax: number;
  /**
   * Why the module cannot run with these settings (e.g. its store's URL is unset), or null when it can. In
   * the default list such a module is left out (logged); named in `serve --modules`, it is an error.
   */
  unconfigured?(settings: Pick<NodeOptions, Settings>): string | null;
  start(context: ModuleContext<Needs, Settings>): Promise<StartedModule<Gives>>;
}

/** Keeps a module's type parameters while checking it against the contract. */
export function defineModule<
  Needs extends Capability,
  Gives extends Capability,
  Settings extends keyof NodeOptions,
>(module: NodeModule<Needs, Gives, Settings>): NodeModule<Needs, Gives, Settings> {
  return Object.freeze(module);
}

/**
 * A module of the list, its type parameters erased: the list holds modules of every shape, each checked
 * against the contract by defineModule where it is written. (Method syntax: TypeScript compares `start`
 * bivariantly, which is what lets a module that needs less stand in the list.)
 */
export interface ListedModule {
  readonly name: string;
  readonly summary: string;
  readonly settings: readonly (keyof NodeOptions)[];
  readonly needs: readonly Capability[];
  readonly uses: readonly Capability[];
  readonly gives: readonly Capability[];
  readonly messageKinds: readonly string[];
  readonly stopMsMax: number;
  unconfigured?(settings: Pick<NodeOptions, keyof NodeOptions>): string | null;
  start(context: ModuleContext<Capability, keyof NodeOptions>): Promise<StartedModule<never>>;
}

/** A node that cannot be assembled as asked: an unknown module name, a missing dependency, a cycle. */
export class NodeAssemblyError extends Error {
  override readonly name = 'NodeAssemblyError';
  readonly code:
    | 'MODULE_UNKNOWN'
    | 'MODULE_DEPENDENCY_MISSING'
    | 'MODULE_DUPLICATE'
    | 'MODULE_NOT_CONFIGURED';
  readonly retriable = false;

  constructor(code: NodeAssemblyError['code'], message: string) {
    super(message);
    this.code = code;
  }
}
