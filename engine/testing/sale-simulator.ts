/**
 * The simulator's moving parts, shared by the in-memory simulation
 * (engine/simulation.test.ts) and the crash simulation over the real file
 * journal (node/host/crash-simulation.test.ts): the small catalog, a seeded
 * generator of random commands (many buyers, hot SKUs, payments, timeouts,
 * cancels, restocks, price changes, blocks, retries and bad commands), and a
 * step that applies one command to the engine and the reference model and
 * says how they differ, if they do.
 */
import type { SeededRandom } from '../../lib/seeded-random.ts';
import { PaymentOutcome, resultName, statusName } from '../codes.ts';
import type { CommandInput } from '../commands.ts';
import { orderSlotOf } from '../evolve.ts';
import { checkInvariants } from '../invariants.ts';
import { packCurrency, paymentReferenceCharsMax } from '../layout.ts';
import { engineLimits } from '../limits.ts';
import type { EngineHarness } from './harness.ts';
import type { ReferenceModel } from './reference-model.ts';

/** Small enough that every limit and the timer wheel get exercised. */
export const simulationLimits = engineLimits({
  skusMax: 8,
  ordersMax: 60,
  buyersMax: 40,
  buyerSkuPairsMax: 120,
  requestIdsMax: 200,
  // Small, so redeliveries older than the window are decided again.
  paymentReferencesMax: 50,
  linesPerOrderMax: 4,
  quantityPerLineMax: 5,
  orderTtlMs: 3_000,
  finalOrderRetentionMs: 4_000,
  velocityWindowMs: 1_000,
  velocityOrdersMax: 3,
  timerSlotMs: 50,
  timerSlotCount: 128,
});

export const simulationStartMs = 1_700_000_000_000;

/** Two hot SKUs with little stock, a sale with a per-buyer limit, a future sale, one SKU in another currency. */
export function simulationCatalog(nowMs: number): CommandInput[] {
  const usd = packCurrency('USD');
  return [
    { type: 'addProduct', skuId: 1, priceMinor: 1999, currency: usd, stock: 6 },
    { type: 'addProduct', skuId: 2, priceMinor: 500, currency: usd, stock: 12 },
    { type: 'addProduct', skuId: 3, priceMinor: 12_000, currency: usd, stock: 40 },
    { type: 'addProduct', skuId: 4, priceMinor: 250, currency: packCurrency('EUR'), stock: 20 },
    { type: 'configureSale', skuId: 1, limitPerBuyer: 2, startsAtMs: nowMs, endsAtMs: 0 },
    { type: 'configureSale', skuId: 5, limitPerBuyer: 1, startsAtMs: 0, endsAtMs: 0 },
    {
      type: 'configureSale',
      skuId: 3,
      limitPerBuyer: 0,
      startsAtMs: nowMs + 5_000,
      endsAtMs: nowMs + 60_000,
    },
  ];
}

/** Random commands shaped by what the model holds (live orders to pay or cancel, prices the buyer saw). */
export class RandomCommands {
  private readonly random: SeededRandom;
  private readonly sent: Extract<CommandInput, { type: 'placeOrder' }>[] = [];
  private readonly paid: Extract<CommandInput, { type: 'paymentResult' }>[] = [];
  private paymentSerial = 1;
  private requestId = 1;
  nowMs: number;

  constructor(random: SeededRandom, nowMs: number) {
    this.random = random;
    this.nowMs = nowMs;
  }

  /** The next command; advances nowMs (sometimes by seconds, so reservations expire). */
  next(model: ReferenceModel): CommandInput {
    const random = this.random;
    this.nowMs += random.int(0, 120);
    const roll = random.next();
    const buyerId = random.int(1, 45);
    const liveOrders = [...model.orders.keys()];
    if (roll < 0.45) {
      const lineCount = random.chance(0.03) ? random.int(5, 6) : random.int(1, 3);
      const lines = Array.from({ length: lineCount }, () => {
        const skuId = random.chance(0.04) ? random.int(5, 9) : random.pick([1, 1, 1, 2, 2, 3, 4]);
        const product = model.products.get(skuId);
        const unitPriceMinor = product && !random.chance(0.05) ? product.priceMinor : random.int(1, 20_000);
        return {
          skuId,
          quantity: random.chance(0.03) ? random.int(-1, 7) : random.int(1, 2),
          unitPriceMinor,
        };
      });
      const honestTotal = lines.reduce((sum, l) => sum + l.unitPriceMinor * Math.max(l.quantity, 0), 0);
      const input: CommandInput = {
        type: 'placeOrder',
        buyerId,
        requestId: this.requestId++,
        totalMinor: random.chance(0.03) ? honestTotal + 1 : honestTotal,
        lines,
      };
      this.sent.push(input);
      return input;
    }
    if (roll < 0.52 && this.sent.length > 0) return random.pick(this.sent); // a retry, byte for byte
    if (roll < 0.7 && liveOrders.length > 0) {
      const orderId = random.chance(0.05) ? random.int(1, 10_000) : random.pick(liveOrders);
      const order = model.orders.get(orderId);
      const outcome = random.chance(0.75) ? PaymentOutcome.succeeded : PaymentOutcome.declined;
      const amountMinor = order && !random.chance(0.04) ? order.totalMinor : random.int(1, 1000);
      if (this.paid.length > 0 && random.chance(0.15)) return random.pick(this.paid); // a redelivery
      if (random.chance(0.1)) return { type: 'paymentResult', orderId, outcome, amountMinor };
      // References of every length the slot holds, so every word of the layout is exercised.
      const serial = String(this.paymentSerial++);
      const length = Math.max(serial.length + 4, random.int(1, paymentReferenceCharsMax));
      const reference = `evt_${serial}`.padEnd(length, '~');
      const input: CommandInput = { type: 'paymentResult', orderId, outcome, amountMinor, reference };
      this.paid.push(input);
      return input;
    }
    if (roll < 0.78 && liveOrders.length > 0) {
      const orderId = random.pick(liveOrders);
      const owner = model.orders.get(orderId)!.buyerId;
      return {
        type: 'cancelOrder',
        buyerId: random.chance(0.9) ? owner : buyerId,
        requestId: this.requestId++,
        orderId,
      };
    }
    if (roll < 0.9) {
      if (random.chance(0.1)) this.nowMs += random.int(1_000, 6_000);
      return { type: 'tick' };
    }
    if (roll < 0.94) return { type: 'restock', skuId: random.int(0, 5), quantity: random.int(-1, 4) };
    if (roll < 0.97) {
      const skuId = random.int(1, 5);
      const price = model.products.get(skuId)?.priceMinor ?? 100;
      return {
        type: 'setPrice',
        skuId,
        priceMinor: random.chance(0.5) ? price : price + random.int(-50, 50),
      };
    }
    return { type: 'blockBuyer', buyerId, blocked: random.chance(0.6) };
  }
}

/**
 * Applies one command to both; returns a description of the first difference
 * (answer, invariants, stock, orders), or null when they agree. `path` is the
 * command type and result name, for counting which paths a run exercised.
 */
export function stepBoth(
  engine: EngineHarness,
  model: ReferenceModel,
  nowMs: number,
  input: CommandInput,
): { problem: string | null; path: string } {
  const got = engine.run(nowMs, input);
  const want = model.apply(nowMs, input);
  const path = `${input.type}:${resultName(got.result)}`;
  const answer = (r: { result: number; orderId: number; status: number; skuId: number }): string =>
    `${resultName(r.result)}/${r.orderId}/${statusName(r.status)}/sku ${r.skuId}`;
  if (
    got.result !== want.result ||
    got.orderId !== want.orderId ||
    got.status !== want.status ||
    got.skuId !== want.skuId
  ) {
    return {
      path,
      problem: `${input.type}: engine ${answer(got)}, model ${answer(want)} (${JSON.stringify(input)})`,
    };
  }
  const violations = checkInvariants(engine.state);
  if (violations.length > 0)
    return { path, problem: `invariants after ${input.type}: ${violations.join('; ')}` };
  const s = engine.state;
  for (const [skuId, p] of model.products) {
    if (s.skuOnHand[skuId] !== p.onHand || s.skuReserved[skuId] !== p.reserved) {
      return {
        path,
        problem: `${input.type}: sku ${skuId} onHand/reserved engine ${s.skuOnHand[skuId]}/${s.skuReserved[skuId]} model ${p.onHand}/${p.reserved}`,
      };
    }
  }
  if (s.orderIndex.size !== model.orders.size) {
    return {
      path,
      problem: `${input.type}: engine holds ${s.orderIndex.size} orders, model ${model.orders.size}`,
    };
  }
  for (const [orderId, order] of model.orders) {
    const slot = orderSlotOf(s, orderId);
    if (slot < 0 || s.orderStatus[slot] !== order.status) {
      const engineStatus = slot < 0 ? 'missing' : statusName(s.orderStatus[slot]!);
      return {
        path,
        problem: `${input.type}: order ${orderId} engine ${engineStatus} model ${statusName(order.status)}`,
      };
    }
  }
  return { path, problem: null };
}
