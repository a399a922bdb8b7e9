/**
 * The embedded read model (products, stock, orders in memory) and the
 * durable event feed that keeps it current: first the journal already on
 * disk (catch-up, before the node listens), then the engine's notify ring
 * as commits happen. Order changes are handed to the listeners other
 * modules add (the checkout socket's pushes).
 */
import { DurableEventFeed } from '../../gateways/durable-event-feed.ts';
import { EmbeddedReadModel } from '../../projections/embedded/read-model.ts';
import { nodeLimits } from '../limits.ts';
import { textLog } from '../log.ts';
import { defineModule, type OrderListener, type ReadModelParts } from '../module.ts';

export const readModelModule = defineModule({
  name: 'read-model',
  summary: 'the embedded read model, kept current from the journal and the durable event feed',
  settings: ['readModelOrdersMax'],
  needs: ['engine', 'journal'],
  uses: [],
  gives: ['readModel'],
  messageKinds: [],
  stopMsMax: nodeLimits.quickStopMsMax,
  async start({ settings, log, need }) {
    const { host } = need('engine');
    const model = new EmbeddedReadModel(settings.readModelOrdersMax);
    const listeners: OrderListener[] = [];
    const journal = need('journal');
    const feed = new DurableEventFeed({
      notify: host.notify!,
      control: host.control,
      model,
      // Read at start-up, and again whenever the notify ring dropped events (a gap filled from the journal).
      openReader: () => journal.openReader(),
      onChange: (change) => {
        for (const listener of listeners) listener.onOrderChange(change);
      },
      onForgotten: (orderId) => {
        for (const listener of listeners) listener.onOrderForgotten(orderId);
      },
      log: textLog(log),
    });
    const caughtUpCount = await feed.catchUp();
    feed.start();
    log.info({ caughtUpCount }, `read model caught up with ${caughtUpCount} events`);
    const readModel: ReadModelParts = {
      model,
      feed,
      caughtUpCount,
      listen: (listener) => listeners.push(listener),
    };
    return {
      gives: { readModel },
      gauges: () => ({ read_model_orders: model.orders.size }),
      stop: () => feed.stop(),
    };
  },
});
