/**
 * A few products for a first look, put into an engine that has none.
 * Started before the node listens: a client that connects once the node
 * says it listens finds the catalog, in the engine and in the read model
 * (the feed is drained: the events are durable by then).
 */
import { packCurrency } from '../../engine/layout.ts';
import { nodeLimits } from '../limits.ts';
import { defineModule } from '../module.ts';

export const demoProducts = [
  { skuId: 1, priceMinor: 49_900, stock: 10_000, name: 'flash-sale phone' },
  { skuId: 2, priceMinor: 1_999, stock: 100_000, name: 'phone case' },
  { skuId: 3, priceMinor: 12_999, stock: 500, name: 'limited sneakers' },
] as const;

export const demoCatalogModule = defineModule({
  name: 'demo-catalog',
  summary: 'a demo catalog of three products in an empty engine (--demo)',
  settings: ['demoCatalog'],
  needs: ['engine', 'readModel'],
  uses: [],
  gives: [],
  messageKinds: [],
  stopMsMax: nodeLimits.quickStopMsMax,
  unconfigured: ({ demoCatalog }) =>
    demoCatalog ? null : 'demoCatalog is false (--demo or STAMPEDE_DEMO_CATALOG=true)',
  async start({ log, need }) {
    const { commands } = need('engine');
    const { model, feed } = need('readModel');
    if (model.products.size > 0) return { gives: {} };
    for (const p of demoProducts) {
      await commands.submit({
        type: 'addProduct',
        skuId: p.skuId,
        priceMinor: p.priceMinor,
        currency: packCurrency('USD'),
        stock: p.stock,
      });
    }
    await commands.submit({ type: 'configureSale', skuId: 1, limitPerBuyer: 1, startsAtMs: 0, endsAtMs: 0 });
    await feed.caughtUp();
    log.info(
      `demo catalog: ${demoProducts.map((p) => `sku ${p.skuId} ${p.name} (${p.stock} units)`).join(', ')}`,
    );
    return { gives: {} };
  },
});
