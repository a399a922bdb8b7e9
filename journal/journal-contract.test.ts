/**
 * The journal contract (journal-contract.ts) against every backend: the file journal always; the Kafka
 * journal's own logic over an in-memory partition always; the Kafka journal against a real broker only when
 * KAFKA_BROKERS is set (otherwise reported as skipped, by name). Plus what only Kafka can get wrong: a send
 * that fails, a record that is not ours, records deleted by retention.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { JournalErrorCode } from './errors.ts';
import { fileJournalBackend } from './journal-backend.ts';
import { journalContract, kafkaSkipReason } from './journal-contract.ts';
import {
  kafkaJournalBackend,
  kafkaJournalBackendOver,
  kafkaJournalConfigFromEnv,
  MemoryPartitionLog,
} from './kafka-journal.ts';
import { writeFrame } from './record-frame.ts';

journalContract(t, 'file journal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stampede-contract-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Small segments and batches so the contract crosses segment files and full batches.
  return fileJournalBackend(join(dir, 'journal'), {
    segmentBytesMax: 8192,
    batchBytesMax: 8192,
    log: () => {},
  });
});

journalContract(t, 'kafka journal over an in-memory partition', async () => {
  const log = new MemoryPartitionLog();
  return kafkaJournalBackendOver(() => log.handle(), log.location, { batchBytesMax: 8192 });
});

const kafka = kafkaJournalConfigFromEnv();
if (kafka === null) {
  t.test('kafka journal contract against a real broker', { skip: kafkaSkipReason }, () => {});
} else {
  journalContract(t, `kafka journal on ${kafka.brokers.join(',')}`, async () =>
    // A fresh topic per test: the contract needs an empty journal.
    kafkaJournalBackend({
      ...kafka,
      topic: `stampede-test-${randomBytes(6).toString('hex')}`,
      partition: 0,
      replicationFactor: 1,
      limits: { batchBytesMax: 8192, commitTimeoutMs: 20_000 },
      log: () => {},
    }),
  );
}

const payload = new Uint8Array([1, 2, 3, 4]);

t.test('kafka journal: a send that fails makes the journal unusable (JOURNAL_IO)', async (t) => {
  const log = new MemoryPartitionLog();
  const backend = kafkaJournalBackendOver(() => log.handle(), log.location);
  const writer = await backend.openWriter();
  writer.append(1, 1, 10, payload, 0, 4);
  await writer.commit();
  writer.append(2, 1, 11, payload, 0, 4);
  log.failAppends = new Error('connect ECONNREFUSED');
  await t.rejects(writer.commit(), { code: JournalErrorCode.io, message: /seqs 2\.\.2.*ECONNREFUSED/ });
  t.equal(writer.durableSeq, 1, 'durableSeq did not move');
  t.throws(() => writer.append(3, 1, 12, payload, 0, 4), { code: JournalErrorCode.unusable });
  log.failAppends = null;
  const reopened = await backend.openWriter();
  t.equal(reopened.nextSeq, 2, 'a restart continues from what the partition holds');
});

t.test('kafka journal: a record that is not the one its offset promises is JOURNAL_CORRUPT', async (t) => {
  const log = new MemoryPartitionLog();
  const backend = kafkaJournalBackendOver(() => log.handle(), log.location);
  const writer = await backend.openWriter();
  writer.append(1, 1, 10, payload, 0, 4);
  writer.append(2, 1, 11, payload, 0, 4);
  await writer.commit();
  // A second writer appends its own seq 2 at offset 2 (where seq 3 belongs).
  const foreign = new Uint8Array(40);
  writeFrame(foreign, new DataView(foreign.buffer), 0, 2, 1, 12, payload, 0, 4);
  log.values.push(foreign);
  const reader = backend.openReader();
  await t.rejects(
    reader.scan(1, () => {}),
    { code: JournalErrorCode.corrupt, message: /offset 2: a valid record with seq 2 where seq 3 belongs/ },
  );
  await t.rejects(
    backend.openWriter(),
    { code: JournalErrorCode.corrupt },
    'and a writer refuses to open on it',
  );
  log.values[2] = new Uint8Array([9, 9, 9]);
  await t.rejects(
    reader.scan(3, () => {}),
    { code: JournalErrorCode.corrupt, message: /not a journal record/ },
  );
});

t.test(
  'kafka journal: records deleted by retention are JOURNAL_GAP for a reader that needs them',
  async (t) => {
    const log = new MemoryPartitionLog();
    const backend = kafkaJournalBackendOver(() => log.handle(), log.location);
    const writer = await backend.openWriter();
    for (let seq = 1; seq <= 10; seq++) writer.append(seq, 1, seq, payload, 0, 4);
    await writer.commit();
    log.low = 5; // offsets 0..4 (seqs 1..5) deleted
    const reader = backend.openReader();
    t.equal(await reader.firstSeq(), 6, 'the first retained record');
    await t.rejects(
      reader.scan(3, () => {}),
      { code: JournalErrorCode.gap, message: /first retained one .* is seq 6/ },
    );
    const seqs: number[] = [];
    await reader.scan(6, (seq) => seqs.push(seq));
    t.same(seqs, [6, 7, 8, 9, 10]);
    t.equal(log.appendCount, 1, 'group commit: ten records, one send');
  },
);

t.test('kafka journal: appends during a send in flight go into the next send, in order', async (t) => {
  const log = new MemoryPartitionLog();
  const backend = kafkaJournalBackendOver(() => log.handle(), log.location);
  const writer = await backend.openWriter();
  let acknowledge = (): void => {};
  log.ackGate = new Promise((resolve) => {
    acknowledge = resolve;
  });
  for (let seq = 1; seq <= 5; seq++) writer.append(seq, 1, seq, payload, 0, 4);
  const first = writer.commit();
  for (let seq = 6; seq <= 8; seq++) writer.append(seq, 1, seq, payload, 0, 4);
  const second = writer.commit();
  t.equal(writer.durableSeq, 0, 'nothing durable before the acknowledgement');
  t.equal(writer.nextSeq, 9);
  log.ackGate = null;
  acknowledge();
  t.equal(await first, 5);
  t.equal(await second, 8);
  t.equal(log.appendCount, 2, 'two sends, the second after the first');
  const seqs: number[] = [];
  await backend.openReader().scan(1, (seq) => seqs.push(seq));
  t.same(seqs, [1, 2, 3, 4, 5, 6, 7, 8]);
});
