/**
 * The engine's invariants, checked after every command in the simulator and
 * after every replay. Returns the violations as sentences (empty = healthy),
 * so a failing test or `stampede replay` can say exactly what broke.
 *  1. available >= 0 for every SKU (no oversell);
 *  2. reserved == the sum of the live reservations of the SKU;
 *  3. stock is conserved: initial + restocked - sold == onHand;
 *  4. nobody holds more than a sale's per-buyer limit, reserved plus bought;
 *  5. the published availability equals onHand - reserved.
 * Not on the hot path: it allocates and walks everything.
 */
import { isReservingStatus } from './codes.ts';
import { type EngineState, Scalar } from './state.ts';

export function checkInvariants(state: EngineState): string[] {
  const problems: string[] = [];
  const limits = state.limits;
  const reservedBySku = new Float64Array(limits.skusMax + 1);
  const freeCount = state.scalars[Scalar.orderFreeCount]!;
  const used = new Uint8Array(limits.ordersMax);
  for (let i = 0; i < freeCount; i++) used[state.orderFreeSlots[i]!] = 2;
  for (let slot = 0; slot < limits.ordersMax; slot++) {
    if (used[slot] === 2 || !isReservingStatus(state.orderStatus[slot]!)) continue;
    const base = slot * limits.linesPerOrderMax;
    for (let i = 0; i < state.orderLineCount[slot]!; i++) {
      const skuId = state.orderLineSkuId[base + i]!;
      reservedBySku[skuId] = reservedBySku[skuId]! + state.orderLineQuantity[base + i]!;
    }
  }
  for (let skuId = 1; skuId <= limits.skusMax; skuId++) {
    if (state.skuExists[skuId] !== 1) continue;
    const onHand = state.skuOnHand[skuId]!;
    const reserved = state.skuReserved[skuId]!;
    if (onHand - reserved < 0) problems.push(`sku ${skuId}: available ${onHand - reserved} < 0 (oversold)`);
    if (reserved !== reservedBySku[skuId]) {
      problems.push(
        `sku ${skuId}: reserved ${reserved} but live reservations sum to ${reservedBySku[skuId]}`,
      );
    }
    const expectedOnHand = state.skuStockInitial[skuId]! + state.skuRestocked[skuId]! - state.skuSold[skuId]!;
    if (onHand !== expectedOnHand) {
      problems.push(
        `sku ${skuId}: onHand ${onHand} != initial ${state.skuStockInitial[skuId]} + restocked ${state.skuRestocked[skuId]} - sold ${state.skuSold[skuId]}`,
      );
    }
    if (state.availability[skuId] !== onHand - reserved) {
      problems.push(
        `sku ${skuId}: published availability ${state.availability[skuId]} != ${onHand - reserved}`,
      );
    }
  }
  forEachPair(state, (buyerId, skuId, units) => {
    const limit = state.skuLimitPerBuyer[skuId]!;
    if (units < 0) problems.push(`buyer ${buyerId} sku ${skuId}: negative units ${units}`);
    if (limit > 0 && units > limit)
      problems.push(`buyer ${buyerId} sku ${skuId}: holds ${units} > limit ${limit}`);
  });
  return problems;
}

/** Visits every (buyer, SKU) pair with its units reserved or bought. */
export function forEachPair(
  state: EngineState,
  visit: (buyerId: number, skuId: number, units: number) => void,
): void {
  state.pairIndex.forEach((buyerId, skuId, _unused, pair) => {
    visit(buyerId, skuId, state.pairUnits[pair]!);
  });
}
