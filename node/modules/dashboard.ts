/**
 * The live dashboard's figures (docs/dashboard.md): stock per SKU, place
 * rates and latency, answers by code, connections. The page and its JSON
 * are served by the HTTP API's /dashboard and /v1/dashboard routes.
 */
import { dashboardStats } from '../../gateways/dashboard-stats.ts';
import { nodeLimits } from '../limits.ts';
import { defineModule } from '../module.ts';

export const dashboardModule = defineModule({
  name: 'dashboard',
  summary: "the live dashboard's figures (GET /dashboard, /v1/dashboard)",
  settings: [],
  needs: ['engine', 'readModel'],
  uses: ['checkout', 'productNames'],
  gives: ['dashboard'],
  messageKinds: [],
  stopMsMax: nodeLimits.quickStopMsMax,
  async start({ need, optional, metrics }) {
    const engine = need('engine');
    const { model } = need('readModel');
    const checkout = optional('checkout');
    const productName = optional('productNames') ?? (() => undefined);
    const sources = {
      model,
      availability: engine.host.availability,
      skusMax: engine.limits.skusMax,
      metrics,
      connectionCount: () => checkout?.socket.connectionCount ?? 0,
      productName,
    };
    return { gives: { dashboard: () => dashboardStats(sources, performance.now(), Date.now()) } };
  },
});
