/**
 * Recovery: the newest valid snapshot in the data directory, then every journal record after it, applied
 * with evolve(). Runs on the engine thread before it takes commands (and in `stampede replay`). The
 * journal must already have been opened by its writer, which truncates a torn tail (file) or checks the
 * partition's end (Kafka); this only reads.
 *
 * One procedure for every journal: recoverFromJournal reads through a JournalReader (journal-backend.ts),
 * the file journal's or Kafka's. recoverState is the same procedure over the file journal read in place,
 * synchronously, for tools and benchmarks that have a data directory and no event loop to spare.
 */

import { EventApplier } from '../../engine/event-applier.ts';
import type { EngineLimits } from '../../engine/limits.ts';
import { decodeSnapshot, SnapshotFormatError } from '../../engine/snapshot.ts';
import { EngineState, Scalar } from '../../engine/state.ts';
import { JournalError, JournalErrorCode } from '../../journal/errors.ts';
import { describeJournal, type OnRecord, scanJournal } from '../../journal/file-journal.ts';
import { fileJournalIdentity, type JournalReader, journalDir } from '../../journal/journal-backend.ts';
import { checkJournalHistory, type JournalIdentity } from '../../journal/journal-identity.ts';
import { readNewestSnapshot, snapshotsDir } from '../../journal/snapshot-store.ts';

export interface Recovered {
  state: EngineState;
  /** Sequence the snapshot covered (0: none used). */
  snapshotSeq: number;
  snapshotFile: string | null;
  eventsReplayed: number;
  /** The journal the state is of (null: a file journal without an id yet); snapshots of it carry this. */
  journal: JournalIdentity | null;
}

/** The journal recovery reads: which one, and the seqs it holds. */
interface JournalSpan {
  identity: JournalIdentity | null;
  firstSeq: number;
  lastSeq: number;
}

export interface RecoveryOptions {
  availability?: SharedArrayBuffer;
  log?: (message: string) => void;
  onProgress?: (seq: number, lastSeq: number) => void;
  /** Ignore snapshots: rebuild from the first journal record (a full replay). */
  fromScratch?: boolean;
}

const progressEvery = 1 << 20;
/**
 * Recovery builds its state without prefaulting it: replay faults in only the pages it writes, and
 * the engine thread touches the rest while idle (StatePrefault). Prefaulting up front was a quarter
 * of `bench engine`'s replay time and most of a small store's restart.
 */
const unfaulted = { prefault: false } as const;

/**
 * The state to start from and the record handler that brings it forward: all of recovery but the reading.
 * Throws JOURNAL_MISMATCH or JOURNAL_GAP when the journal is not the one the data directory and its
 * snapshot belong to, or does not hold the records after the snapshot.
 */
function beginRecovery(
  dataDir: string,
  limits: EngineLimits,
  journal: JournalSpan,
  options: RecoveryOptions,
): { fromSeq: number; apply: OnRecord; finish: () => Recovered } {
  const log = options.log ?? (() => {});
  const journalLastSeq = journal.lastSeq;
  const snapshot = options.fromScratch ? null : readNewestSnapshot(dataDir, log);
  checkJournalHistory({
    dataDir,
    journal: journal.identity,
    firstSeq: journal.firstSeq,
    lastSeq: journalLastSeq,
    snapshot,
  });
  let state: EngineState;
  if (snapshot !== null) {
    try {
      state = decodeSnapshot(snapshot.bytes, options.availability, unfaulted);
    } catch (error) {
      // Its checksum held, so the file is as written: a format this engine does not read. Say which and how on.
      if (error instanceof SnapshotFormatError) {
        error.message = `SNAPSHOT_INVALID: snapshot ${snapshot.file} cannot be read (${error.message}); move it out of ${snapshotsDir(dataDir)} and the node recovers from an older snapshot or from the journal's start`;
      }
      throw error;
    }
    if (JSON.stringify(state.limits) !== JSON.stringify(limits)) {
      log(
        `snapshot ${snapshot.file} was taken with other engine limits; those stay in force until the next snapshot`,
      );
    }
  } else {
    state = new EngineState(limits, options.availability, unfaulted);
  }
  const applier = new EventApplier(state);
  const onProgress = options.onProgress;
  let eventsReplayed = 0;
  return {
    fromSeq: state.scalars[Scalar.lastSeq]! + 1,
    apply: (seq, type, atMs, bytes, offset, length) => {
      applier.apply(seq, type, atMs, bytes, offset, length);
      eventsReplayed++;
      if (onProgress !== undefined && (eventsReplayed & (progressEvery - 1)) === 0) {
        onProgress(seq, journalLastSeq);
      }
    },
    finish: () => ({
      state,
      snapshotSeq: snapshot?.lastSeq ?? 0,
      snapshotFile: snapshot?.file ?? null,
      eventsReplayed,
      journal: journal.identity,
    }),
  };
}

/** Recovery over the file journal in `dataDir`, synchronously, up to its last record. */
export function recoverState(
  dataDir: string,
  limits: EngineLimits,
  options: RecoveryOptions = {},
): Recovered {
  const dir = journalDir(dataDir);
  const { firstSeq, lastSeq } = describeJournal(dir);
  const recovery = beginRecovery(
    dataDir,
    limits,
    { identity: fileJournalIdentity(dir), firstSeq, lastSeq },
    options,
  );
  scanJournal(dir, recovery.fromSeq, recovery.apply);
  return recovery.finish();
}

/**
 * Recovery over any journal: the snapshot from `dataDir`, the records after it from `reader`, up to
 * `toSeq` (default: the journal's last durable record now). A node passes its writer's durableSeq as
 * toSeq and gets exactly that state or an error: an engine that resumed anywhere else would hand the
 * writer seqs it must refuse.
 */
export async function recoverFromJournal(
  reader: JournalReader,
  dataDir: string,
  limits: EngineLimits,
  options: RecoveryOptions & { toSeq?: number } = {},
): Promise<Recovered> {
  const toSeq = options.toSeq ?? (await reader.lastSeq());
  const identity = await reader.identity();
  const firstSeq = identity?.firstSeq ?? (await reader.firstSeq());
  const recovery = beginRecovery(dataDir, limits, { identity, firstSeq, lastSeq: toSeq }, options);
  const lastSeq = await reader.scan(recovery.fromSeq, recovery.apply, { toSeq });
  if (lastSeq !== toSeq) {
    throw new JournalError(
      JournalErrorCode.gap,
      `recovery read the journal to seq ${lastSeq}, but it is durable to seq ${toSeq}`,
    );
  }
  return recovery.finish();
}
