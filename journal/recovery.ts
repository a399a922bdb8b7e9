/**
 * Recovery: the newest valid snapshot, then every journal record after it,
 * applied with evolve(). Runs on the engine thread before it takes commands
 * (and in `stampede replay`). The journal must already have been opened by its
 * writer, which truncates a torn tail; this only reads.
 */

import { join } from 'node:path';
import { EventApplier } from '../engine/event-applier.ts';
import type { EngineLimits } from '../engine/limits.ts';
import { decodeSnapshot } from '../engine/snapshot.ts';
import { EngineState, Scalar } from '../engine/state.ts';
import { describeJournal, scanJournal } from './file-journal.ts';
import { readNewestSnapshot } from './snapshot-store.ts';

export const journalDir = (dataDir: string): string => join(dataDir, 'journal');

export interface Recovered {
  state: EngineState;
  /** Sequence the snapshot covered (0: none used). */
  snapshotSeq: number;
  snapshotFile: string | null;
  eventsReplayed: number;
}

export function recoverState(
  dataDir: string,
  limits: EngineLimits,
  options: {
    availability?: SharedArrayBuffer;
    log?: (message: string) => void;
    onProgress?: (seq: number, lastSeq: number) => void;
    /** Ignore snapshots: rebuild from the first journal record (a full replay). */
    fromScratch?: boolean;
  } = {},
): Recovered {
  const log = options.log ?? (() => {});
  const journal = describeJournal(journalDir(dataDir));
  const snapshot = options.fromScratch ? null : readNewestSnapshot(dataDir, log, journal.lastSeq);
  let state: EngineState;
  if (snapshot !== null) {
    state = decodeSnapshot(snapshot.bytes, options.availability);
    if (JSON.stringify(state.limits) !== JSON.stringify(limits)) {
      log(
        `snapshot ${snapshot.file} was taken with other engine limits; those stay in force until the next snapshot`,
      );
    }
  } else {
    state = new EngineState(limits, options.availability);
  }
  const applier = new EventApplier(state);
  const fromSeq = state.scalars[Scalar.lastSeq]! + 1;
  let eventsReplayed = 0;
  const progressEvery = 1 << 20;
  scanJournal(journalDir(dataDir), fromSeq, (seq, type, atMs, bytes, offset, length) => {
    applier.apply(seq, type, atMs, bytes, offset, length);
    eventsReplayed++;
    if (options.onProgress !== undefined && (eventsReplayed & (progressEvery - 1)) === 0) {
      options.onProgress(seq, journal.lastSeq);
    }
  });
  return { state, snapshotSeq: snapshot?.lastSeq ?? 0, snapshotFile: snapshot?.file ?? null, eventsReplayed };
}
