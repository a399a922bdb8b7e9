/** The MySQL store in the list of projection stores (stores.ts). */
import type { ProjectionStoreKind } from '../store-kind.ts';
import { MysqlReconciler } from './reconciler.ts';
import { MysqlProjectionStore } from './store.ts';

export const mysqlStoreKind: ProjectionStoreKind = {
  name: 'mysql',
  summary: 'projects the journal into MySQL (orders, ledger, stock)',
  configure({ mysqlUrl }) {
    if (mysqlUrl === undefined) return 'mysqlUrl is unset (STAMPEDE_MYSQL_URL)';
    return {
      openStore: (common) => new MysqlProjectionStore({ url: mysqlUrl, ...common }),
      openReconciler: (context) => MysqlReconciler.open(mysqlUrl, context),
    };
  },
};
