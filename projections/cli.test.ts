/**
 * `stampede project` and `stampede reconcile` as an operator (or a cron job) runs them, against real
 * MariaDB/MySQL and Redis: the node's STAMPEDE_* environment drives both, `--store` is said to be required,
 * `project --once` against a store that is down gives up after a bounded retry with the reason, and reconcile
 * tells a store that is behind or was never projected from a clean one by its exit code.
 */
import { createServer } from 'node:net';
import t from 'tap';
import { seedFromEnv } from '../lib/seeded-random.ts';
import { tempDataDir } from '../lib/temp-data-dir.ts';
import { runProjectCommand, runReconcileCommand } from './cli.ts';
import { reconcileExitCodes } from './reconcile.ts';
import { SaleJournalWriter, writeSaleJournal } from './testing/sale-journal.ts';
import { freshMysqlDatabase, freshRedisPrefix } from './testing/stores.ts';

const seed = seedFromEnv();
t.comment(`SEED=${seed}`);

type Env = Record<string, string>;

async function run(
  command: typeof runProjectCommand,
  args: string[],
  env: Env,
): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const io = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(line) };
  const code = await command(args, io, env);
  return { code, output: lines.join('\n') };
}

/** A TCP port nothing listens on (taken from the kernel, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

t.test('the environment that drives serve drives project and reconcile', async (t) => {
  const dataDir = tempDataDir(t, 'projections-cli');
  const { lastSeq } = writeSaleJournal(dataDir, seed, 300);
  const mysqlUrl = await freshMysqlDatabase(t);
  const env = { STAMPEDE_DATA_DIR: dataDir, STAMPEDE_MYSQL_URL: mysqlUrl };
  const projected = await run(runProjectCommand, ['--store', 'mysql', '--once'], env);
  t.equal(projected.code, 0, projected.output);
  t.match(projected.output, new RegExp(`mysql: stopped at seq ${lastSeq}`));
  const reconciled = await run(runReconcileCommand, [], env);
  t.equal(reconciled.code, reconcileExitCodes.clean, reconciled.output);
  t.match(reconciled.output, /reconcile: clean/);

  const typo = await run(runReconcileCommand, [], { ...env, STAMPEDE_MYSQLURL: mysqlUrl }).catch(
    (error: Error) => ({ code: -1, output: error.message }),
  );
  t.match(
    typo.output,
    /unknown environment variable STAMPEDE_MYSQLURL \(did you mean STAMPEDE_MYSQL_URL\?\)/,
  );
});

t.test('project without --store says it is required', async (t) => {
  const none = await run(runProjectCommand, ['--once'], {});
  t.equal(none.code, 2);
  t.match(none.output, /--store is required/);
  const bad = await run(runProjectCommand, ['--store', 'mysql', '--retries', 'x', '--once'], {});
  t.equal(bad.code, 2);
  t.match(bad.output, /--retries must be an integer/);
});

t.test(
  'project --once against a store that is down exits 1 after a bounded retry, with the reason',
  async (t) => {
    const dataDir = tempDataDir(t, 'projections-cli');
    writeSaleJournal(dataDir, seed + 1, 50);
    const port = await closedPort();
    for (const [store, url] of [
      ['mysql', `mysql://root@127.0.0.1:${port}/nowhere`],
      ['redis', `redis://127.0.0.1:${port}`],
    ] as const) {
      const down = await run(
        runProjectCommand,
        ['--store', store, `--${store}`, url, '--data', dataDir, '--once', '--retries', '2'],
        {},
      );
      t.equal(down.code, 1, `${store}: exit 1`);
      t.match(down.output, /gave up after 3 failed attempts in a row \(--retries 2\): .*ECONNREFUSED/, store);
    }
  },
);

t.test('reconcile: a store never projected, or behind, has its own exit code, not clean', async (t) => {
  const dataDir = tempDataDir(t, 'projections-cli');
  const writer = new SaleJournalWriter(dataDir, seed + 2);
  t.teardown(() => writer.close());
  writer.run(200);
  const mysqlUrl = await freshMysqlDatabase(t);
  const { url: redisUrl, prefix } = await freshRedisPrefix(t);
  const stores = ['--mysql', mysqlUrl, '--redis', redisUrl, '--redis-prefix', prefix];

  const never = await run(runReconcileCommand, ['--data', dataDir, ...stores], {});
  t.equal(never.code, reconcileExitCodes.notCurrent, never.output);
  t.match(never.output, /mysql: .*never projected/);
  t.match(never.output, /redis: .*never projected/);
  t.match(
    never.output,
    /reconcile: no anomalies, but not current: mysql never projected, redis never projected/,
  );
  t.notMatch(never.output, /clean/);

  for (const store of ['mysql', 'redis'] as const) {
    const projected = await run(
      runProjectCommand,
      ['--store', store, '--data', dataDir, '--once', ...stores],
      {},
    );
    t.equal(projected.code, 0, projected.output);
  }
  t.equal(
    (await run(runReconcileCommand, ['--data', dataDir, ...stores], {})).code,
    reconcileExitCodes.clean,
  );

  const lastSeq = writer.run(50);
  const behind = await run(runReconcileCommand, ['--data', dataDir, ...stores, '--json'], {});
  t.equal(behind.code, reconcileExitCodes.notCurrent, behind.output);
  const report = JSON.parse(behind.output) as { stores: { state: string; lagEvents: number }[] };
  t.ok(
    report.stores.every((s) => s.state === 'behind' && s.lagEvents > 0 && s.lagEvents < lastSeq),
    'both behind',
  );
});
