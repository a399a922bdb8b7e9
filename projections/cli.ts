/**
 * The `stampede project` and `stampede reconcile` subcommands (cli.ts dispatches here).
 *
 *   stampede project --store mysql|redis [--data DIR] [--mysql URL] [--redis URL] [--redis-prefix P]
 *                    [--name NAME] [--journal file|kafka] [--config FILE] [--once [--retries N]] [--migrate]
 *   stampede reconcile [--data DIR] [--mysql URL] [--redis URL] [--redis-prefix P] [--name NAME]
 *                      [--journal file|kafka] [--config FILE] [--json]
 *
 * Both read the node's configuration table (gateways/config.ts: defaults < --config FILE < STAMPEDE_* <
 * flags), so the environment that drives `serve` drives them: mysqlUrl, redisUrl, dataDir, journal, kafka.*.
 * project falls back to mysql://root@127.0.0.1:3306/test and redis://127.0.0.1:6379 when its store's URL is
 * not configured. reconcile compares the stores named by flags, else those configured; with neither it has
 * nothing to compare (exit 2).
 * Exit codes: project: 0 ok, 1 the projector halted or (--once) gave up on a store that stayed down, 2 bad
 * usage. reconcile: reconcileExitCodes.
 */
import { existsSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type GatewayConfig, journalSelectionOf, loadConfig } from '../gateways/config.ts';
import type { JournalReader } from '../journal/journal-backend.ts';
import { journalDir } from '../journal/journal-backend.ts';
import { journalBackendFor } from '../journal/journal-selection.ts';
import { errorText } from '../lib/error-text.ts';
import { connectMysql, migrate, mysqlUrlDefault, parseMysqlUrl } from './mysql/schema.ts';
import { MysqlProjectionStore } from './mysql/store.ts';
import { Projector, ProjectorState, projectorStateName } from './projector.ts';
import { formatReport, reconcile, reconcileExitCodeOf, reconcileExitCodes } from './reconcile.ts';
import { RedisProjectionStore, redisUrlDefault } from './redis/store.ts';

export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const consoleIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

type Env = Readonly<Record<string, string | undefined>>;

/** The configuration table with this command's flags over it (--data, --journal, --mysql, --redis, --config). */
function configOf(values: Record<string, string | boolean | undefined>, env: Env): GatewayConfig {
  return loadConfig({
    env,
    file: str(values.config),
    overrides: {
      dataDir: str(values.data),
      // loadConfig checks the flag like any value: journal must be one of file, kafka.
      journal: str(values.journal) as GatewayConfig['journal'] | undefined,
      mysqlUrl: str(values.mysql),
      redisUrl: str(values.redis),
    },
  });
}

async function openReader(config: GatewayConfig): Promise<JournalReader> {
  const { dataDir } = config;
  const selection = journalSelectionOf(config, { createTopic: false });
  // A mistyped --data would otherwise surface as JOURNAL_IO listing a directory that is not there.
  if (selection.kind === 'file' && !existsSync(journalDir(dataDir)))
    throw new UsageError(
      `no journal in ${dataDir} (${journalDir(dataDir)} does not exist): --data names a node's data directory`,
    );
  return (await journalBackendFor(selection, dataDir)).openReader();
}

/** The flags both commands read the table through. */
const configFlags = {
  data: { type: 'string' },
  config: { type: 'string' },
  journal: { type: 'string' },
  mysql: { type: 'string' },
  redis: { type: 'string' },
  'redis-prefix': { type: 'string' },
  name: { type: 'string' },
} as const;

/** `project --once` gives up on a store after this many failed attempts in a row (about 2 s of backoff). */
const onceRetriesDefault = 5;

class UsageError extends Error {}

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<
    string,
    string | boolean | undefined
  >;
}

const str = (value: string | boolean | undefined): string | undefined =>
  typeof value === 'string' ? value : undefined;

export async function runProjectCommand(
  args: string[],
  io: CommandIo = consoleIo,
  env: Env = process.env,
): Promise<number> {
  try {
    return await project(args, io, env);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`stampede project: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }
}

async function project(args: string[], io: CommandIo, env: Env): Promise<number> {
  const values = parse(args, {
    ...configFlags,
    store: { type: 'string' },
    once: { type: 'boolean' },
    retries: { type: 'string' },
    migrate: { type: 'boolean' },
  });
  const store = str(values.store);
  if (store === undefined) throw new UsageError('--store is required: --store mysql or --store redis');
  if (store !== 'mysql' && store !== 'redis')
    throw new UsageError(`--store must be mysql or redis, got '${store}'`);
  const retriesText = str(values.retries);
  if (retriesText !== undefined && !values.once) throw new UsageError('--retries is for --once');
  if (retriesText !== undefined && !/^\d{1,4}$/.test(retriesText))
    throw new UsageError(`--retries must be an integer from 0 to 9999, got '${retriesText}'`);
  const retriesMax = retriesText === undefined ? onceRetriesDefault : Number(retriesText);
  const log = (message: string): void => io.err(`stampede: ${message}`);
  const name = str(values.name);
  const config = configOf(values, env);
  const mysqlUrl = config.mysqlUrl ?? mysqlUrlDefault;
  const redisUrl = config.redisUrl ?? redisUrlDefault;

  if (values.migrate) {
    if (store !== 'mysql') throw new UsageError('--migrate is for --store mysql (Redis has no schema)');
    const target = parseMysqlUrl(mysqlUrl);
    const connection = await connectMysql(target, 10_000);
    try {
      const applied = await migrate(connection, target, log);
      io.out(applied.length === 0 ? 'schema up to date' : `applied migrations ${applied.join(', ')}`);
    } finally {
      connection.destroy();
    }
    return 0;
  }

  const { dataDir } = config;
  const reader = await openReader(config);
  const common = { log, ...(name === undefined ? {} : { projector: name }) };
  const projectionStore =
    store === 'mysql'
      ? new MysqlProjectionStore({ url: mysqlUrl, ...common })
      : new RedisProjectionStore({
          url: redisUrl,
          ...common,
          ...(str(values['redis-prefix']) === undefined ? {} : { prefix: str(values['redis-prefix'])! }),
        });
  const projector = new Projector({ name: store, store: projectionStore, reader, log });
  let gaveUp: string | null = null;
  try {
    const targetSeq = values.once ? await reader.lastSeq() : 0;
    log(
      `projecting ${dataDir} into ${projectionStore.location}${values.once ? ` up to seq ${targetSeq}` : ''}`,
    );
    projector.start();
    if (values.once) {
      gaveUp = await catchUp(projector, targetSeq, retriesMax);
      await projector.stop();
    } else {
      const stop = (): void => {
        log('stopping the projector (finishing its batch)');
        void projector.stop();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await projector.done;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  } finally {
    await reader.close();
  }
  const m = projector.metrics();
  io.out(
    `${store}: ${projectorStateName(projector.state)} at seq ${m.appliedSeq} (${m.eventsApplied} events in ${m.batchesApplied} batches, ${m.retries} retries)`,
  );
  if (projector.error !== null) {
    io.err(`stampede project: halted: ${errorText(projector.error)}`);
    return 1;
  }
  if (gaveUp !== null) {
    io.err(`stampede project: ${gaveUp}`);
    return 1;
  }
  return 0;
}

/**
 * `--once`: waits until the projector has opened the store and reached targetSeq, or halted, or failed
 * retriesMax + 1 times in a row (a store that is down: a cron job must hear of it, not wait for it forever).
 * Returns why it gave up, or null.
 */
async function catchUp(projector: Projector, targetSeq: number, retriesMax: number): Promise<string | null> {
  for (;;) {
    const { state, appliedSeq, consecutiveFailures } = projector.metrics();
    if (state === ProjectorState.halted || state === ProjectorState.stopped) return null; // reported by the caller
    if (state !== ProjectorState.starting && appliedSeq >= targetSeq) return null;
    if (consecutiveFailures > retriesMax) {
      const reason = projector.lastRetryError === null ? 'unknown' : errorText(projector.lastRetryError);
      return `gave up after ${consecutiveFailures} failed attempts in a row (--retries ${retriesMax}): ${reason}`;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function runReconcileCommand(
  args: string[],
  io: CommandIo = consoleIo,
  env: Env = process.env,
): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parse(args, { ...configFlags, json: { type: 'boolean' } });
  } catch (error) {
    io.err(`stampede reconcile: ${(error as Error).message}`);
    return reconcileExitCodes.usage;
  }
  const config = configOf(values, env);
  // Stores named by flags are compared alone; without any, every configured one.
  const byFlag = str(values.mysql) !== undefined || str(values.redis) !== undefined;
  const mysqlUrl = byFlag ? str(values.mysql) : config.mysqlUrl;
  const redisUrl = byFlag ? str(values.redis) : config.redisUrl;
  if (mysqlUrl === undefined && redisUrl === undefined) {
    io.err(
      'stampede reconcile: nothing to compare: give --mysql URL and/or --redis URL (or set STAMPEDE_MYSQL_URL / STAMPEDE_REDIS_URL)',
    );
    return reconcileExitCodes.usage;
  }
  let reader: JournalReader;
  try {
    reader = await openReader(config);
  } catch (error) {
    io.err(`stampede reconcile: ${(error as Error).message}`);
    return reconcileExitCodes.usage;
  }
  try {
    const report = await reconcile({
      reader,
      ...(mysqlUrl === undefined ? {} : { mysqlUrl }),
      ...(redisUrl === undefined ? {} : { redisUrl }),
      ...(str(values['redis-prefix']) === undefined ? {} : { redisPrefix: str(values['redis-prefix'])! }),
      ...(str(values.name) === undefined ? {} : { projector: str(values.name)! }),
    });
    io.out(values.json ? JSON.stringify(report) : formatReport(report));
    return reconcileExitCodeOf(report);
  } finally {
    await reader.close();
  }
}
