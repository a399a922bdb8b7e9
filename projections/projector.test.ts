/**
 * The projector framework over an in-memory store: it never reads past the writer's durable seq; states
 * move starting -> catchingUp -> live; lag is measured in events and ms; retriable errors are retried with
 * capped exponential backoff and anything else halts with the error; a journal it cannot read from its
 * checkpoint halts it too. The real stores are tested in mysql/projector.test.ts and redis/projector.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { scanJournal } from '../journal/file-journal.ts';
import { FileJournalReader, journalDir } from '../journal/journal-backend.ts';
import { kafkaJournalBackendOver, MemoryPartitionLog } from '../journal/kafka-journal.ts';
import { isRetriable, ProjectionErrorCode } from './errors.ts';
import type { ProjectedEvent } from './events.ts';
import { projectionLimits } from './limits.ts';
import { type ProjectionStore, Projector, ProjectorState } from './projector.ts';
import { writeSaleJournal } from './testing/sale-journal.ts';
import { eventually } from './testing/stores.ts';

class MemoryStore implements ProjectionStore {
  readonly kind = 'memory';
  readonly location = 'memory';
  checkpoint = 0;
  readonly seqs: number[] = [];
  /** Errors thrown by the next calls of open() or apply(), in order. */
  readonly failures: unknown[] = [];
  /** While set, apply() waits for it. */
  gate: Promise<void> | null = null;
  opens = 0;
  closes = 0;

  open(): Promise<number> {
    this.opens++;
    const failure = this.failures.shift();
    return failure === undefined ? Promise.resolve(this.checkpoint) : Promise.reject(failure);
  }

  async apply(events: readonly ProjectedEvent[], checkpoint: number): Promise<'applied' | 'alreadyApplied'> {
    if (this.gate !== null) await this.gate;
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    if (checkpoint !== this.checkpoint)
      throw new Error(`checkpoint ${this.checkpoint}, projector says ${checkpoint}`);
    for (const event of events) this.seqs.push(event.seq);
    this.checkpoint = events[events.length - 1]!.seq;
    return 'applied';
  }

  close(): Promise<void> {
    this.closes++;
    return Promise.resolve();
  }
}

function sale(t: Test, commands: number): { dataDir: string; lastSeq: number } {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-projector-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  // The sale happened an hour ago, so lag in ms is plain to see.
  return { dataDir, lastSeq: writeSaleJournal(dataDir, 7, commands, Date.now() - 3_600_000).lastSeq };
}

const refused = (): Error =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' });

t.test('never reads past the durable seq; catchingUp, then live; lag in events and ms', async (t) => {
  const { dataDir, lastSeq } = sale(t, 800);
  const store = new MemoryStore();
  let durable = 100;
  const states: string[] = [];
  const p = new Projector({
    name: 'memory',
    store,
    reader: new FileJournalReader(journalDir(dataDir)),
    durableSeq: () => durable,
    limits: { batchEventsMax: 50, readRecordsMax: 200, pollIntervalMs: 5 },
    log: (message) => states.push(message),
  });
  t.equal(p.state, ProjectorState.starting);
  p.start();
  await p.waitForSeq(100);
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.equal(store.checkpoint, 100, 'stops at the durable seq though the journal goes on');
  t.equal(p.state, ProjectorState.live);
  t.same([p.metrics().lagEvents, p.metrics().lagMs], [0, 0], 'caught up: no lag');

  let release = (): void => {};
  store.gate = new Promise((resolve) => {
    release = resolve;
  }); // the store hangs: the projector falls behind
  durable = lastSeq;
  t.ok(await eventually(() => p.state === ProjectorState.catchingUp), 'the projector falls behind');
  const behind = p.metrics();
  t.equal(p.state, ProjectorState.catchingUp, 'more than a batch behind: catchingUp');
  t.equal(behind.lagEvents, lastSeq - 100);
  t.ok(behind.lagMs > 3_000_000, `lagMs ${behind.lagMs}: the oldest waiting event is about an hour old`);
  store.gate = null;
  release();
  await p.waitForSeq(lastSeq);
  t.same(
    store.seqs,
    Array.from({ length: lastSeq }, (_, i) => i + 1),
    'every event once, in order',
  );
  t.equal(p.metrics().batchesApplied >= lastSeq / 50, true);
  await p.stop();
  t.equal(p.state, ProjectorState.stopped);
  t.ok(store.closes > 0, 'stop closes the store');
  t.match(states.join('\n'), /live at seq \d+ \(journal at 100\)[\s\S]*catchingUp at seq 100 [\s\S]*live/);
});

t.test('retriable errors: capped exponential backoff; anything else halts', async (t) => {
  const { dataDir, lastSeq } = sale(t, 100);
  const store = new MemoryStore();
  for (let i = 0; i < 12; i++) store.failures.push(refused());
  const logs: string[] = [];
  const p = new Projector({
    name: 'memory',
    store,
    reader: new FileJournalReader(journalDir(dataDir)),
    limits: { retryDelayMsMin: 4, retryDelayMsMax: 20, pollIntervalMs: 5 },
    random: () => 1,
    log: (message) => logs.push(message),
  });
  p.start();
  await p.waitForSeq(lastSeq);
  const delays = logs
    .map((line) => /in (\d+) ms/.exec(line)?.[1])
    .filter((d) => d !== undefined)
    .map(Number);
  t.same(
    delays,
    [4, 8, 16, 20],
    'doubling from min, capped at max (logged: the first three, then every tenth)',
  );
  t.equal(p.metrics().retries, 12);
  t.equal(p.metrics().consecutiveFailures, 0, 'reset by a success');

  store.failures.push(new Error('ER_PARSE_ERROR: You have an error in your SQL syntax'));
  const halted = new Projector({
    name: 'memory',
    store: Object.assign(store, { checkpoint: 0, seqs: [] }),
    reader: new FileJournalReader(journalDir(dataDir)),
    log: () => {},
  });
  halted.start();
  await halted.done;
  t.equal(halted.state, ProjectorState.halted);
  t.match(halted.error?.message, /SQL syntax/);
  await t.rejects(halted.waitForSeq(1), /SQL syntax/, 'waiting on a halted projector fails at once');
  await p.stop();
});

t.test('a journal it cannot read from its checkpoint halts it', async (t) => {
  const { dataDir, lastSeq } = sale(t, 50);
  const store = new MemoryStore();
  store.checkpoint = lastSeq + 10; // a store ahead of this journal (another data directory's?)
  const p = new Projector({
    name: 'memory',
    store,
    reader: new FileJournalReader(journalDir(dataDir)),
    log: () => {},
  });
  p.start();
  await p.done;
  t.equal(p.state, ProjectorState.halted);
  t.match(p.error, { code: ProjectionErrorCode.journalUnreadable, message: /JOURNAL_GAP/ });
});

t.test('what counts as retriable', async (t) => {
  t.ok(isRetriable(refused()));
  t.ok(isRetriable(Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST' })));
  t.ok(
    isRetriable(
      Object.assign(new Error("Can't add new command when connection is in closed state"), { fatal: true }),
    ),
  );
  t.ok(isRetriable(new Error('Connection is closed.')), 'ioredis, connection gone');
  t.ok(isRetriable(new Error('Command timed out')), 'ioredis, timeout');
  t.ok(
    isRetriable(new AggregateError([refused()], 'connect failed')),
    'happy eyeballs: every address refused',
  );
  t.notOk(isRetriable(Object.assign(new Error('Duplicate entry'), { code: 'ER_DUP_ENTRY', errno: 1062 })));
  t.notOk(isRetriable(new Error('ERR unknown command')));
  t.throws(
    () => projectionLimits({ batchEventsMax: 10, readRecordsMax: 5 }),
    /batchEventsMax \(10\) must be at most/,
  );
  t.throws(() => projectionLimits({ retryDelayMsMin: 10, retryDelayMsMax: 5 }), /retryDelayMsMin/);
});

t.test('a projector reads the Kafka journal as it reads the file journal', async (t) => {
  const { dataDir, lastSeq } = sale(t, 300);
  const log = new MemoryPartitionLog();
  const kafka = kafkaJournalBackendOver(() => log.handle(), log.location, { batchRecordsMax: 64 });
  const writer = await kafka.openWriter();
  const records: { seq: number; type: number; atMs: number; payload: Uint8Array }[] = [];
  scanJournal(journalDir(dataDir), 1, (seq, type, atMs, bytes, offset, length) => {
    records.push({ seq, type, atMs, payload: bytes.slice(offset, offset + length) });
  });
  for (const r of records) {
    if (!writer.append(r.seq, r.type, r.atMs, r.payload, 0, r.payload.length)) {
      await writer.commit(); // a full batch: one send
      writer.append(r.seq, r.type, r.atMs, r.payload, 0, r.payload.length);
    }
  }
  await writer.commit();
  t.ok(log.appendCount > 3, `group commits: ${log.appendCount} sends`);
  t.equal(writer.durableSeq, lastSeq);
  const fromFile = new MemoryStore();
  const fromKafka = new MemoryStore();
  for (const [store, reader] of [
    [fromFile, new FileJournalReader(journalDir(dataDir))],
    [fromKafka, kafka.openReader()],
  ] as const) {
    const p = new Projector({ name: 'memory', store, reader, limits: { batchEventsMax: 40 }, log: () => {} });
    p.start();
    await p.waitForSeq(lastSeq);
    await p.stop();
  }
  t.same(fromKafka.seqs, fromFile.seqs, 'the same events, in the same order');

  // A broker that is away is waited for, not a reason to halt.
  log.failOffsets = new Error('Connection error: connect ECONNREFUSED');
  const reader = kafka.openReader();
  await t.rejects(
    reader.scan(1, () => {}),
    { code: 'JOURNAL_IO', retriable: true },
  );
});
