/**
 * The Redis projector against a real Redis (REDIS_URL, default redis://127.0.0.1:6379), a random key prefix
 * per test: a seeded sale projected in small batches matches the journal (reconcile exits 0) and the
 * engine's availability, and RedisReadModel reads it; a projector killed between batches, or whose script
 * answer is lost, resumes with nothing lost or doubled; Redis going away during a sale is caught up when it
 * returns. SEED=n replays a run.
 */
import t from 'tap';
import { isFinalStatus, OrderStatus, PaymentOutcome, ResultCode } from '../../engine/codes.ts';
import { packCurrency } from '../../engine/layout.ts';
import { FileJournalReader, journalDir } from '../../journal/journal-backend.ts';
import { seedFromEnv } from '../../lib/seeded-random.ts';
import { tempDataDir } from '../../lib/temp-data-dir.ts';
import { runReconcileCommand } from '../cli.ts';
import { orderStatusSeedName } from '../events.ts';
import { Projector, ProjectorState } from '../projector.ts';
import {
  journalModelOf,
  SaleJournalWriter,
  ScriptedJournal,
  smallBatchLimits,
  writeSaleJournal,
} from '../testing/sale-journal.ts';
import { eventually, freshRedisPrefix } from '../testing/stores.ts';
import { TcpProxy } from '../testing/tcp-proxy.ts';
import { RedisReadModel } from './read-model.ts';
import { RedisProjectionStore, type RedisStoreOptions } from './store.ts';

const seed = seedFromEnv();
t.comment(`SEED=${seed}`);

function projector(
  dataDir: string,
  url: string,
  prefix: string,
  extra: Partial<RedisStoreOptions> = {},
  logs: string[] = [],
): Projector {
  return new Projector({
    name: 'redis',
    store: new RedisProjectionStore({ url, prefix, limits: smallBatchLimits, log: () => {}, ...extra }),
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

async function reconcileExit(
  dataDir: string,
  url: string,
  prefix: string,
): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await runReconcileCommand(['--data', dataDir, '--redis', url, '--redis-prefix', prefix], {
    out: (line) => lines.push(line),
    err: (line) => lines.push(line),
  });
  return { code, output: lines.join('\n') };
}

t.test('a seeded sale projected into Redis matches the journal; RedisReadModel reads it', async (t) => {
  const dataDir = tempDataDir(t, 'redis');
  const { lastSeq, writer } = writeSaleJournal(dataDir, seed, 2500);
  const { url, prefix, client } = await freshRedisPrefix(t);
  const p = projector(dataDir, url, prefix);
  const started = performance.now();
  await runTo(p, lastSeq);
  t.comment(
    `${lastSeq} events in ${p.metrics().batchesApplied} batches, ${(performance.now() - started).toFixed(0)} ms`,
  );
  t.equal(await client.get(`${prefix}checkpoint:stampede`), String(lastSeq), 'checkpoint == last seq');

  const model = journalModelOf(dataDir);
  const state = writer.engine.state;
  const read = new RedisReadModel({ url, prefix });
  t.teardown(() => read.close());
  await read.ready();
  let soldOut = 0;
  for (const skuId of model.products.keys()) {
    const available = state.availability[skuId]!;
    t.equal(await read.availability(skuId), available, `sku ${skuId}: available = the engine's`);
    t.equal(
      await read.isOutOfStock(skuId),
      available <= 0,
      `sku ${skuId}: out of stock iff nothing available`,
    );
    if (available <= 0) soldOut++;
  }
  t.comment(`${soldOut} of ${model.products.size} SKUs sold out`);
  t.equal(await read.availability(99), null, 'an unknown SKU');
  const orders = [...model.orders.values()];
  const paid = orders.find((o) => o.status === OrderStatus.checkoutSuccess);
  t.ok(paid, 'the sale has a paid order');
  t.same(await read.orderStatus(paid!.orderId), {
    orderId: paid!.orderId,
    status: 'checkout_success',
    statusCode: OrderStatus.checkoutSuccess,
    buyerId: paid!.buyerId,
    totalMinor: paid!.totalMinor,
    updatedAtMs: paid!.updatedAtMs,
    seq: paid!.updatedSeq,
  });
  for (const order of orders.slice(-20)) {
    t.equal(
      (await read.orderStatus(order.orderId))?.status,
      orderStatusSeedName(order.status),
      `order ${order.orderId}`,
    );
  }
  t.equal(await read.orderStatus(10_000_000), null, 'an unknown order');
  t.ok((await client.pttl(`${prefix}order:${paid!.orderId}`)) > 0, 'order keys expire');
  const open = orders.filter((o) => !isFinalStatus(o.status)).length;
  t.equal(await client.hlen(`${prefix}order-lines`), open, 'order-lines holds the orders not yet final');

  const reconciled = await reconcileExit(dataDir, url, prefix);
  t.equal(reconciled.code, 0, reconciled.output);
});

t.test(
  'a projector killed before a batch, or whose script answer is lost, resumes without doubling',
  async (t) => {
    const dataDir = tempDataDir(t, 'redis');
    const { lastSeq, writer } = writeSaleJournal(dataDir, seed + 1, 1500);
    const { url, prefix, client } = await freshRedisPrefix(t);
    let scripts = 0;
    const crashing = projector(dataDir, url, prefix, {
      beforeScript: () => {
        if (++scripts === 5) throw new Error('injected crash');
      },
    });
    crashing.start();
    await crashing.done;
    t.equal(crashing.state, ProjectorState.halted);
    const halted = Number(await client.get(`${prefix}checkpoint:stampede`));
    t.ok(halted > 0 && halted < lastSeq, `halted at checkpoint ${halted}`);

    // The script runs, then the connection drops before its answer: the retry finds the checkpoint moved.
    let answers = 0;
    const logs: string[] = [];
    const lossy = projector(
      dataDir,
      url,
      prefix,
      {
        afterScript: () => {
          if (++answers % 4 === 2) throw new Error('Connection is closed.');
        },
      },
      logs,
    );
    await runTo(lossy, lastSeq);
    t.ok(lossy.metrics().retries >= 2, `${lossy.metrics().retries} lost answers retried`);
    const state = writer.engine.state;
    const available = await client.hgetall(`${prefix}available`);
    for (const [sku, units] of Object.entries(available)) {
      t.equal(Number(units), state.availability[Number(sku)], `sku ${sku}: no batch applied twice`);
    }
    t.equal(await client.get(`${prefix}checkpoint:stampede`), String(lastSeq));
    const reconciled = await reconcileExit(dataDir, url, prefix);
    t.equal(reconciled.code, 0, reconciled.output);
  },
);

t.test(
  'Redis down for a while during a sale: the projector retries with backoff and catches up',
  async (t) => {
    // As with MySQL: the engine never waits on a projector (one-way flow), so only the projector is tested.
    const dataDir = tempDataDir(t, 'redis');
    const { url: base, prefix } = await freshRedisPrefix(t);
    const target = new URL(base);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port || 6379));
    t.teardown(() => proxy.close());
    const url = `redis://127.0.0.1:${proxy.port}`;
    const writer = new SaleJournalWriter(dataDir, seed + 2);
    writer.run(200);
    const p = projector(dataDir, url, prefix, {
      limits: { ...smallBatchLimits, connectTimeoutMs: 1000, statementTimeoutMs: 2000 },
    });
    p.start();
    await p.waitForSeq(writer.durableSeq, 20_000);
    proxy.cut();
    const cutSeq = writer.durableSeq;
    for (let i = 0; i < 8; i++) {
      writer.run(100);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    t.equal(p.metrics().appliedSeq, cutSeq, 'nothing applied while Redis is down');
    await eventually(() => p.metrics().retries >= 2);
    t.ok(p.metrics().retries >= 2, `retried ${p.metrics().retries} times`);
    t.not(p.state, ProjectorState.halted);
    proxy.restore();
    writer.run(100);
    const lastSeq = writer.durableSeq;
    writer.close();
    await p.waitForSeq(lastSeq, 20_000);
    await p.stop();
    const reconciled = await reconcileExit(dataDir, base, prefix);
    t.equal(reconciled.code, 0, reconciled.output);
  },
);

t.test('the out-of-stock set follows stock running out and coming back', async (t) => {
  const dataDir = tempDataDir(t, 'redis');
  const { url, prefix } = await freshRedisPrefix(t);
  const journal = new ScriptedJournal(dataDir);
  t.teardown(() => journal.close());
  const p = projector(dataDir, url, prefix);
  p.start();
  t.teardown(() => p.stop());
  const read = new RedisReadModel({ url, prefix });
  t.teardown(() => read.close());
  await read.ready();
  const usd = packCurrency('USD');
  const place = (buyerId: number, requestId: number) =>
    journal.run({
      type: 'placeOrder',
      buyerId,
      requestId,
      totalMinor: 1000,
      lines: [{ skuId: 1, quantity: 2, unitPriceMinor: 500 }],
    });
  const projected = async (): Promise<{ available: number | null; oos: boolean }> => {
    await p.waitForSeq(journal.commit(), 10_000);
    return { available: await read.availability(1), oos: await read.isOutOfStock(1) };
  };

  journal.run({ type: 'addProduct', skuId: 1, priceMinor: 500, currency: usd, stock: 2 });
  t.same(await projected(), { available: 2, oos: false }, 'a new product with stock');
  const first = place(1, 1);
  t.equal(first.result, ResultCode.ok);
  t.same(await projected(), { available: 0, oos: true }, 'reserved to the last unit: out of stock');
  t.equal((await read.orderStatus(first.orderId))?.status, 'ready_for_checkout');
  t.equal(
    journal.run({ type: 'cancelOrder', buyerId: 1, requestId: 2, orderId: first.orderId }).result,
    ResultCode.ok,
  );
  t.same(await projected(), { available: 2, oos: false }, 'the reservation released: back in stock');
  t.equal((await read.orderStatus(first.orderId))?.status, 'canceled');
  const second = place(2, 1);
  journal.run({
    type: 'paymentResult',
    orderId: second.orderId,
    outcome: PaymentOutcome.succeeded,
    amountMinor: 1000,
  });
  t.same(await projected(), { available: 0, oos: true }, 'sold: out of stock');
  t.equal((await read.orderStatus(second.orderId))?.status, 'checkout_success');
  journal.run({ type: 'restock', skuId: 1, quantity: 3 });
  t.same(await projected(), { available: 3, oos: false }, 'restocked: back');
});
