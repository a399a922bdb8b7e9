/**
 * The flash-sale benchmark's baselines: the same sale (same buyers and SKUs,
 * same stock, same requests in flight or arrival rate) done the usual ways,
 * against the real Redis and MariaDB/MySQL. Each uses fresh keys/tables
 * (random suffix), drops them afterwards, and returns what the same audit
 * and figures as Stampede's need.
 *
 *   redis-lua   one Lua script per attempt (EVALSHA, pipelined on one
 *               connection by redis-script-pipeline.ts): refuse a second buy
 *               of the SKU (a set), check stock, decrement, record the order
 *               in a hash
 *   mysql-cond  autocommit `UPDATE stock SET qty = qty - 1 WHERE sku = ? AND
 *               qty >= 1`, then INSERT the order (UNIQUE(buyer, sku) refuses a
 *               second buy; a refused insert gives the unit back). Two
 *               statements, no transaction: a crash between them loses a
 *               unit, which is this design's known weakness.
 *   mysql-tx    BEGIN; SELECT qty ... FOR UPDATE; UPDATE; INSERT; COMMIT
 *
 * A baseline's successful attempt is a sale (there is no reservation and no
 * payment step), so its buyers' answers are "paid" or "sold out".
 *
 * Runs on the bench's main thread; the attempts are async loops (closed
 * loop) or launched at their arrival times (open loop). The MySQL pool is
 * capped (connectionsMaxMysql): more connections than that only queue on
 * the one hot row lock and exhaust max_connections. The database servers'
 * own CPU time is read from /proc when they run on this machine.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import mysql, { type Pool, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import type { SaleOutcome, SkuStock } from './flash-sale-audit.ts';
import { BuyerPlan, type BuyerShares, warmupStock } from './flash-sale-buyers.ts';
import type { Resources, SystemRun } from './flash-sale-figures.ts';
import { peakRssBytes, processCpuSeconds } from './flash-sale-proc.ts';
import { mergeRecords, Outcome, SaleRecorder } from './flash-sale-recorder.ts';
import { RedisScriptPipeline } from './redis-script-pipeline.ts';

export const baselineNames = ['redis-lua', 'mysql-cond', 'mysql-tx'] as const;
export type BaselineName = (typeof baselineNames)[number];

export const baselineLimits = Object.freeze({
  /** MySQL connections in the pool at most, whatever the concurrency. */
  connectionsMaxMysql: 64,
});

export interface BaselineOptions {
  buyers: number;
  stock: number;
  skus: number;
  load: { model: 'closed'; concurrency: number } | { model: 'open'; ratePerSec: number };
  /** Buyers of an unmeasured warm-up sale on SKU skus + 1, run first (0: none). */
  warmupBuyers: number;
  shares: BuyerShares;
  seed: number;
  redisUrl: string;
  mysqlUrl: string;
  runMsMax: number;
  progress: (placeAnswered: number, finalTotal: number) => void;
}

const limitPerBuyer = 1;
const mib = 2 ** 20;
const nowMs = (): number => performance.timeOrigin + performance.now();

/** An attempt's answer: the buyer bought a unit, the SKU is sold out, or the store refused a second buy. */
type Attempt = (buyerId: number, skuId: number) => Promise<'bought' | 'soldOut' | 'secondBuy'>;
const outcomeOf = { bought: Outcome.paid, soldOut: Outcome.soldOut, secondBuy: Outcome.refused } as const;

/**
 * Runs `attempt` for buyers 1..buyers (closed loop: `concurrency` async
 * loops; open loop: each launched at its arrival time, latency from then),
 * recording what each buyer was told.
 */
async function driveAttempts(options: BaselineOptions, attempt: Attempt): Promise<SaleRecorder> {
  const plan = new BuyerPlan(options.seed, options.skus, options.shares);
  const startAtMs = nowMs();
  const recorder = new SaleRecorder({
    buyerIdFirst: 1,
    buyerCount: options.buyers,
    skuCount: options.skus,
    startAtMs,
    runMsMax: options.runMsMax,
  });
  const progress = setInterval(() => options.progress(recorder.placeAnswered, recorder.finalTotal), 250);
  const one = async (buyerId: number, sentAtMs: number): Promise<void> => {
    const skuIndex = plan.skuIndexOf(buyerId);
    recorder.sent(nowMs());
    let outcome: Outcome;
    try {
      outcome = outcomeOf[await attempt(buyerId, 1 + skuIndex)];
    } catch (error) {
      // A store error is an answer the buyer got too (and one the audit fails on), not a crash of the bench.
      recorder.count(`error:${(error as { code?: string }).code ?? (error as Error).message}`);
      outcome = Outcome.failed;
    }
    const atMs = nowMs();
    recorder.placeAnswer(sentAtMs, atMs);
    recorder.final(buyerId, skuIndex, outcome, atMs);
  };
  try {
    const load = options.load;
    if (load.model === 'closed') {
      let next = 1;
      const loop = async (): Promise<void> => {
        while (next <= options.buyers) await one(next++, nowMs());
      };
      await Promise.all(Array.from({ length: Math.min(load.concurrency, options.buyers) }, loop));
    } else {
      const launched: Promise<void>[] = [];
      for (let buyerId = 1; buyerId <= options.buyers; buyerId++) {
        const dueAtMs = startAtMs + ((buyerId - 1) * 1000) / load.ratePerSec;
        const waitMs = dueAtMs - nowMs();
        // Never early: latency counts from the arrival, so a buyer sent before it would look faster than it was.
        if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
        launched.push(one(buyerId, dueAtMs));
      }
      await Promise.all(launched);
    }
  } finally {
    clearInterval(progress);
  }
  return recorder;
}

/**
 * The warm-up sale, unmeasured, as Stampede gets one: its own SKU (skus + 1) and buyers numbered after the
 * sale's, through the same attempt, so the client library's code is warm when the clock starts.
 */
async function warmUp(options: BaselineOptions, attempt: Attempt): Promise<void> {
  const sku = options.skus + 1;
  const last = options.buyers + options.warmupBuyers;
  let next = options.buyers + 1;
  const concurrency = options.load.model === 'closed' ? options.load.concurrency : 256;
  const loop = async (): Promise<void> => {
    while (next <= last) await attempt(next++, sku);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, options.warmupBuyers) }, loop));
}

/** SKU ids of the sale, then the warm-up's (if any). */
const skuIdsOf = (options: BaselineOptions): number[] =>
  Array.from({ length: options.skus + (options.warmupBuyers > 0 ? 1 : 0) }, (_, i) => i + 1);

const stockOf = (options: BaselineOptions, sku: number): number =>
  sku <= options.skus ? options.stock : warmupStock(options.stock, options.buyers, options.warmupBuyers);

/** Measures `run` (the load) and the server process `serverPid` (when local) around it. */
async function measured<T>(
  serverPid: number | null,
  run: () => Promise<T>,
): Promise<{ value: T; resources: Resources }> {
  const clientBefore = processCpuSeconds(process.pid) ?? 0;
  const serverBefore = serverPid === null ? null : processCpuSeconds(serverPid);
  const value = await run();
  const serverAfter = serverPid === null ? null : processCpuSeconds(serverPid);
  return {
    value,
    resources: {
      clientCpuSeconds: round2((processCpuSeconds(process.pid) ?? 0) - clientBefore),
      clientPeakRssMiB: Math.round((peakRssBytes(process.pid) ?? 0) / mib),
      serverCpuSeconds:
        serverBefore === null || serverAfter === null ? null : round2(serverAfter - serverBefore),
      serverThreadsCpuSeconds: null,
      // A long-lived database's peak RSS is its lifetime's, not this run's: not reported.
      serverPeakRssMiB: null,
      journal: null,
    },
  };
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

function suffix(): string {
  return randomBytes(4).toString('hex');
}

/** The store's orders as (buyer, sku) pairs, counted the way the audit wants them. */
function storeOf(
  options: BaselineOptions,
  availableBySku: readonly number[],
  orders: readonly { buyer: number; sku: number }[],
): SaleOutcome['store'] {
  const soldBySku = new Array<number>(options.skus).fill(0);
  const perBuyerSku = new Map<number, number>();
  let ordersPerBuyerMax = 0;
  const saleOrders = orders.filter((o) => o.sku <= options.skus); // not the warm-up's
  for (const o of saleOrders) {
    soldBySku[o.sku - 1] = (soldBySku[o.sku - 1] ?? 0) + 1;
    const key = o.buyer * 2 ** 21 + o.sku;
    const n = (perBuyerSku.get(key) ?? 0) + 1;
    perBuyerSku.set(key, n);
    ordersPerBuyerMax = Math.max(ordersPerBuyerMax, n);
  }
  const skus: SkuStock[] = soldBySku.map((sold, i) => ({
    skuId: i + 1,
    initial: options.stock,
    sold,
    reserved: 0,
    available: availableBySku[i] ?? Number.NaN,
  }));
  return { skus, ordersSold: saleOrders.length, ordersHolding: 0, ordersReleased: 0, ordersPerBuyerMax };
}

function baselineRun(
  system: BaselineName,
  options: BaselineOptions,
  recorder: SaleRecorder,
  store: SaleOutcome['store'],
  resources: Resources,
  notes: string,
): SystemRun {
  const record = mergeRecords([recorder.data()]);
  return {
    record,
    outcome: {
      system,
      buyers: options.buyers,
      limitPerBuyer,
      finalAnswerCounts: record.finalCounts,
      toldBySku: record.outcomesBySku,
      store,
      extraChecks: [],
    },
    resources,
    notes,
  };
}

const inFlightNote = (options: BaselineOptions): string =>
  options.load.model === 'closed'
    ? `${Math.min(options.load.concurrency, options.buyers)} in flight`
    : `${options.load.ratePerSec}/s arrivals`;

const buyScript = `
-- KEYS: stock of the SKU, buyers of the SKU (set), orders (hash order id -> "buyer:sku"), order sequence
-- ARGV: buyer id, sku id
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return -1 end
local qty = tonumber(redis.call('GET', KEYS[1]) or '0')
if qty < 1 then return 0 end
redis.call('DECR', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[1])
local orderId = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[3], orderId, ARGV[1] .. ':' .. ARGV[2])
return 1
`;

export async function runRedisLua(options: BaselineOptions): Promise<SystemRun> {
  const redis = new Redis(options.redisUrl, { lazyConnect: true });
  await redis.connect();
  const prefix = `stampede-bench:${suffix()}:`;
  const stockKey = (sku: number): string => `${prefix}stock:${sku}`;
  const buyersKey = (sku: number): string => `${prefix}buyers:${sku}`;
  const ordersKey = `${prefix}orders`;
  const seqKey = `${prefix}order-seq`;
  const skuIds = skuIdsOf(options);
  let pipeline: RedisScriptPipeline | null = null;
  try {
    for (const sku of skuIds) await redis.set(stockKey(sku), stockOf(options, sku));
    const sha = (await redis.script('LOAD', buyScript)) as string;
    const serverPid = localPid(options.redisUrl, () =>
      redis.info('server').then((info) => Number(/process_id:(\d+)/.exec(info)?.[1])),
    );
    const scripts = await RedisScriptPipeline.connect(options.redisUrl, sha, `${prefix}attempts`);
    pipeline = scripts;
    const keysBySku = skuIds.map((sku) => [stockKey(sku), buyersKey(sku), ordersKey, seqKey]);
    const attempt: Attempt = async (buyerId, sku) => {
      const result = await scripts.call(keysBySku[sku - 1]!, [buyerId, sku]);
      return result === 1 ? 'bought' : result === -1 ? 'secondBuy' : 'soldOut';
    };
    await warmUp(options, attempt);
    const { value: recorder, resources } = await measured(await serverPid, () =>
      driveAttempts(options, attempt),
    );
    const available = await Promise.all(
      skuIds.slice(0, options.skus).map(async (sku) => Number(await redis.get(stockKey(sku)))),
    );
    const orders = (await redis.hvals(ordersKey)).map((v) => {
      const [buyer, sku] = v.split(':').map(Number);
      return { buyer: buyer!, sku: sku! };
    });
    const persistence = (await redis.config('GET', 'appendonly')) as string[];
    const fsync = (await redis.config('GET', 'appendfsync')) as string[];
    return baselineRun(
      'redis-lua',
      options,
      recorder,
      storeOf(options, available, orders),
      resources,
      `one connection, pipelined EVALSHA, ${inFlightNote(options)}; Redis appendonly=${persistence[1] ?? '?'} appendfsync=${fsync[1] ?? '?'} (${redisDurability(persistence[1], fsync[1])})`,
    );
  } finally {
    pipeline?.close();
    await redis
      .del(...skuIds.flatMap((sku) => [stockKey(sku), buyersKey(sku)]), ordersKey, seqKey)
      .catch(() => 0);
    redis.disconnect();
  }
}

/** Whether Redis, so configured, has fsynced an answer's write before the answer. */
function redisDurability(appendonly: string | undefined, appendfsync: string | undefined): string {
  if (appendonly !== 'yes') return 'no fsync before an answer';
  // With `always`, Redis fsyncs the AOF before it writes the replies of an event-loop turn.
  return appendfsync === 'always' ? 'AOF fsynced before every answer' : 'no fsync before an answer';
}

/** The pid of a server at `url` when it runs on this machine (for its CPU time), else null. */
async function localPid(url: string, ask: () => Promise<number>): Promise<number | null> {
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') return null;
  try {
    const pid = await ask();
    return Number.isSafeInteger(pid) && pid > 0 && processCpuSeconds(pid) !== null ? pid : null;
  } catch {
    return null;
  }
}

async function withMysqlTables(
  options: BaselineOptions,
  system: 'mysql-cond' | 'mysql-tx',
  attemptOf: (pool: Pool, stockTable: string, ordersTable: string) => Attempt,
): Promise<SystemRun> {
  const connections =
    options.load.model === 'closed'
      ? Math.min(options.load.concurrency, baselineLimits.connectionsMaxMysql)
      : baselineLimits.connectionsMaxMysql;
  // trace: false skips capturing a stack trace per statement (about 35 µs of client CPU each, measured),
  // as a team tuning this path for a sale would: the client shares the machine's two cores with mysqld.
  const pool = mysql.createPool({
    uri: options.mysqlUrl,
    connectionLimit: connections,
    maxIdle: connections,
    trace: false,
  });
  const tag = suffix();
  const stockTable = `bench_stock_${tag}`;
  const ordersTable = `bench_orders_${tag}`;
  try {
    await pool.query(`CREATE TABLE ${stockTable} (sku INT PRIMARY KEY, qty INT NOT NULL) ENGINE=InnoDB`);
    // UNIQUE(buyer, sku): the per-buyer limit of 1 is the key itself (a general limit would need a count).
    await pool.query(
      `CREATE TABLE ${ordersTable} (id BIGINT AUTO_INCREMENT PRIMARY KEY, buyer INT NOT NULL, sku INT NOT NULL,
       created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), UNIQUE KEY buyer_once (buyer, sku)) ENGINE=InnoDB`,
    );
    for (const sku of skuIdsOf(options))
      await pool.query(`INSERT INTO ${stockTable} (sku, qty) VALUES (?, ?)`, [sku, stockOf(options, sku)]);
    // Open every connection before the clock starts.
    const opened = await Promise.all(Array.from({ length: connections }, () => pool.getConnection()));
    for (const c of opened) c.release();
    const serverPid = localPid(options.mysqlUrl, async () => {
      const [rows] = await pool.query<RowDataPacket[]>('SELECT @@pid_file AS pidFile');
      return Number(readFileSync(String(rows[0]?.pidFile), 'utf8').trim());
    });
    const attempt = attemptOf(pool, stockTable, ordersTable);
    await warmUp(options, attempt);
    const { value: recorder, resources } = await measured(await serverPid, () =>
      driveAttempts(options, attempt),
    );
    const [stockRows] = await pool.query<RowDataPacket[]>(
      `SELECT sku, qty FROM ${stockTable} WHERE sku <= ? ORDER BY sku`,
      [options.skus],
    );
    const [orderRows] = await pool.query<RowDataPacket[]>(`SELECT buyer, sku FROM ${ordersTable}`);
    const [settings] = await pool.query<RowDataPacket[]>(
      'SELECT @@innodb_flush_log_at_trx_commit AS flush, VERSION() AS version',
    );
    const available = stockRows.map((r) => Number(r.qty));
    const orders = orderRows.map((r) => ({ buyer: Number(r.buyer), sku: Number(r.sku) }));
    return baselineRun(
      system,
      options,
      recorder,
      storeOf(options, available, orders),
      resources,
      `pool of ${connections} connections (capped at ${baselineLimits.connectionsMaxMysql}) for ${inFlightNote(options)}; ${settings[0]?.version} innodb_flush_log_at_trx_commit=${settings[0]?.flush}`,
    );
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${stockTable}, ${ordersTable}`).catch(() => undefined);
    await pool.end();
  }
}

const isDuplicate = (error: unknown): boolean => (error as { code?: string }).code === 'ER_DUP_ENTRY';

export function runMysqlCond(options: BaselineOptions): Promise<SystemRun> {
  return withMysqlTables(options, 'mysql-cond', (pool, stockTable, ordersTable) => async (buyerId, sku) => {
    const [update] = await pool.execute<ResultSetHeader>(
      `UPDATE ${stockTable} SET qty = qty - 1 WHERE sku = ? AND qty >= 1`,
      [sku],
    );
    if (update.affectedRows === 0) return 'soldOut';
    try {
      await pool.execute(`INSERT INTO ${ordersTable} (buyer, sku) VALUES (?, ?)`, [buyerId, sku]);
      return 'bought';
    } catch (error) {
      if (!isDuplicate(error)) throw error;
      await pool.execute(`UPDATE ${stockTable} SET qty = qty + 1 WHERE sku = ?`, [sku]);
      return 'secondBuy';
    }
  });
}

export function runMysqlTx(options: BaselineOptions): Promise<SystemRun> {
  return withMysqlTables(options, 'mysql-tx', (pool, stockTable, ordersTable) => async (buyerId, sku) => {
    const connection = await pool.getConnection();
    try {
      await connection.query('BEGIN');
      const [rows] = await connection.execute<RowDataPacket[]>(
        `SELECT qty FROM ${stockTable} WHERE sku = ? FOR UPDATE`,
        [sku],
      );
      if (Number(rows[0]?.qty ?? 0) < 1) {
        await connection.query('COMMIT');
        return 'soldOut';
      }
      await connection.execute(`UPDATE ${stockTable} SET qty = qty - 1 WHERE sku = ?`, [sku]);
      await connection.execute(`INSERT INTO ${ordersTable} (buyer, sku) VALUES (?, ?)`, [buyerId, sku]);
      await connection.query('COMMIT');
      return 'bought';
    } catch (error) {
      await connection.query('ROLLBACK').catch(() => undefined);
      if (isDuplicate(error)) return 'secondBuy';
      throw error;
    } finally {
      connection.release();
    }
  });
}

export function runBaseline(name: BaselineName, options: BaselineOptions): Promise<SystemRun> {
  switch (name) {
    case 'redis-lua':
      return runRedisLua(options);
    case 'mysql-cond':
      return runMysqlCond(options);
    case 'mysql-tx':
      return runMysqlTx(options);
    default: {
      const unreachable: never = name;
      throw new Error(`unknown baseline ${unreachable}`);
    }
  }
}
