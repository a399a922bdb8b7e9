/**
 * CheckoutService's edge rules where the timing of the read model matters:
 * answers go out before the gateway's feed applies their commit
 * (durable-event-feed.ts), so the model may lag an answer a client already
 * has. Here the model lags on purpose: its events wait in `pending` until
 * the service asks to catch up. The engine is a recorder of what reached it
 * (the end-to-end path is in server.test.ts).
 */
import t from 'tap';
import { EventType, OrderStatus, ResultCode } from '../engine/codes.ts';
import { EventSlot, OrderCreated, ProductAdded, packCurrency } from '../engine/layout.ts';
import { EmbeddedReadModel } from '../projections/embedded/read-model.ts';
import type { ClientRequest, Session } from './checkout-service.ts';
import { CheckoutService } from './checkout-service.ts';
import type { EngineAnswerSink, EngineCommands } from './engine-commands.ts';
import { GatewayMetrics } from './metrics.ts';
import { SandboxPayments } from './payments-sandbox.ts';
import { TokenBucketLimiter } from './token-bucket.ts';

const skuId = 1;
const buyerId = 7;
const orderId = 1001;
const requestId = 42;

/**
 * `fill`: the model has a gap its feed is filling from the journal; catchUp answers with this promise
 * (true: filled, then the pending events are in; false: not within the feed's bound).
 */
function lagging(fill?: Promise<boolean>): {
  service: CheckoutService;
  submitted: number[];
  pending: (() => void)[];
} {
  const model = new EmbeddedReadModel();
  const words = new Int32Array(EventSlot.words);
  const f64 = new Float64Array(words.buffer);
  words[ProductAdded.skuId] = skuId;
  words[ProductAdded.priceMinor] = 1999;
  words[ProductAdded.currency] = packCurrency('EUR');
  words[ProductAdded.stock] = 1;
  model.apply(EventType.productAdded, 1, 0, words, f64, 0);
  // Durable, answered, not yet applied: the buyer's order for request 42 took the last unit.
  const pending = [
    (): void => {
      words.fill(0);
      words[OrderCreated.buyerId] = buyerId;
      words[OrderCreated.lineCount] = 1;
      f64[OrderCreated.orderId >> 1] = orderId;
      f64[OrderCreated.requestId >> 1] = requestId;
      f64[OrderCreated.totalMinor >> 1] = 1999;
      words[OrderCreated.lines + OrderCreated.lineSkuId] = skuId;
      words[OrderCreated.lines + OrderCreated.lineQuantity] = 1;
      words[OrderCreated.lines + OrderCreated.lineUnitPriceMinor] = 1999;
      model.apply(EventType.orderCreated, 2, 0, words, f64, 0);
    },
  ];
  const submitted: number[] = [];
  const commands = {
    submitTo: (
      input: { requestId: number },
      _nowMs: number,
      sink: EngineAnswerSink,
      token: number,
    ): boolean => {
      submitted.push(input.requestId);
      // The engine's idempotency: the same request gets its first answer again (later, as a durable reply would).
      queueMicrotask(() =>
        sink.engineAnswered(token, {
          result: ResultCode.ok,
          orderId,
          status: OrderStatus.readyForCheckout,
          skuId: 0,
          expiresAtMs: 0,
          totalMinor: 1999,
          durableSeqNeeded: 2,
        }),
      );
      return true;
    },
  } as unknown as EngineCommands;
  const limiter = (): TokenBucketLimiter =>
    new TokenBucketLimiter({ ratePerSecond: 1000, burst: 1000, keysMax: 16 });
  const service = new CheckoutService({
    commands,
    model,
    availability: new Int32Array(8), // every SKU at 0: sold out
    skusMax: 7,
    payments: new SandboxPayments({ delayMs: 0, successRate: 1, declineRate: 0 }, () => {}),
    metrics: new GatewayMetrics(),
    verifyToken: () => ({ ok: false, code: 'TOKEN_INVALID', message: 'not used here' }),
    buyerLimiter: limiter(),
    ipLimiter: limiter(),
    busyRetryAfterMs: 10,
    catchUp: () => {
      const apply = (): void => {
        for (const event of pending.splice(0)) event();
      };
      if (fill === undefined) {
        apply();
        return true;
      }
      return fill.then((filled) => {
        if (filled) apply();
        return filled;
      });
    },
    catchUpNow: () => {
      if (fill !== undefined) return false;
      for (const event of pending.splice(0)) event();
      return true;
    },
    journalKeepsUp: () => true,
  });
  return { service, submitted, pending };
}

const session = (): Session => ({
  role: 'service',
  buyerId: 0,
  ip: '127.0.0.1',
  expiresAtMs: Number.POSITIVE_INFINITY,
  subscriptions: new Set(),
  push: () => {},
});

const place = (id: number): ClientRequest => ({
  kind: 'placeOrder',
  requestId: id,
  buyerId,
  totalMinor: 1999,
  lines: [{ skuId, quantity: 1, unitPriceMinor: 1999 }],
});

t.test(
  'a retried order is not refused at the sold-out edge while the read model lags its answer',
  async (t) => {
    const { service, submitted, pending } = lagging();
    const retry = await service.handle(session(), place(requestId));
    t.equal(pending.length, 0, 'the service caught the model up first');
    t.same(submitted, [requestId], 'the retry went to the engine');
    t.match(retry, { kind: 'order', result: ResultCode.ok, orderId }, 'and got its first answer');
    const other = await service.handle(session(), place(requestId + 1));
    t.match(other, { kind: 'order', result: ResultCode.soldOut }, 'a new request is sold out at the edge');
    t.same(submitted, [requestId], 'without the engine');
  },
);

t.test('a subscription to an order answered but not yet applied finds it', async (t) => {
  const { service, pending } = lagging();
  const subscribed = service.handle(session(), { kind: 'subscribe', requestId: 9, buyerId, orderId });
  t.equal(pending.length, 0);
  t.match(subscribed, { kind: 'subscribed', orderId });
});

t.test(
  'while the read model fills a gap, subscriptions wait for it; the sold-out edge answers BUSY',
  async (t) => {
    let filled: (done: boolean) => void = () => {};
    const { service, submitted, pending } = lagging(new Promise((resolve) => (filled = resolve)));
    const subscribed = service.handle(session(), { kind: 'subscribe', requestId: 9, buyerId, orderId });
    t.ok(subscribed instanceof Promise, 'not answered from a model with a hole');
    t.equal(pending.length, 1, 'the order is not in the model yet');
    const retry = await service.handle(session(), place(requestId));
    t.match(retry, { kind: 'error', code: 'BUSY', retryAfterMs: 10 }, 'a retry is not told SOLD_OUT: resend');
    t.same(submitted, [], 'nor sent to the engine, which would journal every sold-out attempt');
    filled(true);
    t.match(await subscribed, { kind: 'subscribed', orderId }, 'answered once the gap is filled');
  },
);

t.test('a session closed while its subscription waited for a gap fill is not subscribed', async (t) => {
  let filled: (done: boolean) => void = () => {};
  const { service } = lagging(new Promise((resolve) => (filled = resolve)));
  const subscriber = session();
  const subscribed = service.handle(subscriber, { kind: 'subscribe', requestId: 9, buyerId, orderId });
  service.close(subscriber);
  filled(true);
  await subscribed;
  t.same([...subscriber.subscriptions], [], 'no subscription held for a closed session');
  t.equal(service.subscribedOrderCount, 0);
});

t.test('a gap not filled within the bound answers BUSY, not NOT_FOUND', async (t) => {
  const { service } = lagging(Promise.resolve(false));
  const batch = await service.handle(session(), {
    kind: 'batch',
    requestId: 8,
    messages: [
      { kind: 'subscribe', requestId: 9, buyerId, orderId },
      { kind: 'pay', requestId: 10, buyerId, orderId },
    ],
  });
  t.match(batch, {
    kind: 'batch',
    answers: [
      { kind: 'error', requestId: 9, code: 'BUSY' },
      { kind: 'error', requestId: 10, code: 'BUSY' },
    ],
  });
});

t.test('a subscription lasts until the order is settled, through timeout', async (t) => {
  const { service } = lagging();
  const pushed: number[] = [];
  const subscriber: Session = {
    ...session(),
    push: (out) => pushed.push((out as { status: number }).status),
  };
  service.handle(subscriber, { kind: 'subscribe', requestId: 9, buyerId, orderId });
  t.same([...subscriber.subscriptions], [orderId], 'subscribed');
  const change = (status: number, previous: number): void =>
    service.onOrderChange({ orderId, buyerId, status, previous, code: 0, atMs: 0, seq: 0 });
  change(OrderStatus.timeout, OrderStatus.readyForCheckout);
  t.same([...subscriber.subscriptions], [orderId], 'a timed-out order can still change: still subscribed');
  change(OrderStatus.exceptionCheckout, OrderStatus.timeout);
  t.same(pushed, [OrderStatus.timeout, OrderStatus.exceptionCheckout], 'both changes pushed');
  t.same([...subscriber.subscriptions], [], 'settled: the subscription ended');
  change(OrderStatus.exceptionCheckout, OrderStatus.exceptionCheckout);
  t.equal(pushed.length, 2, 'nothing pushed after it');
  // Subscribing again to a settled order reads its status; the next change (none will come) would end it.
  service.handle(subscriber, { kind: 'subscribe', requestId: 10, buyerId, orderId });
  change(OrderStatus.checkoutSuccess, OrderStatus.readyForCheckout);
  t.same([...subscriber.subscriptions], [], 'a paid order ends it too');
});

t.test('a subscription to a timed-out order ends when the engine forgets the order', async (t) => {
  const { service } = lagging();
  const subscriber = session();
  service.handle(subscriber, { kind: 'subscribe', requestId: 9, buyerId, orderId });
  service.onOrderChange({
    orderId,
    buyerId,
    status: OrderStatus.timeout,
    previous: OrderStatus.readyForCheckout,
    code: 0,
    atMs: 0,
    seq: 0,
  });
  t.same([...subscriber.subscriptions], [orderId], 'kept through the timeout');
  service.onOrderForgotten(orderId + 1);
  t.same([...subscriber.subscriptions], [orderId], 'another order forgotten: kept');
  service.onOrderForgotten(orderId);
  t.same([...subscriber.subscriptions], [], 'forgotten: ended');
});
