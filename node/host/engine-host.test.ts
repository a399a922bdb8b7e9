/**
 * The node end to end on real files and real threads: replies are released
 * only after their events are fsynced; a clean stop writes a snapshot that a
 * restart resumes from with the same state hash; a crash (threads killed, no
 * drain) loses no acknowledged order; a torn journal tail is repaired at
 * start-up; `stampede replay` and `stampede prune` work on the data directory.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { OrderStatus, ResultCode } from '../../engine/codes.ts';
import { CommandClient } from '../../engine/command-client.ts';
import type { CommandInput } from '../../engine/commands.ts';
import { orderSlotOf } from '../../engine/evolve.ts';
import { checkInvariants } from '../../engine/invariants.ts';
import { packCurrency } from '../../engine/layout.ts';
import { engineLimits } from '../../engine/limits.ts';
import { stateHash } from '../../engine/state-hash.ts';
import { type EngineAnswer, EngineCommands } from '../../gateways/engine-commands.ts';
import { journalDir } from '../../journal/journal-backend.ts';
import { snapshotsDir } from '../../journal/snapshot-store.ts';
import { tempDataDir } from '../../lib/temp-data-dir.ts';
import { EngineHost } from './engine-host.ts';
import { recoverState } from './recovery.ts';

const limits = engineLimits({ skusMax: 100, ordersMax: 10_000, buyersMax: 10_000, requestIdsMax: 20_000 });

interface Answer extends EngineAnswer {
  durableAtRelease: number;
}

/** One command through the gateway's path into the engine; notes how durable the journal was at release. */
async function send(client: CommandClient, host: EngineHost, input: CommandInput): Promise<Answer> {
  const pending = new EngineCommands(client).submit(input);
  if (pending === null) throw new Error('ring full');
  const answer = await pending;
  return { ...answer, durableAtRelease: host.control.durableSeq };
}

const place = (buyerId: number, requestId: number): CommandInput => ({
  type: 'placeOrder',
  buyerId,
  requestId,
  totalMinor: 500,
  lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 500 }],
});

t.test('replies wait for fsync; a clean stop and restart keep the exact state', async (t) => {
  const dataDir = tempDataDir(t, 'host');
  const host = await EngineHost.start({ dataDir, limits });
  const client = new CommandClient(host.producers[0]!, host.control);
  const added = await send(client, host, {
    type: 'addProduct',
    skuId: 1,
    priceMinor: 500,
    currency: packCurrency('USD'),
    stock: 300,
  });
  t.equal(added.result, ResultCode.ok);
  const answers = await Promise.all(
    Array.from({ length: 400 }, (_, i) => send(client, host, place(i + 1, 1))),
  );
  t.equal(answers.filter((a) => a.result === ResultCode.ok).length, 300, '300 units, 300 orders');
  t.equal(answers.filter((a) => a.result === ResultCode.soldOut).length, 100);
  t.ok(
    answers.every((a) => a.durableAtRelease >= a.durableSeqNeeded),
    'no reply was released before its events were durable',
  );
  const stopped = await host.stop();
  t.ok(
    readdirSync(snapshotsDir(dataDir)).some((f) => f.endsWith('.snap')),
    'stop wrote a snapshot',
  );

  const again = await EngineHost.start({ dataDir, limits });
  t.equal(again.ready.stateHash, stopped.stateHash, 'restart reaches the same state hash');
  t.equal(again.ready.snapshotSeq, stopped.lastSeq, 'from the snapshot');
  t.equal(again.ready.eventsReplayed, 0);
  const client2 = new CommandClient(again.producers[0]!, again.control);
  const retry = await send(client2, again, place(7, 1));
  t.equal(retry.orderId, answers[6]!.orderId, 'a retry after restart gets the first answer');
  t.equal(retry.status, OrderStatus.readyForCheckout);
  await again.stop();
});

t.test('a crash loses no acknowledged order', async (t) => {
  const dataDir = tempDataDir(t, 'host');
  const host = await EngineHost.start({ dataDir, limits });
  const client = new CommandClient(host.producers[0]!, host.control);
  await send(client, host, {
    type: 'addProduct',
    skuId: 1,
    priceMinor: 500,
    currency: packCurrency('USD'),
    stock: 5000,
  });
  await host.snapshot();
  const acknowledged: number[] = [];
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < 3000; i++) {
    inFlight.push(
      send(client, host, place(i + 1, 1)).then(
        (a) => {
          if (a.result === ResultCode.ok) acknowledged.push(a.orderId);
        },
        () => {},
      ),
    );
    if (i === 1500) await host.snapshot();
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  await Promise.race([Promise.all(inFlight), new Promise((r) => setTimeout(r, 5))]);
  await host.crashForTest();
  t.ok(acknowledged.length > 0, `${acknowledged.length} orders acknowledged before the crash`);

  const recovered = await EngineHost.start({ dataDir, limits });
  const state = recoverState(dataDir, limits).state;
  const missing = acknowledged.filter((orderId) => orderSlotOf(state, orderId) < 0);
  t.same(missing, [], 'every acknowledged order survived');
  t.same(checkInvariants(state), []);
  t.equal(recovered.ready.stateHash, stateHash(state));
  await recovered.stop();
});

t.test('a torn journal tail is truncated at start-up', async (t) => {
  const dataDir = tempDataDir(t, 'host');
  const host = await EngineHost.start({ dataDir, limits });
  const client = new CommandClient(host.producers[0]!, host.control);
  await send(client, host, {
    type: 'addProduct',
    skuId: 1,
    priceMinor: 500,
    currency: packCurrency('USD'),
    stock: 10,
  });
  await send(client, host, place(1, 1));
  const stopped = await host.stop();
  const segment = readdirSync(journalDir(dataDir))
    .filter((f) => f.endsWith('.seg'))
    .sort()
    .pop()!;
  appendFileSync(
    join(journalDir(dataDir), segment),
    Buffer.from('STJ1 half a record that never got its fsync'),
  );
  const logs: string[] = [];
  const again = await EngineHost.start({ dataDir, limits, log: (m) => logs.push(m) });
  t.equal(again.ready.stateHash, stopped.stateHash);
  t.ok(
    logs.some((m) => /truncat/i.test(m)),
    `the repair is logged: ${logs.join(' | ')}`,
  );
  await again.stop();
});

t.test('two nodes cannot share a data directory', async (t) => {
  const dataDir = tempDataDir(t, 'host');
  const host = await EngineHost.start({ dataDir, limits });
  await t.rejects(EngineHost.start({ dataDir, limits }), { code: 'DATA_DIR_LOCKED' });
  await host.stop();
  await t.rejects(
    EngineHost.start({ dataDir, limits: { ...limits, ordersMax: 20_000 } }),
    { code: 'DATA_DIR_LIMITS_MISMATCH', message: /ordersMax 10000 here, 20000 asked/ },
    'a directory keeps the limits it was created with',
  );
});

t.test('when the journal fails the node stops taking commands and says so', async (t) => {
  const dataDir = tempDataDir(t, 'host');
  const host = await EngineHost.start({ dataDir, limits });
  const failed = new Promise<Error>((resolve) => host.onFailure(resolve));
  host.control.setJournalFailed(); // what the journal thread does on JOURNAL_IO
  const error = await failed;
  t.match(error.message, /journal failed/);
  t.notOk(host.control.engineRunning, 'the engine left its loop');
  const client = new CommandClient(host.producers[0]!, host.control);
  let unavailable = 0;
  const receiver = {
    onReply: () => t.fail('no reply after the failure'),
    onUnavailable: () => unavailable++,
  };
  t.ok(
    client.submit(() => {}, receiver),
    'a command after the failure is taken',
  );
  t.equal(unavailable, 1, 'and told at once that the journal is unavailable');
  await t.rejects(host.stop(), /journal failed/, 'stop releases the failed threads and says why');
});

t.test('stampede replay and prune on a data directory', async (t) => {
  const dataDir = tempDataDir(t, 'host');
  const host = await EngineHost.start({ dataDir, limits, segmentBytesMax: 8192, batchBytesMax: 8192 });
  const client = new CommandClient(host.producers[0]!, host.control);
  await send(client, host, {
    type: 'addProduct',
    skuId: 1,
    priceMinor: 500,
    currency: packCurrency('USD'),
    stock: 50,
  });
  const answers = await Promise.all(
    Array.from({ length: 60 }, (_, i) => send(client, host, place(i + 1, 1))),
  );
  await host.snapshot();
  await Promise.all(Array.from({ length: 100 }, (_, i) => send(client, host, place(i + 1000, 1))));
  await send(client, host, {
    type: 'paymentResult',
    orderId: answers[0]!.orderId,
    outcome: 1,
    amountMinor: 500,
  });
  const stopped = await host.stop();
  const cli = join(import.meta.dirname, '..', '..', 'cli.ts');
  const run = (...args: string[]): string =>
    execFileSync(process.execPath, ['--import=tsx', cli, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const summary = JSON.parse(run('replay', '--data', dataDir, '--from-scratch', '--json')) as {
    stateHash: string;
    invariantViolations: string[];
    ordersByStatus: Record<string, number>;
    stock: { skuId: number; onHand: number; reserved: number; sold: number }[];
  };
  t.equal(summary.stateHash, stopped.stateHash, 'replay from scratch gives the live hash');
  t.same(summary.invariantViolations, []);
  t.same(summary.ordersByStatus, { ready_for_checkout: 49, checkout_success: 1 });
  t.same(
    summary.stock,
    [{ skuId: 1, onHand: 49, reserved: 49, available: 0, sold: 1 }],
    'the late 100 were sold out',
  );
  t.match(run('replay', '--data', dataDir), /state hash: [0-9a-f]{16}/);
  const events = run('replay', '--data', dataDir, '--events', '--from', '2')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  t.equal(events[0].seq, 2, 'events from the asked sequence');
  t.equal(events[0].orderCreated.buyerId, 1, 'as protobuf JSON');
  t.equal(events[1].orderStatusChanged.status, 'ORDER_STATUS_CHECKED_INVENTORY');
  const segmentsBefore = readdirSync(journalDir(dataDir)).length;
  t.match(run('prune', '--data', dataDir), /removed \d+ segment/);
  t.ok(readdirSync(journalDir(dataDir)).length < segmentsBefore, 'covered segments are gone');
  const afterPrune = JSON.parse(run('replay', '--data', dataDir, '--json')) as { stateHash: string };
  t.equal(afterPrune.stateHash, stopped.stateHash, 'snapshot + remaining journal still give the same state');
});
