/**
 * `stampede prune`: deletes the journal segments the newest valid snapshot
 * covers. Takes the data directory's lock, so it refuses to run beside a live
 * node (which owns the journal).
 */
import { lockDataDir } from '../lib/data-dir-lock.ts';
import { describeJournal, FileJournal } from './file-journal.ts';
import { fileJournalIdentity, journalDir } from './journal-backend.ts';
import { checkJournalHistory } from './journal-identity.ts';
import { readNewestSnapshot } from './snapshot-store.ts';

export function pruneDataDir(
  dataDir: string,
  log: (message: string) => void = console.error,
): { coveredSeq: number; removed: string[] } {
  const unlock = lockDataDir(dataDir);
  try {
    const dir = journalDir(dataDir);
    const journal = FileJournal.open(dir, { log });
    try {
      const snapshot = readNewestSnapshot(dataDir, log);
      // Never prune on the word of a snapshot of another journal, or of one past this journal's end.
      checkJournalHistory({
        dataDir,
        journal: fileJournalIdentity(dir),
        firstSeq: describeJournal(dir).firstSeq,
        lastSeq: journal.durableSeq,
        snapshot,
      });
      if (snapshot === null) return { coveredSeq: 0, removed: [] };
      return { coveredSeq: snapshot.lastSeq, removed: journal.prune(snapshot.lastSeq) };
    } finally {
      journal.close();
    }
  } finally {
    unlock();
  }
}
