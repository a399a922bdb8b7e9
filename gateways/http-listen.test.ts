/**
 * A node listens on its port alone: a second node, or a node on a port
 * another program holds, fails with PORT_IN_USE instead of sharing the port
 * (uWS's default SO_REUSEPORT would spread requests over two stores).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { http, startTestServer, token } from './testing/test-server.ts';

t.test('a second node on a port in use fails with PORT_IN_USE; the first keeps serving', async (t) => {
  const first = await startTestServer();
  t.teardown(first.stop);
  const port = first.server.port;
  const admin = token({ role: 'admin', adminName: 'ops' });
  const added = await http(port, 'POST', '/v1/admin/products', {
    token: admin,
    body: { skuId: 1, priceMinor: 100, currency: 'USD', stock: 3 },
  });
  t.equal(added.status, 200);
  await t.rejects(startTestServer({ httpPort: port }), {
    code: 'PORT_IN_USE',
    message: /^PORT_IN_USE: 127\.0\.0\.1:\d+ is in use/,
  });
  // Were the port shared, some of these would reach the second node's empty store.
  for (let i = 0; i < 20; i++) {
    t.equal((await http(port, 'GET', '/v1/products/1')).status, 200, `request ${i} reaches the first node`);
  }
});

t.test('a port held by another program is PORT_IN_USE too', async (t) => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => holder.close());
  const port = (holder.address() as { port: number }).port;
  await t.rejects(startTestServer({ httpPort: port }), { code: 'PORT_IN_USE' });
});

t.test('stampede serve on a port in use exits 1 naming PORT_IN_USE', async (t) => {
  const first = await startTestServer();
  t.teardown(first.stop);
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-listen-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const cli = join(import.meta.dirname, '..', 'cli.ts');
  const child = spawn(
    process.execPath,
    [
      '--import=tsx',
      cli,
      'serve',
      '--data',
      dataDir,
      '--port',
      String(first.server.port),
      '--host',
      '127.0.0.1',
    ],
    {
      env: { ...process.env, STAMPEDE_TOKEN_SECRET: 'listen-test-secret-listen-test-secret-01' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.equal(code, 1, 'a run-time failure');
  t.match(stderr, /PORT_IN_USE: 127\.0\.0\.1:\d+ is in use/);
});
