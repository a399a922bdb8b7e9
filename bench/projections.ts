/**
 * `stampede bench projections` (npm run bench:projections): how fast a
 * finished flash sale's journal is projected into the real MySQL/MariaDB and
 * Redis, from seq 1 to the end (a projector catching up after an outage, or a
 * store rebuilt). One hot SKU, so every stock movement hits the same product
 * row: the case issue 5 names ("thousands of movements per second must not
 * become thousands of row-lock waits"). Each run ends with `reconcile`; an
 * anomaly fails the benchmark. Uses a fresh database and key prefix, dropped
 * afterwards. Prints one JSON line per store and a table.
 *
 *   --buyers N (200000)  --stock N (10000)  --quick (20000 / 1000)
 *   --mysql URL (mysqlUrl: STAMPEDE_MYSQL_URL, else mysql://root@127.0.0.1:3306/test: the server; a
 *               database is created)
 *   --redis URL (redisUrl: STAMPEDE_REDIS_URL, else redis://127.0.0.1:6379)   [mysql|redis ...] only some stores
 *   --config FILE (the node's settings file)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { engineLimits } from '../engine/limits.ts';
import { loadConfig } from '../gateways/config.ts';
import { FileJournalReader, journalDir } from '../journal/journal-backend.ts';
import { connectMysql, mysqlUrlDefault, parseMysqlUrl } from '../projections/mysql/schema.ts';
import { MysqlProjectionStore } from '../projections/mysql/store.ts';
import { Projector } from '../projections/projector.ts';
import { reconcile } from '../projections/reconcile.ts';
import { RedisProjectionStore, redisUrlDefault } from '../projections/redis/store.ts';
import { writeFlashSaleJournal } from './flash-sale-journal.ts';

const storeNames = ['mysql', 'redis'] as const;
type StoreName = (typeof storeNames)[number];

interface StoreFigures {
  bench: string;
  opsPerSec: number;
  events: number;
  seconds: number;
  batches: number;
  meanBatchMs: number;
  buyers: number;
  stock: number;
  reconcile: string;
}

/** Projects the whole journal into one store and reconciles it; `cleanup` removes what the run created. */
async function projectAll(
  store: StoreName,
  dataDir: string,
  lastSeq: number,
  url: string,
): Promise<Omit<StoreFigures, 'buyers' | 'stock'>> {
  const suffix = randomBytes(4).toString('hex');
  const log = (message: string): void => console.error(`bench projections: ${message}`);
  let storeUrl = url;
  let redisPrefix = '';
  let cleanup: () => Promise<void>;
  if (store === 'mysql') {
    const target = parseMysqlUrl(url);
    const database = `stampede_bench_${suffix}`;
    const admin = await connectMysql({ ...target, database }, 5_000); // creates it
    const dbUrl = new URL(url);
    dbUrl.pathname = `/${database}`;
    storeUrl = dbUrl.toString();
    cleanup = async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${database}`);
      await admin.end();
    };
  } else {
    redisPrefix = `stampede-bench-${suffix}:`;
    cleanup = async () => {
      const client = new Redis(url);
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await client.del(...keys);
      } while (cursor !== '0');
      client.disconnect();
    };
  }
  try {
    const projector = new Projector({
      name: store,
      store:
        store === 'mysql'
          ? new MysqlProjectionStore({ url: storeUrl, log })
          : new RedisProjectionStore({ url: storeUrl, prefix: redisPrefix, log }),
      reader: new FileJournalReader(journalDir(dataDir)),
      log,
    });
    const started = process.hrtime.bigint();
    projector.start();
    await projector.waitForSeq(lastSeq, 600_000);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const metrics = projector.metrics();
    await projector.stop();
    const report = await reconcile({
      dataDir,
      ...(store === 'mysql' ? { mysqlUrl: storeUrl } : { redisUrl: storeUrl, redisPrefix }),
    });
    if (report.anomalies.length > 0) {
      throw new Error(`${store}: reconcile found ${report.anomalies.length} anomalies after the projection`);
    }
    return {
      bench: `projection.${store}`,
      opsPerSec: Math.round(lastSeq / seconds),
      events: lastSeq,
      seconds: Math.round(seconds * 100) / 100,
      batches: metrics.batchesApplied,
      meanBatchMs: Math.round((seconds * 1000 * 10) / Math.max(1, metrics.batchesApplied)) / 10,
      reconcile: 'clean',
    };
  } finally {
    await cleanup();
  }
}

export async function runProjectionBench(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      buyers: { type: 'string' },
      stock: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      mysql: { type: 'string' },
      redis: { type: 'string' },
      config: { type: 'string' },
    },
  });
  const buyers = Number(values.buyers ?? (values.quick ? 20_000 : 200_000));
  const stock = Number(values.stock ?? (values.quick ? 1_000 : 10_000));
  if (!Number.isSafeInteger(buyers) || buyers < 1 || !Number.isSafeInteger(stock) || stock < 1) {
    console.error('bench projections: --buyers and --stock must be positive integers');
    return 2;
  }
  const unknown = positionals.filter((p) => !(storeNames as readonly string[]).includes(p));
  if (unknown.length > 0) {
    console.error(`bench projections: unknown store ${unknown.join(', ')} (have ${storeNames.join(', ')})`);
    return 2;
  }
  const stores = (positionals.length > 0 ? positionals : [...storeNames]) as StoreName[];
  // The servers from the node's configuration table, as every command reads it.
  const config = loadConfig({
    env: process.env,
    file: values.config,
    overrides: { mysqlUrl: values.mysql, redisUrl: values.redis },
  });
  const urls: Record<StoreName, string> = {
    mysql: config.mysqlUrl ?? mysqlUrlDefault,
    redis: config.redisUrl ?? redisUrlDefault,
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-bench-projections-'));
  try {
    const limits = engineLimits({
      ordersMax: Math.max(stock * 2, 1024),
      buyersMax: Math.max(stock * 2, 1024),
    });
    const { eventCount } = writeFlashSaleJournal(dataDir, limits, { buyers, stock, startMs: Date.now() });
    const results: StoreFigures[] = [];
    for (const store of stores) {
      const figures = { ...(await projectAll(store, dataDir, eventCount, urls[store])), buyers, stock };
      console.log(JSON.stringify(figures));
      results.push(figures);
    }
    if (!values.json) {
      const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
      console.log(
        `\nmachine: ${machine}; ${eventCount} events (${buyers} buyers, ${stock} units, one hot SKU)`,
      );
      for (const r of results) {
        console.log(
          `${r.bench.padEnd(18)} ${`${r.opsPerSec.toLocaleString('en-US')} events/s`.padStart(20)}   ${r.batches} batches, ${r.meanBatchMs} ms each; reconcile ${r.reconcile}`,
        );
      }
    }
    return 0;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runProjectionBench(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
