/**
 * The flash-sale audit must catch a wrong sale: each case takes a correct
 * outcome (which passes), breaks one thing the way a broken store or client
 * would, and expects the audit to fail naming it.
 */
import t from 'tap';
import { auditSale, type SaleOutcome } from './flash-sale-audit.ts';
import { Outcome, outcomeKinds } from './flash-sale-recorder.ts';

const buyers = 1000;
const stock = 100;

/**
 * A sale that went right: 2 SKUs of 100 units; on SKU 1, 80 buyers paid, 10
 * hold a reservation and 10 were declined (their units came back and sold to
 * later buyers, so 90 units are gone: 80 sold + 10 reserved, 10 available);
 * SKU 2 sold out exactly; everyone else was told "sold out".
 */
function correctOutcome(): SaleOutcome {
  const told = new Int32Array(2 * outcomeKinds);
  const tell = (skuIndex: number, kind: Outcome, n: number): void => {
    told[skuIndex * outcomeKinds + kind] = n;
  };
  tell(0, Outcome.paid, 80);
  tell(0, Outcome.holding, 10);
  tell(0, Outcome.released, 10);
  tell(0, Outcome.soldOut, 500);
  tell(1, Outcome.paid, 100);
  tell(1, Outcome.soldOut, 300);
  return {
    system: 'test',
    buyers,
    limitPerBuyer: 1,
    finalAnswerCounts: new Uint8Array(buyers).fill(1),
    toldBySku: told,
    store: {
      skus: [
        { skuId: 1, initial: stock, sold: 80, reserved: 10, available: 10 },
        { skuId: 2, initial: stock, sold: 100, reserved: 0, available: 0 },
      ],
      ordersSold: 180,
      ordersHolding: 10,
      ordersReleased: 10,
      ordersPerBuyerMax: 1,
    },
    extraChecks: [{ name: 'journal replay == live state', ok: true, detail: 'same hash' }],
  };
}

/** Index of (SKU, kind) in toldBySku. */
const slot = (skuIndex: number, kind: Outcome): number => skuIndex * outcomeKinds + kind;

t.test('a correct sale passes', async (t) => {
  t.same(auditSale(correctOutcome()), { ok: true, problems: [] });
});

t.test('an oversell fails: more sold than there was', async (t) => {
  const o = correctOutcome();
  o.store.skus[1] = { skuId: 2, initial: stock, sold: 101, reserved: 0, available: -1 };
  o.store.ordersSold = 181;
  o.toldBySku[slot(1, Outcome.paid)] = 101;
  o.toldBySku[slot(1, Outcome.soldOut)] = 299;
  const audit = auditSale(o);
  t.equal(audit.ok, false);
  t.match(audit.problems.join('\n'), /SKU 2: negative stock \(oversold\)/);
});

t.test('a unit lost between the counters fails conservation', async (t) => {
  const o = correctOutcome();
  o.store.skus[0]!.available = 9;
  const audit = auditSale(o);
  t.equal(audit.ok, false);
  t.match(
    audit.problems.join('\n'),
    /SKU 1: stock not conserved: sold 80 \+ reserved 10 \+ available 9 = 99, initial 100/,
  );
});

t.test('a double buy fails: one buyer holding two units of a SKU', async (t) => {
  const o = correctOutcome();
  o.store.ordersPerBuyerMax = 2;
  const audit = auditSale(o);
  t.equal(audit.ok, false);
  t.match(audit.problems.join('\n'), /a buyer holds or bought 2 units of one SKU, the limit is 1/);
});

t.test('a missing answer fails, naming the first buyer without one', async (t) => {
  const o = correctOutcome();
  o.finalAnswerCounts[41] = 0;
  const audit = auditSale(o);
  t.equal(audit.ok, false);
  t.match(audit.problems.join('\n'), /1 got none, 0 got several \(first: buyer 42\)/);
});

t.test('two final answers for one buyer fail', async (t) => {
  const o = correctOutcome();
  o.finalAnswerCounts[7] = 2;
  const audit = auditSale(o);
  t.equal(audit.ok, false);
  t.match(audit.problems.join('\n'), /0 got none, 1 got several \(first: buyer 8\)/);
});

t.test('a sale the buyers were not told of fails', async (t) => {
  const o = correctOutcome();
  o.toldBySku[slot(0, Outcome.paid)] = 79;
  o.toldBySku[slot(0, Outcome.soldOut)] = 501;
  const audit = auditSale(o);
  t.equal(audit.ok, false);
  t.match(audit.problems.join('\n'), /SKU 1: 80 units sold, but 79 buyers were told they bought one/);
});

t.test('counters that disagree with the orders fail', async (t) => {
  const o = correctOutcome();
  o.store.ordersHolding = 11;
  o.store.ordersReleased = 9;
  const audit = auditSale(o);
  t.equal(audit.ok, false);
  t.match(audit.problems.join('\n'), /10 units reserved by the stock counters, 11 held orders/);
  t.match(
    audit.problems.join('\n'),
    /11 orders hold a reservation, but only 10 buyers were told they have one/,
  );
});

t.test('"sold out" while units were never sold fails', async (t) => {
  const o = correctOutcome();
  // SKU 2 kept 5 units although nothing of it was ever taken back.
  o.store.skus[1] = { skuId: 2, initial: stock, sold: 95, reserved: 0, available: 5 };
  o.store.ordersSold = 175;
  o.toldBySku[slot(1, Outcome.paid)] = 95;
  o.toldBySku[slot(1, Outcome.soldOut)] = 305;
  const audit = auditSale(o);
  t.equal(audit.ok, false);
  t.match(audit.problems.join('\n'), /SKU 2: 305 buyers were told "sold out" while 5 units were never sold/);
});

t.test('errors instead of answers fail', async (t) => {
  const o = correctOutcome();
  o.toldBySku[slot(1, Outcome.soldOut)] = 299;
  o.toldBySku[slot(1, Outcome.failed)] = 1;
  const audit = auditSale(o);
  t.equal(audit.ok, false);
  t.match(audit.problems.join('\n'), /1 buyers got an error instead of a business answer/);
});

t.test("a system's own failed check (replay hash) fails the audit", async (t) => {
  const o = correctOutcome();
  o.extraChecks.push({ name: 'journal replay == live state', ok: false, detail: 'hash a != hash b' });
  const audit = auditSale(o);
  t.equal(audit.ok, false);
  t.same(audit.problems, ['journal replay == live state: hash a != hash b']);
});
