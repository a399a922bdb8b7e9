/**
 * The Redis projection (ioredis): what the seed's out-of-stock service and the order status reads need.
 *
 *   <prefix>oos                 set    SKUs with nothing available (available <= 0), updated as stock runs
 *                                      out and comes back
 *   <prefix>available           hash   sku -> units available (onHand - reserved)
 *   <prefix>order:<orderId>     hash   status (seed name), statusCode, buyer, total, updatedAtMs, seq;
 *                                      expires orderStatusTtlMs after its last update
 *   <prefix>order-lines         hash   orderId -> "sku:qty,sku:qty" for orders not yet final: the projector's
 *                                      own memory of what a later release or commit moves (status events
 *                                      do not repeat the lines); removed when the order becomes final
 *   <prefix>checkpoint:<name>   string last journal seq applied
 *
 * One Lua script per batch applies everything and moves the checkpoint, atomically (Redis runs a script
 * alone): it first checks that the checkpoint is where the projector left it (or already at the batch's
 * end: a retry after a lost answer, nothing to do), then applies the ops. The projector computes the ops
 * from the events; the script only adds, sets and deletes, so it cannot fail half-way on keys of the right
 * types (Redis does not roll a failed script back: the checks come before the first write).
 *
 * Per batch, one HINCRBY per SKU with the batch's movements summed (a hot SKU costs one update per batch),
 * and one HSET per order with its final fields.
 */
import { Redis } from 'ioredis';
import { isFinalStatus, OrderStatus } from '../../engine/codes.ts';
import { ProjectionError, ProjectionErrorCode, storeError } from '../errors.ts';
import {
  MovementKind,
  movementDeltas,
  movementOfTransition,
  type OrderLine,
  orderStatusSeedName,
  type ProjectedEvent,
} from '../events.ts';
import { type ProjectionLimits, projectionLimits } from '../limits.ts';
import type { ProjectionStore } from '../projector.ts';

export const redisUrlDefault = 'redis://127.0.0.1:6379';
export const redisPrefixDefault = 'stampede:';

export interface RedisKeys {
  oos: string;
  available: string;
  orderLines: string;
  order: (orderId: number) => string;
  checkpoint: (projector: string) => string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    oos: `${prefix}oos`,
    available: `${prefix}available`,
    orderLines: `${prefix}order-lines`,
    order: (orderId) => `${prefix}order:${orderId}`,
    checkpoint: (projector) => `${prefix}checkpoint:${projector}`,
  };
}

/** "sku:qty,sku:qty" (only what stock movements need). */
export function encodeLines(lines: readonly { skuId: number; quantity: number }[]): string {
  return lines.map((line) => `${line.skuId}:${line.quantity}`).join(',');
}

export function decodeLines(text: string): { skuId: number; quantity: number }[] {
  return text.split(',').map((part) => {
    const [sku, quantity] = part.split(':');
    return { skuId: Number(sku), quantity: Number(quantity) };
  });
}

/** For messages: the URL without a password. */
export function redisLocation(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** Options for a client that fails fast: the projector owns retrying (and reconnects with a new client). */
export function redisClientOptions(limits: ProjectionLimits) {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: limits.connectTimeoutMs,
    commandTimeout: limits.statementTimeoutMs,
  } as const;
}

/**
 * KEYS: 1 checkpoint, 2 available, 3 oos, 4 order-lines, 5.. order hashes.
 * ARGV: 1 checkpoint expected, 2 checkpoint after, 3 order TTL ms, then ops:
 *   A sku delta          available[sku] += delta; sku in oos iff available[sku] <= 0
 *   O k n f1 v1 .. fn vn HSET KEYS[k] with n field/value pairs, PEXPIRE TTL
 *   L orderId lines      order-lines[orderId] = lines
 *   D orderId            HDEL order-lines orderId
 * Returns 1 applied, 0 already applied; error PROJECTION_CHECKPOINT_MISMATCH otherwise.
 */
const applyScript = `
local stored = tonumber(redis.call('GET', KEYS[1]) or '0')
if stored == tonumber(ARGV[2]) then return 0 end
if stored ~= tonumber(ARGV[1]) then
  return redis.error_reply('PROJECTION_CHECKPOINT_MISMATCH checkpoint is ' .. string.format('%d', stored))
end
local ttl = ARGV[3]
local i = 4
local n = #ARGV
while i <= n do
  local op = ARGV[i]
  if op == 'A' then
    local value = redis.call('HINCRBY', KEYS[2], ARGV[i + 1], ARGV[i + 2])
    if value <= 0 then redis.call('SADD', KEYS[3], ARGV[i + 1]) else redis.call('SREM', KEYS[3], ARGV[i + 1]) end
    i = i + 3
  elseif op == 'O' then
    local key = KEYS[tonumber(ARGV[i + 1])]
    local fieldPairs = tonumber(ARGV[i + 2])
    redis.call('HSET', key, unpack(ARGV, i + 3, i + 2 + 2 * fieldPairs))
    redis.call('PEXPIRE', key, ttl)
    i = i + 3 + 2 * fieldPairs
  elseif op == 'L' then
    redis.call('HSET', KEYS[4], ARGV[i + 1], ARGV[i + 2])
    i = i + 3
  elseif op == 'D' then
    redis.call('HDEL', KEYS[4], ARGV[i + 1])
    i = i + 2
  else
    return redis.error_reply('PROJECTION_STORE_FAILED unknown op ' .. tostring(op))
  end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`;

export interface RedisStoreOptions {
  /** redis://[user:password@]host:port[/db] */
  url: string;
  /** Prefix of every key (default 'stampede:'). */
  prefix?: string;
  /** The checkpoint's name (default 'stampede'). */
  projector?: string;
  limits?: Partial<ProjectionLimits>;
  log?: (message: string) => void;
  /** Fault injection for tests: before the script is sent, and after it answered. */
  beforeScript?: () => void | Promise<void>;
  afterScript?: () => void | Promise<void>;
}

export class RedisProjectionStore implements ProjectionStore {
  readonly kind = 'redis';
  readonly location: string;
  readonly projector: string;
  readonly keys: RedisKeys;
  private readonly url: string;
  private readonly limits: ProjectionLimits;
  private readonly options: RedisStoreOptions;
  private client: Redis | null = null;

  constructor(options: RedisStoreOptions) {
    this.url = options.url;
    this.location = `${redisLocation(options.url)} (prefix '${options.prefix ?? redisPrefixDefault}')`;
    this.projector = options.projector ?? 'stampede';
    this.keys = redisKeys(options.prefix ?? redisPrefixDefault);
    this.limits = projectionLimits(options.limits);
    this.options = options;
  }

  async open(): Promise<number> {
    await this.close();
    const client = new Redis(this.url, redisClientOptions(this.limits));
    // Errors reach us through the commands (an 'error' event without a listener would crash the process);
    // the event carries the socket's reason (ECONNREFUSED...), which connect() reports only as "closed".
    let socketError: unknown = null;
    client.on('error', (error: unknown) => {
      socketError = error;
    });
    this.client = client;
    try {
      await client.connect();
      return Number((await client.get(this.keys.checkpoint(this.projector))) ?? 0);
    } catch (error) {
      throw storeError(socketError ?? error, `connecting to ${this.location}`);
    }
  }

  async apply(events: readonly ProjectedEvent[], checkpoint: number): Promise<'applied' | 'alreadyApplied'> {
    const first = events[0];
    const last = events[events.length - 1];
    if (first === undefined || last === undefined || first.seq !== checkpoint + 1) {
      throw new Error(
        `redis apply: batch must start at checkpoint + 1 (${checkpoint + 1}), got ${first?.seq}`,
      );
    }
    const client = this.client;
    if (client === null)
      throw new ProjectionError(ProjectionErrorCode.storeUnavailable, `${this.location}: not connected`);
    const context = `applying seqs ${first.seq}..${last.seq} to ${this.location}`;
    try {
      const lines = await this.linesOfOlderOrders(client, events);
      const { keys, args } = buildRedisOps(events, lines, this.keys);
      await this.options.beforeScript?.();
      const result = await client.eval(
        applyScript,
        4 + keys.length,
        this.keys.checkpoint(this.projector),
        this.keys.available,
        this.keys.oos,
        this.keys.orderLines,
        ...keys,
        checkpoint,
        last.seq,
        this.limits.orderStatusTtlMs,
        ...args,
      );
      await this.options.afterScript?.();
      return result === 0 ? 'alreadyApplied' : 'applied';
    } catch (error) {
      const message = error instanceof Error ? error.message : '';
      if (message.startsWith('PROJECTION_CHECKPOINT_MISMATCH')) {
        throw new ProjectionError(
          ProjectionErrorCode.checkpointMismatch,
          `${this.location}: ${message.replace('PROJECTION_CHECKPOINT_MISMATCH ', '')}, the projector applied up to ` +
            `${checkpoint} (another projector writing under the same name, or a restored Redis?)`,
          { cause: error },
        );
      }
      throw storeError(error, context);
    }
  }

  /** Lines of the orders this batch moves stock for that were created before it (order-lines hash). */
  private async linesOfOlderOrders(
    client: Redis,
    events: readonly ProjectedEvent[],
  ): Promise<Map<number, { skuId: number; quantity: number }[]>> {
    const createdHere = new Set<number>();
    const wanted = new Set<number>();
    for (const event of events) {
      if (event.kind === 'orderCreated') createdHere.add(event.orderId);
      else if (
        event.kind === 'orderStatusChanged' &&
        !createdHere.has(event.orderId) &&
        movementOfTransition(event.previous, event.status) !== null
      ) {
        wanted.add(event.orderId);
      }
    }
    const ids = [...wanted];
    const lines = new Map<number, { skuId: number; quantity: number }[]>();
    if (ids.length === 0) return lines;
    const found = await client.hmget(this.keys.orderLines, ...ids.map(String));
    ids.forEach((orderId, index) => {
      const text = found[index];
      if (text === null || text === undefined) {
        throw new ProjectionError(
          ProjectionErrorCode.storeInconsistent,
          `${this.location}: the batch moves stock for order ${orderId}, whose lines are not in ${this.keys.orderLines} (run stampede reconcile)`,
        );
      }
      lines.set(orderId, decodeLines(text));
    });
    return lines;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    client?.disconnect();
  }
}

/** Keys (beyond the first four) and ops of one batch, for applyScript. Pure: tested without a server. */
export function buildRedisOps(
  events: readonly ProjectedEvent[],
  olderLines: ReadonlyMap<number, readonly { skuId: number; quantity: number }[]>,
  keys: RedisKeys,
): { keys: string[]; args: (string | number)[] } {
  const availableDeltas = new Map<number, number>();
  const linesOf = new Map<number, readonly { skuId: number; quantity: number }[]>(olderLines);
  /** orderId -> lines to record (string) or null to delete; last word wins. */
  const lineChanges = new Map<number, string | null>();
  const orders = new Map<number, Map<string, string | number>>();

  const addAvailable = (skuId: number, kind: MovementKind, quantity: number): void => {
    const d = movementDeltas(kind, quantity);
    availableDeltas.set(skuId, (availableDeltas.get(skuId) ?? 0) + d.onHand - d.reserved);
  };
  const orderFields = (orderId: number): Map<string, string | number> => {
    let fields = orders.get(orderId);
    if (fields === undefined) {
      fields = new Map();
      orders.set(orderId, fields);
    }
    return fields;
  };

  for (const event of events) {
    switch (event.kind) {
      case 'productAdded':
        addAvailable(event.skuId, MovementKind.initial, event.stock);
        break;
      case 'stockRestocked':
        addAvailable(event.skuId, MovementKind.restock, event.quantity);
        break;
      case 'orderCreated': {
        const lines: OrderLine[] = event.lines;
        linesOf.set(event.orderId, lines);
        lineChanges.set(event.orderId, encodeLines(lines));
        const fields = orderFields(event.orderId);
        fields.set('status', orderStatusSeedName(OrderStatus.created));
        fields.set('statusCode', OrderStatus.created);
        fields.set('buyer', event.buyerId);
        fields.set('total', event.totalMinor);
        fields.set('updatedAtMs', event.atMs);
        fields.set('seq', event.seq);
        break;
      }
      case 'orderStatusChanged': {
        const kind = movementOfTransition(event.previous, event.status);
        if (kind !== null) {
          const lines = linesOf.get(event.orderId);
          if (lines === undefined) throw new Error(`redis batch: lines of order ${event.orderId} unknown`);
          for (const line of lines) addAvailable(line.skuId, kind, line.quantity);
        }
        if (isFinalStatus(event.status)) lineChanges.set(event.orderId, null);
        const fields = orderFields(event.orderId);
        fields.set('status', orderStatusSeedName(event.status));
        fields.set('statusCode', event.status);
        fields.set('buyer', event.buyerId);
        fields.set('updatedAtMs', event.atMs);
        fields.set('seq', event.seq);
        break;
      }
      case 'orderForgotten':
        lineChanges.set(event.orderId, null);
        break;
      case 'priceSet':
      case 'saleConfigured':
      case 'buyerBlocked':
      case 'orderRefused':
      case 'paymentReceived':
        break;
      default: {
        const never: never = event;
        throw new Error(`redis batch: unknown event ${JSON.stringify(never)}`);
      }
    }
  }

  const orderKeys: string[] = [];
  const args: (string | number)[] = [];
  for (const [skuId, delta] of availableDeltas) args.push('A', skuId, delta);
  for (const [orderId, lines] of lineChanges) {
    if (lines === null) args.push('D', orderId);
    else args.push('L', orderId, lines);
  }
  for (const [orderId, fields] of orders) {
    orderKeys.push(keys.order(orderId));
    args.push('O', 4 + orderKeys.length, fields.size);
    for (const [field, value] of fields) args.push(field, value);
  }
  return { keys: orderKeys, args };
}
