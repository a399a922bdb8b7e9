/**
 * The sandbox provider on its own: each payment is answered once, after its
 * delay, in the order payments started, with the seeded draw; payments due
 * together are answered together (one task, so one publish to the engine,
 * not one per payment); a second start for an order in flight
 * and a start past the bound change nothing; close() answers nothing more.
 */
import t from 'tap';
import { loadConfig } from './config.ts';
import { SandboxPayments } from './payments-sandbox.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Settled {
  orderId: number;
  outcome: string;
  amountMinor: number;
  atMs: number;
  task: number;
}

function sandbox(options: {
  delayMs: number;
  successRate: number;
  declineRate: number;
  inFlightMax?: number;
}): {
  payments: SandboxPayments;
  settled: Settled[];
} {
  const settled: Settled[] = [];
  // Answers given with no microtask checkpoint between them share a task number: that is what lets the
  // engine commands they submit go out in one publish.
  let task = 0;
  let taskOpen = false;
  const payments = new SandboxPayments({ seed: 11, ...options }, (orderId, outcome, amountMinor) => {
    if (!taskOpen) {
      taskOpen = true;
      task++;
      queueMicrotask(() => {
        taskOpen = false;
      });
    }
    settled.push({ orderId, outcome, amountMinor, atMs: performance.now(), task });
  });
  return { payments, settled };
}

t.test('by default every payment is answered; no answer is an option', async (t) => {
  const { successRate, declineRate } = loadConfig({ env: {} }).payments.sandbox;
  const { payments, settled } = sandbox({ delayMs: 1, successRate, declineRate });
  for (let orderId = 1; orderId <= 1000; orderId++) payments.start(orderId, 100);
  while (payments.started > settled.length + payments.unanswered) await sleep(5);
  t.equal(payments.unanswered, 0, 'none of 1000 payments went unanswered');
  t.equal(settled.length, 1000);
  const quiet = sandbox({ delayMs: 1, successRate: 0.5, declineRate: 0.3 });
  for (let orderId = 1; orderId <= 1000; orderId++) quiet.payments.start(orderId, 100);
  while (quiet.payments.started > quiet.settled.length + quiet.payments.unanswered) await sleep(5);
  t.ok(quiet.payments.unanswered > 100, 'rates below 1 in sum leave the rest unanswered');
});

t.test('each payment is answered once, after its delay, in the order started', async (t) => {
  const { payments, settled } = sandbox({ delayMs: 30, successRate: 0.5, declineRate: 0.3 });
  const startedAtMs = performance.now();
  // Started back to back (an assertion per start would spread them over milliseconds).
  const starts = Array.from({ length: 200 }, (_, i) => payments.start(i + 1, (i + 1) * 100));
  t.ok(
    starts.every((s) => s === 'started'),
    'all started',
  );
  t.equal(payments.start(7, 700), 'alreadyPending', 'a second start for an order in flight');
  await sleep(5);
  t.equal(settled.length, 0, 'nothing before the delay');
  await sleep(80);
  t.equal(payments.started, 200);
  t.equal(
    payments.succeeded + payments.declined + payments.unanswered,
    200,
    'every payment answered or dropped',
  );
  t.ok(
    payments.unanswered > 0 && payments.declined > 0 && payments.succeeded > 0,
    'all three outcomes drawn',
  );
  t.equal(settled.length, payments.succeeded + payments.declined, 'a settle per answered payment');
  t.same(
    settled.map((s) => s.orderId),
    [...settled.map((s) => s.orderId)].sort((a, b) => a - b),
    'in start order',
  );
  t.ok(
    settled.every((s) => s.amountMinor === s.orderId * 100),
    'each with its own amount',
  );
  t.ok(
    settled.every((s) => s.atMs - startedAtMs >= 29),
    'none before its delay (timer granularity aside)',
  );
  // Started within a millisecond or so (a few more if the machine is loaded): a tick answers everything
  // due by then, so a handful of tasks, where a timer per payment made one each (about 180 here).
  t.ok(
    new Set(settled.map((s) => s.task)).size <= 20,
    'payments due together are answered together, in a handful of tasks',
  );
  const outcomes = settled.map((s) => [s.orderId, s.outcome]);
  t.equal(payments.start(7, 700), 'started', 'an answered order can pay again');

  // The same seed draws the same outcomes.
  const again = sandbox({ delayMs: 1, successRate: 0.5, declineRate: 0.3 });
  for (let orderId = 1; orderId <= 200; orderId++) again.payments.start(orderId, orderId * 100);
  await sleep(30);
  t.same(
    again.settled.map((s) => [s.orderId, s.outcome]),
    outcomes,
    'seeded: the same outcomes for the same starts',
  );
  payments.close();
  again.payments.close();
});

t.test('payments started later are answered later, in a later task', async (t) => {
  const { payments, settled } = sandbox({ delayMs: 10, successRate: 1, declineRate: 0 });
  payments.start(1, 100);
  await sleep(25);
  payments.start(2, 200);
  payments.start(3, 300);
  await sleep(40);
  t.same(
    settled.map((s) => s.orderId),
    [1, 2, 3],
  );
  t.not(settled[0]!.task, settled[1]!.task, 'the first in its own task');
  payments.close();
});

t.test('bounded, and close() answers nothing more', async (t) => {
  const { payments, settled } = sandbox({ delayMs: 20, successRate: 1, declineRate: 0, inFlightMax: 3 });
  t.same(
    [1, 2, 3, 4].map((orderId) => payments.start(orderId, 1)),
    ['started', 'started', 'started', 'busy'],
  );
  payments.close();
  await sleep(50);
  t.equal(settled.length, 0, 'nothing answered after close');
  t.equal(payments.start(4, 1), 'started', 'room again after close');
  payments.close();
});
