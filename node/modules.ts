/**
 * The node's module list, in the order they are listed by `serve --help`
 * and started when nothing else orders them. A new service is a new file in
 * node/modules/ and one line here (docs/architecture.md).
 */
import type { ListedModule } from './module.ts';
import { checkoutModule } from './modules/checkout.ts';
import { dashboardModule } from './modules/dashboard.ts';
import { demoCatalogModule } from './modules/demo-catalog.ts';
import { engineModule } from './modules/engine.ts';
import { httpApiModule } from './modules/http-api.ts';
import { journalModule } from './modules/journal.ts';
import { paymentsModule } from './modules/payments.ts';
import { projectionModules } from './modules/projections.ts';
import { readModelModule } from './modules/read-model.ts';
import { redisReadsModule } from './modules/redis-reads.ts';
import { tickerModule } from './modules/ticker.ts';

export const nodeModules: readonly ListedModule[] = Object.freeze([
  journalModule,
  engineModule,
  ...projectionModules,
  redisReadsModule,
  readModelModule,
  paymentsModule,
  checkoutModule,
  dashboardModule,
  httpApiModule,
  tickerModule,
  demoCatalogModule,
]);
