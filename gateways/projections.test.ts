/**
 * The node with its stores configured, as `stampede serve` runs it with STAMPEDE_MYSQL_URL,
 * STAMPEDE_REDIS_URL and STAMPEDE_READ_MODEL=redis: a sale over real sockets is projected into the real
 * MariaDB and Redis, /metrics shows the projectors, the read API answers from Redis, reconciliation finds
 * the stores clean, and Redis going down changes nothing a buyer sees while the projector catches up.
 */
import t from 'tap';
import { reconcile } from '../projections/reconcile.ts';
import { freshMysqlDatabase, freshRedisPrefix, withAddress } from '../projections/testing/stores.ts';
import { TcpProxy } from '../projections/testing/tcp-proxy.ts';
import { http, type Json, startTestServer, TestClient, token } from './testing/test-server.ts';

const admin = token({ role: 'admin', adminName: 'ops' });
const priceMinor = 1000;

/** A metric's value from the /metrics text (labels included in `series`), or NaN when absent. */
async function metric(port: number, series: string): Promise<number> {
  const { text } = await http(port, 'GET', '/metrics');
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

/** Polls /metrics until the store's projector has applied everything the journal has made durable. */
async function projectedUpToDurable(port: number, store: string, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const durable = await metric(port, 'stampede_journal_durable_seq');
    const applied = await metric(port, `stampede_projector_applied_seq{store="${store}"}`);
    if (applied === durable && durable > 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

async function buyer(port: number, buyerId: number): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.request({ requestId: 1, authenticate: { token: token({ role: 'buyer', buyerId }) } });
  return client;
}

/** One buyer places an order for one unit; returns the order id or null when refused. */
async function placeOne(port: number, buyerId: number): Promise<number | null> {
  const client = await buyer(port, buyerId);
  const answer = await client.request({
    requestId: 2,
    placeOrder: { lines: [{ skuId: 1, quantity: 1, unitPriceMinor: priceMinor }], totalMinor: priceMinor },
  });
  client.close();
  const order = answer.order as { result: string; orderId: number } | undefined;
  return order?.result === 'RESULT_CODE_OK' ? order.orderId : null;
}

t.test('a sale is projected into MySQL and Redis; reads come from Redis; reconcile is clean', async (t) => {
  const mysqlUrl = await freshMysqlDatabase(t);
  const redis = await freshRedisPrefix(t);
  const { server, dataDir, stop } = await startTestServer({
    projections: { mysqlUrl, redisUrl: redis.url, redisPrefix: redis.prefix, readModel: 'redis' },
  });
  t.teardown(stop);
  const port = server.port;
  const added = await http(port, 'POST', '/v1/admin/products', {
    token: admin,
    body: { skuId: 1, priceMinor, currency: 'USD', stock: 5 },
  });
  t.equal(added.status, 200);
  const orderIds: number[] = [];
  for (let buyerId = 1; buyerId <= 8; buyerId++) {
    const orderId = await placeOne(port, buyerId);
    if (orderId !== null) orderIds.push(orderId);
  }
  t.equal(orderIds.length, 5, 'five units, five orders, three refusals');
  t.ok(await projectedUpToDurable(port, 'mysql'), 'the MySQL projector caught up with the journal');
  t.ok(await projectedUpToDurable(port, 'redis'), 'the Redis projector caught up with the journal');
  t.equal(await metric(port, 'stampede_projector_state{store="redis"}'), 2, 'redis projector is live');

  const stock = await http(port, 'GET', '/v1/stock/1');
  t.equal(stock.headers.get('x-stampede-read-source'), 'redis');
  t.same(stock.body, { skuId: 1, available: 0 });
  const firstOrder = orderIds[0]!;
  const read = await http(port, 'GET', `/v1/orders/${firstOrder}`, { token: admin });
  t.equal(read.headers.get('x-stampede-read-source'), 'redis');
  t.match(read.body, {
    orderId: firstOrder,
    buyerId: 1,
    status: 'ready_for_checkout',
    totalMinor: priceMinor,
  });
  const othersOrder = await http(port, 'GET', `/v1/orders/${firstOrder}`, {
    token: token({ role: 'buyer', buyerId: 2 }),
  });
  t.equal(othersOrder.status, 404, "another buyer's order is not found, from Redis too");

  const report = await reconcile({ dataDir, mysqlUrl, redisUrl: redis.url, redisPrefix: redis.prefix });
  t.same(report.anomalies, [], 'reconcile: clean');
});

t.test(
  'Redis down during a sale: buyers are served, reads fall back, the projector catches up',
  async (t) => {
    const redis = await freshRedisPrefix(t);
    const target = new URL(redis.url);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port || 6379));
    t.teardown(() => proxy.close());
    const redisUrl = withAddress(redis.url, { host: '127.0.0.1', port: proxy.port });
    const { server, dataDir, stop } = await startTestServer({
      projections: { mysqlUrl: undefined, redisUrl, redisPrefix: redis.prefix, readModel: 'redis' },
    });
    t.teardown(stop);
    const port = server.port;
    await http(port, 'POST', '/v1/admin/products', {
      token: admin,
      body: { skuId: 1, priceMinor, currency: 'USD', stock: 3 },
    });
    t.ok(await projectedUpToDurable(port, 'redis'), 'caught up before the outage');

    proxy.cut();
    const during: (number | null)[] = [];
    for (let buyerId = 1; buyerId <= 4; buyerId++) during.push(await placeOne(port, buyerId));
    t.equal(
      during.filter((id) => id !== null).length,
      3,
      'the engine sells all three units while Redis is down',
    );
    const stock = await http(port, 'GET', '/v1/stock/1');
    t.equal(stock.status, 200);
    t.equal(stock.headers.get('x-stampede-read-source'), 'embedded', 'reads fall back to the embedded model');
    t.equal((stock.body as Json).available, 0, 'and are as fresh as the engine');
    t.not(
      await metric(port, 'stampede_journal_durable_seq'),
      await metric(port, 'stampede_projector_applied_seq{store="redis"}'),
      'the projector is behind while Redis is down',
    );

    proxy.restore();
    t.ok(await projectedUpToDurable(port, 'redis'), 'the projector catches up once Redis is back');
    t.ok((await metric(port, 'stampede_projector_retries{store="redis"}')) > 0, 'it retried meanwhile');
    const report = await reconcile({ dataDir, redisUrl: redis.url, redisPrefix: redis.prefix });
    t.same(report.anomalies, [], 'nothing lost, nothing doubled');
  },
);
