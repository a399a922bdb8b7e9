/**
 * What the live dashboard shows, computed on the gateway thread when the
 * page polls GET /v1/dashboard: per SKU stock, place rates and latency over
 * the sliding window, the last two minutes of rates per second for the chart,
 * answers by code, connections.
 *
 * Stock per SKU mixes two clocks, on purpose: `available` is the engine's
 * shared array (live, ahead of durability), while the catalogue and `sold`
 * come from the embedded read model (durable events only). The engine keeps
 * onHand = stockTotal − sold and available = onHand − reserved, so
 * reserved = stockTotal − sold − available; an order paid but not yet
 * durable still shows as reserved for that moment, which is what it is
 * until the journal has it. Never called on the checkout hot path.
 */
import type { EmbeddedReadModel } from '../projections/embedded/read-model.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { PlaceWindowReading } from './place-window.ts';
import type { RateHistoryReading } from './rate-history.ts';

/** SKUs listed, in SKU order: a dashboard is for the few products on sale, not the catalogue. */
export const dashboardSkusMax = 50;

export interface DashboardSources {
  model: EmbeddedReadModel;
  availability: Int32Array;
  skusMax: number;
  metrics: GatewayMetrics;
  connectionCount: () => number;
  /** A product's name, when a module of the node knows it (node/module.ts productNames). */
  productName: (skuId: number) => string | undefined;
}

export interface DashboardSku {
  skuId: number;
  /** Its display name, null when no module of the node knows one. */
  name: string | null;
  /** Initial stock plus restocks (durable). */
  stockTotal: number;
  available: number;
  reserved: number;
  sold: number;
}

export interface DashboardStats {
  /** Wall-clock time of the reading. */
  atMs: number;
  skus: DashboardSku[];
  /** Products in the read model (skus lists at most dashboardSkusMax of them). */
  skuCount: number;
  /** Place requests answered and orders placed in the window. */
  window: PlaceWindowReading;
  /** Place answers and orders per second over the last two minutes: what the chart draws, at load too. */
  history: RateHistoryReading;
  placesAnsweredTotal: number;
  ordersPlacedTotal: number;
  /** Every answer sent since start, by code (result names and error codes). */
  answersByCode: Record<string, number>;
  connections: { open: number; openedTotal: number; closedTotal: number };
}

/** `nowMs` is the clock the place window runs on (performance.now()); `atMs` the wall clock. */
export function dashboardStats(sources: DashboardSources, nowMs: number, atMs: number): DashboardStats {
  const { model, availability, skusMax, metrics, productName } = sources;
  const skus = model.productsPage(0, dashboardSkusMax).map((product): DashboardSku => {
    const stockTotal = product.stockInitial + product.restocked;
    const available = product.skuId <= skusMax ? availability[product.skuId]! : 0;
    return {
      skuId: product.skuId,
      name: productName(product.skuId) ?? null,
      stockTotal,
      available,
      // A restock the engine applied but the journal has not yet made durable raises available
      // before stockTotal: for that moment the difference is negative, and the truth is 0.
      reserved: Math.max(0, stockTotal - product.sold - available),
      sold: product.sold,
    };
  });
  return {
    atMs,
    skus,
    skuCount: model.products.size,
    window: metrics.places.read(nowMs),
    history: metrics.history.read(nowMs),
    placesAnsweredTotal: metrics.placesAnswered,
    ordersPlacedTotal: metrics.ordersPlaced,
    answersByCode: Object.fromEntries(metrics.answersByCode),
    connections: {
      open: sources.connectionCount(),
      openedTotal: metrics.connectionsOpened,
      closedTotal: metrics.connectionsClosed,
    },
  };
}
