/**
 * A few products for a first look: by default into a fresh data directory
 * only (a journal with no events yet), so a restarted node never adds them
 * again and a used directory never gets them; with --demo into any engine
 * that has no products (node-options.ts DemoCatalogRule).
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
const demoCurrency = 'USD';

export const demoCatalogModule = defineModule({
  name: 'demo-catalog',
  summary: 'a demo catalog of three products in a fresh data directory (--no-demo: none)',
  settings: ['demoCatalog'],
  needs: ['engine', 'readModel'],
  uses: [],
  gives: ['productNames'],
  messageKinds: [],
  stopMsMax: nodeLimits.quickStopMsMax,
  unconfigured: ({ demoCatalog }) =>
    demoCatalog === false
      ? 'demoCatalog is false (--no-demo, STAMPEDE_DEMO_CATALOG=false, or production)'
      : null,
  async start({ settings, log, need }) {
    const { commands, host } = need('engine');
    const { model, feed } = need('readModel');
    const seed = async (): Promise<void> => {
      if (settings.demoCatalog === 'fresh' && host.ready.lastSeq > 0) {
        log.info(
          `no demo catalog: the journal has events already (seq ${host.ready.lastSeq}); --demo adds it to an engine without products`,
        );
        return;
      }
      if (model.products.size > 0) return;
      for (const p of demoProducts) {
        await commands.submit({
          type: 'addProduct',
          skuId: p.skuId,
          priceMinor: p.priceMinor,
          currency: packCurrency(demoCurrency),
          stock: p.stock,
        });
      }
      await commands.submit({
        type: 'configureSale',
        skuId: 1,
        limitPerBuyer: 1,
        startsAtMs: 0,
        endsAtMs: 0,
      });
      await feed.caughtUp();
      log.info(
        `demo catalog: ${demoProducts.map((p) => `sku ${p.skuId} ${p.name} (${p.stock} units)`).join(', ')}`,
      );
    };
    await seed();
    // The journal holds no names: the demo's are given where the products are the demo's (seeded now or on an
    // earlier start: same SKU, currency and initial stock, which never change), so an own SKU 1 stays unnamed.
    const isDemo = demoProducts.every((p) => {
      const product = model.products.get(p.skuId);
      return product?.currency === demoCurrency && product.stockInitial === p.stock;
    });
    const names = new Map<number, string>(isDemo ? demoProducts.map((p) => [p.skuId, p.name]) : []);
    return { gives: { productNames: (skuId) => names.get(skuId) } };
  },
});
