/**
 * `stampede reconcile` for Redis: compares available stock, the out-of-stock set, the open orders' lines
 * and the order status hashes with the journal model, as of the checkpoint read in the same MULTI as the
 * data (reconcile.ts drives it). Order hashes newer than the checkpoint are not judged.
 */
import { Redis } from 'ioredis';
import { isFinalStatus } from '../../engine/codes.ts';
import { storeError } from '../errors.ts';
import { orderStatusSeedName } from '../events.ts';
import type { JournalModel } from '../journal-model.ts';
import { projectionLimits } from '../limits.ts';
import {
  type Anomaly,
  compareRow,
  pageRowsMax,
  type ReconcileContext,
  type Row,
  type StoreReconciler,
} from '../reconcile-store.ts';
import { encodeLines, redisClientOptions, redisKeys, redisLocation } from './store.ts';

export class RedisReconciler implements StoreReconciler {
  readonly store = 'redis';
  readonly location: string;
  readonly checkpoint: number;
  readonly neverProjected: boolean;
  readonly comparable = true;
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly snapshot: {
    available: Record<string, string>;
    oos: string[];
    orderLines: Record<string, string>;
  };
  private readonly orderStatusTtlMs: number;
  private readonly nowMs: number;

  private constructor(
    location: string,
    client: Redis,
    prefix: string,
    /** The checkpoint key's value; null when there is none. */
    checkpoint: string | null,
    snapshot: RedisReconciler['snapshot'],
    orderStatusTtlMs: number,
    nowMs: number,
  ) {
    this.location = location;
    this.client = client;
    this.prefix = prefix;
    this.checkpoint = Number(checkpoint ?? 0);
    this.neverProjected = checkpoint === null;
    this.snapshot = snapshot;
    this.orderStatusTtlMs = orderStatusTtlMs;
    this.nowMs = nowMs;
  }

  static async open(
    url: string,
    prefix: string,
    { projector, orderStatusTtlMs, nowMs }: ReconcileContext,
  ): Promise<RedisReconciler> {
    const openedAtMs = nowMs ?? Date.now();
    const location = `${redisLocation(url)} (prefix '${prefix}')`;
    const client = new Redis(url, redisClientOptions(projectionLimits()));
    client.on('error', () => {});
    try {
      await client.connect();
      const keys = redisKeys(prefix);
      // One MULTI: the checkpoint and the data it covers, as of one instant.
      const results = await client
        .multi()
        .get(keys.checkpoint(projector))
        .hgetall(keys.available)
        .smembers(keys.oos)
        .hgetall(keys.orderLines)
        .exec();
      if (results === null) throw new Error('MULTI was aborted');
      for (const [error] of results) if (error) throw error;
      const value = (index: number): unknown => results[index]![1];
      return new RedisReconciler(
        location,
        client,
        prefix,
        value(0) as string | null,
        {
          available: value(1) as Record<string, string>,
          oos: value(2) as string[],
          orderLines: value(3) as Record<string, string>,
        },
        orderStatusTtlMs,
        openedAtMs,
      );
    } catch (error) {
      client.disconnect();
      throw storeError(error, `reading ${location}`);
    }
  }

  async compare(model: JournalModel, anomalies: Anomaly[]): Promise<void> {
    const keys = redisKeys(this.prefix);
    const push = (where: string, item: string, expected: string, found: string): void => {
      anomalies.push({ store: 'redis', where, item, expected, found });
    };

    // available: one field per product.
    const available = this.snapshot.available;
    for (const skuId of model.products.keys()) {
      const want = String(model.available(skuId));
      const got = available[String(skuId)];
      if (got !== want) push(keys.available, `sku ${skuId}`, want, got ?? 'no field');
    }
    for (const field of Object.keys(available)) {
      if (!model.products.has(Number(field)))
        push(keys.available, `sku ${field}`, 'no field (no such product)', available[field]!);
    }

    // oos: exactly the products with nothing available.
    const oos = new Set(this.snapshot.oos);
    for (const skuId of model.products.keys()) {
      const units = model.available(skuId);
      const want = units <= 0;
      if (want !== oos.has(String(skuId))) {
        push(
          keys.oos,
          `sku ${skuId}`,
          want ? `a member (available ${units})` : `not a member (available ${units})`,
          want ? 'not a member' : 'a member (stale out-of-stock entry)',
        );
      }
    }
    for (const member of oos) {
      if (!model.products.has(Number(member)))
        push(keys.oos, `sku ${member}`, 'not a member (no such product)', 'a member');
    }

    // order-lines: the orders that are not final yet.
    const orderLines = this.snapshot.orderLines;
    for (const order of model.orders.values()) {
      const got = orderLines[String(order.orderId)];
      const want = isFinalStatus(order.status) ? undefined : encodeLines(order.lines);
      if (got !== want)
        push(keys.orderLines, `order ${order.orderId}`, want ?? 'no field (final order)', got ?? 'no field');
    }
    for (const field of Object.keys(orderLines)) {
      if (!model.orders.has(Number(field)))
        push(keys.orderLines, `order ${field}`, 'no field (no such order)', orderLines[field]!);
    }

    // order hashes, a pipeline of HGETALLs at a time.
    const orders = [...model.orders.values()];
    const columns = ['status', 'statusCode', 'buyer', 'total', 'updatedAtMs', 'seq'];
    try {
      for (let i = 0; i < orders.length; i += pageRowsMax) {
        const slice = orders.slice(i, i + pageRowsMax);
        const pipeline = this.client.pipeline();
        for (const order of slice) pipeline.hgetall(keys.order(order.orderId));
        const results = (await pipeline.exec()) ?? [];
        slice.forEach((order, index) => {
          const [error, value] = results[index] ?? [new Error('no reply'), null];
          if (error) throw error;
          const found = value as Record<string, string>;
          const key = keys.order(order.orderId);
          if (found.status === undefined) {
            // The hash was written no earlier than the event, so it must live until updatedAtMs + TTL.
            if (this.nowMs < order.updatedAtMs + this.orderStatusTtlMs) {
              push(key, `order ${order.orderId}`, `status ${orderStatusSeedName(order.status)}`, 'no key');
            }
            return;
          }
          if (Number(found.seq) > this.checkpoint) return; // written after the snapshot: not judged
          const want: Row = {
            status: orderStatusSeedName(order.status),
            statusCode: order.status,
            buyer: order.buyerId,
            total: found.total === undefined ? null : order.totalMinor,
            updatedAtMs: order.updatedAtMs,
            seq: order.updatedSeq,
          };
          compareRow(anomalies, 'redis', key, `order ${order.orderId}`, want, found, columns);
        });
      }
      // Order hashes the journal knows nothing of.
      let cursor = '0';
      const pattern = `${keys.order(0).slice(0, -1)}*`;
      do {
        const [next, found] = await this.client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (const key of found) {
          const orderId = Number(key.slice(pattern.length - 1));
          if (!model.orders.has(orderId)) {
            const seq = Number(await this.client.hget(key, 'seq'));
            if (seq <= this.checkpoint)
              push(key, `order ${key.slice(pattern.length - 1)}`, 'no key (no such order)', 'a key');
          }
        }
      } while (cursor !== '0');
    } catch (error) {
      throw storeError(error, `reading ${this.location}`);
    }
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
