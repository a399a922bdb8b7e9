/** The Redis store in the list of projection stores (stores.ts). */
import type { ProjectionStoreKind } from '../store-kind.ts';
import { RedisReconciler } from './reconciler.ts';
import { RedisProjectionStore, redisPrefixDefault } from './store.ts';

export const redisStoreKind: ProjectionStoreKind = {
  name: 'redis',
  summary: 'projects the journal into Redis (stock, order status, the out-of-stock set)',
  configure({ redisUrl, redisPrefix }) {
    if (redisUrl === undefined) return 'redisUrl is unset (STAMPEDE_REDIS_URL)';
    const prefix = redisPrefix ?? redisPrefixDefault;
    return {
      openStore: (common) => new RedisProjectionStore({ url: redisUrl, prefix, ...common }),
      openReconciler: (context) => RedisReconciler.open(redisUrl, prefix, context),
    };
  },
};
