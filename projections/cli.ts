/**
 * The `stampede project` and `stampede reconcile` subcommands (cli.ts dispatches here).
 *
 *   stampede project --store mysql|redis [--data DIR] [--mysql URL] [--redis URL] [--redis-prefix P]
 *                    [--name NAME] [--journal file|kafka] [--once] [--migrate]
 *   stampede reconcile [--data DIR] [--mysql URL] [--redis URL] [--redis-prefix P] [--name NAME] [--json]
 *
 * Addresses: the flag, else MYSQL_URL / REDIS_URL, else mysql://root@127.0.0.1:3306/test and
 * redis://127.0.0.1:6379 (project). reconcile compares the stores named by flags, else those whose
 * variable is set; with neither it has nothing to compare (exit 2).
 * Exit codes: 0 ok (reconcile: clean), 1 anomalies found or the projector halted, 2 bad usage.
 */
import { existsSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { JournalReader } from '../journal/journal-backend.ts';
import {
  type JournalSelection,
  journalBackendFor,
  journalSelectionFromFlag,
} from '../journal/journal-selection.ts';
import { journalDir } from '../journal/recovery.ts';
import { errorText } from '../lib/error-text.ts';
import { connectMysql, migrate, mysqlUrlDefault, parseMysqlUrl } from './mysql-schema.ts';
import { MysqlProjectionStore } from './mysql-store.ts';
import { Projector, projectorStateName } from './projector.ts';
import { formatReport, reconcile } from './reconcile.ts';
import { RedisProjectionStore, redisUrlDefault } from './redis-store.ts';

export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const consoleIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

const dataDirOf = (value: string | undefined): string => value ?? process.env.STAMPEDE_DATA_DIR ?? 'data';

async function openReader(journal: string | undefined, dataDir: string): Promise<JournalReader> {
  let selection: JournalSelection;
  try {
    selection = await journalSelectionFromFlag(journal);
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
  // A mistyped --data would otherwise surface as JOURNAL_IO listing a directory that is not there.
  if (selection.kind === 'file' && !existsSync(journalDir(dataDir)))
    throw new UsageError(
      `no journal in ${dataDir} (${journalDir(dataDir)} does not exist): --data names a node's data directory`,
    );
  return (await journalBackendFor(selection, dataDir)).openReader();
}

class UsageError extends Error {}

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<
    string,
    string | boolean | undefined
  >;
}

const str = (value: string | boolean | undefined): string | undefined =>
  typeof value === 'string' ? value : undefined;

export async function runProjectCommand(args: string[], io: CommandIo = consoleIo): Promise<number> {
  try {
    return await project(args, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`stampede project: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }
}

async function project(args: string[], io: CommandIo): Promise<number> {
  const values = parse(args, {
    store: { type: 'string' },
    data: { type: 'string' },
    mysql: { type: 'string' },
    redis: { type: 'string' },
    'redis-prefix': { type: 'string' },
    name: { type: 'string' },
    journal: { type: 'string' },
    once: { type: 'boolean' },
    migrate: { type: 'boolean' },
  });
  const store = str(values.store);
  if (store !== 'mysql' && store !== 'redis')
    throw new UsageError(`--store must be mysql or redis, got '${store ?? ''}'`);
  const log = (message: string): void => io.err(`stampede: ${message}`);
  const name = str(values.name);
  const mysqlUrl = str(values.mysql) ?? process.env.MYSQL_URL ?? mysqlUrlDefault;
  const redisUrl = str(values.redis) ?? process.env.REDIS_URL ?? redisUrlDefault;

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

  const dataDir = dataDirOf(str(values.data));
  const reader = await openReader(str(values.journal), dataDir);
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
  try {
    const targetSeq = values.once ? await reader.lastSeq() : 0;
    log(
      `projecting ${dataDir} into ${projectionStore.location}${values.once ? ` up to seq ${targetSeq}` : ''}`,
    );
    projector.start();
    if (values.once) {
      try {
        await projector.waitForSeq(targetSeq, Number.MAX_SAFE_INTEGER);
      } catch {
        // Halted: reported below.
      }
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
  return 0;
}

export async function runReconcileCommand(args: string[], io: CommandIo = consoleIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parse(args, {
      data: { type: 'string' },
      mysql: { type: 'string' },
      redis: { type: 'string' },
      'redis-prefix': { type: 'string' },
      name: { type: 'string' },
      journal: { type: 'string' },
      json: { type: 'boolean' },
    });
  } catch (error) {
    io.err(`stampede reconcile: ${(error as Error).message}`);
    return 2;
  }
  const byFlag = str(values.mysql) !== undefined || str(values.redis) !== undefined;
  const mysqlUrl = byFlag ? str(values.mysql) : process.env.MYSQL_URL;
  const redisUrl = byFlag ? str(values.redis) : process.env.REDIS_URL;
  if (mysqlUrl === undefined && redisUrl === undefined) {
    io.err(
      'stampede reconcile: nothing to compare: give --mysql URL and/or --redis URL (or set MYSQL_URL / REDIS_URL)',
    );
    return 2;
  }
  let reader: JournalReader;
  try {
    reader = await openReader(str(values.journal), dataDirOf(str(values.data)));
  } catch (error) {
    io.err(`stampede reconcile: ${(error as Error).message}`);
    return 2;
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
    return report.anomalies.length === 0 ? 0 : 1;
  } finally {
    await reader.close();
  }
}
