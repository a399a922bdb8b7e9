/**
 * The node on every journal, one test each, on real threads:
 * - the file journal through the journal thread's synchronous loop (the default);
 * - the file journal's JournalWriter adapter through the asynchronous loop, the one Kafka takes, so that
 *   loop and recovery through a JournalReader run here for real without a broker;
 * - Kafka, when KAFKA_BROKERS is set (a fresh topic per test); otherwise reported as skipped, by name.
 * Each: answers are released only once durable; the notify ring carries exactly the journal's records; a
 * restart from a snapshot plus the journal after it reaches the live state hash and goes on writing; a
 * full replay through the reader agrees; a crash loses no acknowledged order.
 */
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ResultCode } from '../../engine/codes.ts';
import { CommandClient } from '../../engine/command-client.ts';
import type { CommandInput } from '../../engine/commands.ts';
import { orderSlotOf } from '../../engine/evolve.ts';
import { EventSlot, packCurrency } from '../../engine/layout.ts';
import { engineLimits } from '../../engine/limits.ts';
import { type EngineAnswer, EngineCommands } from '../../gateways/engine-commands.ts';
import { kafkaSkipReason } from '../../journal/journal-contract.ts';
import { type JournalSelection, journalBackendFor } from '../../journal/journal-selection.ts';
import { kafkaJournalConfigFromEnv } from '../../journal/kafka-journal.ts';
import { listSnapshots, snapshotsDir } from '../../journal/snapshot-store.ts';
import { tempDataDir } from '../../lib/temp-data-dir.ts';
import { EngineHost } from './engine-host.ts';
import { recoverFromJournal } from './recovery.ts';
import { replayDataDir } from './replay-tool.ts';

const limits = engineLimits({ skusMax: 100, ordersMax: 10_000, buyersMax: 10_000, requestIdsMax: 20_000 });

interface Answer extends EngineAnswer {
  durableAtRelease: number;
}

/** One client per host: a client owns its producer ring's reply side. */
const clients = new WeakMap<EngineHost, EngineCommands>();

async function send(host: EngineHost, input: CommandInput): Promise<Answer> {
  let commands = clients.get(host);
  if (commands === undefined) {
    commands = new EngineCommands(new CommandClient(host.producers[0]!, host.control));
    clients.set(host, commands);
  }
  const pending = commands.submit(input);
  if (pending === null) throw new Error('ring full');
  const answer = await pending;
  return { ...answer, durableAtRelease: host.control.durableSeq };
}

const addProduct = (stock: number): CommandInput => ({
  type: 'addProduct',
  skuId: 1,
  priceMinor: 500,
  currency: packCurrency('USD'),
  stock,
});

const place = (buyerId: number, requestId: number): CommandInput => ({
  type: 'placeOrder',
  buyerId,
  requestId,
  totalMinor: 500,
  lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 500 }],
});

/** Every event the notify ring holds now, as seq:type. */
function drainNotify(host: EngineHost): string[] {
  const ring = host.notify!;
  const seen: string[] = [];
  for (let count = ring.available(4096); count > 0; count = ring.available(4096)) {
    for (let i = 0; i < count; i++) {
      const at = ring.slotOffset(i);
      seen.push(`${ring.f64[(at + EventSlot.seq) >> 1]}:${ring.words[at + EventSlot.type]}`);
    }
    ring.release(count);
  }
  return seen;
}

/** Every journal record from seq 1, as seq:type, through the selected journal's reader. */
async function journalRecords(selection: JournalSelection, dataDir: string): Promise<string[]> {
  const reader = (await journalBackendFor(selection, dataDir)).openReader();
  try {
    const records: string[] = [];
    await reader.scan(1, (seq, type) => records.push(`${seq}:${type}`));
    return records;
  } finally {
    await reader.close();
  }
}

/** Small batches, so both loops meet full batches and the file journal rolls segments. */
const smallBatches = { segmentBytesMax: 16_384, batchBytesMax: 8192 };

/** The node's tests on one journal; `skip` reports them skipped under the same names. */
function nodeTests(name: string, journal: () => JournalSelection, options: { skip?: string } = {}): void {
  const title = `${name}: answers only when durable; a restart from snapshot + journal keeps the exact state`;
  t.test(title, options, async (t) => {
    const dataDir = tempDataDir(t, 'journals');
    const selection = journal();
    const start = (): Promise<EngineHost> =>
      EngineHost.start({ dataDir, limits, journal: selection, notifyRingSlots: 8192, ...smallBatches });
    const host = await start();
    t.equal((await send(host, addProduct(300))).result, ResultCode.ok);
    const answers = await Promise.all(Array.from({ length: 400 }, (_, i) => send(host, place(i + 1, 1))));
    const sold = answers.filter((a) => a.result === ResultCode.ok);
    t.equal(sold.length, 300, '300 units, 300 orders');
    t.equal(answers.filter((a) => a.result === ResultCode.soldOut).length, 100);
    t.ok(
      answers.every((a) => a.durableAtRelease >= a.durableSeqNeeded),
      'no reply was released before its events were durable',
    );
    const snapshot = await host.snapshot();
    // After the snapshot: payments and late buyers, which the restart must replay from the journal.
    await Promise.all(
      sold
        .slice(0, 40)
        .map((a) => send(host, { type: 'paymentResult', orderId: a.orderId, outcome: 1, amountMinor: 500 })),
    );
    await Promise.all(Array.from({ length: 60 }, (_, i) => send(host, place(1000 + i, 1))));
    await host.waitDurable(host.control.engineLastSeq);
    const notified = drainNotify(host);
    const stopped = await host.stop();
    t.equal(host.control.notifyDroppedCount, 0, 'the notify ring never overflowed');
    const records = await journalRecords(selection, dataDir);
    t.equal(records.length, stopped.lastSeq, 'the journal holds every event, seqs 1..last');
    t.same(notified, records, 'the notify ring carried exactly the journal, in order');

    // Drop the stop's snapshot: the restart must read the journal after the earlier one.
    unlinkSync(join(snapshotsDir(dataDir), listSnapshots(dataDir)[0]!.file));
    const again = await start();
    t.equal(again.ready.snapshotSeq, snapshot.lastSeq, 'recovered from the earlier snapshot');
    t.equal(again.ready.eventsReplayed, stopped.lastSeq - snapshot.lastSeq, 'plus the journal after it');
    t.equal(again.ready.stateHash, stopped.stateHash, 'the state hash the node stopped with');
    const unpaid = sold[200]!;
    const retry = await send(again, place(answers.indexOf(unpaid) + 1, 1));
    t.equal(retry.orderId, unpaid.orderId, 'a retry after restart gets the first answer');
    const paid = await send(again, {
      type: 'paymentResult',
      orderId: sold[100]!.orderId,
      outcome: 1,
      amountMinor: 500,
    });
    t.equal(paid.result, ResultCode.ok, 'the restarted node writes on where the journal ends');
    const final = await again.stop();

    const reader = (await journalBackendFor(selection, dataDir)).openReader();
    t.teardown(() => reader.close());
    const replayed = await replayDataDir(dataDir, reader, { limits, fromScratch: true });
    t.equal(replayed.stateHash, final.stateHash, 'a full replay through the reader gives the live hash');
    t.same(replayed.invariantViolations, []);
    t.equal(replayed.snapshotSeq, 0);
    t.same(replayed.stock, [{ skuId: 1, onHand: 259, reserved: 259, available: 0, sold: 41 }]);
  });

  t.test(`${name}: a crash loses no acknowledged order`, options, async (t) => {
    const dataDir = tempDataDir(t, 'journals');
    const selection = journal();
    const host = await EngineHost.start({ dataDir, limits, journal: selection, ...smallBatches });
    await send(host, addProduct(5000));
    await host.snapshot();
    const acknowledged: number[] = [];
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < 3000; i++) {
      inFlight.push(
        send(host, place(i + 1, 1)).then(
          (a) => {
            if (a.result === ResultCode.ok) acknowledged.push(a.orderId);
          },
          () => {},
        ),
      );
      if (i === 1500) await host.snapshot();
      if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.race([Promise.all(inFlight), new Promise((resolve) => setTimeout(resolve, 5))]);
    await host.crashForTest();
    t.ok(acknowledged.length > 0, `${acknowledged.length} orders acknowledged before the crash`);

    const recovered = await EngineHost.start({ dataDir, limits, journal: selection, ...smallBatches });
    const reader = (await journalBackendFor(selection, dataDir)).openReader();
    t.teardown(() => reader.close());
    const { state } = await recoverFromJournal(reader, dataDir, limits);
    t.same(
      acknowledged.filter((orderId) => orderSlotOf(state, orderId) < 0),
      [],
      'every acknowledged order survived',
    );
    const stopped = await recovered.stop();
    const replayed = await replayDataDir(dataDir, reader, { limits, fromScratch: true });
    t.equal(replayed.stateHash, stopped.stateHash, 'and a full replay agrees with the node');
  });
}

nodeTests('file journal', () => ({ kind: 'file' }));
nodeTests('file journal through the async writer loop', () => ({ kind: 'file', asyncLoop: true }));

const kafka = kafkaJournalConfigFromEnv();
nodeTests(
  'kafka journal',
  () => ({
    kind: 'kafka',
    brokers: kafka!.brokers,
    // A fresh topic per test: each node starts from an empty journal.
    topic: `stampede-node-test-${randomBytes(6).toString('hex')}`,
    partition: 0,
    replicationFactor: 1,
    limits: { batchBytesMax: 8192, commitTimeoutMs: 20_000 },
  }),
  kafka === null ? { skip: kafkaSkipReason } : {},
);
