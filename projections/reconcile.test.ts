/**
 * stampede reconcile against real MariaDB/MySQL and Redis: clean stores after a projected sale exit 0;
 * injected damage (a deleted ledger row, a wrong order state in MySQL, a stale out-of-stock entry and a wrong
 * order status in Redis, a changed stock counter) is each reported with what was expected and what was
 * found, and exits 1. SEED=n replays the sale.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import t from 'tap';
import { OrderStatus } from '../engine/codes.ts';
import { scanJournal } from '../journal/file-journal.ts';
import { FileJournalReader, journalDir } from '../journal/journal-backend.ts';
import { seedFromEnv } from '../lib/seeded-random.ts';
import { runReconcileCommand } from './cli.ts';
import { decodeEvent } from './events.ts';
import { JournalModel } from './journal-model.ts';
import { MysqlProjectionStore } from './mysql/store.ts';
import { Projector } from './projector.ts';
import { reconcile } from './reconcile.ts';
import { RedisProjectionStore } from './redis/store.ts';
import { writeSaleJournal } from './testing/sale-journal.ts';
import { freshMysqlDatabase, freshRedisPrefix, mysqlConnection } from './testing/stores.ts';

const seed = seedFromEnv();
t.comment(`SEED=${seed}`);

async function run(
  args: string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await runReconcileCommand(
    args,
    {
      out: (line) => lines.push(line),
      err: (line) => lines.push(line),
    },
    env,
  );
  return { code, output: lines.join('\n') };
}

t.test('reconcile finds injected anomalies, each with expected and found', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-reconcile-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const { lastSeq } = writeSaleJournal(dataDir, seed, 1500);
  const mysqlUrl = await freshMysqlDatabase(t);
  const { url: redisUrl, prefix, client: redis } = await freshRedisPrefix(t);
  const limits = { batchEventsMax: 500, readRecordsMax: 2000 };
  for (const store of [
    new MysqlProjectionStore({ url: mysqlUrl, limits, log: () => {} }),
    new RedisProjectionStore({ url: redisUrl, prefix, limits, log: () => {} }),
  ]) {
    const p = new Projector({
      name: store.kind,
      store,
      reader: new FileJournalReader(journalDir(dataDir)),
      limits,
      log: () => {},
    });
    p.start();
    await p.waitForSeq(lastSeq, 20_000);
    await p.stop();
  }
  const args = ['--data', dataDir, '--mysql', mysqlUrl, '--redis', redisUrl, '--redis-prefix', prefix];
  const clean = await run(args);
  t.equal(clean.code, 0, clean.output);
  t.match(clean.output, /reconcile: clean/);

  const model = new JournalModel();
  scanJournal(journalDir(dataDir), 1, (seq, type, atMs, bytes, offset, length) =>
    model.apply(decodeEvent(seq, type, atMs, bytes, offset, length)),
  );
  const db = await mysqlConnection(t, mysqlUrl);

  // 1. A ledger row goes missing.
  const [ledger] = await db.query<RowDataPacket[]>(
    "SELECT seq, line_no, sku_id, quantity FROM stock_ledger WHERE kind = 'reserve' ORDER BY seq LIMIT 1",
  );
  const row = ledger[0]!;
  await db.query('DELETE FROM stock_ledger WHERE seq = ? AND line_no = ?', [row.seq, row.line_no]);
  // 2. A paid order shows as declined in MySQL.
  const paid = [...model.orders.values()].find((o) => o.status === OrderStatus.checkoutSuccess)!;
  await db.query('UPDATE orders SET status = ? WHERE order_id = ?', [
    OrderStatus.errorCheckout,
    paid.orderId,
  ]);
  // 3. A SKU with stock is listed as out of stock in Redis.
  const inStock = [...model.products.keys()].find((skuId) => model.available(skuId) > 0)!;
  await redis.sadd(`${prefix}oos`, String(inStock));
  // 4. A paid order shows as timed out in Redis.
  await redis.hset(
    `${prefix}order:${paid.orderId}`,
    'status',
    'timeout',
    'statusCode',
    String(OrderStatus.timeout),
  );
  // 5. A stock counter drifts.
  await db.query('UPDATE products SET on_hand = on_hand + 7 WHERE sku_id = ?', [inStock]);

  const found = await run(args);
  t.equal(found.code, 1, 'exit code 1');
  const lines = found.output.split('\n').filter((line) => line.startsWith('ANOMALY'));
  t.equal(lines.length, 5, found.output);
  t.match(
    found.output,
    new RegExp(
      `ANOMALY mysql stock_ledger seq ${row.seq} line ${row.line_no}: expected a row: sku_id=${row.sku_id} kind=reserve quantity=${row.quantity} .*; found no row`,
    ),
    'the deleted ledger row',
  );
  t.match(
    found.output,
    `ANOMALY mysql orders order ${paid.orderId}: expected status=5 (checkout_success); found status=6 (error_checkout)`,
    'the wrong order state',
  );
  t.match(
    found.output,
    new RegExp(
      `ANOMALY redis ${prefix}oos sku ${inStock}: expected not a member \\(available ${model.available(inStock)}\\); found a member \\(stale out-of-stock entry\\)`,
    ),
    'the stale out-of-stock entry',
  );
  t.match(
    found.output,
    `ANOMALY redis ${prefix}order:${paid.orderId} order ${paid.orderId}: expected status=checkout_success statusCode=5 (checkout_success); found status=timeout statusCode=7 (timeout)`,
    'the wrong Redis order status',
  );
  const onHand = model.products.get(inStock)!.onHand;
  t.match(
    found.output,
    `ANOMALY mysql products sku ${inStock}: expected on_hand=${onHand}; found on_hand=${onHand + 7}`,
    'the drifted counter',
  );

  const json = await run([...args, '--json']);
  const report = JSON.parse(json.output) as { anomalies: unknown[]; stores: { checkpoint: number }[] };
  t.equal(report.anomalies.length, 5, '--json carries the same anomalies');
  t.same(
    report.stores.map((s) => s.checkpoint),
    [lastSeq, lastSeq],
  );
});

t.test('reconcile reports a store the projector never wrote, and refuses to run with no store', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-reconcile-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  writeSaleJournal(dataDir, seed + 1, 50);
  const mysqlUrl = await freshMysqlDatabase(t);
  const report = await reconcile({ dataDir, mysqlUrl });
  t.same(report.anomalies, [], 'no schema is not damage');
  t.match(report.stores, [{ store: 'mysql', state: 'neverProjected', checkpoint: 0 }]);
  const none = await run(['--data', dataDir], {});
  t.equal(none.code, 2);
  t.match(none.output, /nothing to compare/);
});
