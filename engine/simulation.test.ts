/**
 * Seeded simulation: random command streams (many buyers, hot SKUs, payments,
 * timeouts, cancels, restocks, price changes, blocks, duplicates and bad
 * commands) applied to the engine and to a deliberately naive reference model;
 * answers and stock compared after every command, invariants checked after
 * every command. Along the way the engine "crashes" at random points and is
 * recovered from its last snapshot plus the events after it; the recovered
 * state must hash the same, and the run continues on it.
 *
 * Several seeds run by default; SEED=n replays one; SIM_COMMANDS=n lengthens runs.
 */
import t from 'tap';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import { OrderStatus, PaymentOutcome, resultName, statusName } from './codes.ts';
import type { CommandInput } from './commands.ts';
import { EventApplier } from './event-applier.ts';
import { orderSlotOf } from './evolve.ts';
import { checkInvariants } from './invariants.ts';
import { packCurrency } from './layout.ts';
import { engineLimits } from './limits.ts';
import { decodeSnapshot, encodeSnapshot, snapshotLastSeq } from './snapshot.ts';
import { EngineState } from './state.ts';
import { stateHash } from './state-hash.ts';
import { EngineHarness } from './testing/harness.ts';
import { ReferenceModel } from './testing/reference-model.ts';

const commandsPerSeed = Number(process.env.SIM_COMMANDS ?? 4000);
const seeds = process.env.SEED
  ? [seedFromEnv()]
  : [seedFromEnv(), seedFromEnv(), seedFromEnv(), seedFromEnv()];

const limits = engineLimits({
  skusMax: 8,
  ordersMax: 60,
  buyersMax: 40,
  buyerSkuPairsMax: 120,
  requestIdsMax: 200,
  linesPerOrderMax: 4,
  quantityPerLineMax: 5,
  orderTtlMs: 3_000,
  finalOrderRetentionMs: 4_000,
  velocityWindowMs: 1_000,
  velocityOrdersMax: 3,
  timerSlotMs: 50,
  timerSlotCount: 128,
});

const usd = packCurrency('USD');
const eur = packCurrency('EUR');

function replayAll(events: EngineHarness['journal'], from: EngineState, afterSeq: number): EngineState {
  const applier = new EventApplier(from);
  for (const e of events)
    if (e.seq > afterSeq) applier.apply(e.seq, e.type, e.atMs, e.payload, 0, e.payload.length);
  return applier.state;
}

for (const seed of seeds) {
  t.test(`simulation seed ${seed}`, async (t) => {
    const random = new SeededRandom(seed);
    const where = (i: number): string => `(SEED=${seed}, command ${i})`;
    const engine = new EngineHarness(limits);
    const model = new ReferenceModel(limits);
    let nowMs = 1_700_000_000_000;
    const sent: Extract<CommandInput, { type: 'placeOrder' }>[] = [];
    let requestId = 1;
    let snapshot = encodeSnapshot(engine.state);
    let crashes = 0;
    const counts = new Map<string, number>();

    const step = (i: number, input: CommandInput): void => {
      const got = engine.run(nowMs, input);
      const want = model.apply(nowMs, input);
      const label = `${input.type} ${where(i)}`;
      counts.set(
        `${input.type}:${resultName(got.result)}`,
        (counts.get(`${input.type}:${resultName(got.result)}`) ?? 0) + 1,
      );
      if (got.result !== want.result || got.orderId !== want.orderId || got.status !== want.status) {
        t.fail(
          `${label}: engine ${resultName(got.result)}/${got.orderId}/${statusName(got.status)}, model ${resultName(want.result)}/${want.orderId}/${statusName(want.status)}`,
          {
            input,
          },
        );
        throw new Error('diverged');
      }
      const problems = checkInvariants(engine.state);
      if (problems.length > 0) {
        t.fail(`invariants after ${label}: ${problems.join('; ')}`);
        throw new Error('invariant');
      }
      const s = engine.state;
      for (const [skuId, p] of model.products) {
        if (s.skuOnHand[skuId] !== p.onHand || s.skuReserved[skuId] !== p.reserved) {
          t.fail(
            `${label}: sku ${skuId} engine ${s.skuOnHand[skuId]}/${s.skuReserved[skuId]} model ${p.onHand}/${p.reserved}`,
          );
          throw new Error('diverged');
        }
      }
      if (s.orderIndex.size !== model.orders.size) {
        t.fail(`${label}: engine holds ${s.orderIndex.size} orders, model ${model.orders.size}`);
        throw new Error('diverged');
      }
      for (const [orderId, order] of model.orders) {
        const slot = orderSlotOf(s, orderId);
        if (slot < 0 || s.orderStatus[slot] !== order.status) {
          t.fail(
            `${label}: order ${orderId} engine ${slot < 0 ? 'missing' : statusName(s.orderStatus[slot]!)} model ${statusName(order.status)}`,
          );
          throw new Error('diverged');
        }
      }
    };

    try {
      // The catalog: two hot SKUs with little stock, a sale with a per-buyer limit, one SKU in another currency.
      step(0, { type: 'addProduct', skuId: 1, priceMinor: 1999, currency: usd, stock: 6 });
      step(0, { type: 'addProduct', skuId: 2, priceMinor: 500, currency: usd, stock: 12 });
      step(0, { type: 'addProduct', skuId: 3, priceMinor: 12_000, currency: usd, stock: 40 });
      step(0, { type: 'addProduct', skuId: 4, priceMinor: 250, currency: eur, stock: 20 });
      step(0, { type: 'configureSale', skuId: 1, limitPerBuyer: 2, startsAtMs: nowMs, endsAtMs: 0 });
      step(0, { type: 'configureSale', skuId: 5, limitPerBuyer: 1, startsAtMs: 0, endsAtMs: 0 });
      step(0, {
        type: 'configureSale',
        skuId: 3,
        limitPerBuyer: 0,
        startsAtMs: nowMs + 5_000,
        endsAtMs: nowMs + 60_000,
      });

      for (let i = 1; i <= commandsPerSeed; i++) {
        nowMs += random.int(0, 120);
        const roll = random.next();
        const buyerId = random.int(1, 45);
        const liveOrders = [...model.orders.keys()];
        let input: CommandInput;
        if (roll < 0.45) {
          const lineCount = random.chance(0.03) ? random.int(5, 6) : random.int(1, 3);
          const lines = Array.from({ length: Math.min(lineCount, 8) }, () => {
            const skuId = random.chance(0.04) ? random.int(5, 9) : random.pick([1, 1, 1, 2, 2, 3, 4]);
            const p = model.products.get(skuId);
            const unitPriceMinor = p && !random.chance(0.05) ? p.priceMinor : random.int(1, 20_000);
            return {
              skuId,
              quantity: random.chance(0.03) ? random.int(-1, 7) : random.int(1, 2),
              unitPriceMinor,
            };
          });
          const honestTotal = lines.reduce((sum, l) => sum + l.unitPriceMinor * Math.max(l.quantity, 0), 0);
          input = {
            type: 'placeOrder',
            buyerId,
            requestId: requestId++,
            totalMinor: random.chance(0.03) ? honestTotal + 1 : honestTotal,
            lines,
          };
          sent.push(input);
        } else if (roll < 0.52 && sent.length > 0) {
          input = random.pick(sent); // a retry of an earlier request, byte for byte
        } else if (roll < 0.7 && liveOrders.length > 0) {
          const orderId = random.chance(0.05) ? random.int(1, 10_000) : random.pick(liveOrders);
          const order = model.orders.get(orderId);
          const outcome = random.chance(0.75) ? PaymentOutcome.succeeded : PaymentOutcome.declined;
          const amountMinor = order && !random.chance(0.04) ? order.totalMinor : random.int(1, 1000);
          input = { type: 'paymentResult', orderId, outcome, amountMinor };
        } else if (roll < 0.78 && liveOrders.length > 0) {
          const orderId = random.pick(liveOrders);
          const owner = model.orders.get(orderId)!.buyerId;
          input = {
            type: 'cancelOrder',
            buyerId: random.chance(0.9) ? owner : buyerId,
            requestId: requestId++,
            orderId,
          };
        } else if (roll < 0.9) {
          nowMs += random.chance(0.1) ? random.int(1_000, 6_000) : 0;
          input = { type: 'tick' };
        } else if (roll < 0.94) {
          input = { type: 'restock', skuId: random.int(0, 5), quantity: random.int(-1, 4) };
        } else if (roll < 0.97) {
          const skuId = random.int(1, 5);
          const price = model.products.get(skuId)?.priceMinor ?? 100;
          input = {
            type: 'setPrice',
            skuId,
            priceMinor: random.chance(0.5) ? price : price + random.int(-50, 50),
          };
        } else {
          input = { type: 'blockBuyer', buyerId, blocked: random.chance(0.6) };
        }
        step(i, input);

        if (random.chance(0.004)) snapshot = encodeSnapshot(engine.state);
        if (random.chance(0.003)) {
          // Crash: all that survives is the last snapshot and the journal.
          const liveHash = stateHash(engine.state);
          const recovered = replayAll(engine.journal, decodeSnapshot(snapshot), snapshotLastSeq(snapshot));
          t.equal(stateHash(recovered), liveHash, `recovered state hash ${where(i)}`);
          t.same(checkInvariants(recovered), [], `invariants after recovery ${where(i)}`);
          engine.restart(recovered);
          crashes++;
        }
      }
    } catch (error) {
      if (!(error instanceof Error && (error.message === 'diverged' || error.message === 'invariant')))
        throw error;
      t.comment(`replay with SEED=${seed}`);
      return;
    }

    // Replaying the whole journal from nothing reaches the same state.
    const fromScratch = replayAll(engine.journal, new EngineState(limits), 0);
    t.equal(stateHash(fromScratch), stateHash(engine.state), `full replay hash (SEED=${seed})`);
    const paid = [...model.orders.values()].filter((o) => o.status === OrderStatus.checkoutSuccess).length;
    t.comment(`seed ${seed}: ${engine.journal.length} events, ${crashes} crashes, ${paid} paid orders held`);
    // The run must have exercised the interesting paths, or it proves little.
    for (const path of [
      'placeOrder:ok',
      'placeOrder:soldOut',
      'paymentResult:ok',
      'cancelOrder:ok',
      'placeOrder:priceChanged',
    ]) {
      t.ok((counts.get(path) ?? 0) > 0, `exercised ${path} (SEED=${seed})`);
    }
  });
}
