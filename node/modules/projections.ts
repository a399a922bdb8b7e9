/**
 * One module per projection store: a projector reading the node's journal
 * up to the durable cursor into MySQL or into Redis. They only read: a store
 * that is down, slow or wrong never reaches the engine.
 */
import { startProjectors } from '../../projections/start-projectors.ts';
import { nodeLimits } from '../limits.ts';
import { textLog } from '../log.ts';
import { defineModule } from '../module.ts';

export const mysqlProjectionModule = defineModule({
  name: 'projection-mysql',
  summary: 'projects the journal into MySQL (orders, ledger, stock)',
  settings: ['dataDir', 'projections'],
  needs: ['engine', 'journal'],
  uses: [],
  gives: [],
  messageKinds: [],
  stopMsMax: nodeLimits.quickStopMsMax,
  unconfigured: ({ projections }) =>
    projections?.mysqlUrl === undefined ? 'mysqlUrl is unset (STAMPEDE_MYSQL_URL)' : null,
  async start({ settings, log, need }) {
    const { host } = need('engine');
    const journal = need('journal');
    const running = startProjectors({
      dataDir: settings.dataDir,
      mysqlUrl: settings.projections!.mysqlUrl,
      log: textLog(log),
      durableSeq: () => host.control.durableSeq,
      openReader: () => journal.openReader(),
    });
    return { gives: {}, projectors: running.projectors, stop: () => running.stop() };
  },
});

export const redisProjectionModule = defineModule({
  name: 'projection-redis',
  summary: 'projects the journal into Redis (stock, order status, the out-of-stock set)',
  settings: ['dataDir', 'projections'],
  needs: ['engine', 'journal'],
  uses: [],
  gives: [],
  messageKinds: [],
  stopMsMax: nodeLimits.quickStopMsMax,
  unconfigured: ({ projections }) =>
    projections?.redisUrl === undefined ? 'redisUrl is unset (STAMPEDE_REDIS_URL)' : null,
  async start({ settings, log, need }) {
    const { host } = need('engine');
    const journal = need('journal');
    const running = startProjectors({
      dataDir: settings.dataDir,
      redisUrl: settings.projections!.redisUrl,
      redisPrefix: settings.projections!.redisPrefix,
      log: textLog(log),
      durableSeq: () => host.control.durableSeq,
      openReader: () => journal.openReader(),
    });
    return { gives: {}, projectors: running.projectors, stop: () => running.stop() };
  },
});
