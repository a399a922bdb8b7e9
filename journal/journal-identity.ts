/**
 * Which journal a data directory's state belongs to. Snapshots are the state up to a seq of ONE journal: a
 * snapshot loaded over another journal's records, or over a journal that ends before it, gives a state no
 * history ever had (issue 18: a node moved from topic mix-a to mix-b died replaying "status change for
 * unknown order"). So the journal's identity is recorded where the state lives, and recovery compares:
 *
 * - the file journal names itself with `journal.id` in its directory (a random id, written once, durably,
 *   when FileJournal.open first sees the directory); Kafka by cluster id, topic and partition (a topic
 *   deleted and created again under its name is not told apart: kafkajs does not expose topic ids);
 * - the data directory records the identity of the journal it was first used with (`journal-identity.json`);
 * - every snapshot carries the identity of the journal it was taken over (snapshot-store.ts, its header).
 *
 * checkJournalHistory refuses a journal that is not the recorded one (JOURNAL_MISMATCH) or that does not
 * hold the records after the snapshot (JOURNAL_GAP), with what it found and what an operator can do.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JournalError, JournalErrorCode } from './errors.ts';

export interface JournalIdentity {
  /** 'file' or 'kafka'. */
  readonly backend: string;
  /** Names one journal for its whole life: the file journal's journal.id, or `<cluster id>/<topic>/<partition>`. */
  readonly id: string;
  /** Where it was when recorded (directory, or brokers/topic/partition), for messages only. */
  readonly location: string;
  /** The first retained seq when recorded (pruning and retention move it on; records before it are gone). */
  readonly firstSeq: number;
}

export const sameJournal = (a: JournalIdentity, b: JournalIdentity): boolean =>
  a.backend === b.backend && a.id === b.id;

export const describeIdentity = (identity: JournalIdentity): string =>
  `${identity.backend} journal ${identity.id} at ${identity.location}`;

/** The journal a Kafka partition is: Kafka names the cluster, the node names topic and partition. */
export const kafkaJournalId = (clusterId: string, topic: string, partition: number): string =>
  `${clusterId}/${topic}/${partition}`;

function isIdentity(value: unknown): value is JournalIdentity {
  const v = value as Partial<Record<keyof JournalIdentity, unknown>> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.backend === 'string' &&
    typeof v.id === 'string' &&
    v.id.length > 0 &&
    typeof v.location === 'string' &&
    Number.isSafeInteger(v.firstSeq)
  );
}

/** JSON of the four fields, in a fixed order (snapshot headers and the data directory's record). */
export function encodeIdentity(identity: JournalIdentity): Uint8Array {
  const { backend, id, location, firstSeq } = identity;
  return new TextEncoder().encode(JSON.stringify({ backend, id, location, firstSeq }));
}

/** The identity in `bytes`, or null when they are not one. */
export function decodeIdentity(bytes: Uint8Array): JournalIdentity | null {
  try {
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return isIdentity(value) ? value : null;
  } catch {
    return null;
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `text` to `path` so that a crash leaves the old file or the whole new one, never a torn one. */
function writeDurably(dir: string, path: string, text: string): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, text);
  fsyncPath(temporary);
  renameSync(temporary, path);
  fsyncPath(dir);
}

// ───────────────────────────────────────────── the file journal's id ─────────────────────────────────────────────

const journalIdFile = 'journal.id';
const journalIdPattern = /^[0-9a-f-]{36}$/;

/** The id in a file journal's directory, or null when it has none (never opened by a writer since ids exist). */
export function readFileJournalId(dir: string): string | null {
  let text: string;
  try {
    text = readFileSync(join(dir, journalIdFile), 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new JournalError(JournalErrorCode.io, `reading ${join(dir, journalIdFile)} failed`, {
      cause: error,
    });
  }
  if (!journalIdPattern.test(text)) {
    throw new JournalError(
      JournalErrorCode.mismatch,
      `${join(dir, journalIdFile)} holds '${text.slice(0, 40)}', not a journal id: restore the file from a ` +
        'backup of this journal directory',
    );
  }
  return text;
}

/**
 * The directory's id, made (durably) when it has none: a new journal, or one written before ids existed
 * (`adoptLog` non-null: that is reported, a new journal is not).
 */
export function ensureFileJournalId(dir: string, adoptLog: ((message: string) => void) | null): string {
  const existing = readFileJournalId(dir);
  if (existing !== null) return existing;
  const id = randomUUID();
  try {
    writeDurably(dir, join(dir, journalIdFile), `${id}\n`);
  } catch (error) {
    throw new JournalError(JournalErrorCode.io, `writing ${join(dir, journalIdFile)} failed`, {
      cause: error,
    });
  }
  adoptLog?.(`journal: ${dir} had no id; it is journal ${id} from now on (${journalIdFile} written)`);
  return id;
}

// ─────────────────────────────────────────── the data directory's record ───────────────────────────────────────────

const dataDirIdentityFile = 'journal-identity.json';

/** The journal the data directory was first used with, or null when none is recorded. */
export function readDataDirJournal(dataDir: string): JournalIdentity | null {
  const path = join(dataDir, dataDirIdentityFile);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new JournalError(JournalErrorCode.io, `reading ${path} failed`, { cause: error });
  }
  const identity = decodeIdentity(bytes);
  if (identity === null) {
    throw new JournalError(
      JournalErrorCode.mismatch,
      `${path} does not hold a journal identity: restore it, or delete it to let the next start record the journal it is given`,
    );
  }
  return identity;
}

/** Records the journal a data directory is used with, once: the first start that succeeds writes it. */
export function recordDataDirJournal(dataDir: string, identity: JournalIdentity): void {
  if (readDataDirJournal(dataDir) !== null) return;
  const path = join(dataDir, dataDirIdentityFile);
  try {
    writeDurably(dataDir, path, `${new TextDecoder().decode(encodeIdentity(identity))}\n`);
  } catch (error) {
    try {
      unlinkSync(`${path}.tmp`);
    } catch {
      // Never created: nothing to clean up.
    }
    throw new JournalError(JournalErrorCode.io, `writing ${path} failed`, { cause: error });
  }
}

// ─────────────────────────────────────────────────── the check ───────────────────────────────────────────────────

export interface JournalHistory {
  dataDir: string;
  /** The journal given; null for a file journal that has no id yet (only a writer makes one). */
  journal: JournalIdentity | null;
  /** Its first retained and last durable seq (lastSeq = firstSeq - 1 when empty). */
  firstSeq: number;
  lastSeq: number;
  /** The snapshot recovery would start from, with the identity in its header. */
  snapshot: { file: string; lastSeq: number; journal: JournalIdentity } | null;
}

const freshStart =
  'or start over from this journal alone with a new data directory (or move snapshots/ and journal-identity.json out of this one)';

/**
 * Throws JOURNAL_MISMATCH when the journal given is not the one the data directory or its snapshot
 * belongs to, and JOURNAL_GAP when it does not hold every record after the snapshot (or, without one,
 * after the records the data directory was first used with).
 */
export function checkJournalHistory(history: JournalHistory): void {
  const { dataDir, journal, firstSeq, lastSeq, snapshot } = history;
  const recorded = readDataDirJournal(dataDir);
  if (journal !== null) {
    // An empty journal with a new id is most often the old one's directory deleted or emptied.
    const given = `${describeIdentity(journal)}${lastSeq < firstSeq ? ' (empty: newly created?)' : ''}`;
    if (recorded !== null && !sameJournal(recorded, journal)) {
      throw new JournalError(
        JournalErrorCode.mismatch,
        `data directory ${dataDir} belongs to ${describeIdentity(recorded)}, but this node was given ` +
          `${given}: start it with the journal it belongs to, ${freshStart}`,
      );
    }
    if (snapshot !== null && !sameJournal(snapshot.journal, journal)) {
      throw new JournalError(
        JournalErrorCode.mismatch,
        `snapshot ${snapshot.file} (seq ${snapshot.lastSeq}) was taken over ${describeIdentity(snapshot.journal)}, ` +
          `but this node was given ${given}: start it with the journal the snapshot belongs to, ${freshStart}`,
      );
    }
  }
  const where = journal === null ? 'the journal' : describeIdentity(journal);
  if (snapshot !== null && snapshot.lastSeq > lastSeq) {
    throw new JournalError(
      JournalErrorCode.gap,
      `snapshot ${snapshot.file} covers seq ${snapshot.lastSeq}, but ${where} ends at seq ${lastSeq}: records ` +
        `${lastSeq + 1}..${snapshot.lastSeq} are missing. Put the missing records (segments) back; or, knowingly ` +
        `losing what the snapshot holds past seq ${lastSeq}, move that snapshot out of ${dataDir}/snapshots`,
    );
  }
  const neededFrom = snapshot !== null ? snapshot.lastSeq + 1 : (recorded?.firstSeq ?? 1);
  if (firstSeq > neededFrom) {
    throw new JournalError(
      JournalErrorCode.gap,
      `${where} starts at seq ${firstSeq}, but the state needs its records from seq ${neededFrom}` +
        `${snapshot === null ? ' (no snapshot covers them)' : ` (after snapshot ${snapshot.file})`}: records ` +
        `${neededFrom}..${firstSeq - 1} are missing. Put the missing segments back, or restore a snapshot that covers them`,
    );
  }
}
