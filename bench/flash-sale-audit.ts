/**
 * The audit every system of `stampede bench flash-sale` must pass, Stampede
 * and each baseline alike: what the store says after the sale against what
 * the buyers were told. Pure (no I/O), so a test can feed it a deliberately
 * wrong outcome and see it fail. Runs on the bench's main thread.
 *
 * Checks, each failure one sentence with the numbers:
 *   - stock is conserved per SKU: sold + reserved + available == initial, none negative
 *   - the stock counters agree with the orders (sold units == paid orders, reserved == held orders)
 *   - every unit sold was sold to a buyer who was told so, per SKU
 *   - every reservation a buyer was told of is in the store, and no other
 *   - nobody holds or bought more than the per-buyer limit of a SKU
 *   - every buyer got exactly one final answer, and none of them an error
 *   - nobody was told "sold out" while stock of that SKU was never taken back
 *     and is still there at the end
 *   - system-specific checks (journal replay == live state hash, read API == journal)
 */
import { Outcome, outcomeKinds, outcomeNames } from './flash-sale-recorder.ts';

export interface SkuStock {
  skuId: number;
  initial: number;
  sold: number;
  reserved: number;
  available: number;
}

/** What one system's sale ended with: what the clients were told and what the store says. */
export interface SaleOutcome {
  system: string;
  buyers: number;
  limitPerBuyer: number;
  /** Final answers each buyer received, indexed by buyerId - 1 (counted by the clients). */
  finalAnswerCounts: Uint8Array;
  /** toldBySku[skuIndex * outcomeKinds + Outcome.x]: the buyers' final answers by SKU and kind. */
  toldBySku: Int32Array;
  /** The store's own view after the sale; skus[i] is the SKU of skuIndex i. */
  store: {
    skus: SkuStock[];
    /** Orders holding sold stock (paid), by the store's order records. */
    ordersSold: number;
    /** Orders holding a reservation (unpaid). */
    ordersHolding: number;
    /** Orders whose reservation was released (declined, timed out, canceled, failed). */
    ordersReleased: number;
    /** Most orders holding or having bought stock of one SKU for one buyer. */
    ordersPerBuyerMax: number;
  };
  /** System-specific checks (replay hash == live hash, read API == journal, engine invariants). */
  extraChecks: { name: string; ok: boolean; detail: string }[];
}

export interface AuditResult {
  ok: boolean;
  problems: string[];
}

export function toldOf(outcome: SaleOutcome, skuIndex: number, kind: Outcome): number {
  return outcome.toldBySku[skuIndex * outcomeKinds + kind] ?? 0;
}

export function toldTotal(outcome: SaleOutcome, kind: Outcome): number {
  let total = 0;
  for (let i = 0; i < outcome.store.skus.length; i++) total += toldOf(outcome, i, kind);
  return total;
}

export function auditSale(outcome: SaleOutcome): AuditResult {
  const problems: string[] = [];
  const { store, buyers } = outcome;
  if (outcome.toldBySku.length !== store.skus.length * outcomeKinds)
    problems.push(
      `the clients' answers cover ${outcome.toldBySku.length / outcomeKinds} SKUs, the store ${store.skus.length}`,
    );

  let soldTotal = 0;
  let reservedTotal = 0;
  store.skus.forEach((sku, i) => {
    soldTotal += sku.sold;
    reservedTotal += sku.reserved;
    const conserved = sku.sold + sku.reserved + sku.available;
    if (conserved !== sku.initial)
      problems.push(
        `SKU ${sku.skuId}: stock not conserved: sold ${sku.sold} + reserved ${sku.reserved} + available ${sku.available} = ${conserved}, initial ${sku.initial}`,
      );
    if (sku.sold < 0 || sku.reserved < 0 || sku.available < 0)
      problems.push(
        `SKU ${sku.skuId}: negative stock (oversold): sold ${sku.sold}, reserved ${sku.reserved}, available ${sku.available}`,
      );
    const toldPaid = toldOf(outcome, i, Outcome.paid);
    if (toldPaid !== sku.sold)
      problems.push(
        `SKU ${sku.skuId}: ${sku.sold} units sold, but ${toldPaid} buyers were told they bought one`,
      );
    const toldHolding = toldOf(outcome, i, Outcome.holding);
    const neverTakenBack = toldOf(outcome, i, Outcome.released) === 0 && toldHolding === sku.reserved;
    const toldSoldOut = toldOf(outcome, i, Outcome.soldOut);
    if (neverTakenBack && sku.available > 0 && toldSoldOut > 0)
      problems.push(
        `SKU ${sku.skuId}: ${toldSoldOut} buyers were told "sold out" while ${sku.available} units were never sold`,
      );
  });

  if (soldTotal !== store.ordersSold)
    problems.push(
      `${soldTotal} units sold by the stock counters, ${store.ordersSold} paid orders in the store`,
    );
  if (reservedTotal !== store.ordersHolding)
    problems.push(
      `${reservedTotal} units reserved by the stock counters, ${store.ordersHolding} held orders`,
    );
  const toldHolding = toldTotal(outcome, Outcome.holding);
  const toldReservations = toldHolding + toldTotal(outcome, Outcome.released);
  const storeReservations = store.ordersHolding + store.ordersReleased;
  if (toldReservations !== storeReservations)
    problems.push(
      `${toldReservations} buyers were told they got a reservation that is not sold, the store has ${storeReservations} such orders (held ${store.ordersHolding}, released ${store.ordersReleased})`,
    );
  // An abandoned reservation may expire during the run: then the buyer was told "held" and the store released it.
  if (toldHolding < store.ordersHolding)
    problems.push(
      `${store.ordersHolding} orders hold a reservation, but only ${toldHolding} buyers were told they have one`,
    );
  if (store.ordersPerBuyerMax > outcome.limitPerBuyer)
    problems.push(
      `a buyer holds or bought ${store.ordersPerBuyerMax} units of one SKU, the limit is ${outcome.limitPerBuyer} (a double buy)`,
    );

  if (outcome.finalAnswerCounts.length !== buyers)
    problems.push(`answer counts for ${outcome.finalAnswerCounts.length} buyers, expected ${buyers}`);
  let missing = 0;
  let duplicated = 0;
  let firstBad = -1;
  for (let i = 0; i < outcome.finalAnswerCounts.length; i++) {
    const count = outcome.finalAnswerCounts[i]!;
    if (count === 1) continue;
    if (firstBad < 0) firstBad = i + 1;
    if (count === 0) missing++;
    else duplicated++;
  }
  if (missing + duplicated > 0)
    problems.push(
      `not every buyer got exactly one final answer: ${missing} got none, ${duplicated} got several (first: buyer ${firstBad})`,
    );
  const failed = toldTotal(outcome, Outcome.failed);
  if (failed > 0) problems.push(`${failed} buyers got an error instead of a business answer`);

  for (const check of outcome.extraChecks) if (!check.ok) problems.push(`${check.name}: ${check.detail}`);
  return { ok: problems.length === 0, problems };
}

/** The buyers' final answers by kind, summed over SKUs ("paid 9000, soldOut 190000, ..."). */
export function toldSummary(outcome: SaleOutcome): Record<string, number> {
  const summary: Record<string, number> = {};
  for (let kind = 1; kind < outcomeKinds; kind++) {
    const n = toldTotal(outcome, kind as Outcome);
    if (n > 0) summary[outcomeNames[kind]!] = n;
  }
  return summary;
}
