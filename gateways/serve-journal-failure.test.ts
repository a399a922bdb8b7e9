/**
 * A node whose journal fails stops (issue 18, item 4), on a real `stampede serve` process: the file
 * journal's fdatasync stalls while places reserve a SKU's whole stock (a disk or a broker that stopped
 * answering), then fails with EIO (journal/testing/stalling-fs.ts, loaded through TEST_JOURNAL_FS_MODULE).
 * Every command in flight is answered JOURNAL_UNAVAILABLE, none SOLD_OUT for the stock that was never
 * durably reserved; the process exits non-zero by itself; a restart finds the stock all there.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { tempDataDir } from '../lib/temp-data-dir.ts';
import { spawnServe } from './testing/serve-process.ts';
import { http, type Json, TestClient } from './testing/test-server.ts';
import { issueToken } from './tokens.ts';

const stallingFs = join(import.meta.dirname, '..', 'journal', 'testing', 'stalling-fs.ts');
const secret = 'journal-failure-test-secret-0123456789ab';
/** Generous: the node exits within failedExitMs (10 s) of the failure; the machine is loaded. */
const exitWaitMs = 60_000;

function serve(dataDir: string, env: Record<string, string>) {
  return spawnServe(dataDir, {
    env: { STAMPEDE_TOKEN_SECRET: secret, STAMPEDE_DEMO_CATALOG: 'false', ...env },
  });
}

const tokenOf = (subject: Parameters<typeof issueToken>[1]): string =>
  issueToken(secret, subject, { nowMs: Date.now(), ttlMs: 600_000 });

async function buyer(port: number, buyerId: number): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.request({ requestId: 1, authenticate: { token: tokenOf({ role: 'buyer', buyerId }) } });
  return client;
}

const place = (requestId: number, skuId: number): Json => ({
  requestId,
  placeOrder: { lines: [{ skuId, quantity: 1, unitPriceMinor: 1000 }], totalMinor: 1000 },
});

async function available(port: number, skuId: number): Promise<number> {
  return (await http(port, 'GET', `/v1/products/${skuId}`)).body.available as number;
}

t.test(
  'a journal that stalls and fails: JOURNAL_UNAVAILABLE in flight, no false SOLD_OUT, exit 1',
  async (t) => {
    const dataDir = tempDataDir(t, 'journal-failure');
    const stallFile = join(tempDataDir(t, 'journal-failure-stall'), 'stall');
    const node = serve(dataDir, {
      TEST_JOURNAL_FS_MODULE: stallingFs,
      TEST_JOURNAL_STALL_FILE: stallFile,
    });
    t.teardown(() => {
      rmSync(stallFile, { force: true });
      node.child.kill('SIGKILL');
    });
    const port = await node.port;
    const admin = tokenOf({ role: 'admin', adminName: 'ops' });
    const added = await http(port, 'POST', '/v1/admin/products', {
      token: admin,
      body: { skuId: 5, priceMinor: 1000, currency: 'USD', stock: 2 },
    });
    t.same([added.status, added.body], [200, { result: 'ok' }], 'a SKU with 2 units');
    const [a, b, c] = await Promise.all([buyer(port, 11), buyer(port, 12), buyer(port, 13)]);
    t.teardown(() => {
      for (const client of [a, b, c]) client?.close();
    });

    writeFileSync(stallFile, ''); // the next fdatasync blocks until the file is gone, then fails
    const answers = [a!.request(place(2, 5)), b!.request(place(2, 5))];
    // Reserved in the engine, not durable: the availability array reads 0 while the journal is stuck.
    while ((await available(port, 5)) !== 0) await sleep(20);
    // The journal stands still for longer than the edge tolerates (100 ms): a stall, not a slow commit.
    await sleep(500);
    let lateAnswered = false;
    const late = c!.request(place(2, 5)).finally(() => {
      lateAnswered = true;
    });
    answers.push(late);
    await sleep(500);
    t.notOk(lateAnswered, 'a place during the stall is not answered from the stuck availability');

    rmSync(stallFile); // the fdatasync fails with EIO: JOURNAL_IO
    const failedAtMs = Date.now();
    const settled = await Promise.all(answers);
    for (const [i, answer] of settled.entries()) {
      t.match(answer, { error: { code: 'JOURNAL_UNAVAILABLE' } }, `place ${i + 1}: JOURNAL_UNAVAILABLE`);
      t.notMatch(answer, { order: { result: /SOLD_OUT/ } }, `place ${i + 1}: never sold out`);
    }

    const stopWaiting = new AbortController();
    const timeout = sleep(exitWaitMs, 'still running' as const, { signal: stopWaiting.signal }).catch(
      () => 'exited' as const,
    );
    const code = await Promise.race([node.exited, timeout]);
    stopWaiting.abort();
    t.comment(`exited ${Date.now() - failedAtMs} ms after the fault`);
    t.not(code, 'still running', `the node exits by itself after failing (within ${exitWaitMs} ms)`);
    t.not(code, 0, 'with a non-zero code');
    t.match(node.stderr(), /JOURNAL_IO: .*EIO/, 'the failure is logged with its code');
    t.match(node.stderr(), /node failed, exiting so it restarts/);

    const again = serve(dataDir, {});
    t.teardown(() => again.child.kill('SIGKILL'));
    const port2 = await again.port;
    t.equal(await available(port2, 5), 2, 'after the restart the 2 units are there: no buyer had them');
    again.child.kill('SIGTERM');
    t.equal(await again.exited, 0);
  },
);
