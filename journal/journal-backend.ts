/**
 * One journal contract over two backends: the file journal (file-journal.ts, the embedded default) and
 * Kafka (kafka-journal.ts). Writers append framed events and make them durable with one group commit;
 * readers deliver records in seq order exactly as scanJournal does. Replay, recovery and projectors take a
 * JournalReader; the journal thread (or a test) takes a JournalWriter. journal-contract.ts holds the tests
 * both backends must pass.
 *
 * Threads: a writer belongs to one thread (the journal thread); readers may run anywhere, alongside it.
 *
 * Why async here when FileJournal is synchronous: Kafka acknowledges over the network. The file adapter
 * wraps the synchronous calls, so the file journal's own hot path (node/host/journal-thread.ts) stays as it is.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  describeJournal,
  FileJournal,
  type FileJournalOptions,
  type OnRecord,
  scanJournal,
} from './file-journal.ts';
import { type JournalIdentity, readFileJournalId } from './journal-identity.ts';

export type { OnRecord } from './file-journal.ts';

/** Where a data directory keeps its file journal (its snapshots: snapshot-store.ts). */
export const journalDir = (dataDir: string): string => join(dataDir, 'journal');

export interface JournalWriter {
  /** The seq the next append must carry. */
  readonly nextSeq: number;
  /** Last seq the backend has made durable (fsync returned, or Kafka acknowledged by every in-sync replica). */
  readonly durableSeq: number;
  /** Records appended and not yet committed. */
  readonly pendingRecordCount: number;
  /**
   * Adds one record to the current batch. False, adding nothing, when the batch is full (commit, then append
   * again). Throws JOURNAL_SEQUENCE unless seq === nextSeq.
   */
  append(
    seq: number,
    type: number,
    timestampMs: number,
    payload: Uint8Array,
    payloadOffset: number,
    payloadLength: number,
  ): boolean;
  /** Group commit: makes the batch durable (one write + fsync, or one acknowledged send). Returns durableSeq. */
  commit(): Promise<number>;
  /** Drops an uncommitted batch (it was never durable, nobody was told) and releases the backend. */
  close(): Promise<void>;
}

export interface JournalScanOptions {
  /** Deliver records up to and including this seq (default: every durable record there is now). */
  toSeq?: number;
}

export interface JournalReader {
  /**
   * Delivers every record with fromSeq <= seq <= toSeq, in order, each once; returns the last seq delivered
   * (fromSeq - 1 when none). `bytes` is only valid during the call. Throws JOURNAL_GAP when fromSeq is
   * before the first retained record or more than one past the last, JOURNAL_CORRUPT on damage before the
   * tail. Only durable records are delivered.
   */
  scan(fromSeq: number, onRecord: OnRecord, options?: JournalScanOptions): Promise<number>;
  /** Seq of the last durable record now (0 when the journal is empty). */
  lastSeq(): Promise<number>;
  /** Seq of the first retained record (pruning or retention deletes older ones); lastSeq() + 1 when empty. */
  firstSeq(): Promise<number>;
  /**
   * Which journal this is (journal-identity.ts), with its first retained seq now; null for a file journal
   * no writer has opened since journals carried ids.
   */
  identity(): Promise<JournalIdentity | null>;
  /**
   * A cheap test before polling: false only when the journal certainly holds nothing after `seq` (the file
   * reader compares the segment files' names and the last one's size with what the last scan saw).
   */
  mayHaveRecordsAfter(seq: number): Promise<boolean>;
  close(): Promise<void>;
}

/** What a node, a projector or a test needs from a journal location. */
export interface JournalBackend {
  /** 'file' or 'kafka', for logs and test names. */
  readonly kind: string;
  /** Where it is, for messages: the directory, or brokers/topic/partition. */
  readonly location: string;
  openWriter(): Promise<JournalWriter>;
  openReader(): JournalReader;
}

// ───────────────────────────────────────────── the file backend ─────────────────────────────────────────────

class FileJournalWriter implements JournalWriter {
  private readonly journal: FileJournal;

  constructor(journal: FileJournal) {
    this.journal = journal;
  }
  get nextSeq(): number {
    return this.journal.nextSeq;
  }
  get durableSeq(): number {
    return this.journal.durableSeq;
  }
  get pendingRecordCount(): number {
    return this.journal.pendingRecordCount;
  }
  append(
    seq: number,
    type: number,
    timestampMs: number,
    payload: Uint8Array,
    payloadOffset: number,
    payloadLength: number,
  ): boolean {
    return this.journal.append(seq, type, timestampMs, payload, payloadOffset, payloadLength);
  }
  commit(): Promise<number> {
    try {
      return Promise.resolve(this.journal.commit());
    } catch (error) {
      return Promise.reject(error);
    }
  }
  close(): Promise<void> {
    try {
      this.journal.close();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/** The file journal in `dir` as a JournalIdentity; null when no writer has given it an id yet. */
export function fileJournalIdentity(dir: string): JournalIdentity | null {
  const id = readFileJournalId(dir);
  return id === null ? null : { backend: 'file', id, location: dir, firstSeq: describeJournal(dir).firstSeq };
}

const segmentName = /^journal-\d{16}\.seg$/;

/**
 * Reads a journal directory that a writer (this process or another) may be appending to. Everything it
 * delivers passed its checksum; a torn tail ends a scan (scanJournal's rules). A standalone reader cannot see
 * the writer's durableSeq, so it may deliver a record whose fsync has not returned yet; an in-process reader
 * passes the writer's durableSeq as toSeq instead (projections/projector.ts does).
 */
export class FileJournalReader implements JournalReader {
  readonly dir: string;
  /** Segment names and the last one's size when the last scan that reached the end began, and that end. */
  private quietFingerprint = '';
  private quietAfterSeq = -1;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Segment file names and the size of the last one: changes whenever a record is appended or pruned. */
  private fingerprint(): string {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((name) => segmentName.test(name));
    } catch {
      return '';
    }
    names.sort();
    const last = names[names.length - 1];
    if (last === undefined) return '';
    let size = -1;
    try {
      size = statSync(join(this.dir, last)).size;
    } catch {
      // Pruned or rolled between the listing and the stat: a different fingerprint is the right answer.
    }
    return `${names.join(',')}:${size}`;
  }

  scan(fromSeq: number, onRecord: OnRecord, options: JournalScanOptions = {}): Promise<number> {
    try {
      const fingerprint = this.fingerprint();
      const toSeq = options.toSeq;
      const last = scanJournal(this.dir, fromSeq, onRecord, toSeq === undefined ? {} : { toSeq });
      // Stopped before toSeq: the journal ends at `last` (as of the fingerprint taken before the scan).
      if (toSeq === undefined || last < toSeq) {
        this.quietFingerprint = fingerprint;
        this.quietAfterSeq = last;
      }
      return Promise.resolve(last);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  lastSeq(): Promise<number> {
    try {
      return Promise.resolve(describeJournal(this.dir).lastSeq);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  firstSeq(): Promise<number> {
    try {
      return Promise.resolve(describeJournal(this.dir).firstSeq);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  identity(): Promise<JournalIdentity | null> {
    try {
      return Promise.resolve(fileJournalIdentity(this.dir));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  mayHaveRecordsAfter(seq: number): Promise<boolean> {
    return Promise.resolve(!(seq === this.quietAfterSeq && this.fingerprint() === this.quietFingerprint));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export function fileJournalBackend(dir: string, options: FileJournalOptions = {}): JournalBackend {
  return {
    kind: 'file',
    location: dir,
    openWriter: () => {
      try {
        return Promise.resolve(new FileJournalWriter(FileJournal.open(dir, options)));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    openReader: () => new FileJournalReader(dir),
  };
}
