/**
 * A node refuses a journal that does not continue its data directory's state (issue 18, item 3): a
 * snapshot of another journal (JOURNAL_MISMATCH), a snapshot past the journal's end or segments missing
 * after it (JOURNAL_GAP), on real threads over the file journal, and `replay` the same. Kafka's identity
 * goes through the same check (its reader over an in-memory partition here).
 */
import {
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { CommandClient } from '../../engine/command-client.ts';
import type { CommandInput } from '../../engine/commands.ts';
import { packCurrency } from '../../engine/layout.ts';
import { engineLimits } from '../../engine/limits.ts';
import { encodeSnapshot } from '../../engine/snapshot.ts';
import { EngineState } from '../../engine/state.ts';
import { EngineCommands } from '../../gateways/engine-commands.ts';
import { crc32c } from '../../journal/crc32c.ts';
import { isJournalError } from '../../journal/errors.ts';
import { fileJournalBackend, fileJournalIdentity, journalDir } from '../../journal/journal-backend.ts';
import { readDataDirJournal } from '../../journal/journal-identity.ts';
import { kafkaJournalBackendOver, MemoryPartitionLog } from '../../journal/kafka-journal.ts';
import {
  listSnapshots,
  readNewestSnapshot,
  snapshotsDir,
  writeSnapshot,
} from '../../journal/snapshot-store.ts';
import { tempDataDir } from '../../lib/temp-data-dir.ts';
import { EngineHost } from './engine-host.ts';
import { recoverFromJournal } from './recovery.ts';
import { replayDataDir } from './replay-tool.ts';

const limits = engineLimits({ skusMax: 16, ordersMax: 4096, buyersMax: 4096, requestIdsMax: 8192 });
/** Small segments, so a sale spans several. */
const segmentBytesMax = 8192;

async function start(dataDir: string): Promise<EngineHost> {
  return EngineHost.start({ dataDir, limits, segmentBytesMax, batchBytesMax: 8192 });
}

/** A product and `orders` places on it, then a stop (which writes a snapshot at the last seq). */
async function sell(dataDir: string, orders: number, skuId = 1): Promise<number> {
  const host = await start(dataDir);
  const commands = new EngineCommands(new CommandClient(host.producers[0]!, host.control));
  const send = (input: CommandInput) => commands.submit(input)!;
  await send({ type: 'addProduct', skuId, priceMinor: 500, currency: packCurrency('USD'), stock: 10_000 });
  for (let i = 1; i <= orders; i++) {
    await send({
      type: 'placeOrder',
      buyerId: i,
      requestId: 1,
      totalMinor: 500,
      lines: [{ skuId, quantity: 1, unitPriceMinor: 500 }],
    });
  }
  return (await host.stop()).lastSeq;
}

async function refusal(t: Test, dataDir: string, code: string, pattern: RegExp, what: string): Promise<void> {
  await t.rejects(start(dataDir), { code, message: pattern }, `${what}: the node refuses to start, coded`);
  const reader = fileJournalBackend(journalDir(dataDir)).openReader();
  try {
    await replayDataDir(dataDir, reader, { limits });
    t.fail(`${what}: replay refuses too`);
  } catch (error) {
    t.ok(isJournalError(error, code as 'JOURNAL_GAP'), `${what}: replay refuses with ${code}`);
    t.match((error as Error).message, pattern);
  } finally {
    await reader.close();
  }
}

t.test('the data directory records its journal, and every snapshot names it', async (t) => {
  const dataDir = tempDataDir(t, 'identity');
  await sell(dataDir, 3);
  const journal = fileJournalIdentity(journalDir(dataDir));
  t.ok(journal !== null, 'the writer gave the journal an id');
  t.same(readDataDirJournal(dataDir), journal, 'journal-identity.json names that journal');
  t.same(readNewestSnapshot(dataDir, t.fail)?.journal, journal, "the snapshot's header names it");
  const again = await start(dataDir);
  t.equal(
    again.ready.snapshotSeq,
    again.ready.lastSeq,
    'a restart on the same journal starts from the snapshot',
  );
  await again.stop();
});

t.test('a snapshot of another journal directory: JOURNAL_MISMATCH, not a mix of two histories', async (t) => {
  const a = tempDataDir(t, 'identity-a');
  const b = tempDataDir(t, 'identity-b');
  const aSeq = await sell(a, 5);
  await sell(b, 40); // b's journal runs past a's snapshot: before, a's snapshot was loaded under b's records
  for (const { file } of listSnapshots(b)) unlinkSync(join(snapshotsDir(b), file));
  copyFileSync(
    join(snapshotsDir(a), listSnapshots(a)[0]!.file),
    join(snapshotsDir(b), listSnapshots(a)[0]!.file),
  );
  t.ok(listSnapshots(b)[0]!.lastSeq === aSeq, "b's newest snapshot is a's");
  await refusal(
    t,
    b,
    'JOURNAL_MISMATCH',
    /JOURNAL_MISMATCH: snapshot snapshot-\d+\.snap \(seq \d+\) was taken over file journal/,
    'snapshot of another journal',
  );
});

t.test('a data directory given another journal directory: JOURNAL_MISMATCH naming both', async (t) => {
  const a = tempDataDir(t, 'identity-a');
  const b = tempDataDir(t, 'identity-b');
  await sell(a, 5);
  await sell(b, 5);
  rmSync(journalDir(a), { recursive: true });
  renameSync(journalDir(b), journalDir(a));
  await refusal(
    t,
    a,
    'JOURNAL_MISMATCH',
    /JOURNAL_MISMATCH: data directory .* belongs to file journal [0-9a-f-]{36} at .*, but this node was given file journal [0-9a-f-]{36}/,
    'another journal directory',
  );
});

t.test("a snapshot past the journal's end (its last segments gone): JOURNAL_GAP, not skipped", async (t) => {
  const dataDir = tempDataDir(t, 'identity-gap');
  const lastSeq = await sell(dataDir, 200);
  const segments = readdirSync(journalDir(dataDir))
    .filter((f) => f.endsWith('.seg'))
    .sort();
  t.ok(segments.length >= 3, `the sale spans ${segments.length} segments`);
  unlinkSync(join(journalDir(dataDir), segments[segments.length - 1]!));
  await refusal(
    t,
    dataDir,
    'JOURNAL_GAP',
    new RegExp(
      `JOURNAL_GAP: snapshot snapshot-0*${lastSeq}\\.snap covers seq ${lastSeq}, but file journal .* ends at seq \\d+: records \\d+\\.\\.${lastSeq} are missing`,
    ),
    'last segment deleted',
  );
});

t.test('every segment gone, the id kept: JOURNAL_GAP (the journal ends at seq 0)', async (t) => {
  const dataDir = tempDataDir(t, 'identity-empty');
  await sell(dataDir, 20);
  for (const file of readdirSync(journalDir(dataDir))) {
    if (file.endsWith('.seg')) unlinkSync(join(journalDir(dataDir), file));
  }
  await refusal(t, dataDir, 'JOURNAL_GAP', /JOURNAL_GAP: snapshot .* ends at seq 0/, 'all segments deleted');
});

t.test('the first segment gone and no snapshot covering it: JOURNAL_GAP', async (t) => {
  const dataDir = tempDataDir(t, 'identity-head');
  await sell(dataDir, 200);
  for (const { file } of listSnapshots(dataDir)) unlinkSync(join(snapshotsDir(dataDir), file));
  const first = readdirSync(journalDir(dataDir))
    .filter((f) => f.endsWith('.seg'))
    .sort()[0]!;
  unlinkSync(join(journalDir(dataDir), first));
  await refusal(
    t,
    dataDir,
    'JOURNAL_GAP',
    /JOURNAL_GAP: .* starts at seq \d+, but the state needs its records from seq 1/,
    'first segment deleted',
  );
});

t.test("a damaged snapshot is skipped, and the node's log says so", async (t) => {
  const dataDir = tempDataDir(t, 'identity-damaged');
  const lastSeq = await sell(dataDir, 5);
  const damaged = join(snapshotsDir(dataDir), `snapshot-${String(lastSeq + 1).padStart(16, '0')}.snap`);
  writeFileSync(damaged, 'not a snapshot');
  const logs: string[] = [];
  const host = await EngineHost.start({ dataDir, limits, log: (m) => logs.push(m) });
  t.equal(host.ready.snapshotSeq, lastSeq, 'recovered from the good one');
  t.ok(
    logs.some((m) => /snapshot-0*\d+\.snap is unusable \(no trailer \(torn write\?\)\): skipped/.test(m)),
    `logged: ${logs.join(' | ')}`,
  );
  await host.stop();
});

t.test('snapshot framing: the identity is covered by the checksum; format 1 files are skipped', async (t) => {
  const dataDir = tempDataDir(t, 'identity-frame');
  const state = encodeSnapshot(new EngineState(limits));
  const journal = {
    backend: 'file',
    id: '00000000-0000-0000-0000-000000000001',
    location: '/x',
    firstSeq: 1,
  };
  const path = writeSnapshot(dataDir, 7, state, journal);
  const read = readNewestSnapshot(dataDir, t.fail);
  t.same(read?.journal, journal);
  t.equal(read?.bytes.length, state.length, 'the engine bytes come back as written');
  // A flipped byte in the identity is damage like any other.
  const bytes = readFileSync(path);
  bytes.writeUInt8(bytes.readUInt8(state.length + 3) ^ 1, state.length + 3);
  writeFileSync(path, bytes);
  const logged: string[] = [];
  t.equal(
    readNewestSnapshot(dataDir, (m) => logged.push(m)),
    null,
  );
  t.match(logged, [/\(checksum mismatch\): skipped/]);
  // Format 1: the state and a 16-byte trailer with magic 'SNT1'.
  const trailer = Buffer.alloc(16);
  trailer.writeDoubleLE(state.length, 0);
  trailer.writeUInt32LE(crc32c(state, 0, state.length), 8);
  trailer.writeUInt32LE(0x31544e53, 12);
  writeFileSync(path, Buffer.concat([state, trailer]));
  logged.length = 0;
  t.equal(
    readNewestSnapshot(dataDir, (m) => logged.push(m)),
    null,
  );
  t.match(logged, [/\(format 1, written before snapshots named their journal\): skipped/]);
  t.ok(existsSync(path), 'a skipped snapshot is left for the operator');
});

t.test("kafka: a snapshot over one partition is refused over another (the reader's identity)", async (t) => {
  const dataDir = tempDataDir(t, 'identity-kafka');
  const mixA = new MemoryPartitionLog('memory/mix-a/0');
  const mixB = new MemoryPartitionLog('memory/mix-b/0');
  const backendA = kafkaJournalBackendOver(() => mixA.handle(), mixA.location);
  const backendB = kafkaJournalBackendOver(() => mixB.handle(), mixB.location);
  const readerA = backendA.openReader();
  const readerB = backendB.openReader();
  t.teardown(() => Promise.all([readerA.close(), readerB.close()]));
  const journalA = await readerA.identity();
  t.ok(journalA !== null && journalA.backend === 'kafka');
  t.not(journalA?.id, (await readerB.identity())?.id, 'two partitions are two journals');
  t.equal(journalA?.id, (await backendA.openReader().identity())?.id, 'a second handle is the same journal');
  writeSnapshot(dataDir, 0, encodeSnapshot(new EngineState(limits)), journalA!);
  const recovered = await recoverFromJournal(readerA, dataDir, limits);
  t.same(recovered.journal, journalA, 'recovery over its own partition goes ahead');
  await t.rejects(
    recoverFromJournal(readerB, dataDir, limits),
    /JOURNAL_MISMATCH: snapshot .* was taken over kafka journal memory-.*\/memory\/mix-a\/0\/0 .* but this node was given kafka journal memory-.*mix-b/,
  );
});
