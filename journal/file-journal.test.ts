/**
 * File journal: round trips, group commit, recovery of torn and corrupt files, prune, and a seeded
 * corruption test checked against a naive model of what recovery must do. Replay a failure with the
 * SEED=… it prints. Segments are kept small (8 KiB) so a few hundred records span many files.
 */
import * as nodeFs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { seededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import { isJournalError, JournalError, JournalErrorCode, journalErrorCatalogue } from './errors.ts';
import {
  describeJournal,
  FileJournal,
  type FileJournalOptions,
  type JournalFs,
  scanJournal,
  segmentFileName,
} from './file-journal.ts';
import { journalLimits, journalLimitsDefault } from './limits.ts';
import { frameBytes, RecordFrame, writeFrame } from './record-frame.ts';

const randomInt = (random: () => number, min: number, max: number): number =>
  min + Math.floor(random() * (max - min + 1));

const small: FileJournalOptions = { segmentBytesMax: 8192, batchBytesMax: 8192 };

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = nodeFs.mkdtempSync(join(tmpdir(), 'stampede-journal-test-'));
  t.teardown(() => nodeFs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The record the tests write for a seq: length and bytes derived from the seq, so any reader can check it. */
function payloadLengthOf(seq: number): number {
  return seq % 11 === 0 ? 0 : (seq * 37) % 250;
}
function payloadByte(seq: number, i: number): number {
  return (seq * 31 + i * 7 + 3) & 0xff;
}
const typeOf = (seq: number): number => (seq * 7) % 65_536;
const timestampOf = (seq: number): number => 1_700_000_000_000 + seq * 3;

/**
 * Source buffers with the payload somewhere in the middle, to exercise payloadOffset: word-aligned (the
 * journal copies 32-bit words), at an odd offset, and in an array whose own byteOffset is odd (both copied
 * byte by byte).
 */
const sourceAligned = new Uint8Array(1024);
const sourceOddArray = new Uint8Array(1025).subarray(1);
function appendTestRecord(journal: FileJournal, seq: number): boolean {
  const length = payloadLengthOf(seq);
  const source = seq % 3 === 2 ? sourceOddArray : sourceAligned;
  const offset = seq % 3 === 1 ? 17 : 20;
  for (let i = 0; i < length; i++) source[offset + i] = payloadByte(seq, i);
  return journal.append(seq, typeOf(seq), timestampOf(seq), source, offset, length);
}

/** Appends seqs nextSeq..lastSeq, committing every batchRecords and whenever the buffer is full. */
function writeRecords(journal: FileJournal, lastSeq: number, batchRecords: number): void {
  while (journal.nextSeq <= lastSeq) {
    if (!appendTestRecord(journal, journal.nextSeq)) journal.commit();
    else if (journal.pendingRecordCount >= batchRecords) journal.commit();
  }
  journal.commit();
}

/** Empty when the record is the one the tests wrote for seq; otherwise what differs. */
function checkRecord(
  seq: number,
  type: number,
  timestampMs: number,
  bytes: Uint8Array,
  at: number,
  length: number,
) {
  if (type !== typeOf(seq)) return `seq ${seq}: type ${type}`;
  if (timestampMs !== timestampOf(seq)) return `seq ${seq}: timestamp ${timestampMs}`;
  if (length !== payloadLengthOf(seq)) return `seq ${seq}: payload length ${length}`;
  for (let i = 0; i < length; i++) {
    if (bytes[at + i] !== payloadByte(seq, i)) return `seq ${seq}: payload byte ${i}`;
  }
  return '';
}

/** Scans from fromSeq and checks every record; returns the seqs delivered and the first problem. */
function scanAll(dir: string, fromSeq: number, readChunkBytes?: number) {
  const seqs: number[] = [];
  let problem = '';
  const last = scanJournal(
    dir,
    fromSeq,
    (seq, type, timestampMs, bytes, at, length) => {
      seqs.push(seq);
      if (problem === '') problem = checkRecord(seq, type, timestampMs, bytes, at, length);
    },
    readChunkBytes === undefined ? {} : { readChunkBytes },
  );
  const contiguous = seqs.every((seq, i) => seq === fromSeq + i);
  return { last, count: seqs.length, contiguous, problem };
}

function segmentFiles(dir: string): string[] {
  return nodeFs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort();
}

function flipBit(path: string, offset: number, bit: number): void {
  const bytes = nodeFs.readFileSync(path);
  bytes[offset]! ^= 1 << bit;
  nodeFs.writeFileSync(path, bytes);
}

function errorOf(fn: () => unknown): JournalError {
  try {
    fn();
  } catch (error) {
    if (error instanceof JournalError) return error;
    throw error;
  }
  throw new Error('expected a JournalError, nothing was thrown');
}

/** Byte offset of seq's frame inside its segment (the tests' payload lengths are known). */
function offsetOfSeq(segmentFirstSeq: number, seq: number): number {
  let offset = 0;
  for (let s = segmentFirstSeq; s < seq; s++) offset += frameBytes(payloadLengthOf(s));
  return offset;
}

t.test('frame layout: golden bytes', async (t) => {
  const bytes = new Uint8Array(48);
  const size = writeFrame(bytes, new DataView(bytes.buffer), 0, 5, 0x0102, 1.5, Uint8Array.of(9, 8, 7), 0, 3);
  t.equal(size, 40, 'header 32 + payload 3, padded to 40');
  // magic 'STJ1', version 1, type 0x0102, length 3, crc (0x69E58025, computed by an independent Python CRC32C), seq 5.0, timestamp 1.5, payload, zero padding.
  const expected = [
    0x53, 0x54, 0x4a, 0x31, 0x01, 0x00, 0x02, 0x01, 0x03, 0x00, 0x00, 0x00, 0x25, 0x80, 0xe5, 0x69, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x09, 0x08,
    0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
  ];
  t.same([...bytes.subarray(0, 40)], expected);
  t.equal(RecordFrame.headerBytes, 32);
});

t.test('limits: defaults and relationships', async (t) => {
  t.equal(journalLimitsDefault.segmentBytesMax, 256 * 1024 * 1024);
  t.equal(journalLimitsDefault.batchBytesMax, 4 * 1024 * 1024);
  t.equal(journalLimitsDefault.recordPayloadBytesMax, 4096);
  t.throws(() => journalLimits({ batchBytesMax: 4096 }), /must hold the largest record frame \(4128 bytes\)/);
  t.throws(
    () => journalLimits({ segmentBytesMax: 8192, batchBytesMax: 16_384 }),
    /must be at least batchBytesMax/,
  );
  t.throws(() => journalLimits({ readChunkBytes: 100 }), /readChunkBytes/);
  t.throws(() => journalLimits({ segmentBytesMax: 1.5 }), /positive integer/);
});

t.test('error catalogue: every code has an entry, codes are unique', async (t) => {
  const codes = Object.values(JournalErrorCode);
  t.equal(new Set(codes).size, codes.length);
  t.same(Object.keys(journalErrorCatalogue).sort(), [...codes].sort());
  const error = new JournalError(JournalErrorCode.io, 'x', { cause: new Error('EIO') });
  t.equal(error.retriable, false);
  t.match(error.message, /^JOURNAL_IO: x/);
  t.ok(isJournalError(error, JournalErrorCode.io));
});

t.test('round trip across many segments, read in small chunks', async (t) => {
  const dir = tempDir(t);
  const journal = FileJournal.open(dir, { ...small, log: t.fail });
  t.equal(journal.nextSeq, 1);
  t.equal(journal.durableSeq, 0);
  writeRecords(journal, 1500, 40);
  t.equal(journal.durableSeq, 1500);
  journal.close();

  const description = describeJournal(dir);
  t.equal(description.firstSeq, 1);
  t.equal(description.lastSeq, 1500);
  t.ok(description.segments.length >= 10, `${description.segments.length} segments`);
  t.ok(
    description.segments.every((s) => s.bytes <= 8192 && s.file === segmentFileName(s.firstSeq)),
    'every segment within segmentBytesMax and named after its first seq',
  );
  t.equal(description.segments[0]!.file, 'journal-0000000000000001.seg');

  for (const readChunkBytes of [undefined, 4128, 5000]) {
    const scan = scanAll(dir, 1, readChunkBytes);
    t.same(
      scan,
      { last: 1500, count: 1500, contiguous: true, problem: '' },
      `readChunkBytes ${readChunkBytes}`,
    );
  }
  const middle = scanAll(dir, 777);
  t.same(middle, { last: 1500, count: 724, contiguous: true, problem: '' }, 'from the middle of a segment');
  t.equal(scanAll(dir, 1501).last, 1500, 'from the end: nothing, fromSeq - 1');
  t.equal(errorOf(() => scanAll(dir, 1502)).code, JournalErrorCode.gap, 'past the end: the caller is wrong');
  let delivered = 0;
  t.equal(
    scanJournal(dir, 10, () => delivered++, { toSeq: 20 }),
    20,
    'toSeq bounds the scan',
  );
  t.equal(delivered, 11);
});

t.test('reopen continues the sequence; an empty directory starts at 1 or firstSeq', async (t) => {
  const dir = tempDir(t);
  let journal = FileJournal.open(dir, { ...small, log: t.fail });
  writeRecords(journal, 100, 7);
  journal.close();
  journal = FileJournal.open(dir, { ...small, log: t.fail });
  t.equal(journal.durableSeq, 100);
  t.equal(journal.nextSeq, 101);
  t.equal(errorOf(() => appendTestRecord(journal, 100)).code, JournalErrorCode.sequence);
  writeRecords(journal, 250, 13);
  journal.close();
  t.same(scanAll(dir, 1), { last: 250, count: 250, contiguous: true, problem: '' });

  const afterSnapshot = join(tempDir(t), 'nested', 'journal');
  journal = FileJournal.open(afterSnapshot, { ...small, firstSeq: 5001, log: t.fail });
  t.equal(journal.nextSeq, 5001);
  t.equal(journal.durableSeq, 5000);
  t.same(segmentFiles(afterSnapshot), ['journal-0000000000005001.seg'], 'first segment created at open');
  writeRecords(journal, 5010, 4);
  journal.close();
  t.same(scanAll(afterSnapshot, 5001), { last: 5010, count: 10, contiguous: true, problem: '' });
  t.equal(
    errorOf(() => scanAll(afterSnapshot, 1)).code,
    JournalErrorCode.gap,
    'before the first retained seq',
  );
  t.equal(
    errorOf(() => FileJournal.open(afterSnapshot, { firstSeq: 6000, log: t.fail })).code,
    JournalErrorCode.gap,
    'a snapshot ahead of the journal is refused',
  );
});

t.test('group commit: one write and one fdatasync per batch', async (t) => {
  const dir = tempDir(t);
  const counts = { write: 0, fdatasync: 0, fsync: 0 };
  const fs: JournalFs = {
    ...nodeFs,
    writeSync: ((...args: Parameters<typeof nodeFs.writeSync>) => {
      counts.write++;
      return (nodeFs.writeSync as (...a: unknown[]) => number)(...args);
    }) as typeof nodeFs.writeSync,
    fdatasyncSync: (fd) => {
      counts.fdatasync++;
      nodeFs.fdatasyncSync(fd);
    },
    fsyncSync: (fd) => {
      counts.fsync++;
      nodeFs.fsyncSync(fd);
    },
  };
  const journal = FileJournal.open(dir, { ...small, fs, log: t.fail });
  t.equal(counts.fsync, 1, 'creating the first segment fsyncs the directory');
  for (let seq = 1; seq <= 30; seq++) t.ok(appendTestRecord(journal, seq));
  t.equal(journal.pendingRecordCount, 30);
  t.equal(counts.write + counts.fdatasync, 0, 'append does no I/O');
  t.equal(journal.commit(), 30);
  t.same([counts.write, counts.fdatasync], [1, 1], 'thirty records, one write, one fdatasync');
  t.equal(journal.commit(), 30, 'an empty commit does nothing');
  t.same([counts.write, counts.fdatasync], [1, 1]);
  const expectedBytes = offsetOfSeq(1, 31);
  t.equal(nodeFs.statSync(join(dir, segmentFileName(1))).size, expectedBytes);
  t.equal(journal.committedByteCount, expectedBytes);
  t.same([journal.commitCount, journal.committedRecordCount], [1, 30]);

  // Fill past the segment: the batch that would not fit goes to a new segment, after a directory fsync.
  writeRecords(journal, 200, 50);
  t.equal(counts.fdatasync, journal.commitCount, 'one fdatasync per commit, rolls included');
  t.equal(counts.fsync, 1 + segmentFiles(dir).length - 1, 'one directory fsync per segment created');
  t.ok(segmentFiles(dir).length > 1);
  journal.close();
});

t.test('append returns false when the batch is full; bad arguments are refused', async (t) => {
  const dir = tempDir(t);
  const journal = FileJournal.open(dir, { segmentBytesMax: 65_536, batchBytesMax: 4128, log: t.fail });
  const payload = new Uint8Array(4096);
  t.ok(journal.append(1, 1, 0, payload, 0, 4000), 'the largest record fits an empty batch');
  t.notOk(journal.append(2, 1, 0, payload, 0, 100), 'no room: false');
  t.equal(journal.pendingRecordCount, 1, 'nothing copied');
  t.equal(journal.nextSeq, 2);
  t.equal(journal.commit(), 1);
  t.ok(journal.append(2, 1, 0, payload, 0, 100), 'after commit it fits');
  t.equal(
    errorOf(() => journal.append(4, 1, 0, payload, 0, 1)).code,
    JournalErrorCode.sequence,
    'skipped seq',
  );
  t.equal(
    errorOf(() => journal.append(2, 1, 0, payload, 0, 1)).code,
    JournalErrorCode.sequence,
    'repeated seq',
  );
  t.equal(
    errorOf(() => journal.append(3, 1, 0, new Uint8Array(5000), 0, 4097)).code,
    JournalErrorCode.recordTooLarge,
  );
  t.throws(() => journal.append(3, 70_000, 0, payload, 0, 1), RangeError, 'type above u16');
  t.throws(() => journal.append(3, 1, 0, payload, 4090, 10), RangeError, 'payload range outside the array');
  journal.commit();
  journal.close();
  t.equal(errorOf(() => journal.commit()).code, JournalErrorCode.unusable, 'closed');
});

t.test('torn write: a truncated tail is cut back to the last whole record, appends continue', async (t) => {
  const dir = tempDir(t);
  let journal = FileJournal.open(dir, { ...small, log: t.fail });
  writeRecords(journal, 300, 9);
  journal.close();
  const last = describeJournal(dir).segments.at(-1)!;
  const lastPath = join(dir, last.file);
  // Cut the last record in half.
  const cutAt = offsetOfSeq(last.firstSeq, 300) + 20;
  nodeFs.truncateSync(lastPath, cutAt);
  t.equal(scanAll(dir, 1).last, 299, 'a reader stops at the torn tail, read-only');
  t.equal(nodeFs.statSync(lastPath).size, cutAt, 'and changes nothing');

  const logs: string[] = [];
  journal = FileJournal.open(dir, { ...small, log: (m) => logs.push(m) });
  t.equal(journal.durableSeq, 299);
  t.equal(logs.length, 1);
  t.match(logs[0], last.file, 'the log names the segment');
  t.match(logs[0], `byte offset ${offsetOfSeq(last.firstSeq, 300)}`, 'and the offset');
  t.equal(
    nodeFs.statSync(lastPath).size,
    offsetOfSeq(last.firstSeq, 300),
    'truncated to the last whole record',
  );
  writeRecords(journal, 400, 9);
  journal.close();
  t.same(scanAll(dir, 1), { last: 400, count: 400, contiguous: true, problem: '' });
});

t.test('a bit flip in the tail record is a torn tail: truncated', async (t) => {
  const dir = tempDir(t);
  let journal = FileJournal.open(dir, { ...small, log: t.fail });
  writeRecords(journal, 120, 10);
  journal.close();
  const last = describeJournal(dir).segments.at(-1)!;
  const recordAt = offsetOfSeq(last.firstSeq, 120);
  flipBit(join(dir, last.file), recordAt + RecordFrame.payload + 1, 3);
  const logs: string[] = [];
  journal = FileJournal.open(dir, { ...small, log: (m) => logs.push(m) });
  t.equal(journal.durableSeq, 119);
  t.match(logs.join('\n'), new RegExp(`${last.file}.*checksum mismatch at byte offset ${recordAt}`));
  journal.close();
  t.same(scanAll(dir, 1), { last: 119, count: 119, contiguous: true, problem: '' });
});

t.test('a bit flip before the tail is JOURNAL_CORRUPT naming segment and offset', async (t) => {
  const dir = tempDir(t);
  const journal = FileJournal.open(dir, { ...small, log: t.fail });
  writeRecords(journal, 300, 10);
  journal.close();
  const segments = describeJournal(dir).segments;
  const pristine = join(tempDir(t), 'pristine');
  nodeFs.cpSync(dir, pristine, { recursive: true });

  // In the last segment, with valid records after the damaged one.
  const last = segments.at(-1)!;
  const damagedSeq = last.firstSeq + 1;
  const at = offsetOfSeq(last.firstSeq, damagedSeq);
  flipBit(join(dir, last.file), at + RecordFrame.seq + 2, 0);
  for (const error of [
    errorOf(() => FileJournal.open(dir, { ...small, log: t.fail })),
    errorOf(() => scanAll(dir, 1)),
    errorOf(() => describeJournal(dir)),
  ]) {
    t.equal(error.code, JournalErrorCode.corrupt);
    t.equal(error.retriable, false);
    t.match(error.message, `${last.file} at byte offset ${at}: checksum mismatch`);
    t.match(error.message, 'a valid record follows');
  }
  t.equal(
    errorOf(() => scanAll(dir, damagedSeq + 1)).code,
    JournalErrorCode.corrupt,
    'a reader starting after the damage in the same segment must still walk through it (no index): it fails too',
  );

  // In an earlier segment: even its last record is not a tail.
  nodeFs.rmSync(dir, { recursive: true });
  nodeFs.cpSync(pristine, dir, { recursive: true });
  const middle = segments[2]!;
  const middleLastAt = offsetOfSeq(middle.firstSeq, middle.lastSeq);
  flipBit(join(dir, middle.file), middleLastAt + RecordFrame.magic, 7);
  const error = errorOf(() => FileJournal.open(dir, { ...small, log: t.fail }));
  t.equal(error.code, JournalErrorCode.corrupt);
  t.match(
    error.message,
    `${middle.file} at byte offset ${middleLastAt}: bad magic, in a segment that is not the last`,
  );
  t.same(segmentFiles(dir), segmentFiles(pristine), 'nothing was changed on disk');
});

t.test('empty segments: the last is reused, earlier ones removed', async (t) => {
  const dir = tempDir(t);
  let journal = FileJournal.open(dir, { ...small, log: t.fail });
  writeRecords(journal, 50, 10);
  journal.close();
  // A crash right after a roll leaves an empty segment named after the next seq.
  nodeFs.writeFileSync(join(dir, segmentFileName(51)), '');
  t.equal(describeJournal(dir).lastSeq, 50);
  journal = FileJournal.open(dir, { ...small, log: t.fail });
  t.equal(journal.currentSegmentFile, segmentFileName(51), 'the empty last segment is reused');
  writeRecords(journal, 60, 10);
  journal.close();
  t.equal(nodeFs.statSync(join(dir, segmentFileName(51))).size, offsetOfSeq(51, 61));

  // An empty segment before the last one holds nothing: readers skip it, open removes it.
  nodeFs.writeFileSync(join(dir, segmentFileName(20)), '');
  t.same(scanAll(dir, 1), { last: 60, count: 60, contiguous: true, problem: '' });
  const logs: string[] = [];
  journal = FileJournal.open(dir, { ...small, log: (m) => logs.push(m) });
  t.match(logs.join('\n'), `${segmentFileName(20)}: empty segment before the last one, removed`);
  t.notOk(segmentFiles(dir).includes(segmentFileName(20)));
  journal.close();

  // An empty last segment whose name skips records is a gap.
  nodeFs.writeFileSync(join(dir, segmentFileName(70)), '');
  const error = errorOf(() => FileJournal.open(dir, { ...small, log: t.fail }));
  t.equal(error.code, JournalErrorCode.gap);
  t.match(error.message, /records 61\.\.69 are missing/);
});

t.test('a missing middle segment is JOURNAL_GAP naming both sides', async (t) => {
  const dir = tempDir(t);
  const journal = FileJournal.open(dir, { ...small, log: t.fail });
  writeRecords(journal, 300, 10);
  journal.close();
  const segments = describeJournal(dir).segments;
  const [before, missing, after] = [segments[1]!, segments[2]!, segments[3]!];
  nodeFs.unlinkSync(join(dir, missing.file));
  for (const error of [
    errorOf(() => FileJournal.open(dir, { ...small, log: t.fail })),
    errorOf(() => scanAll(dir, 1)),
  ]) {
    t.equal(error.code, JournalErrorCode.gap);
    t.match(error.message, `records ${missing.firstSeq}..${missing.lastSeq} are missing`);
    t.match(error.message, before.file);
    t.match(error.message, after.file);
  }
  t.same(scanAll(dir, after.firstSeq).contiguous, true, 'a reader starting after the gap is not affected');
});

t.test('prune removes only fully covered segments; reads after the pruned prefix still work', async (t) => {
  const dir = tempDir(t);
  let journal = FileJournal.open(dir, { ...small, log: t.fail });
  writeRecords(journal, 300, 10);
  const segments = describeJournal(dir).segments;
  const third = segments[2]!;
  // Covers the first two segments and all but the last record of the third.
  const removed = journal.prune(third.lastSeq - 1);
  t.same(removed, [segments[0]!.file, segments[1]!.file]);
  t.same(journal.prune(third.lastSeq - 1), [], 'idempotent');
  t.same(journal.prune(third.lastSeq), [third.file], 'the third goes once its last record is covered');
  t.equal(describeJournal(dir).firstSeq, third.lastSeq + 1);
  t.same(scanAll(dir, third.lastSeq + 1), {
    last: 300,
    count: 300 - third.lastSeq,
    contiguous: true,
    problem: '',
  });
  t.same(scanAll(dir, 290).last, 300);
  const gap = errorOf(() => scanAll(dir, third.lastSeq));
  t.equal(gap.code, JournalErrorCode.gap);
  t.match(gap.message, `first retained one is seq ${third.lastSeq + 1}`);

  // Never the segment being written, even when everything is covered.
  journal.prune(10_000);
  t.same(segmentFiles(dir), [journal.currentSegmentFile]);
  writeRecords(journal, 320, 10);
  journal.close();
  journal = FileJournal.open(dir, { ...small, log: t.fail });
  t.equal(journal.nextSeq, 321, 'reopen after prune continues');
  journal.close();
});

t.test('a failed fdatasync is JOURNAL_IO and the journal refuses to go on', async (t) => {
  const dir = tempDir(t);
  let failNext = false;
  const fs: JournalFs = {
    ...nodeFs,
    fdatasyncSync: (fd) => {
      if (failNext) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      nodeFs.fdatasyncSync(fd);
    },
  };
  const journal = FileJournal.open(dir, { ...small, fs, log: t.fail });
  writeRecords(journal, 10, 5);
  appendTestRecord(journal, 11);
  failNext = true;
  const error = errorOf(() => journal.commit());
  t.equal(error.code, JournalErrorCode.io);
  t.equal(error.retriable, false);
  t.match(error.message, `fdatasync ${join(dir, segmentFileName(1))} failed: EIO`);
  t.equal(journal.durableSeq, 10, 'nothing became durable');
  failNext = false;
  t.equal(errorOf(() => journal.commit()).code, JournalErrorCode.unusable, 'no retry of a failed fsync');
  t.equal(errorOf(() => appendTestRecord(journal, 11)).code, JournalErrorCode.unusable);
  journal.close();
});

/**
 * The seeded corruption test. A naive model says what recovery must do for each kind of damage, from the
 * byte positions of the records; the journal must agree exactly. In every case: either an error, or every
 * record before the damage delivered intact and nothing after it — never a record skipped in the middle.
 */
t.test('randomised corruption against a model of recovery', async (t) => {
  const seed = seedFromEnv();
  const random = seededRandom(seed);
  t.comment(`SEED=${seed}`);
  const iterations = Number(process.env.ITERATIONS ?? 120);
  const pristine = tempDir(t);
  const recordsCount = randomInt(random, 200, 400);
  const journal = FileJournal.open(pristine, { ...small, log: t.fail });
  while (journal.nextSeq <= recordsCount)
    writeRecords(journal, Math.min(recordsCount, journal.nextSeq + randomInt(random, 0, 30)), 1000);
  journal.close();
  const segments = describeJournal(pristine).segments;
  const lastIndex = segments.length - 1;
  const sizes = segments.map((s) => nodeFs.statSync(join(pristine, s.file)).size);

  type Expected = { error: string } | { firstSeq: number; lastSeq: number; logs: boolean };
  let failures = 0;
  const tally: Record<string, number> = {};
  for (let iteration = 0; iteration < iterations && failures === 0; iteration++) {
    const dir = join(tempDir(t), 'j');
    nodeFs.cpSync(pristine, dir, { recursive: true });
    // Half the damage goes to the last segment, where the torn-tail rules are subtle.
    const index = random() < 0.5 ? lastIndex : randomInt(random, 0, lastIndex);
    const segment = segments[index]!;
    const path = join(dir, segment.file);
    const size = sizes[index]!;
    const isLast = index === lastIndex;
    /** Seq of the record holding byte `offset` of this segment, and where that record starts. */
    const recordAt = (offset: number): { seq: number; start: number } => {
      let start = 0;
      for (let seq = segment.firstSeq; ; seq++) {
        const end = start + frameBytes(payloadLengthOf(seq));
        if (offset < end) return { seq, start };
        start = end;
      }
    };
    const kinds = ['flip', 'zeros', 'truncate', 'garbageTail', 'delete'] as const;
    const kind = kinds[randomInt(random, 0, kinds.length - 1)]!;
    let what = '';
    let expected: Expected;
    if (kind === 'flip' || kind === 'zeros') {
      const bytes = nodeFs.readFileSync(path);
      const original = Uint8Array.from(bytes);
      // Half of it in the last few records of the segment.
      const offset =
        random() < 0.5
          ? randomInt(random, Math.max(0, size - 600), size - 1)
          : randomInt(random, 0, size - 1);
      if (kind === 'flip') {
        bytes[offset]! ^= 1 << randomInt(random, 0, 7);
      } else {
        bytes.fill(0, offset, Math.min(size, offset + randomInt(random, 1, 200)));
      }
      nodeFs.writeFileSync(path, bytes);
      const changed = bytes.findIndex((b, i) => b !== original[i]);
      const changedLast = bytes.findLastIndex((b, i) => b !== original[i]);
      what = `${kind} in ${segment.file} at ${offset} (changed bytes ${changed}..${changedLast})`;
      if (changed < 0) {
        expected = { firstSeq: 1, lastSeq: recordsCount, logs: false };
      } else if (!isLast) {
        expected = { error: JournalErrorCode.corrupt };
      } else {
        // Damage in the last segment is a torn tail only if no record after the damaged one is intact.
        const damaged = recordAt(changed);
        const lastDamaged = recordAt(changedLast);
        expected =
          lastDamaged.seq < recordsCount
            ? { error: JournalErrorCode.corrupt }
            : { firstSeq: 1, lastSeq: damaged.seq - 1, logs: true };
      }
    } else if (kind === 'truncate') {
      const length =
        random() < 0.5
          ? randomInt(random, Math.max(0, size - 600), size - 1)
          : randomInt(random, 0, size - 1);
      nodeFs.truncateSync(path, length);
      const cut = recordAt(length);
      const atBoundary = cut.start === length;
      what = `truncate ${segment.file} to ${length}`;
      if (isLast) expected = { firstSeq: 1, lastSeq: cut.seq - 1, logs: !atBoundary };
      else if (length === 0 && index === 0)
        expected = { firstSeq: segments[1]!.firstSeq, lastSeq: recordsCount, logs: true };
      else if (atBoundary) expected = { error: JournalErrorCode.gap };
      else expected = { error: JournalErrorCode.corrupt };
    } else if (kind === 'garbageTail') {
      const lastPath = join(dir, segments[lastIndex]!.file);
      const garbage = Uint8Array.from({ length: randomInt(random, 1, 300) }, () => randomInt(random, 0, 255));
      // Sometimes a plausible header (magic, version 1, a length) over garbage: the start of a torn batch.
      if (garbage.length >= 12 && random() < 0.5) {
        garbage.set([
          0x53,
          0x54,
          0x4a,
          0x31,
          0x01,
          0x00,
          0x00,
          0x00,
          randomInt(random, 0, 255),
          0x00,
          0x00,
          0x00,
        ]);
      }
      nodeFs.appendFileSync(lastPath, garbage);
      what = `${garbage.length} bytes of garbage after the last record`;
      expected = { firstSeq: 1, lastSeq: recordsCount, logs: true };
    } else {
      nodeFs.unlinkSync(path);
      what = `delete ${segment.file}`;
      // Losing the first segment looks like a prune; losing the last one cannot be seen (see file-journal.ts).
      if (index === 0) expected = { firstSeq: segments[1]!.firstSeq, lastSeq: recordsCount, logs: false };
      else if (isLast) expected = { firstSeq: 1, lastSeq: segment.firstSeq - 1, logs: false };
      else expected = { error: JournalErrorCode.gap };
    }

    const logs: string[] = [];
    let outcome: string;
    let actual = '';
    try {
      const opened = FileJournal.open(dir, { ...small, log: (m) => logs.push(m) });
      const durable = opened.durableSeq;
      // Appends continue from the recovered end.
      writeRecords(opened, durable + 5, 3);
      opened.close();
      const scan = scanAll(dir, 'firstSeq' in expected ? expected.firstSeq : 1);
      actual = `open ok, durableSeq ${durable}, scan ${JSON.stringify(scan)}, logs ${logs.length}`;
      if (!('firstSeq' in expected)) {
        outcome = `expected ${expected.error}`;
      } else if (
        durable !== expected.lastSeq ||
        scan.last !== expected.lastSeq + 5 ||
        scan.count !== expected.lastSeq + 5 - expected.firstSeq + 1 ||
        !scan.contiguous ||
        scan.problem !== '' ||
        logs.length > 0 !== expected.logs
      ) {
        outcome = `expected records ${expected.firstSeq}..${expected.lastSeq} then 5 more, logs ${expected.logs}`;
      } else {
        outcome = '';
      }
    } catch (error) {
      if (!isJournalError(error)) throw error;
      actual = error.message;
      outcome =
        'error' in expected && expected.error === error.code ? '' : `expected ${JSON.stringify(expected)}`;
      // Every corruption message names the file and a byte offset; every gap names both sides.
      if (
        outcome === '' &&
        error.code === JournalErrorCode.corrupt &&
        !/journal-\d{16}\.seg at byte offset \d+/.test(actual)
      ) {
        outcome = 'corruption message must name segment and offset';
      }
    }
    const tallyKey = `${kind}: ${'error' in expected ? expected.error : expected.logs ? 'truncated' : 'opened'}`;
    tally[tallyKey] = (tally[tallyKey] ?? 0) + 1;
    if (outcome !== '') {
      failures++;
      t.fail(`SEED=${seed} iteration ${iteration}: ${what}: ${outcome}; got: ${actual}`);
    }
  }
  t.comment(JSON.stringify(tally));
  t.equal(failures, 0, `SEED=${seed}: ${iterations} corruptions judged as the model says`);
});
