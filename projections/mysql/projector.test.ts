/**
 * The MySQL projector against a real MariaDB/MySQL (MYSQL_URL, default mysql://root@127.0.0.1:3306/test),
 * a fresh database per test: a seeded sale projected in small batches matches the journal row for row
 * (reconcile exits 0) and the engine's own stock; a projector killed in the middle of a batch, or whose
 * connection dies mid-transaction, or whose COMMIT answer is lost, resumes with nothing lost and nothing
 * doubled; a store that goes away during a sale is caught up when it returns. SEED=n replays a run.
 */
import type { RowDataPacket } from 'mysql2/promise';
import t, { type Test } from 'tap';
import { FileJournalReader, journalDir } from '../../journal/journal-backend.ts';
import { seedFromEnv } from '../../lib/seeded-random.ts';
import { tempDataDir } from '../../lib/temp-data-dir.ts';
import { runProjectCommand, runReconcileCommand } from '../cli.ts';
import { ProjectionErrorCode } from '../errors.ts';
import { MovementKind } from '../events.ts';
import { Projector, ProjectorState } from '../projector.ts';
import {
  journalModelOf,
  SaleJournalWriter,
  smallBatchLimits,
  writeSaleJournal,
} from '../testing/sale-journal.ts';
import { eventually, freshMysqlDatabase, mysqlConnection, withAddress } from '../testing/stores.ts';
import { TcpProxy } from '../testing/tcp-proxy.ts';
import { MysqlProjectionStore, type MysqlStoreOptions } from './store.ts';

const seed = seedFromEnv();
t.comment(`SEED=${seed}`);

function projector(
  dataDir: string,
  url: string,
  extra: Partial<MysqlStoreOptions> = {},
  logs: string[] = [],
): Projector {
  return new Projector({
    name: 'mysql',
    store: new MysqlProjectionStore({ url, limits: smallBatchLimits, log: () => {}, ...extra }),
    reader: new FileJournalReader(journalDir(dataDir)),
    limits: smallBatchLimits,
    log: (message) => logs.push(message),
  });
}

async function runTo(p: Projector, seq: number): Promise<void> {
  p.start();
  await p.waitForSeq(seq, 30_000);
  await p.stop();
}

async function reconcileExit(dataDir: string, url: string): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await runReconcileCommand(['--data', dataDir, '--mysql', url], {
    out: (line) => lines.push(line),
    err: (line) => lines.push(line),
  });
  return { code, output: lines.join('\n') };
}

async function counts(
  t: Test,
  url: string,
): Promise<{ ledger: number; distinct: number; checkpoint: number }> {
  const db = await mysqlConnection(t, url);
  const [ledger] = await db.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n, COUNT(DISTINCT seq, line_no) AS d FROM stock_ledger',
  );
  const [checkpoint] = await db.query<RowDataPacket[]>('SELECT last_seq FROM projection_checkpoint');
  return {
    ledger: Number(ledger[0]!.n),
    distinct: Number(ledger[0]!.d),
    checkpoint: Number(checkpoint[0]?.last_seq ?? 0),
  };
}

t.test('a seeded sale projected into MySQL matches the journal and the engine', async (t) => {
  const dataDir = tempDataDir(t, 'mysql');
  const { lastSeq, writer } = writeSaleJournal(dataDir, seed, 2500);
  const url = await freshMysqlDatabase(t);
  const model = journalModelOf(dataDir);
  const state = writer.engine.state;
  for (const [skuId, product] of model.products) {
    t.same(
      [product.onHand, product.reserved, product.sold],
      [state.skuOnHand[skuId], state.skuReserved[skuId], state.skuSold[skuId]],
      `sku ${skuId}: the journal's movements add up to the engine's stock`,
    );
  }

  const p = projector(dataDir, url);
  const started = performance.now();
  await runTo(p, lastSeq);
  const m = p.metrics();
  t.comment(
    `${lastSeq} events, ${model.ledger.length} movements, ${m.batchesApplied} batches in ${(performance.now() - started).toFixed(0)} ms`,
  );
  t.equal(m.appliedSeq, lastSeq);
  t.equal(m.lagEvents, 0);
  t.equal(p.state, ProjectorState.stopped);
  const c = await counts(t, url);
  t.equal(c.ledger, model.ledger.length, 'one ledger row per movement');
  t.equal(c.checkpoint, lastSeq, 'the checkpoint is the last seq');

  const db = await mysqlConnection(t, url);
  const [stock] = await db.query<RowDataPacket[]>(
    'SELECT sku_id, on_hand, reserved, sold, available FROM products ORDER BY sku_id',
  );
  for (const row of stock) {
    const skuId = Number(row.sku_id);
    t.same(
      [row.on_hand, row.reserved, row.sold, row.available],
      [state.skuOnHand[skuId], state.skuReserved[skuId], state.skuSold[skuId], state.availability[skuId]],
      `sku ${skuId}: MySQL stock = engine stock`,
    );
  }
  const [fromLedger] = await db.query<RowDataPacket[]>(
    "SELECT sku_id, SUM(CASE kind WHEN 'initial' THEN quantity WHEN 'restock' THEN quantity WHEN 'commit' THEN -quantity ELSE 0 END) AS on_hand FROM stock_ledger GROUP BY sku_id ORDER BY sku_id",
  );
  t.same(
    fromLedger.map((r) => [r.sku_id, r.on_hand]),
    stock.map((r) => [r.sku_id, r.on_hand]),
    'stock per SKU from the ledger = the counters',
  );
  const [payments] = await db.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM payment_transactions');
  t.equal(Number(payments[0]!.n), model.payments.length, 'payment transactions');
  const [money] = await db.query<RowDataPacket[]>(
    "SELECT SUM(outcome <> 'declined' AND amount_minor IS NULL) AS unpriced, SUM(provider_reference IS NOT NULL) AS referenced FROM payment_transactions",
  );
  t.equal(Number(money[0]!.unpriced), 0, 'every payment that moved money has its amount');
  t.ok(Number(money[0]!.referenced) > 0, "payments carry the provider's reference");
  // What the seed produced must reach every kind of row, or matching would prove little.
  const kinds = new Set(model.ledger.map((row) => row.kind));
  t.ok(model.payments.length > 0, 'the sale has payment transactions');
  t.same([...kinds].sort(), Object.values(MovementKind).sort(), 'the sale has every kind of stock movement');

  const reconciled = await reconcileExit(dataDir, url);
  t.equal(reconciled.code, 0, reconciled.output);
  t.match(reconciled.output, /reconcile: clean/);
});

t.test('a projector killed in the middle of a batch resumes with nothing lost or doubled', async (t) => {
  const dataDir = tempDataDir(t, 'mysql');
  const { lastSeq } = writeSaleJournal(dataDir, seed + 1, 1500);
  const url = await freshMysqlDatabase(t);
  const model = journalModelOf(dataDir);

  // Batch 4 fails after its orders, lines and history rows went in, before its ledger rows.
  let ledgerStatements = 0;
  const crashing = projector(dataDir, url, {
    injectFault: (step) => {
      if (step === 'ledger' && ++ledgerStatements === 4) throw new Error('injected crash mid-batch');
    },
  });
  crashing.start();
  await crashing.done;
  t.equal(crashing.state, ProjectorState.halted, 'a non-retriable error halts the projector');
  t.match(crashing.error?.message, /injected crash mid-batch/);
  t.equal(crashing.error && (crashing.error as { code?: string }).code, ProjectionErrorCode.storeFailed);
  const halted = await counts(t, url);
  t.ok(halted.checkpoint > 0 && halted.checkpoint < lastSeq, `halted at checkpoint ${halted.checkpoint}`);
  t.equal(
    halted.ledger,
    model.ledger.filter((row) => row.seq <= halted.checkpoint).length,
    'the half-written batch left nothing behind',
  );

  await runTo(projector(dataDir, url), lastSeq);
  const c = await counts(t, url);
  t.equal(c.ledger, model.ledger.length, 'ledger row count == movement count');
  t.equal(c.distinct, c.ledger, 'no movement twice');
  t.equal(c.checkpoint, lastSeq, 'checkpoint == last seq');
  const reconciled = await reconcileExit(dataDir, url);
  t.equal(reconciled.code, 0, reconciled.output);
});

t.test(
  'a connection that dies mid-transaction, or a lost COMMIT answer, is retried without doubling',
  async (t) => {
    const dataDir = tempDataDir(t, 'mysql');
    const { lastSeq } = writeSaleJournal(dataDir, seed + 2, 1500);
    const url = await freshMysqlDatabase(t);
    const model = journalModelOf(dataDir);
    let historyStatements = 0;
    let commits = 0;
    const logs: string[] = [];
    const p = projector(
      dataDir,
      url,
      {
        injectFault: (step, connection) => {
          // The server drops us after some of the batch's rows: the transaction rolls back.
          if (step === 'history' && ++historyStatements === 3) connection.destroy();
          // COMMIT went through but its answer never arrived.
          if (step === 'committed' && ++commits === 6) {
            throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
          }
        },
      },
      logs,
    );
    await runTo(p, lastSeq);
    t.equal(p.metrics().retries, 2, `two retries (${logs.filter((l) => /retry/.test(l)).join(' | ')})`);
    const c = await counts(t, url);
    t.equal(c.ledger, model.ledger.length, 'ledger row count == movement count');
    t.equal(c.checkpoint, lastSeq);
    const reconciled = await reconcileExit(dataDir, url);
    t.equal(reconciled.code, 0, reconciled.output);
  },
);

t.test(
  'MySQL down for a while during a sale: the projector retries with backoff and catches up',
  async (t) => {
    // The engine keeps serving throughout by construction, not by this test: projectors only read the
    // journal and nothing flows back from them to the engine (projector.ts), so a dead store cannot slow it.
    const dataDir = tempDataDir(t, 'mysql');
    const base = await freshMysqlDatabase(t);
    const target = new URL(base);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port || 3306));
    t.teardown(() => proxy.close());
    const url = withAddress(base, { host: '127.0.0.1', port: proxy.port });
    const writer = new SaleJournalWriter(dataDir, seed + 3);
    writer.run(200);
    const logs: string[] = [];
    const p = projector(
      dataDir,
      url,
      { limits: { ...smallBatchLimits, connectTimeoutMs: 1000, statementTimeoutMs: 2000 } },
      logs,
    );
    p.start();
    await p.waitForSeq(writer.durableSeq, 20_000);
    t.equal(p.state, ProjectorState.live);

    proxy.cut();
    const cutSeq = writer.durableSeq;
    for (let i = 0; i < 8; i++) {
      writer.run(100); // the sale goes on
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    t.equal(p.metrics().appliedSeq, cutSeq, 'nothing applied while the store is down');
    t.ok(p.metrics().lagEvents > 0 || writer.durableSeq > cutSeq, 'and the lag grows');
    await eventually(() => p.metrics().retries >= 2);
    const retriesWhileDown = p.metrics().retries;
    t.ok(retriesWhileDown >= 2, `retried ${retriesWhileDown} times while down`);
    t.not(p.state, ProjectorState.halted, 'a store that is down does not halt the projector');

    proxy.restore();
    writer.run(100);
    const lastSeq = writer.durableSeq;
    writer.close();
    await p.waitForSeq(lastSeq, 20_000);
    t.equal(p.metrics().consecutiveFailures, 0, 'caught up after the store came back');
    await p.stop();
    const direct = base;
    const reconciled = await reconcileExit(dataDir, direct);
    t.equal(reconciled.code, 0, reconciled.output);
    const backoffs = logs
      .map((line) => /retry \d+ in (\d+) ms/.exec(line)?.[1])
      .filter((ms) => ms !== undefined)
      .map(Number);
    t.ok(
      backoffs.every((ms) => ms <= smallBatchLimits.retryDelayMsMax),
      `backoff capped at ${smallBatchLimits.retryDelayMsMax} ms: ${backoffs.join(', ')}`,
    );
  },
);

t.test('migrations are versioned and run once; --migrate runs them alone', async (t) => {
  const url = await freshMysqlDatabase(t);
  const lines: string[] = [];
  const io = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(line) };
  t.equal(await runProjectCommand(['--store', 'mysql', '--mysql', url, '--migrate'], io), 0);
  t.equal(await runProjectCommand(['--store', 'mysql', '--mysql', url, '--migrate'], io), 0);
  t.match(lines.join('\n'), /applied migrations 1, 2[\s\S]*schema up to date/);
  const db = await mysqlConnection(t, url);
  const [rows] = await db.query<RowDataPacket[]>('SELECT version FROM schema_migrations');
  t.same(
    rows.map((r) => r.version),
    [1, 2],
  );
  t.equal(await runProjectCommand(['--store', 'cassandra'], io), 2, 'an unknown store is a usage error');
});

t.test('stampede project --once projects a data directory and stops', async (t) => {
  const dataDir = tempDataDir(t, 'mysql');
  const { lastSeq } = writeSaleJournal(dataDir, seed + 4, 300);
  const url = await freshMysqlDatabase(t);
  const lines: string[] = [];
  const io = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(line) };
  t.equal(await runProjectCommand(['--store', 'mysql', '--mysql', url, '--data', dataDir, '--once'], io), 0);
  t.match(lines.join('\n'), new RegExp(`mysql: stopped at seq ${lastSeq}`));
  t.equal((await counts(t, url)).checkpoint, lastSeq);

  const empty = tempDataDir(t, 'mysql-empty');
  lines.length = 0;
  t.equal(
    await runProjectCommand(['--store', 'mysql', '--mysql', url, '--data', empty, '--once'], io),
    2,
    'a directory without a journal is a usage error',
  );
  t.match(lines.join('\n'), /stampede project: no journal in .*does not exist/);
});
