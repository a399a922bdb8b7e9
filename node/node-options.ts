/**
 * The settings of one node, resolved: what `serve` builds from the one
 * configuration table (gateways/config.ts, mapped in gateways/serve.ts
 * startFromConfig) and what tests give directly (testing/test-server.ts).
 * Each module declares which of these keys it reads and is given only those
 * (node/module.ts). A key here that has no entry in the configuration table
 * takes its value from node/limits.ts.
 */
import type { Logger } from 'pino';
import type { EngineLimits } from '../engine/limits.ts';
import type { RateLimiter, TokenCheck } from '../gateways/checkout-service.ts';
import type { SandboxOptions } from '../gateways/payments-sandbox.ts';
import type { JournalSelection } from '../journal/journal-selection.ts';

export interface NodeOptions {
  /** config: dataDir. */
  dataDir: string;
  /** Which journal the node writes and recovers from (config: journal, kafka.*; default: the file journal in dataDir). */
  journal?: JournalSelection;
  /** config: host. */
  host: string;
  /** config: httpPort; 0 picks a free port (tests). */
  httpPort: number;
  /** config: orderTtlMs (the rest: engine defaults, or the data directory's engine.json). */
  limits?: EngineLimits;
  inboundRingSlots?: number;
  /** limits.ts notifyRingSlots. */
  notifyRingSlots: number;
  /** From config: tokenSecret (or the data directory's secret). */
  verifyToken: (token: string, nowMs: number) => TokenCheck;
  /** config: buyerRequestsPerSecond, buyerBurst, buyerRateKeysMax. */
  buyerLimiter: RateLimiter<number>;
  /** config: ipRequestsPerSecond, ipBurst, ipRateKeysMax. */
  ipLimiter: RateLimiter<string>;
  /** The edge error catalogue (gateways/errors.ts). */
  httpStatusOf: (code: string) => number;
  closeCodeOf: (code: string) => number | null;
  /** config: wsPayloadBytesMax. */
  wsPayloadBytesMax: number;
  /** config: linesPerOrderMax. */
  linesPerOrderMax: number;
  /** config: wsBackpressureBytesMax. */
  wsBackpressureBytesMax: number;
  /** config: wsIdleTimeoutSeconds. */
  wsIdleTimeoutSeconds: number;
  /** config: connectionsMax. */
  connectionsMax: number;
  /** config: commandsPerFrameMax. */
  batchMessagesMax: number;
  /** limits.ts busyRetryAfterMs: what a BUSY answer tells the client to wait. */
  busyRetryAfterMs: number;
  /** config: httpBodyBytesMax. */
  httpBodyBytesMax: number;
  /** limits.ts pageSizeMax. */
  pageSizeMax: number;
  /** limits.ts readModelOrdersMax. */
  readModelOrdersMax: number;
  /** config: payments.sandbox. */
  payments: SandboxOptions;
  /** config: demoCatalog (serve.ts demoCatalogOf). */
  demoCatalog: DemoCatalogRule;
  /** The node's logger; each module logs through a child of it (node/log.ts). */
  logger: Logger;
  /** config: webhookSecret; HMAC key of the payment provider's webhooks; undefined turns the route off. */
  webhookSecret: string | undefined;
  /** Slot of the dashboard's sliding place window (metrics.ts placeWindowSlotMs); tests widen it to hold figures still. */
  placeWindowSlotMs?: number;
  /** Stores the node projects its journal into, and where reads come from (projections/README.md). */
  projections?: ProjectionOptions;
}

export interface ProjectionOptions {
  /** config: mysqlUrl. Runs a MySQL projector when set. */
  mysqlUrl: string | undefined;
  /** config: redisUrl. Runs a Redis projector when set. */
  redisUrl: string | undefined;
  /** Key prefix in Redis (default 'stampede:'). */
  redisPrefix?: string;
  /** config: readModel. 'redis' serves stock and order status from the Redis projection (needs redisUrl). */
  readModel: 'embedded' | 'redis';
}

/**
 * When the demo catalog is loaded: 'fresh' into a journal with no events yet (a fresh data directory), so a
 * directory that has been used never gets it; true into any engine without products (--demo); false never.
 */
export type DemoCatalogRule = boolean | 'fresh';
