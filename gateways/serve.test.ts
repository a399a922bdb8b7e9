/**
 * `stampede serve` as an operator runs it: a real process, configuration from
 * flags and environment (a bad value is refused with a clear message and exit
 * code 2), the address it listens on printed, SIGTERM answered with a clean
 * stop (exit 0, snapshot written), and the data there on the next start.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { spawnServe } from './testing/serve-process.ts';
import { http, TestClient } from './testing/test-server.ts';
import { issueToken } from './tokens.ts';

const secret = 'serve-test-secret-serve-test-secret-0123';

function serve(dataDir: string, env: Record<string, string> = {}, flags: readonly string[] = ['--demo']) {
  return spawnServe(dataDir, { env: { STAMPEDE_TOKEN_SECRET: secret, ...env }, flags });
}

t.test('serve starts, answers, stops cleanly on SIGTERM, and keeps its data', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-serve-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = serve(dataDir);
  const port = await first.port;
  const products = await http(port, 'GET', '/v1/products');
  t.equal((products.body.products as unknown[]).length, 3, 'the demo catalog');
  first.child.kill('SIGTERM');
  t.equal(await first.exited, 0, 'exit 0 after SIGTERM');
  t.match(first.stderr(), /stopped at seq \d+/);
  t.ok(readdirSync(join(dataDir, 'snapshots')).length > 0, 'a snapshot was written');
  const second = serve(dataDir);
  const port2 = await second.port;
  t.equal(
    ((await http(port2, 'GET', '/v1/products')).body.products as unknown[]).length,
    3,
    'the catalog survived, not seeded twice',
  );
  second.child.kill('SIGINT');
  t.equal(await second.exited, 0, 'exit 0 after SIGINT');
});

const skuIdsAt = async (port: number): Promise<number[]> =>
  ((await http(port, 'GET', '/v1/products')).body.products as { skuId: number }[]).map((p) => p.skuId);

async function stopped(node: ReturnType<typeof serve>): Promise<number | string> {
  node.child.kill('SIGTERM');
  return node.exited;
}

t.test(
  'a fresh data directory starts with the demo catalog, once; --no-demo and false leave it empty',
  async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'stampede-serve-'));
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
    const first = serve(dataDir, {}, []);
    t.same(
      await skuIdsAt(await first.port),
      [1, 2, 3],
      'no flag: the demo catalog, so the first look is a store',
    );
    t.equal(await stopped(first), 0);
    const again = serve(dataDir, {}, []);
    t.same(await skuIdsAt(await again.port), [1, 2, 3], 'restarted: not added twice');
    t.match(again.stderr(), /no demo catalog: the journal has events already/);
    t.equal(await stopped(again), 0);

    // A directory that was used without it never gets it later, even one whose products are all its own.
    const usedDir = mkdtempSync(join(tmpdir(), 'stampede-serve-'));
    t.teardown(() => rmSync(usedDir, { recursive: true, force: true }));
    const used = serve(usedDir, {}, ['--no-demo']);
    const usedPort = await used.port;
    t.same(await skuIdsAt(usedPort), [], '--no-demo: empty');
    const admin = issueToken(
      secret,
      { role: 'admin', adminName: 'ops' },
      { nowMs: Date.now(), ttlMs: 60_000 },
    );
    const added = await http(usedPort, 'POST', '/v1/admin/products', {
      token: admin,
      body: { skuId: 10, priceMinor: 1999, currency: 'USD', stock: 5 },
    });
    t.equal(added.status, 200, 'an own product');
    t.equal(await stopped(used), 0);
    const usedAgain = serve(usedDir, {}, []);
    t.same(await skuIdsAt(await usedAgain.port), [10], 'a used directory gets no demo products');
    t.equal(await stopped(usedAgain), 0);

    const offDir = mkdtempSync(join(tmpdir(), 'stampede-serve-'));
    t.teardown(() => rmSync(offDir, { recursive: true, force: true }));
    const off = serve(offDir, { STAMPEDE_DEMO_CATALOG: 'false' }, []);
    t.same(await skuIdsAt(await off.port), [], 'STAMPEDE_DEMO_CATALOG=false: empty');
    t.equal(await stopped(off), 0);
  },
);

t.test('a bad configuration value is refused before anything starts', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-serve-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const bad = serve(dataDir, { STAMPEDE_BUYER_BURST: 'lots' });
  await t.rejects(bad.port);
  t.equal(await bad.exited, 2, 'exit code 2: configuration');
  t.match(bad.stderr(), /STAMPEDE_BUYER_BURST/);
});

t.test('admin routes need an admin token; listing pages with a cursor', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-serve-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const node = serve(dataDir);
  const port = await node.port;
  t.teardown(() => node.child.kill('SIGTERM'));
  const anonymous = await http(port, 'POST', '/v1/admin/products/1/restock', { body: { quantity: 5 } });
  t.equal(anonymous.status, 401, 'no token: refused');
  const buyerToken = issueToken(secret, { role: 'buyer', buyerId: 1 }, { nowMs: Date.now(), ttlMs: 60_000 });
  const asBuyer = await http(port, 'POST', '/v1/admin/products/1/restock', {
    token: buyerToken,
    body: { quantity: 5 },
  });
  t.equal(asBuyer.status, 403, 'a buyer token: forbidden');
  const adminToken = issueToken(
    secret,
    { role: 'admin', adminName: 'ops' },
    { nowMs: Date.now(), ttlMs: 60_000 },
  );
  const asAdmin = await http(port, 'POST', '/v1/admin/products/1/restock', {
    token: adminToken,
    body: { quantity: 5 },
  });
  t.same([asAdmin.status, asAdmin.body], [200, { result: 'ok' }]);
  const page1 = await http(port, 'GET', '/v1/products?limit=2');
  t.same(
    (page1.body.products as { skuId: number }[]).map((p) => p.skuId),
    [1, 2],
  );
  const page2 = await http(port, 'GET', `/v1/products?limit=2&after=${page1.body.nextCursor}`);
  t.same(
    (page2.body.products as { skuId: number }[]).map((p) => p.skuId),
    [3],
  );
  t.equal(page2.body.nextCursor, null, 'the last page says so');
  const badLimit = await http(port, 'GET', '/v1/products?limit=0');
  t.equal(badLimit.status, 400);
});

t.test('STAMPEDE_ORDER_TTL_MS: an unpaid reservation times out and its stock returns', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-serve-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const node = serve(dataDir, { STAMPEDE_ORDER_TTL_MS: '1000' });
  t.teardown(() => {
    if (node.child.exitCode === null) node.child.kill('SIGKILL'); // a failed check left it running
  });
  const port = await node.port;
  const buyerToken = issueToken(secret, { role: 'buyer', buyerId: 9 }, { nowMs: Date.now(), ttlMs: 60_000 });
  const client = await TestClient.connect(port);
  t.teardown(() => client.close());
  await client.request({ requestId: 1, authenticate: { token: buyerToken } });
  const placed = await client.request({
    requestId: 2,
    placeOrder: { lines: [{ skuId: 3, quantity: 2, unitPriceMinor: 12_999 }], totalMinor: 25_998 },
  });
  // The demo catalog is in place before the node says it listens (it was not, once: UNKNOWN_SKU here).
  t.equal((placed.order as { result: string }).result, 'RESULT_CODE_OK', 'placed right after start');
  if ((placed.order as { result: string }).result !== 'RESULT_CODE_OK') return; // no timeout would come
  const orderId = (placed.order as { orderId: number }).orderId;
  t.equal((await http(port, 'GET', '/v1/stock/3')).body.available, 498, 'two units reserved');
  const timedOut = await client.push((m) => (m.update as { status: string }).status === 'timeout');
  t.equal((timedOut.update as { orderId: number }).orderId, orderId, 'the unpaid order timed out');
  t.equal((await http(port, 'GET', '/v1/stock/3')).body.available, 500, 'and its stock came back');
  node.child.kill('SIGTERM');
  t.equal(await node.exited, 0);

  const other = serve(dataDir, { STAMPEDE_ORDER_TTL_MS: '2000' });
  await t.rejects(other.port, 'a data directory keeps the TTL it was created with');
  t.not(await other.exited, 0);
  t.match(other.stderr(), /orderTtlMs/);

  // Not given again, the recorded TTL is the default: the directory starts as it was created.
  const again = serve(dataDir);
  t.ok(await again.port, 'restarts without STAMPEDE_ORDER_TTL_MS given again');
  again.child.kill('SIGTERM');
  t.equal(await again.exited, 0);
});
