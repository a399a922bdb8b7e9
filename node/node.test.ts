/**
 * The real module list on a real node: a subset of modules serves only its
 * own routes (HTTP requests and a WebSocket against it, in process and
 * through `stampede serve --modules`), the coded refusals reach the
 * operator with exit code 2, a second engine on one journal is refused
 * (DATA_DIR_LOCKED) without disturbing the first, and the webhook's BUSY
 * answer carries the node's configured retry time.
 */
import { execSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import { signatureHeader, signWebhookBody, webhookPath } from '../gateways/payments-webhook.ts';
import {
  http,
  startTestServer,
  TestClient,
  testWebhookSecret,
  token,
} from '../gateways/testing/test-server.ts';
import { RedisReadModel } from '../projections/redis/read-model.ts';
import { freshRedisPrefix } from '../projections/testing/stores.ts';

const readsOnly = ['journal', 'engine', 'read-model', 'dashboard', 'http-api'];

/** Whether a WebSocket to /v1/checkout opens. */
function checkoutOpens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/checkout`);
    ws.once('open', () => {
      ws.close();
      resolve(true);
    });
    ws.once('error', () => resolve(false));
  });
}

t.test('a node of the HTTP modules only serves HTTP, not the checkout socket or the webhook', async (t) => {
  const { server, stop } = await startTestServer({}, { modules: readsOnly });
  t.teardown(stop);
  t.same(server.modules, readsOnly, 'started in dependency order');
  t.notOk(server.routes.includes('WS /v1/checkout'));
  t.notOk(server.routes.includes(`POST ${webhookPath}`));
  t.ok(server.routesByModule.get('http-api')?.includes('GET /v1/products'), 'routes recorded by module');
  const admin = token({ role: 'admin', adminName: 'ops' });
  const added = await http(server.port, 'POST', '/v1/admin/products', {
    token: admin,
    body: { skuId: 1, priceMinor: 100, currency: 'USD', stock: 5 },
  });
  t.equal(added.status, 200, 'admin commands reach the engine');
  t.equal(((await http(server.port, 'GET', '/v1/products')).body.products as unknown[]).length, 1);
  t.equal((await http(server.port, 'POST', webhookPath, { body: {} })).status, 404, 'no webhook route');
  t.equal(await checkoutOpens(server.port), false, 'no checkout socket');
  t.match((await http(server.port, 'GET', '/metrics')).text, /stampede_engine_commands_total/);
});

t.test('a node without the HTTP API serves the checkout socket and no HTTP route', async (t) => {
  const { server, stop } = await startTestServer(
    {},
    { modules: ['journal', 'engine', 'read-model', 'payments', 'checkout'] },
  );
  t.teardown(stop);
  const client = await TestClient.connect(server.port);
  t.teardown(() => client.close());
  const pong = await client.request({ requestId: 1, ping: { clientTimeMs: 7 } });
  t.equal((pong.pong as { clientTimeMs: number }).clientTimeMs, 7, 'the socket answers');
  t.notOk(
    server.routes.some((r) => r.startsWith('GET ')),
    'no GET route registered',
  );
  await t.rejects(fetch(`http://127.0.0.1:${server.port}/v1/products`), 'uWS closes a request with no route');
});

t.test(
  'a second node on the same journal is refused with DATA_DIR_LOCKED; the first is untouched',
  async (t) => {
    const first = await startTestServer();
    t.teardown(first.stop);
    await t.rejects(startTestServer({ dataDir: first.dataDir }), { code: 'DATA_DIR_LOCKED' });
    const ready = await http(first.server.port, 'GET', '/ready');
    t.equal(ready.status, 200, 'the first node still runs its engine');
    const second = await startTestServer({ dataDir: first.dataDir }, { modules: ['journal'] }).catch(
      (error: unknown) => error,
    );
    t.notOk(second instanceof Error, 'a node without the engine module takes no lock');
    if (!(second instanceof Error)) await (second as { stop: () => Promise<void> }).stop();
  },
);

t.test("a projector node without the engine projects the engine node's journal into Redis", async (t) => {
  const redis = await freshRedisPrefix(t);
  const engineNode = await startTestServer();
  t.teardown(engineNode.stop);
  const projectorNode = await startTestServer(
    {
      dataDir: engineNode.dataDir,
      projections: {
        mysqlUrl: undefined,
        redisUrl: redis.url,
        redisPrefix: redis.prefix,
        readModel: 'embedded',
      },
    },
    { modules: ['journal', 'projection-redis'] },
  );
  t.teardown(projectorNode.stop);
  t.same(projectorNode.server.modules, ['journal', 'projection-redis'], 'no engine, and no lock taken');
  t.equal(projectorNode.server.port, 0, 'no route: it does not listen');
  const added = await http(engineNode.server.port, 'POST', '/v1/admin/products', {
    token: token({ role: 'admin', adminName: 'ops' }),
    body: { skuId: 1, priceMinor: 100, currency: 'USD', stock: 5 },
  });
  t.equal(added.status, 200);
  const reads = new RedisReadModel({ url: redis.url, prefix: redis.prefix, client: redis.client });
  t.teardown(() => reads.close());
  let available: number | null = null;
  for (let round = 0; round < 400 && available !== 5; round++) {
    available = await reads.availability(1);
    if (available !== 5) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.equal(available, 5, "the engine node's product reached Redis through the projector node");
});

t.test('the webhook answers BUSY with the configured retry time', async (t) => {
  const { server, stop } = await startTestServer({ busyRetryAfterMs: 777 });
  t.teardown(stop);
  server.engine!.client.close(); // the command path refuses everything from here on: BUSY
  const body = JSON.stringify({ eventId: 'evt_1', orderId: 1, outcome: 'succeeded', amountMinor: 1 });
  const response = await fetch(`http://127.0.0.1:${server.port}${webhookPath}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [signatureHeader]: signWebhookBody(testWebhookSecret, body),
    },
    body,
  });
  const answer = (await response.json()) as { error: { code: string; retryAfterMs: number } };
  t.equal(answer.error.code, 'BUSY');
  t.equal(answer.error.retryAfterMs, 777);
});

const cli = join(import.meta.dirname, '..', 'cli.ts');

const serveEnv = {
  STAMPEDE_TOKEN_SECRET: 'node-test-secret-node-test-secret-0123',
  STAMPEDE_LOG_FORMAT: 'json',
};

function serve(dataDir: string, modules: string) {
  const child = spawn(
    process.execPath,
    ['--import=tsx', cli, 'serve', '--data', dataDir, '--port', '0', '--modules', modules],
    {
      env: { ...process.env, ...serveEnv },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  const port = new Promise<number>((resolve, reject) => {
    child.stderr.on('data', () => {
      const match = /listening on http:\/\/[^:]+:(\d+)/.exec(stderr);
      if (match) resolve(Number(match[1]));
    });
    void exited.then((code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  port.catch(() => {}); // awaited only where the node is expected to start
  return { child, port, exited, stderr: () => stderr };
}

t.test('stampede serve --modules runs that subset; a bad list exits 2 with the reason', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-node-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const node = serve(dataDir, readsOnly.join(','));
  const port = await node.port;
  t.equal((await http(port, 'GET', '/v1/products')).status, 200);
  t.equal(await checkoutOpens(port), false, 'no checkout socket');
  // The first steps it prints work as printed: the token command, then adding a product with it.
  const messages = node
    .stderr()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => String((JSON.parse(line) as { msg: string }).msg));
  t.ok(messages.some((m) => m.startsWith(`the store: http://127.0.0.1:${port}/v1/products`)));
  const tokenLine = messages.find((m) => m.startsWith('a token: '));
  const tokenCommand = tokenLine?.slice('a token: '.length).replace(/ \(a buyer's.*$/, '') ?? 'false';
  const adminToken = execSync(tokenCommand, { env: { ...process.env, ...serveEnv } })
    .toString()
    .trim();
  const added = await http(port, 'POST', '/v1/admin/products', {
    token: adminToken,
    body: { skuId: 10, priceMinor: 1999, currency: 'USD', stock: 100 },
  });
  t.equal(added.status, 200, 'the printed token adds a product');
  t.ok(messages.some((m) => m.startsWith('add a product: curl -X POST')));
  node.child.kill('SIGTERM');
  t.equal(await node.exited, 0);

  const typo = serve(dataDir, 'journal,engin');
  t.equal(await typo.exited, 2);
  t.match(typo.stderr(), /MODULE_UNKNOWN|unknown module 'engin' \(did you mean 'engine'\?\)/);
  const missing = serve(dataDir, 'journal,checkout');
  t.equal(await missing.exited, 2);
  t.match(missing.stderr(), /module checkout needs engine/);
});
