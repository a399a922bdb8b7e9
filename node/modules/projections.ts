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
import { startProjectors } from '../../projections/start-projectors.ts';
import { nodeLimits } from '../limits.ts';
import { textLog } from '../log.ts';
import { defineModule } from '../module.ts';

export const mysqlProjectionModule = defineModule({
  name: 'projection-mysql',
  summary: 'projects the journal into MySQL (orders, ledger, stock)',
  settings: ['dataDir', 'projections'],
  needs: ['journal'],
  uses: ['engine'],
  gives: [],
  messageKinds: [],
  stopMsMax: nodeLimits.quickStopMsMax,
  unconfigured: ({ projections }) =>
    projections?.mysqlUrl === undefined ? 'mysqlUrl is unset (STAMPEDE_MYSQL_URL)' : null,
  async start({ settings, log, need, optional }) {
    const host = optional('engine')?.host;
    const journal = need('journal');
    const running = startProjectors({
      dataDir: settings.dataDir,
      mysqlUrl: settings.projections!.mysqlUrl,
      log: textLog(log),
      durableSeq: host === undefined ? undefined : () => host.control.durableSeq,
      openReader: () => journal.openReader(),
    });
    return { gives: {}, projectors: running.projectors, stop: () => running.stop() };
  },
});

export const redisProjectionModule = defineModule({
  name: 'projection-redis',
  summary: 'projects the journal into Redis (stock, order status, the out-of-stock set)',
  settings: ['dataDir', 'projections'],
  needs: ['journal'],
  uses: ['engine'],
  gives: [],
  messageKinds: [],
  stopMsMax: nodeLimits.quickStopMsMax,
  unconfigured: ({ projections }) =>
    projections?.redisUrl === undefined ? 'redisUrl is unset (STAMPEDE_REDIS_URL)' : null,
  async start({ settings, log, need, optional }) {
    const host = optional('engine')?.host;
    const journal = need('journal');
    const running = startProjectors({
      dataDir: settings.dataDir,
      redisUrl: settings.projections!.redisUrl,
      redisPrefix: settings.projections!.redisPrefix,
      log: textLog(log),
      durableSeq: host === undefined ? undefined : () => host.control.durableSeq,
      openReader: () => journal.openReader(),
    });
    return { gives: {}, projectors: running.projectors, stop: () => running.stop() };
  },
});
