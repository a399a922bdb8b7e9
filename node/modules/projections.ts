/**
 * One module per projection store: a projector reading the node's journal
 * into MySQL or into Redis. They only read: a store that is down, slow or
 * wrong never reaches the engine.
 *
 * With the engine in the node they read up to its durable cursor. Without
 * it (a projector node: `serve --modules journal,projection-redis`, beside
 * the one node that runs the engine) they read what the journal holds, as
 * `stampede project` does: on Kafka that is only what is acknowledged; on
 * the file journal a record may be read before its fsync returns
 * (projections/README.md "Reading the journal").
 */
import { type StartProjectorsOptions, startProjectors } from '../../projections/start-projectors.ts';
import { nodeLimits } from '../limits.ts';
import { textLog } from '../log.ts';
import { defineModule } from '../module.ts';
import type { ProjectionOptions } from '../node-options.ts';

/** The module of one store: what it is called, and the options of startProjectors that name that store alone. */
function projectionModule(
  store: 'mysql' | 'redis',
  summary: string,
  storeOptions: (projections: ProjectionOptions | undefined) => Partial<StartProjectorsOptions> | string,
) {
  return defineModule({
    name: `projection-${store}`,
    summary,
    settings: ['dataDir', 'projections'],
    needs: ['journal'],
    uses: ['engine'],
    gives: [],
    messageKinds: [],
    stopMsMax: nodeLimits.quickStopMsMax,
    unconfigured: ({ projections }) => {
      const options = storeOptions(projections);
      return typeof options === 'string' ? options : null;
    },
    async start({ settings, log, need, optional }) {
      const options = storeOptions(settings.projections);
      if (typeof options === 'string') throw new Error(`projection-${store}: ${options}`);
      const host = optional('engine')?.host;
      const journal = need('journal');
      const running = startProjectors({
        ...options,
        dataDir: settings.dataDir,
        log: textLog(log),
        durableSeq: host === undefined ? undefined : () => host.control.durableSeq,
        openReader: () => journal.openReader(),
      });
      return { gives: {}, projectors: running.projectors, stop: () => running.stop() };
    },
  });
}

export const mysqlProjectionModule = projectionModule(
  'mysql',
  'projects the journal into MySQL (orders, ledger, stock)',
  (projections) =>
    projections?.mysqlUrl === undefined
      ? 'mysqlUrl is unset (STAMPEDE_MYSQL_URL)'
      : { mysqlUrl: projections.mysqlUrl },
);

export const redisProjectionModule = projectionModule(
  'redis',
  'projects the journal into Redis (stock, order status, the out-of-stock set)',
  (projections) =>
    projections?.redisUrl === undefined
      ? 'redisUrl is unset (STAMPEDE_REDIS_URL)'
      : { redisUrl: projections.redisUrl, redisPrefix: projections.redisPrefix },
);
