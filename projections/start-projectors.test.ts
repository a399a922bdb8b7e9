/**
 * startProjectors, as `stampede serve` will call it: one projector per configured store, fed only up to the
 * writer's durable seq, metrics per store, and a stop that leaves both stores at a checkpoint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { seedFromEnv } from '../lib/seeded-random.ts';
import { ProjectorState } from './projector.ts';
import { reconcile } from './reconcile.ts';
import { startProjectors } from './start-projectors.ts';
import { SaleJournalWriter } from './testing/sale-journal.ts';
import { freshMysqlDatabase, freshRedisPrefix } from './testing/stores.ts';

const seed = seedFromEnv();
t.comment(`SEED=${seed}`);

t.test('startProjectors runs a projector per configured store, up to the durable seq', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-serve-projectors-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const mysqlUrl = await freshMysqlDatabase(t);
  const { url: redisUrl, prefix } = await freshRedisPrefix(t);
  const writer = new SaleJournalWriter(dataDir, seed);
  writer.run(300);
  const logs: string[] = [];
  const running = startProjectors({
    dataDir,
    mysqlUrl,
    redisUrl,
    redisPrefix: prefix,
    log: (message) => logs.push(message),
    durableSeq: () => writer.durableSeq,
    limits: { pollIntervalMs: 10 },
  });
  t.teardown(() => running.stop());
  t.same(Object.keys(running.metrics()).sort(), ['mysql', 'redis']);
  for (let round = 0; round < 3; round++) {
    const seq = writer.run(200);
    for (const projector of running.projectors) await projector.waitForSeq(seq, 20_000);
  }
  const lastSeq = writer.durableSeq;
  writer.close();
  const metrics = running.metrics();
  for (const name of ['mysql', 'redis']) {
    t.equal(metrics[name]!.appliedSeq, lastSeq, `${name} caught up`);
    t.equal(metrics[name]!.state, ProjectorState.live, `${name} live`);
    t.equal(metrics[name]!.lagEvents, 0);
    t.ok(
      Object.values(metrics[name]!).every((value) => typeof value === 'number'),
      'metrics are numbers',
    );
  }
  await running.stop();
  t.ok(running.projectors.every((p) => p.state === ProjectorState.stopped));
  const report = await reconcile({ dataDir, mysqlUrl, redisUrl, redisPrefix: prefix });
  t.same(report.anomalies, []);
  t.match(
    logs.join('\n'),
    /projector mysql: starting on mysql:\/\/[\s\S]*projector redis: starting on redis:/,
  );
});
