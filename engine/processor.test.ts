/**
 * Every transition of the order state machine, legal and illegal, and every
 * coded refusal, as a buyer or operator would see them: the reply, the
 * order's status, the stock, and the events written.
 */
import t from 'tap';
import { eventToProto } from '../proto/event-codec.ts';
import { EventType as E, PaymentOutcome, ResultCode as R, OrderStatus as S } from './codes.ts';
import { EventApplier } from './event-applier.ts';
import { checkInvariants } from './invariants.ts';
import { packCurrency, paymentReferenceCharsMax } from './layout.ts';
import { engineLimits } from './limits.ts';
import { EngineHarness } from './testing/harness.ts';

const usd = packCurrency('USD');
const start = 1_700_000_000_000;
const limits = engineLimits({
  skusMax: 10,
  ordersMax: 4,
  buyersMax: 3,
  orderTtlMs: 60_000,
  finalOrderRetentionMs: 120_000,
  velocityOrdersMax: 2,
  velocityWindowMs: 1_000,
  timerSlotMs: 100,
  timerSlotCount: 2048,
});

function setup(): EngineHarness {
  const h = new EngineHarness(limits);
  h.run(start, { type: 'addProduct', skuId: 1, priceMinor: 1000, currency: usd, stock: 5 });
  h.run(start, { type: 'addProduct', skuId: 2, priceMinor: 250, currency: usd, stock: 100 });
  h.run(start, { type: 'addProduct', skuId: 3, priceMinor: 99, currency: packCurrency('EUR'), stock: 100 });
  return h;
}
let request = 1;
const place = (
  h: EngineHarness,
  buyerId: number,
  lines: [number, number, number][],
  total?: number,
  nowMs = start,
) =>
  h.run(nowMs, {
    type: 'placeOrder',
    buyerId,
    requestId: request++,
    totalMinor: total ?? lines.reduce((sum, [, q, p]) => sum + q * p, 0),
    lines: lines.map(([skuId, quantity, unitPriceMinor]) => ({ skuId, quantity, unitPriceMinor })),
  });
const pay = (
  h: EngineHarness,
  orderId: number,
  amountMinor: number,
  outcome: number = PaymentOutcome.succeeded,
  nowMs = start,
) => h.run(nowMs, { type: 'paymentResult', orderId, outcome, amountMinor });
const available = (h: EngineHarness, skuId: number) =>
  h.state.skuOnHand[skuId]! - h.state.skuReserved[skuId]!;

t.test('place -> ready_for_checkout through every intermediate status, stock reserved', async (t) => {
  const h = setup();
  const r = place(h, 7, [[1, 2, 1000]]);
  t.equal(r.result, R.ok);
  t.equal(r.status, S.readyForCheckout);
  t.equal(r.totalMinor, 2000);
  t.equal(r.expiresAtMs, start + limits.orderTtlMs);
  t.same(h.lastEventTypes(), [
    E.orderCreated,
    E.orderStatusChanged,
    E.orderStatusChanged,
    E.orderStatusChanged,
  ]);
  t.equal(available(h, 1), 3);
  t.equal(r.durableSeqNeeded, h.state.scalars[0], 'the reply waits for the last event it depends on');
  t.same(checkInvariants(h.state), []);
});

t.test('payment success commits the sale; a repeated success changes nothing', async (t) => {
  const h = setup();
  const { orderId } = place(h, 7, [[1, 2, 1000]]);
  const paid = pay(h, orderId, 2000);
  t.equal(paid.result, R.ok);
  t.equal(paid.status, S.checkoutSuccess);
  t.equal(h.state.skuOnHand[1], 3);
  t.equal(h.state.skuSold[1], 2);
  t.equal(available(h, 1), 3);
  const again = pay(h, orderId, 2000);
  t.equal(again.result, R.ok);
  t.equal(again.status, S.checkoutSuccess);
  t.same(h.lastEventTypes(), [E.paymentReceived], 'no second effect: the delivery is only recorded');
  t.equal(pay(h, orderId, 2000, PaymentOutcome.declined).result, R.invalidTransition);
  t.equal(
    h.run(start, { type: 'cancelOrder', buyerId: 7, requestId: 99, orderId }).result,
    R.invalidTransition,
  );
  t.same(checkInvariants(h.state), []);
});

t.test('declined payment -> error_checkout and the stock returns', async (t) => {
  const h = setup();
  const { orderId } = place(h, 7, [[1, 5, 1000]]);
  t.equal(available(h, 1), 0);
  const r = pay(h, orderId, 5000, PaymentOutcome.declined);
  t.equal(r.result, R.paymentDeclined);
  t.equal(r.status, S.errorCheckout);
  t.equal(available(h, 1), 5);
  t.equal(pay(h, orderId, 5000).result, R.invalidTransition, 'a success after a decline is not a sale');
  t.equal(h.state.skuSold[1], 0);
});

t.test('a payment of the wrong amount is never a sale: exception_checkout', async (t) => {
  const h = setup();
  const { orderId } = place(h, 7, [[1, 1, 1000]]);
  const r = pay(h, orderId, 999);
  t.equal(r.result, R.amountMismatch);
  t.equal(r.status, S.exceptionCheckout);
  t.equal(available(h, 1), 5);
  t.equal(h.state.skuSold[1], 0);
});

t.test('cancel: by the owner releases; by another buyer refused; twice is the same answer', async (t) => {
  const h = setup();
  const { orderId } = place(h, 7, [[1, 3, 1000]]);
  t.equal(h.run(start, { type: 'cancelOrder', buyerId: 8, requestId: 1, orderId }).result, R.notOrderOwner);
  const r = h.run(start, { type: 'cancelOrder', buyerId: 7, requestId: 2, orderId });
  t.equal(r.result, R.ok);
  t.equal(r.status, S.canceled);
  t.equal(available(h, 1), 5);
  const again = h.run(start, { type: 'cancelOrder', buyerId: 7, requestId: 3, orderId });
  t.equal(again.result, R.ok);
  t.same(h.lastEventTypes(), []);
  t.equal(
    h.run(start, { type: 'cancelOrder', buyerId: 7, requestId: 4, orderId: 12345 }).result,
    R.unknownOrder,
  );
  const late = pay(h, orderId, 3000);
  t.equal(late.status, S.exceptionCheckout, 'money for a canceled order is flagged, not a sale');
  t.equal(late.result, R.expired);
});

t.test('timeout by Tick releases stock; a later payment success becomes exception_checkout', async (t) => {
  const h = setup();
  const { orderId } = place(h, 7, [[1, 5, 1000]]);
  h.run(start + limits.orderTtlMs - 1, { type: 'tick' });
  t.equal(available(h, 1), 0, 'not yet');
  h.run(start + limits.orderTtlMs, { type: 'tick' });
  t.same(h.lastEventTypes(), [E.orderStatusChanged]);
  t.equal(available(h, 1), 5);
  const r = pay(h, orderId, 5000, PaymentOutcome.succeeded, start + limits.orderTtlMs + 10);
  t.equal(r.status, S.exceptionCheckout);
  t.equal(r.result, R.expired);
  t.equal(h.state.skuSold[1], 0);
  t.equal(
    pay(h, orderId, 5000, PaymentOutcome.declined, start + limits.orderTtlMs + 20).result,
    R.invalidTransition,
  );
  t.same(checkInvariants(h.state), []);
});

t.test('a payment after expiresAtMs is late even when no Tick ran yet', async (t) => {
  const h = setup();
  const { orderId } = place(h, 7, [[1, 1, 1000]]);
  const r = pay(h, orderId, 1000, PaymentOutcome.succeeded, start + limits.orderTtlMs);
  t.equal(r.status, S.exceptionCheckout);
  t.same(
    h.lastEventTypes(),
    [E.orderStatusChanged, E.orderStatusChanged, E.paymentReceived],
    'timeout, then exception, then the delivery',
  );
  t.equal(available(h, 1), 5);
});

t.test('final orders are forgotten after the retention window', async (t) => {
  const h = setup();
  const { orderId } = place(h, 7, [[1, 1, 1000]]);
  pay(h, orderId, 1000);
  h.run(start + limits.finalOrderRetentionMs, { type: 'tick' });
  t.same(h.lastEventTypes(), [E.orderForgotten]);
  t.equal(pay(h, orderId, 1000).result, R.unknownOrder);
  t.equal(h.state.skuSold[1], 1, 'the sale stays');
});

t.test('refusals before any order exists', async (t) => {
  const h = setup();
  t.equal(place(h, 7, [[9, 1, 1]]).result, R.unknownSku);
  t.equal(place(h, 7, [[11, 1, 1]]).result, R.unknownSku, 'beyond skusMax');
  t.equal(place(h, 7, [[1, 0, 1000]]).result, R.quantityInvalid);
  t.equal(place(h, 7, [[1, limits.quantityPerLineMax + 1, 1000]]).result, R.quantityInvalid);
  t.equal(place(h, 7, []).result, R.linesInvalid);
  t.equal(
    place(
      h,
      7,
      Array.from({ length: 9 }, () => [2, 1, 250] as [number, number, number]),
    ).result,
    R.linesInvalid,
  );
  t.equal(
    place(h, 7, [
      [1, 1, 1000],
      [3, 1, 99],
    ]).result,
    R.currencyMismatch,
  );
  const insufficient = place(h, 7, [[1, 6, 1000]]);
  t.equal(insufficient.result, R.insufficientStock);
  t.equal(insufficient.skuId, 1);
  place(h, 7, [[1, 5, 1000]]);
  const sold = place(h, 8, [
    [2, 1, 250],
    [1, 1, 1000],
  ]);
  t.equal(sold.result, R.soldOut);
  t.equal(sold.skuId, 1);
  t.equal(sold.orderId, 0);
  t.same(h.lastEventTypes(), [E.orderRefused], 'a refusal is journaled, so a retry gets it again');
  t.equal(available(h, 2), 100, 'all lines or none');
});

t.test('lines of the same SKU are summed before the stock check', async (t) => {
  const h = setup();
  t.equal(
    place(h, 7, [
      [1, 3, 1000],
      [1, 3, 1000],
    ]).result,
    R.insufficientStock,
  );
  const r = place(h, 7, [
    [1, 2, 1000],
    [1, 3, 1000],
  ]);
  t.equal(r.result, R.ok);
  t.equal(available(h, 1), 0);
});

t.test('sale window and per-buyer limit', async (t) => {
  const h = setup();
  t.equal(
    h.run(start, {
      type: 'configureSale',
      skuId: 2,
      limitPerBuyer: 2,
      startsAtMs: start + 1000,
      endsAtMs: start + 5000,
    }).result,
    R.ok,
  );
  t.equal(place(h, 7, [[2, 1, 250]], undefined, start + 999).result, R.saleNotOpen);
  const first = place(h, 7, [[2, 2, 250]], undefined, start + 1000);
  t.equal(first.result, R.ok);
  const over = place(h, 7, [[2, 1, 250]], undefined, start + 2100);
  t.equal(over.result, R.limitPerBuyerExceeded);
  t.equal(over.status, S.failCheckout);
  t.equal(over.skuId, 2);
  t.equal(available(h, 2), 98, 'the failed order released its reservation');
  h.run(start + 2200, { type: 'cancelOrder', buyerId: 7, requestId: 500, orderId: first.orderId });
  t.equal(
    place(h, 7, [[2, 2, 250]], undefined, start + 3300).result,
    R.ok,
    'a released reservation frees the limit',
  );
  t.equal(place(h, 8, [[2, 1, 250]], undefined, start + 5000).result, R.saleNotOpen, 'ended');
  const invalid = h.run(start, {
    type: 'configureSale',
    skuId: 2,
    limitPerBuyer: 1,
    startsAtMs: 10,
    endsAtMs: 5,
  });
  t.equal(invalid.result, R.saleWindowInvalid);
});

t.test('risk: blocked buyers and velocity fail the order and release stock', async (t) => {
  const h = setup();
  h.run(start, { type: 'blockBuyer', buyerId: 9, blocked: true });
  const blocked = place(h, 9, [[2, 1, 250]]);
  t.equal(blocked.result, R.buyerBlocked);
  t.equal(blocked.status, S.failCheckout);
  t.same(
    h.lastEventTypes(),
    [E.orderCreated, E.orderStatusChanged, E.orderStatusChanged],
    'created, checked_inventory, fail_checkout',
  );
  h.run(start, { type: 'blockBuyer', buyerId: 9, blocked: false });
  t.equal(place(h, 9, [[2, 1, 250]], undefined, start + 2000).result, R.ok);
  const h2 = setup();
  t.equal(place(h2, 5, [[2, 1, 250]]).result, R.ok);
  t.equal(place(h2, 5, [[2, 1, 250]]).result, R.ok);
  const fast = place(h2, 5, [[2, 1, 250]]);
  t.equal(fast.result, R.velocityExceeded);
  t.equal(available(h2, 2), 98);
  t.equal(place(h2, 5, [[2, 1, 250]], undefined, start + 1000).result, R.ok, 'a new window');
});

t.test('pricing: a changed unit price or a wrong total fails the order', async (t) => {
  const h = setup();
  h.run(start, { type: 'setPrice', skuId: 2, priceMinor: 300 });
  const stale = place(h, 7, [[2, 1, 250]], 300);
  t.equal(stale.result, R.priceChanged);
  t.equal(stale.status, S.failCheckout);
  t.same(h.lastEventTypes().length, 4, 'created, checked_inventory, pending_checkout, fail_checkout');
  const wrongTotal = place(h, 7, [[2, 2, 300]], 601);
  t.equal(wrongTotal.result, R.totalMismatch);
  t.equal(available(h, 2), 100);
});

t.test('idempotency: a retried request gets the first answer and no second effect', async (t) => {
  const h = setup();
  const input = {
    type: 'placeOrder' as const,
    buyerId: 7,
    requestId: 42,
    totalMinor: 1000,
    lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 1000 }],
  };
  const first = h.run(start, input);
  const retry = h.run(start + 5, input);
  t.equal(retry.orderId, first.orderId);
  t.equal(retry.status, S.readyForCheckout);
  t.same(h.lastEventTypes(), []);
  t.equal(available(h, 1), 4);
  const other = h.run(start, { ...input, buyerId: 8 });
  t.not(other.orderId, first.orderId, 'request ids are per buyer');
  const unknownInput = { ...input, requestId: 43, lines: [{ skuId: 9, quantity: 1, unitPriceMinor: 1000 }] };
  t.equal(h.run(start, unknownInput).result, R.unknownSku);
  h.run(start, { type: 'addProduct', skuId: 9, priceMinor: 1000, currency: usd, stock: 1 });
  t.equal(
    h.run(start, unknownInput).result,
    R.unknownSku,
    'the first answer, even though the product exists now',
  );
  // Out of stock is momentary: such a refusal is not remembered, so a retry after stock returns can buy.
  const soldOutInput = {
    ...input,
    requestId: 44,
    lines: [{ skuId: 1, quantity: 5, unitPriceMinor: 1000 }],
    totalMinor: 5000,
  };
  t.equal(h.run(start, soldOutInput).result, R.insufficientStock);
  h.run(start, { type: 'restock', skuId: 1, quantity: 10 });
  const retried = h.run(start, soldOutInput);
  t.equal(retried.result, R.ok, 'judged afresh');
  t.equal(h.run(start, soldOutInput).orderId, retried.orderId, 'and from then on remembered');
});

t.test(
  'idempotency: a retried failed order gets the same refusal, after recovery and forgetting too',
  async (t) => {
    const h = setup();
    h.run(start, { type: 'configureSale', skuId: 2, limitPerBuyer: 1, startsAtMs: 0, endsAtMs: 0 });
    // Two buyers: a third order of one buyer within a second would fail for velocity.
    const order = (
      requestId: number,
      lines: [number, number, number][],
      totalMinor: number,
      buyerId = 7,
    ) => ({
      type: 'placeOrder' as const,
      buyerId,
      requestId,
      totalMinor,
      lines: lines.map(([skuId, quantity, unitPriceMinor]) => ({ skuId, quantity, unitPriceMinor })),
    });
    const cases = [
      {
        name: 'over the per-buyer limit',
        input: order(
          777,
          [
            [1, 1, 1000],
            [2, 2, 250],
          ],
          1500,
        ),
        code: R.limitPerBuyerExceeded,
        skuId: 2,
      },
      {
        name: 'a changed price',
        input: order(
          778,
          [
            [1, 1, 1000],
            [2, 1, 249],
          ],
          1249,
        ),
        code: R.priceChanged,
        skuId: 2,
      },
      { name: 'a wrong total', input: order(779, [[1, 1, 1000]], 999, 8), code: R.totalMismatch, skuId: 0 },
      {
        name: 'a refusal before creation',
        input: order(
          780,
          [
            [3, 1, 99],
            [1, 1, 1000],
          ],
          1099,
        ),
        code: R.currencyMismatch,
        skuId: 1,
      },
    ];
    const answer = (r: { result: number; orderId: number; status: number; skuId: number }) => ({
      result: r.result,
      orderId: r.orderId,
      status: r.status,
      skuId: r.skuId,
    });
    const firsts = cases.map(({ input }) => answer(h.run(start, input)));
    for (const [i, { name, code, skuId }] of cases.entries()) {
      t.equal(firsts[i]!.result, code, `${name}: refused`);
      t.equal(firsts[i]!.skuId, skuId, `${name}: about the offending line`);
      t.same(answer(h.run(start + 5, cases[i]!.input)), firsts[i], `${name}: the retry gets the same answer`);
      t.same(h.lastEventTypes(), [], `${name}: and no second effect`);
    }

    // Recovery: the state rebuilt from the journal alone answers the same.
    const recovered = new EngineHarness(limits);
    const applier = new EventApplier(recovered.state);
    for (const e of h.journal) applier.apply(e.seq, e.type, e.atMs, e.payload, 0, e.payload.length);
    for (const [i, { name }] of cases.entries()) {
      t.same(
        answer(recovered.run(start + 10, cases[i]!.input)),
        firsts[i],
        `${name}: the same after recovery`,
      );
    }

    // Past the retention window the order is forgotten; the refusal is still the answer.
    h.run(start + limits.finalOrderRetentionMs + 1_000, { type: 'tick' });
    t.ok(h.lastEventTypes().includes(E.orderForgotten), 'the failed orders were forgotten');
    for (const [i, { name }] of cases.entries()) {
      const again = answer(h.run(start + limits.finalOrderRetentionMs + 2_000, cases[i]!.input));
      t.same(again, firsts[i], `${name}: the same once the order is forgotten`);
    }
  },
);

t.test(
  'payments: every delivery is journaled with its amount and reference; a redelivery gets the first answer',
  async (t) => {
    const h = setup();
    const { orderId } = place(h, 7, [[1, 1, 1000]]);
    const reference = 'evt_1_20'.padEnd(paymentReferenceCharsMax, 'x');
    const declined = {
      type: 'paymentResult' as const,
      orderId,
      outcome: PaymentOutcome.declined,
      amountMinor: 1000,
      reference,
    };
    const first = h.run(start, declined);
    t.equal(first.result, R.paymentDeclined);
    t.equal(first.status, S.errorCheckout);
    const event = h.journal[h.journal.length - 1]!;
    t.equal(event.type, E.paymentReceived, 'the delivery is an event');
    t.match(
      eventToProto(event.seq, event.type, event.atMs, event.payload, 0, event.payload.length).paymentReceived,
      {
        orderId,
        buyerId: 7,
        outcome: PaymentOutcome.declined,
        amountMinor: 1000,
        result: R.paymentDeclined,
        previous: S.readyForCheckout,
        status: S.errorCheckout,
        reference,
      },
    );
    const again = h.run(start + 5, declined);
    t.same(
      [again.result, again.orderId, again.status],
      [R.paymentDeclined, orderId, S.errorCheckout],
      'the first answer',
    );
    t.same(h.lastEventTypes(), [], 'and nothing journaled');
    const other = h.run(start + 5, { ...declined, reference: 'evt_2_20' });
    t.equal(other.result, R.invalidTransition, 'another reference is another delivery');

    // Recovery rebuilds the memory from the journal.
    const recovered = new EngineHarness(limits);
    const applier = new EventApplier(recovered.state);
    for (const e of h.journal) applier.apply(e.seq, e.type, e.atMs, e.payload, 0, e.payload.length);
    const after = recovered.run(start + 10, declined);
    t.same(
      [after.result, after.orderId, after.status],
      [R.paymentDeclined, orderId, S.errorCheckout],
      'after recovery',
    );
    t.same(recovered.lastEventTypes(), []);
  },
);

t.test('payments: the remembered references are bounded, the oldest forgotten first', async (t) => {
  const h = new EngineHarness(engineLimits({ ...limits, paymentReferencesMax: 2 }));
  h.run(start, { type: 'addProduct', skuId: 1, priceMinor: 1000, currency: usd, stock: 5 });
  const { orderId } = place(h, 7, [[1, 1, 1000]]);
  const delivery = (reference: string) => ({
    type: 'paymentResult' as const,
    orderId,
    outcome: PaymentOutcome.succeeded,
    amountMinor: 1000,
    reference,
  });
  t.equal(h.run(start, delivery('a')).result, R.ok);
  t.equal(h.run(start, { ...delivery('b'), outcome: PaymentOutcome.declined }).result, R.invalidTransition);
  t.equal(h.run(start, delivery('c')).result, R.ok);
  t.equal(
    h.run(start, { ...delivery('b'), outcome: PaymentOutcome.declined }).result,
    R.invalidTransition,
    'b remembered',
  );
  t.same(h.lastEventTypes(), []);
  h.run(start, delivery('a'));
  t.same(
    h.lastEventTypes(),
    [E.paymentReceived],
    'a forgotten: decided again by the state machine, no second sale',
  );
  t.equal(h.state.skuSold[1], 1);
});

t.test('capacity limits are coded refusals', async (t) => {
  const h = setup();
  for (let i = 0; i < 4; i++)
    t.equal(place(h, 1 + (i % 3), [[2, 1, 250]], undefined, start + i * 2000).result, R.ok);
  t.equal(place(h, 1, [[2, 1, 250]], undefined, start + 9000).result, R.ordersFull);
  const h2 = setup();
  for (let buyer = 1; buyer <= 3; buyer++) place(h2, buyer, [[2, 1, 250]]);
  t.equal(place(h2, 4, [[2, 1, 250]]).result, R.buyersFull);
  t.equal(h2.run(start, { type: 'blockBuyer', buyerId: 4, blocked: true }).result, R.buyersFull);
});

t.test('admin commands validate their input', async (t) => {
  const h = setup();
  t.equal(
    h.run(start, { type: 'addProduct', skuId: 1, priceMinor: 1, currency: usd, stock: 1 }).result,
    R.productExists,
  );
  t.equal(
    h.run(start, { type: 'addProduct', skuId: 0, priceMinor: 1, currency: usd, stock: 1 }).result,
    R.skuOutOfRange,
  );
  t.equal(
    h.run(start, { type: 'addProduct', skuId: 11, priceMinor: 1, currency: usd, stock: 1 }).result,
    R.skuOutOfRange,
  );
  t.equal(
    h.run(start, { type: 'addProduct', skuId: 5, priceMinor: -1, currency: usd, stock: 1 }).result,
    R.priceInvalid,
  );
  t.equal(
    h.run(start, { type: 'addProduct', skuId: 5, priceMinor: 1.5, currency: usd, stock: 1 }).result,
    R.priceInvalid,
  );
  t.equal(
    h.run(start, { type: 'addProduct', skuId: 5, priceMinor: 1, currency: usd, stock: -1 }).result,
    R.stockInvalid,
  );
  t.equal(h.run(start, { type: 'restock', skuId: 9, quantity: 1 }).result, R.unknownSku);
  t.equal(h.run(start, { type: 'restock', skuId: 1, quantity: 0 }).result, R.stockInvalid);
  t.equal(h.run(start, { type: 'setPrice', skuId: 9, priceMinor: 1 }).result, R.unknownSku);
  t.equal(h.run(start, { type: 'restock', skuId: 1, quantity: 7 }).result, R.ok);
  t.equal(h.state.skuOnHand[1], 12);
  t.same(checkInvariants(h.state), []);
});
