/**
 * Stock and order status read from the Redis projection (readModel
 * 'redis'): the HTTP API asks Redis first and falls back to the embedded
 * model (projections/README.md).
 */
import { RedisReadModel } from '../../projections/redis/read-model.ts';
import { nodeLimits } from '../limits.ts';
import { defineModule } from '../module.ts';

export const redisReadsModule = defineModule({
  name: 'redis-reads',
  summary: 'stock and order reads from the Redis projection (readModel redis)',
  settings: ['projections'],
  needs: [],
  uses: [],
  gives: ['redisReads'],
  messageKinds: [],
  stopMsMax: nodeLimits.quickStopMsMax,
  unconfigured: ({ projections }) =>
    projections?.readModel !== 'redis'
      ? 'readModel is not redis (STAMPEDE_READ_MODEL)'
      : projections.redisUrl === undefined
        ? 'redisUrl is unset (STAMPEDE_REDIS_URL)'
        : null,
  async start({ settings }) {
    const projection = settings.projections!;
    const redisReads = new RedisReadModel({
      url: projection.redisUrl!,
      ...(projection.redisPrefix === undefined ? {} : { prefix: projection.redisPrefix }),
    });
    return { gives: { redisReads }, stop: () => redisReads.close() };
  },
});
