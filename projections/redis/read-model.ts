/**
 * Reads of the Redis projection for the HTTP gateway when Redis is configured (store.ts describes
 * the keys): how many units of a SKU are available, whether it is out of stock, and an order's status.
 * Answers are as fresh as the projector (its lag metric says by how much); the engine remains the only
 * judge of a purchase, so a stale "available" can never oversell.
 *
 * Fails fast: no offline queue, one attempt per command, a command timeout, so a gateway whose Redis is
 * down gets an error at once (and can answer from the engine's availability array instead) while the
 * client reconnects in the background.
 */
import { Redis } from 'ioredis';
import { projectionLimitsDefault } from '../limits.ts';
import { type RedisKeys, redisKeys, redisPrefixDefault } from './store.ts';

export interface OrderStatusRead {
  orderId: number;
  /** The seed's name: created, checked_inventory, ..., checkout_success, ... */
  status: string;
  statusCode: number;
  buyerId: number;
  /** Null when the order's key was written only by status changes (its creation expired first). */
  totalMinor: number | null;
  updatedAtMs: number;
  /** Journal seq of the event that last changed it. */
  seq: number;
}

export interface RedisReadModelOptions {
  url: string;
  prefix?: string;
  /** Command timeout (default: projectionLimitsDefault.statementTimeoutMs). */
  commandTimeoutMs?: number;
  /** Use this client instead of connecting one (it is not closed by close()). */
  client?: Redis;
}

export class RedisReadModel {
  private readonly client: Redis;
  private readonly ownsClient: boolean;
  private readonly keys: RedisKeys;

  constructor(options: RedisReadModelOptions) {
    this.keys = redisKeys(options.prefix ?? redisPrefixDefault);
    if (options.client !== undefined) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      this.client = new Redis(options.url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: options.commandTimeoutMs ?? projectionLimitsDefault.statementTimeoutMs,
        connectTimeout: projectionLimitsDefault.connectTimeoutMs,
      });
      this.client.on('error', () => {});
      this.ownsClient = true;
    }
  }

  /** Resolves once connected (commands before that fail fast). */
  async ready(): Promise<void> {
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        this.client.off('end', onEnd);
        resolve();
      };
      const onEnd = (): void => {
        this.client.off('ready', onReady);
        reject(new Error('redis connection ended before it was ready'));
      };
      this.client.once('ready', onReady);
      this.client.once('end', onEnd);
    });
  }

  /** Units available now, or null for a SKU the projection has never seen. */
  async availability(skuId: number): Promise<number | null> {
    const value = await this.client.hget(this.keys.available, String(skuId));
    return value === null ? null : Number(value);
  }

  /** True when the SKU is in the out-of-stock set. */
  async isOutOfStock(skuId: number): Promise<boolean> {
    return (await this.client.sismember(this.keys.oos, String(skuId))) === 1;
  }

  /** The order's status, or null when unknown or expired (orderStatusTtlMs after its last change). */
  async orderStatus(orderId: number): Promise<OrderStatusRead | null> {
    const fields = await this.client.hgetall(this.keys.order(orderId));
    if (fields.status === undefined) return null;
    return {
      orderId,
      status: fields.status,
      statusCode: Number(fields.statusCode),
      buyerId: Number(fields.buyer),
      totalMinor: fields.total === undefined ? null : Number(fields.total),
      updatedAtMs: Number(fields.updatedAtMs),
      seq: Number(fields.seq),
    };
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.disconnect();
  }
}
