/**
 * `stampede prune`: deletes the journal segments the newest valid snapshot
 * covers. Takes the data directory's lock, so it refuses to run beside a live
 * node (which owns the journal).
 */
import { lockDataDir } from '../lib/data-dir-lock.ts';
import { FileJournal } from './file-journal.ts';
import { journalDir } from './recovery.ts';
import { readNewestSnapshot } from './snapshot-store.ts';

export function pruneDataDir(
  dataDir: string,
  log: (message: string) => void = console.error,
): { coveredSeq: number; removed: string[] } {
  const unlock = lockDataDir(dataDir);
  try {
    const journal = FileJournal.open(journalDir(dataDir), { log });
    try {
      const snapshot = readNewestSnapshot(dataDir, log, journal.durableSeq);
      if (snapshot === null) return { coveredSeq: 0, removed: [] };
      return { coveredSeq: snapshot.lastSeq, removed: journal.prune(snapshot.lastSeq) };
    } finally {
      journal.close();
    }
  } finally {
    unlock();
  }
}
