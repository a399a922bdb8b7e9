/**
 * The journal contract, as tap tests any backend must pass (journal-backend.ts): append then commit then
 * read back; sequence continuity (no gap, no repeat, wrong seqs refused, full batches answered with false);
 * reopening continues after the last durable record and drops what was never committed; reading from any
 * seq, up to any seq, with JOURNAL_GAP past the end; an identity (journal-identity.ts) that every reader
 * of one journal agrees on and another journal does not share. journal-contract.test.ts registers it for the file
 * journal, for the Kafka journal over an in-memory partition, and for a real broker when KAFKA_BROKERS is set.
 *
 * Test helper only (it imports tap): never imported by production code.
 */
import type { Test } from 'tap';
import { JournalErrorCode } from './errors.ts';
import type { JournalBackend, JournalReader } from './journal-backend.ts';

/** A fresh, empty journal location per call (cleaned up through t.teardown). */
/** Why the tests that need a real Kafka broker are skipped here, printed with each of them. */
export const kafkaSkipReason =
  'KAFKA_BROKERS is not set (no Kafka broker here); set KAFKA_BROKERS=host:9092 to run it';

export type JournalBackendFactory = (t: Test) => Promise<JournalBackend>;

/** The record the contract writes for a seq: type, time and payload all derived from the seq. */
const typeOf = (seq: number): number => 1 + (seq % 9);
const timestampOf = (seq: number): number => 1_700_000_000_000 + seq * 7;
const payloadLengthOf = (seq: number): number => (seq % 13 === 0 ? 0 : 4 * (1 + (seq % 40)));
const source = new Uint8Array(4096);

function payloadFor(seq: number): { bytes: Uint8Array; offset: number; length: number } {
  const length = payloadLengthOf(seq);
  const offset = 8 + (seq % 3) * 4;
  for (let i = 0; i < length; i++) source[offset + i] = (seq * 31 + i * 7) & 0xff;
  return { bytes: source, offset, length };
}

/** Appends records from writer.nextSeq up to lastSeq, committing whenever a batch is full and at the end. */
async function writeUpTo(
  writer: Awaited<ReturnType<JournalBackend['openWriter']>>,
  lastSeq: number,
  recordsPerCommit: number,
): Promise<void> {
  while (writer.nextSeq <= lastSeq) {
    const seq = writer.nextSeq;
    const { bytes, offset, length } = payloadFor(seq);
    if (!writer.append(seq, typeOf(seq), timestampOf(seq), bytes, offset, length)) {
      await writer.commit();
      continue;
    }
    if (writer.pendingRecordCount >= recordsPerCommit) await writer.commit();
  }
  await writer.commit();
}

/** Reads fromSeq..toSeq and returns the first record that is not the one written for its seq, or ''. */
async function readBack(
  reader: JournalReader,
  fromSeq: number,
  toSeq: number | undefined,
): Promise<{ seqs: number[]; problem: string; last: number }> {
  const seqs: number[] = [];
  let problem = '';
  const last = await reader.scan(
    fromSeq,
    (seq, type, timestampMs, bytes, offset, length) => {
      seqs.push(seq);
      if (problem !== '') return;
      if (type !== typeOf(seq)) problem = `seq ${seq}: type ${type}`;
      else if (timestampMs !== timestampOf(seq)) problem = `seq ${seq}: timestamp ${timestampMs}`;
      else if (length !== payloadLengthOf(seq)) problem = `seq ${seq}: payload length ${length}`;
      else {
        for (let i = 0; i < length; i++) {
          if (bytes[offset + i] !== ((seq * 31 + i * 7) & 0xff)) {
            problem = `seq ${seq}: payload byte ${i}`;
            break;
          }
        }
      }
    },
    toSeq === undefined ? {} : { toSeq },
  );
  return { seqs, problem, last };
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

export function journalContract(t: Test, name: string, factory: JournalBackendFactory): void {
  t.test(`${name}: append, commit, read back`, async (t) => {
    const backend = await factory(t);
    const writer = await backend.openWriter();
    const reader = backend.openReader();
    t.teardown(() => reader.close());
    t.equal(writer.nextSeq, 1, 'an empty journal starts at seq 1');
    t.equal(writer.durableSeq, 0);
    t.equal(await reader.lastSeq(), 0);
    t.equal(await reader.firstSeq(), 1, 'empty: the first seq is lastSeq + 1');
    for (let seq = 1; seq <= 40; seq++) {
      const { bytes, offset, length } = payloadFor(seq);
      t.ok(writer.append(seq, typeOf(seq), timestampOf(seq), bytes, offset, length) || t.fail('batch full'));
    }
    t.equal(writer.pendingRecordCount, 40);
    t.equal(writer.durableSeq, 0, 'nothing is durable before commit');
    t.same((await readBack(reader, 1, undefined)).seqs, [], 'a reader sees nothing uncommitted');
    t.equal(await writer.commit(), 40, 'commit returns the new durable seq');
    t.equal(writer.durableSeq, 40);
    t.equal(writer.pendingRecordCount, 0);
    const read = await readBack(reader, 1, undefined);
    t.same(read.seqs, range(1, 40), 'every committed record, in order');
    t.equal(read.problem, '', 'each with its type, timestamp and payload');
    t.equal(read.last, 40);
    t.equal(await reader.lastSeq(), 40);
    t.equal(await reader.firstSeq(), 1);
    t.equal(await writer.commit(), 40, 'an empty commit changes nothing');
    await writer.close();
  });

  t.test(`${name}: sequence continuity`, async (t) => {
    const backend = await factory(t);
    const writer = await backend.openWriter();
    const reader = backend.openReader();
    t.teardown(() => reader.close());
    const { bytes, offset, length } = payloadFor(1);
    t.throws(
      () => writer.append(2, 1, 0, bytes, offset, length),
      { code: JournalErrorCode.sequence },
      'a gap',
    );
    await writeUpTo(writer, 700, 97);
    t.throws(
      () => writer.append(700, 1, 0, bytes, offset, length),
      { code: JournalErrorCode.sequence },
      'a repeat',
    );
    // A batch that fills up answers false and takes the record after a commit.
    let refused = 0;
    for (let seq = writer.nextSeq; seq <= 20_000 && refused === 0; seq++) {
      const p = payloadFor(seq);
      if (!writer.append(seq, typeOf(seq), timestampOf(seq), p.bytes, p.offset, p.length)) refused = seq;
    }
    t.ok(refused > 0, `a full batch refuses an append (at seq ${refused})`);
    await writer.commit();
    await writeUpTo(writer, refused + 10, 50);
    const read = await readBack(reader, 1, undefined);
    t.same(read.seqs, range(1, refused + 10), 'seqs 1.. with no gap and no repeat across every commit');
    t.equal(read.problem, '');
    await writer.close();
  });

  t.test(`${name}: reopening continues after the last durable record`, async (t) => {
    const backend = await factory(t);
    const first = await backend.openWriter();
    await writeUpTo(first, 120, 25);
    const { bytes, offset, length } = payloadFor(121);
    first.append(121, typeOf(121), timestampOf(121), bytes, offset, length);
    await first.close(); // seq 121 was never committed: it is gone
    const second = await backend.openWriter();
    t.equal(second.durableSeq, 120, 'durable where the last commit left it');
    t.equal(second.nextSeq, 121, 'the uncommitted record was dropped');
    await writeUpTo(second, 260, 40);
    await second.close();
    const third = await backend.openWriter();
    t.equal(third.nextSeq, 261);
    await third.close();
    const reader = backend.openReader();
    t.teardown(() => reader.close());
    const read = await readBack(reader, 1, undefined);
    t.same(read.seqs, range(1, 260), 'one continuous journal across reopenings');
    t.equal(read.problem, '');
  });

  t.test(`${name}: reading from a seq`, async (t) => {
    const backend = await factory(t);
    const writer = await backend.openWriter();
    await writeUpTo(writer, 300, 64);
    const reader = backend.openReader();
    t.teardown(() => reader.close());
    let read = await readBack(reader, 137, undefined);
    t.same(read.seqs, range(137, 300), 'from the middle to the end');
    t.equal(read.problem, '');
    read = await readBack(reader, 64, 65);
    t.same(read.seqs, [64, 65], 'up to toSeq');
    t.equal(read.last, 65);
    read = await readBack(reader, 300, 1000);
    t.same(read.seqs, [300], 'toSeq past the end stops at the end');
    read = await readBack(reader, 301, undefined);
    t.same(read.seqs, [], 'from one past the end: nothing');
    t.equal(read.last, 300, 'and returns fromSeq - 1');
    t.equal(await reader.mayHaveRecordsAfter(300), false, 'nothing after the end');
    await t.rejects(
      reader.scan(302, () => {}),
      { code: JournalErrorCode.gap },
      'from further on: JOURNAL_GAP',
    );
    await writeUpTo(writer, 310, 10);
    t.equal(await reader.mayHaveRecordsAfter(300), true, 'a reader notices new records');
    read = await readBack(reader, 301, undefined);
    t.same(read.seqs, range(301, 310), 'and reads them');
    t.equal(await reader.lastSeq(), 310);
    await writer.close();
  });

  t.test(`${name}: identity`, async (t) => {
    const backend = await factory(t);
    const writer = await backend.openWriter();
    await writeUpTo(writer, 5, 5);
    const reader = backend.openReader();
    const other = backend.openReader();
    t.teardown(() => Promise.all([reader.close(), other.close()]));
    const identity = await reader.identity();
    t.ok(identity !== null && identity.id.length > 0, 'a journal its writer opened names itself');
    t.equal(identity?.backend, backend.kind);
    t.equal(identity?.firstSeq, 1, 'with its first retained seq');
    t.same(await other.identity(), identity, 'every reader of it gives the same identity');
    await writer.close();
    const fresh = await factory(t);
    await (await fresh.openWriter()).close();
    const freshReader = fresh.openReader();
    t.teardown(() => freshReader.close());
    t.not((await freshReader.identity())?.id, identity?.id, 'another journal is another identity');
  });
}
