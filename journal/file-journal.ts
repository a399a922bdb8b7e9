/**
 * The embedded default journal: an append-only log of framed records (record-frame.ts) in segment files,
 * written with group commit (one write() and one fdatasync() per batch) and recovered on open.
 *
 * Threads: a FileJournal belongs to the journal worker thread; everything here is synchronous on purpose
 * (it runs at start-up and on a thread that has nothing else to do while the disk works). scanJournal and
 * describeJournal are read-only and may run on any thread or process, alongside the writer.
 *
 * Never: allocate per record (append copies into a buffer allocated at open; readers hand out views into
 * one reused read buffer); acknowledge a record before the fdatasync that covers it returns; skip a damaged
 * record that has valid records after it (that is JOURNAL_CORRUPT, naming segment and byte offset: an
 * operator decides, not the code); keep going after a failed write or fsync (the page cache may have
 * dropped the data: JOURNAL_IO, the node restarts from snapshot + journal).
 *
 * Directory layout: segment files directly in the journal directory, named
 *
 *   journal-<seq of its first record, zero-padded to 16 digits>.seg      e.g. journal-0000000000000001.seg
 *
 * (16 digits hold every seq below 2^53, so name order is seq order), and `journal.id`, the journal's name
 * for snapshots and data directories (journal-identity.ts; open writes it before any record). Other files
 * are ignored. Segments
 * hold consecutive seqs: a segment's records end just before the next segment's name. Only the last
 * segment is ever written; it is created (and the directory fsynced) before any record goes into it.
 *
 * Recovery rules (FileJournal.open; readers apply the same rules but never change a file):
 * - A damaged or incomplete record in the LAST segment with no valid record anywhere after it is a torn
 *   tail (a crash during a batch that was never acknowledged): open truncates the segment there, fsyncs
 *   it and logs segment, offset and reason. Readers stop there.
 * - A damaged record with a valid record after it, or any damage in an earlier segment: JOURNAL_CORRUPT.
 * - A valid record whose seq is not the one expected there: JOURNAL_CORRUPT (checksums do not lie; the
 *   file holds records that do not belong to this journal).
 * - Segment N+1 starting after segment N ends + 1: JOURNAL_GAP naming both; starting before: JOURNAL_CORRUPT.
 * - Empty segments: an empty last segment is reused (a crash right after a roll leaves one); an empty
 *   segment before the last holds nothing and takes no part in the checks: open deletes it (and logs),
 *   readers skip it. Normal operation never creates one (commit does not roll out of an empty segment).
 * - Deleting the LAST segment, or truncating it at a record boundary, cannot be detected from the files
 *   alone: the snapshot's seq (checked by the caller against nextSeq) is the only witness.
 * - A crash may in principle persist a later page of an unacknowledged batch but not an earlier one (file
 *   systems do not promise to write pages in order). That looks like damage before the tail and stops
 *   start-up with JOURNAL_CORRUPT: a false alarm an operator resolves, rather than a guess that could drop
 *   acknowledged records.
 *
 * One writer per directory: nothing here locks it (Node has no flock); the wiring must ensure it.
 */
import * as nodeFs from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { JournalError, JournalErrorCode } from './errors.ts';
import { ensureFileJournalId } from './journal-identity.ts';
import { type JournalLimits, journalLimits } from './limits.ts';
import {
  checkFrame,
  describeFrameCheck,
  FrameCheck,
  frameBytes,
  framePayloadLength,
  frameSeq,
  frameTimestampMs,
  frameType,
  RecordFrame,
  recordMagic,
  recordSeqMax,
  recordTypeMax,
  sealFrame,
  writeFrameHeader,
} from './record-frame.ts';

// ───────────────────────────────────────────── file system seam ─────────────────────────────────────────────

/** The node:fs calls the journal makes: tests pass a wrapper to count fsyncs or inject failures. */
export type JournalFs = Pick<
  typeof nodeFs,
  | 'closeSync'
  | 'fdatasyncSync'
  | 'fstatSync'
  | 'fsyncSync'
  | 'ftruncateSync'
  | 'mkdirSync'
  | 'openSync'
  | 'readdirSync'
  | 'readSync'
  | 'statSync'
  | 'unlinkSync'
  | 'writeSync'
>;

function causeText(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

function ioError(operation: string, path: string, cause: unknown): JournalError {
  return new JournalError(JournalErrorCode.io, `${operation} ${path} failed: ${causeText(cause)}`, { cause });
}

/** Makes a file's creation or deletion durable: the directory entry lives in the directory, not the file. */
function fsyncDirectory(fs: JournalFs, dir: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (cause) {
    throw ioError('fsync of directory', dir, cause);
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

// ──────────────────────────────────────────────── segment names ────────────────────────────────────────────────

const segmentNamePattern = /^journal-(\d{16})\.seg$/;
const segmentNameDigits = 16;

export function segmentFileName(firstSeq: number): string {
  return `journal-${String(firstSeq).padStart(segmentNameDigits, '0')}.seg`;
}

interface SegmentFile {
  readonly file: string;
  readonly firstSeq: number;
}

/** Segment files in `dir`, oldest first. Names that look like segments but are not valid are reported. */
function listSegments(fs: JournalFs, dir: string, log: ((message: string) => void) | null): SegmentFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (cause) {
    throw ioError('listing', dir, cause);
  }
  const segments: SegmentFile[] = [];
  for (const file of names) {
    const match = segmentNamePattern.exec(file);
    const firstSeq = match ? Number(match[1]) : 0;
    if (match && firstSeq >= 1 && firstSeq <= recordSeqMax) {
      segments.push({ file, firstSeq });
    } else if (log && file.startsWith('journal-') && file.endsWith('.seg')) {
      log(`journal: ignoring ${join(dir, file)}: not a segment name (journal-<16 digits, 1..2^53-1>.seg)`);
    }
  }
  // Fixed-width names: string order is seq order.
  segments.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return segments;
}

// ───────────────────────────────────────────────── reading side ─────────────────────────────────────────────────

export type OnRecord = (
  seq: number,
  type: number,
  timestampMs: number,
  bytes: Uint8Array,
  payloadOffset: number,
  payloadLength: number,
) => void;

/** How a segment walk ended. */
interface SegmentWalk {
  /** Seq of the last valid record (the segment's firstSeq - 1 when it has none). */
  lastSeq: number;
  /** Bytes of whole valid records from the start of the file. */
  validBytes: number;
  /** Size of the file when the walk started. */
  fileBytes: number;
  /** FrameCheck of the first invalid frame, or ok when the valid records run to the end of the file. */
  damage: FrameCheck;
  /** True when the walk stopped because it passed toSeq (validBytes is then not the end). */
  stoppedAtToSeq: boolean;
}

/**
 * Reads one segment file at a time through a read buffer allocated once (readChunkBytes), validating every
 * frame. Records are handed out as views into that buffer: no allocation per record or per chunk.
 */
class SegmentReader {
  private readonly fs: JournalFs;
  private readonly readChunkBytes: number;
  private readonly recordPayloadBytesMax: number;
  private readonly recordFrameBytesMax: number;
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private fd = -1;
  private path = '';
  private fileBytes = 0;
  /** File position of bytes[0], and of the end of what the buffer holds. */
  private bufferStart = 0;
  private bufferEnd = 0;

  constructor(fs: JournalFs, limits: JournalLimits) {
    this.fs = fs;
    this.readChunkBytes = limits.readChunkBytes;
    this.recordPayloadBytesMax = limits.recordPayloadBytesMax;
    this.recordFrameBytesMax = frameBytes(limits.recordPayloadBytesMax);
    this.bytes = new Uint8Array(limits.readChunkBytes);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Starts reading an already open file descriptor (the caller closes it). */
  attach(fd: number, path: string): void {
    this.fd = fd;
    this.path = path;
    try {
      this.fileBytes = this.fs.fstatSync(fd).size;
    } catch (cause) {
      throw ioError('fstat', path, cause);
    }
    this.bufferStart = 0;
    this.bufferEnd = 0;
  }

  /** Makes the buffer hold [position, min(position + largest frame, end of file)). */
  private ensure(position: number): void {
    const needEnd = Math.min(position + this.recordFrameBytesMax, this.fileBytes);
    if (position >= this.bufferStart && needEnd <= this.bufferEnd) return;
    let kept = 0;
    if (position >= this.bufferStart && position < this.bufferEnd) {
      kept = this.bufferEnd - position;
      this.bytes.copyWithin(0, position - this.bufferStart, this.bufferEnd - this.bufferStart);
    }
    this.bufferStart = position;
    this.bufferEnd = position + kept;
    while (this.bufferEnd < this.fileBytes && this.bufferEnd - this.bufferStart < this.readChunkBytes) {
      const room = Math.min(
        this.readChunkBytes - (this.bufferEnd - this.bufferStart),
        this.fileBytes - this.bufferEnd,
      );
      let read: number;
      try {
        read = this.fs.readSync(this.fd, this.bytes, this.bufferEnd - this.bufferStart, room, this.bufferEnd);
      } catch (cause) {
        throw ioError('read', this.path, cause);
      }
      // The file shrank under us (only a writer's recovery truncates): what is left is the file.
      if (read === 0) this.fileBytes = this.bufferEnd;
      this.bufferEnd += read;
    }
  }

  private check(position: number): FrameCheck {
    this.ensure(position);
    const at = position - this.bufferStart;
    return checkFrame(
      this.bytes,
      this.view,
      at,
      this.bufferEnd - this.bufferStart,
      this.recordPayloadBytesMax,
    );
  }

  /**
   * Walks the attached segment from byte 0, checking that records carry firstSeq, firstSeq + 1, ... and
   * delivering those in [fromSeq, toSeq] to onRecord (null: validate only). Stops at the first invalid
   * frame (reported in the result, for the caller to judge) or after toSeq.
   */
  walk(segment: SegmentFile, fromSeq: number, toSeq: number, onRecord: OnRecord | null): SegmentWalk {
    let position = 0;
    let seq = segment.firstSeq;
    let damage: FrameCheck = FrameCheck.ok;
    let stoppedAtToSeq = false;
    while (position < this.fileBytes) {
      if (seq > toSeq) {
        stoppedAtToSeq = true;
        break;
      }
      const check = this.check(position);
      if (check !== FrameCheck.ok) {
        damage = check;
        break;
      }
      const at = position - this.bufferStart;
      const recordSeq = frameSeq(this.view, at);
      if (recordSeq !== seq) {
        throw new JournalError(
          JournalErrorCode.corrupt,
          `${this.path} at byte offset ${position}: a valid record with seq ${recordSeq} where seq ${seq} belongs` +
            (position === 0 ? ' (the file name gives the first seq)' : ''),
        );
      }
      const payloadLength = framePayloadLength(this.view, at);
      if (onRecord !== null && seq >= fromSeq) {
        onRecord(
          seq,
          frameType(this.view, at),
          frameTimestampMs(this.view, at),
          this.bytes,
          at + RecordFrame.payload,
          payloadLength,
        );
      }
      position += frameBytes(payloadLength);
      seq++;
    }
    return { lastSeq: seq - 1, validBytes: position, fileBytes: this.fileBytes, damage, stoppedAtToSeq };
  }

  /** File position of the first valid frame at or after `position`, or -1. Frames are 8-byte aligned. */
  findValidFrame(position: number): number {
    for (let p = position; p + RecordFrame.headerBytes <= this.fileBytes; p += RecordFrame.alignmentBytes) {
      this.ensure(p);
      // Cheap filter first: the magic, then the full check (checksum) only where it matches.
      if (this.view.getUint32(p - this.bufferStart + RecordFrame.magic, true) !== recordMagic) continue;
      if (this.check(p) === FrameCheck.ok) return p;
    }
    return -1;
  }
}

function openForRead(fs: JournalFs, path: string, flags: 'r' | 'r+'): number {
  try {
    return fs.openSync(path, flags);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      // Listed a moment ago, gone now: pruned by the writer while we were reading.
      throw new JournalError(JournalErrorCode.gap, `${path} disappeared while reading (pruned?)`, { cause });
    }
    throw ioError('open', path, cause);
  }
}

/** What walking every segment found: the facts both recovery and the read-only functions need. */
interface JournalWalk {
  segments: { file: string; firstSeq: number; lastSeq: number; bytes: number }[];
  /** Set when the last segment ends in a torn tail: where, and why. */
  tornTail: { file: string; offset: number; fileBytes: number; damage: FrameCheck } | null;
}

/**
 * Judges damage found by a walk: throws JOURNAL_CORRUPT unless it is a torn tail (in the last segment, and
 * no valid frame anywhere after it).
 */
function judgeDamage(reader: SegmentReader, path: string, walk: SegmentWalk, isLastSegment: boolean): void {
  const reason = describeFrameCheck(walk.damage);
  if (!isLastSegment) {
    throw new JournalError(
      JournalErrorCode.corrupt,
      `${path} at byte offset ${walk.validBytes}: ${reason}, in a segment that is not the last (records after it ` +
        'were acknowledged; nothing is skipped silently)',
    );
  }
  const validAfter = reader.findValidFrame(walk.validBytes + RecordFrame.alignmentBytes);
  if (validAfter >= 0) {
    throw new JournalError(
      JournalErrorCode.corrupt,
      `${path} at byte offset ${walk.validBytes}: ${reason}, and a valid record follows at byte offset ${validAfter} ` +
        '(damage before the tail; nothing is skipped silently)',
    );
  }
}

/** Checks that a non-empty segment starts right after the previous non-empty one ends. */
function checkContinuity(
  dir: string,
  previous: { file: string; lastSeq: number } | null,
  file: string,
  firstSeq: number,
): void {
  if (previous === null || firstSeq === previous.lastSeq + 1) return;
  const sides =
    `${join(dir, previous.file)} ends at seq ${previous.lastSeq}, ` +
    `${join(dir, file)} starts at seq ${firstSeq}`;
  if (firstSeq > previous.lastSeq + 1) {
    throw new JournalError(
      JournalErrorCode.gap,
      `records ${previous.lastSeq + 1}..${firstSeq - 1} are missing: ${sides} (a segment was lost)`,
    );
  }
  throw new JournalError(JournalErrorCode.corrupt, `segments overlap: ${sides}`);
}

/** Sizes of the listed segment files, in the same order. */
function segmentSizes(fs: JournalFs, dir: string, segmentList: SegmentFile[]): number[] {
  return segmentList.map((segment) => {
    const path = join(dir, segment.file);
    try {
      return fs.statSync(path).size;
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new JournalError(JournalErrorCode.gap, `${path} disappeared while reading (pruned?)`, {
          cause,
        });
      }
      throw ioError('stat', path, cause);
    }
  });
}

/**
 * Validates a journal directory read-only, delivering records with fromSeq <= seq <= toSeq along the way.
 * Starts at the segment holding fromSeq (earlier segments are not read: they may be pruned). Empty
 * segments before the last are not read and take no part in the checks (their names prove nothing).
 */
function walkJournal(
  fs: JournalFs,
  dir: string,
  limits: JournalLimits,
  segmentList: SegmentFile[],
  fromSeq: number,
  toSeq: number,
  onRecord: OnRecord | null,
): JournalWalk {
  const reader = new SegmentReader(fs, limits);
  const result: JournalWalk = { segments: [], tornTail: null };
  const sizes = segmentSizes(fs, dir, segmentList);
  const lastIndex = segmentList.length - 1;
  // The segments that count: every non-empty one, and the last one even when empty (it names the next seq).
  const counted = segmentList.filter((_, index) => sizes[index]! > 0 || index === lastIndex);
  let previous: { file: string; lastSeq: number } | null = null;
  let countedIndex = -1;
  for (let index = 0; index <= lastIndex; index++) {
    const segment = segmentList[index]!;
    if (sizes[index] === 0 && index !== lastIndex) {
      result.segments.push({
        file: segment.file,
        firstSeq: segment.firstSeq,
        lastSeq: segment.firstSeq - 1,
        bytes: 0,
      });
      continue;
    }
    countedIndex++;
    const isLast = index === lastIndex;
    // Skip segments that end before fromSeq: the next one starts at or below it. (Its first record is
    // checked against its name when it is read, and continuity from there on, so this cannot hide a hole.)
    const next = counted[countedIndex + 1];
    if (next !== undefined && next.firstSeq <= fromSeq) continue;
    const path = join(dir, segment.file);
    const fd = openForRead(fs, path, 'r');
    let walk: SegmentWalk;
    try {
      reader.attach(fd, path);
      walk = reader.walk(segment, fromSeq, toSeq, onRecord);
      if (walk.damage !== FrameCheck.ok) judgeDamage(reader, path, walk, isLast);
    } finally {
      fs.closeSync(fd);
    }
    // A non-empty segment must start right after the previous one; so must the last one even when it is
    // empty or torn down to nothing, since its name is the next seq.
    if (walk.validBytes > 0 || isLast) checkContinuity(dir, previous, segment.file, segment.firstSeq);
    if (walk.validBytes > 0) previous = { file: segment.file, lastSeq: walk.lastSeq };
    result.segments.push({
      file: segment.file,
      firstSeq: segment.firstSeq,
      lastSeq: walk.lastSeq,
      bytes: walk.fileBytes,
    });
    if (walk.damage !== FrameCheck.ok) {
      result.tornTail = {
        file: segment.file,
        offset: walk.validBytes,
        fileBytes: walk.fileBytes,
        damage: walk.damage,
      };
    }
    if (walk.stoppedAtToSeq) break;
  }
  return result;
}

export interface ScanOptions {
  /** Deliver records up to and including this seq (default: all). A tailing reader passes the writer's
   * durableSeq, so it never acts on a record that a crash could still take back. */
  toSeq?: number;
  /** Read buffer size (default journalLimitsDefault.readChunkBytes); tests shrink it to cross chunk edges. */
  readChunkBytes?: number;
}

function assertSeqArgument(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer from ${min} to 2^53-1, got ${value}`);
  }
}

/**
 * Reading side, for recovery, replay and projectors: delivers every record with seq >= fromSeq (and
 * <= options.toSeq), in order, validating checksums and sequence as it goes, with the same corruption rules
 * as FileJournal.open, but read-only: a torn tail simply ends the scan. `bytes` is the reused read buffer:
 * the view is valid only during the call. Returns the last seq delivered, or fromSeq - 1 if none.
 *
 * Throws JOURNAL_GAP when fromSeq is below the first retained record (pruned) or more than one past the
 * last record (the caller believes in records this journal does not have). An empty directory has no
 * opinion: it returns fromSeq - 1.
 *
 * Cost: reads the segment holding fromSeq from its start (frames are variable-length, there is no index),
 * so a reader that polls the tail should poll with a large enough interval, or keep its own position.
 */
export function scanJournal(
  dir: string,
  fromSeq: number,
  onRecord: OnRecord,
  options: ScanOptions = {},
): number {
  assertSeqArgument('fromSeq', fromSeq, 1);
  const toSeq = options.toSeq ?? recordSeqMax;
  assertSeqArgument('toSeq', toSeq, 0);
  const limits = journalLimits(
    options.readChunkBytes === undefined ? {} : { readChunkBytes: options.readChunkBytes },
  );
  const segmentList = listSegments(nodeFs, dir, null);
  if (segmentList.length === 0 || toSeq < fromSeq) return fromSeq - 1;
  const firstRetained = segmentList[0]!;
  if (fromSeq < firstRetained.firstSeq) {
    throw new JournalError(
      JournalErrorCode.gap,
      `asked for records from seq ${fromSeq}, but the first retained one is seq ${firstRetained.firstSeq} ` +
        `(${join(dir, firstRetained.file)}; earlier segments were pruned)`,
    );
  }
  let lastDelivered = fromSeq - 1;
  const walk = walkJournal(
    nodeFs,
    dir,
    limits,
    segmentList,
    fromSeq,
    toSeq,
    (seq, type, timestampMs, b, at, n) => {
      lastDelivered = seq;
      onRecord(seq, type, timestampMs, b, at, n);
    },
  );
  const last = walk.segments[walk.segments.length - 1];
  const lastSeq = last === undefined ? fromSeq - 1 : last.lastSeq;
  if (lastDelivered < toSeq && fromSeq > lastSeq + 1) {
    throw new JournalError(
      JournalErrorCode.gap,
      `asked for records from seq ${fromSeq}, but the journal in ${dir} ends at seq ${lastSeq}`,
    );
  }
  return lastDelivered;
}

export interface JournalDescription {
  /** First retained seq (lastSeq + 1 when the journal holds no record; 1 for an empty directory). */
  firstSeq: number;
  /** Last valid seq (firstSeq - 1 when none). */
  lastSeq: number;
  /** Every segment file, oldest first: bytes is its size on disk (a torn tail included). */
  segments: { file: string; firstSeq: number; lastSeq: number; bytes: number }[];
}

/**
 * Summary without delivering records, cheap enough to call at every start-up: it validates the last
 * segment fully (to find the last seq, with the same torn-tail and corruption rules as scanJournal) and
 * only the first record of each earlier segment (against its name). The last seq of an earlier segment is
 * taken from the next segment's name, so a missing middle segment is NOT detected here: FileJournal.open
 * and scanJournal, which read every record they pass, detect it.
 */
export function describeJournal(dir: string): JournalDescription {
  const limits = journalLimits();
  const segmentList = listSegments(nodeFs, dir, null);
  if (segmentList.length === 0) return { firstSeq: 1, lastSeq: 0, segments: [] };
  const sizes = segmentSizes(nodeFs, dir, segmentList);
  const reader = new SegmentReader(nodeFs, limits);
  const lastIndex = segmentList.length - 1;
  const segments: JournalDescription['segments'] = [];
  let nextFirstSeq = 0;
  for (let index = lastIndex; index >= 0; index--) {
    const segment = segmentList[index]!;
    const bytes = sizes[index]!;
    if (bytes === 0 && index !== lastIndex) {
      segments.push({ file: segment.file, firstSeq: segment.firstSeq, lastSeq: segment.firstSeq - 1, bytes });
      continue;
    }
    const path = join(dir, segment.file);
    const fd = openForRead(nodeFs, path, 'r');
    let lastSeq: number;
    try {
      reader.attach(fd, path);
      const isLast = index === lastIndex;
      const walk = reader.walk(segment, segment.firstSeq, isLast ? recordSeqMax : segment.firstSeq, null);
      if (walk.damage !== FrameCheck.ok) judgeDamage(reader, path, walk, isLast);
      lastSeq = isLast ? walk.lastSeq : nextFirstSeq - 1;
    } finally {
      nodeFs.closeSync(fd);
    }
    segments.push({ file: segment.file, firstSeq: segment.firstSeq, lastSeq, bytes });
    nextFirstSeq = segment.firstSeq;
  }
  segments.reverse();
  const firstNonEmpty = segments.find((s) => s.lastSeq >= s.firstSeq);
  const last = segments[segments.length - 1]!;
  return { firstSeq: firstNonEmpty?.firstSeq ?? last.firstSeq, lastSeq: last.lastSeq, segments };
}

// ───────────────────────────────────────────────── writing side ─────────────────────────────────────────────────

export interface FileJournalOptions {
  /** Roll to a new segment before one would pass this size (default 256 MiB). */
  segmentBytesMax?: number;
  /** Size of the group-commit buffer allocated at open (default 4 MiB). */
  batchBytesMax?: number;
  /** Read buffer for recovery (default 1 MiB). */
  readChunkBytes?: number;
  /** Where recovery reports what it repaired (torn tail truncated, empty segment removed). Default: stderr. */
  log?: (message: string) => void;
  /**
   * Seq of the first record of a journal that starts after a snapshot (default 1). Used only when the
   * directory holds no segment; otherwise it must not be past the recovered nextSeq (JOURNAL_GAP: the
   * snapshot is ahead of the journal).
   */
  firstSeq?: number;
  /** File system seam (tests). */
  fs?: JournalFs;
}

const JournalState = { open: 0, failed: 1, closed: 2 } as const;
type JournalState = (typeof JournalState)[keyof typeof JournalState];

export class FileJournal {
  readonly dir: string;
  readonly limits: Readonly<JournalLimits>;
  private readonly fs: JournalFs;
  /** The group-commit buffer and a view over it, allocated once. */
  private readonly batch: Uint8Array;
  private readonly batchView: DataView;
  private readonly batchWords: Int32Array;
  /** The last payload array appended from, and an Int32Array over it (null when not 4-byte aligned). */
  private sourceBytes: Uint8Array | null = null;
  private sourceWords: Int32Array | null = null;
  private batchBytes = 0;
  private batchRecordCount = 0;
  private lastDurableSeq: number;
  /** Retained segments, oldest first; the last one is open for writing. */
  private readonly segments: SegmentFile[];
  private fd: number;
  /** Bytes durably in the current segment: the next batch is written at this position. */
  private segmentBytes: number;
  private state: JournalState = JournalState.open;
  private failure: JournalError | null = null;
  private commits = 0;
  private committedRecords = 0;
  private committedBytes = 0;

  private constructor(
    dir: string,
    limits: JournalLimits,
    fs: JournalFs,
    segments: SegmentFile[],
    fd: number,
    segmentBytes: number,
    durableSeq: number,
  ) {
    this.dir = dir;
    this.limits = limits;
    this.fs = fs;
    this.batch = new Uint8Array(limits.batchBytesMax);
    this.batchView = new DataView(this.batch.buffer);
    this.batchWords = new Int32Array(this.batch.buffer, 0, this.batch.byteLength >>> 2);
    this.segments = segments;
    this.fd = fd;
    this.segmentBytes = segmentBytes;
    this.lastDurableSeq = durableSeq;
  }

  /**
   * Opens `dir` (creating it if needed) and recovers it (see the rules at the top of this file): validates
   * every segment, truncates a torn tail of the last one, deletes empty segments before the last, creates
   * the first segment of an empty journal, and positions after the last valid record.
   */
  static open(dir: string, options: FileJournalOptions = {}): FileJournal {
    const overrides: Partial<JournalLimits> = {};
    if (options.segmentBytesMax !== undefined) overrides.segmentBytesMax = options.segmentBytesMax;
    if (options.batchBytesMax !== undefined) overrides.batchBytesMax = options.batchBytesMax;
    if (options.readChunkBytes !== undefined) overrides.readChunkBytes = options.readChunkBytes;
    const limits = journalLimits(overrides);
    const fs = options.fs ?? nodeFs;
    const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
    if (options.firstSeq !== undefined) assertSeqArgument('firstSeq', options.firstSeq, 1);
    let created: string | undefined;
    try {
      created = fs.mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw ioError('mkdir', dir, cause);
    }
    // A directory created here is only durable once its parent is fsynced (and so on up to the first one
    // created): otherwise a crash could take the whole journal, acknowledged records included.
    if (created !== undefined) {
      const firstCreated = resolve(created);
      for (let level = resolve(dir); ; level = dirname(level)) {
        fsyncDirectory(fs, dirname(level));
        if (level === firstCreated || level === dirname(level)) break;
      }
    }

    let segmentList = listSegments(fs, dir, log);
    // Before any record: the id is what snapshots and the data directory name this journal by.
    ensureFileJournalId(dir, segmentList.length === 0 ? null : log);
    if (segmentList.length === 0) {
      const firstSeq = options.firstSeq ?? 1;
      const segment = { file: segmentFileName(firstSeq), firstSeq };
      const fd = createSegment(fs, dir, segment.file);
      return new FileJournal(dir, limits, fs, [segment], fd, 0, firstSeq - 1);
    }

    const walk = walkJournal(fs, dir, limits, segmentList, 1, recordSeqMax, null);
    const current = walk.segments[walk.segments.length - 1]!;
    const currentPath = join(dir, current.file);
    const fd = openForRead(fs, currentPath, 'r+');
    let segmentBytes = current.bytes;
    try {
      const nextSeq = current.lastSeq + 1;
      if (options.firstSeq !== undefined && options.firstSeq > nextSeq) {
        throw new JournalError(
          JournalErrorCode.gap,
          `the journal in ${dir} ends at seq ${current.lastSeq}, but records are expected from seq ` +
            `${options.firstSeq} (firstSeq): records ${nextSeq}..${options.firstSeq - 1} are missing`,
        );
      }
      const torn = walk.tornTail;
      if (torn !== null) {
        try {
          fs.ftruncateSync(fd, torn.offset);
          fs.fdatasyncSync(fd);
        } catch (cause) {
          throw ioError('truncating the torn tail of', currentPath, cause);
        }
        segmentBytes = torn.offset;
        log(
          `journal: ${currentPath}: ${describeFrameCheck(torn.damage)} at byte offset ${torn.offset}, no valid record ` +
            `after it: torn tail truncated (${torn.fileBytes - torn.offset} bytes dropped); the journal ends at seq ` +
            `${current.lastSeq}`,
        );
      }
      // Empty segments before the last hold nothing; remove them so prune and describe see a clean list.
      let removed = false;
      for (const segment of walk.segments.slice(0, -1)) {
        if (segment.bytes !== 0) continue;
        const path = join(dir, segment.file);
        try {
          fs.unlinkSync(path);
        } catch (cause) {
          throw ioError('removing empty segment', path, cause);
        }
        log(`journal: ${path}: empty segment before the last one, removed`);
        removed = true;
      }
      if (removed) fsyncDirectory(fs, dir);
      segmentList = walk.segments.filter((s, i) => s.bytes !== 0 || i === walk.segments.length - 1);
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    const segments = segmentList.map((s) => ({ file: s.file, firstSeq: s.firstSeq }));
    return new FileJournal(dir, limits, fs, segments, fd, segmentBytes, current.lastSeq);
  }

  /** The seq the next append must carry: durableSeq + pendingRecordCount + 1. */
  get nextSeq(): number {
    return this.lastDurableSeq + this.batchRecordCount + 1;
  }

  /** Last durable seq (0 when the journal has never held a record; firstSeq - 1 after a firstSeq start). */
  get durableSeq(): number {
    return this.lastDurableSeq;
  }

  /** Records in the batch buffer, not yet durable. */
  get pendingRecordCount(): number {
    return this.batchRecordCount;
  }

  /** Bytes in the batch buffer (frames, padding included). */
  get pendingBytes(): number {
    return this.batchBytes;
  }

  /** Commits that wrote something, records and bytes they carried: records / commits is the batch size. */
  get commitCount(): number {
    return this.commits;
  }
  get committedRecordCount(): number {
    return this.committedRecords;
  }
  get committedByteCount(): number {
    return this.committedBytes;
  }

  /** The segment being written (file name only). */
  get currentSegmentFile(): string {
    return this.segments[this.segments.length - 1]!.file;
  }

  private assertUsable(): void {
    if (this.state === JournalState.open) return;
    throw new JournalError(
      JournalErrorCode.unusable,
      this.state === JournalState.closed
        ? `journal ${this.dir} is closed`
        : `journal ${this.dir} failed earlier`,
      this.failure === null ? {} : { cause: this.failure },
    );
  }

  /**
   * Copies one record into the batch buffer. Returns false, copying nothing, when the buffer has no room
   * (commit, then append again). Throws JOURNAL_SEQUENCE unless seq === nextSeq, and
   * JOURNAL_RECORD_TOO_LARGE above recordPayloadBytesMax: both are bugs upstream. No allocation.
   */
  append(
    seq: number,
    type: number,
    timestampMs: number,
    payload: Uint8Array,
    payloadOffset: number,
    payloadLength: number,
  ): boolean {
    if (this.state !== JournalState.open) this.assertUsable();
    const expected = this.lastDurableSeq + this.batchRecordCount + 1;
    if (seq !== expected || seq > recordSeqMax) {
      throw new JournalError(
        JournalErrorCode.sequence,
        `append of seq ${seq}, but the next seq is ${expected}`,
      );
    }
    if (payloadLength > this.limits.recordPayloadBytesMax) {
      throw new JournalError(
        JournalErrorCode.recordTooLarge,
        `seq ${seq}: payload of ${payloadLength} bytes, the limit is ${this.limits.recordPayloadBytesMax}`,
      );
    }
    if (!(type >= 0 && type <= recordTypeMax && (type | 0) === type)) {
      throw new RangeError(`append: type must be an integer in 0..${recordTypeMax}, got ${type}`);
    }
    if (!Number.isFinite(timestampMs))
      throw new RangeError(`append: timestampMs must be finite, got ${timestampMs}`);
    if (
      !(
        payloadOffset >= 0 &&
        payloadLength >>> 0 === payloadLength &&
        payloadOffset + payloadLength <= payload.length
      )
    ) {
      throw new RangeError(
        `append: payload range [${payloadOffset}, +${payloadLength}) outside 0..${payload.length}`,
      );
    }
    const at = this.batchBytes;
    if (at + frameBytes(payloadLength) > this.batch.length) return false;
    writeFrameHeader(this.batchView, at, seq, type, timestampMs, payloadLength);
    this.copyPayload(payload, payloadOffset, payloadLength, at + RecordFrame.payload);
    this.batchBytes += sealFrame(this.batch, this.batchView, at, payloadLength);
    this.batchRecordCount++;
    return true;
  }

  /**
   * Copies a payload into the batch at `into` (a multiple of 8). Whole 32-bit words go through an Int32Array
   * view of the caller's buffer, made once per distinct payload array (the journal thread always passes the
   * same ring view, so once in all): four times faster than a byte loop, and unlike
   * `batch.set(payload.subarray(...))` it allocates nothing per record. Bytes are copied unchanged, so
   * endianness does not matter. Unaligned sources fall back to the byte loop.
   */
  private copyPayload(payload: Uint8Array, payloadOffset: number, payloadLength: number, into: number): void {
    if (payload !== this.sourceBytes) {
      this.sourceBytes = payload;
      this.sourceWords =
        (payload.byteOffset & 3) === 0
          ? new Int32Array(payload.buffer, payload.byteOffset, payload.byteLength >>> 2)
          : null;
    }
    const batch = this.batch;
    let copied = 0;
    const sourceWords = this.sourceWords;
    if (sourceWords !== null && (payloadOffset & 3) === 0) {
      const batchWords = this.batchWords;
      const from = payloadOffset >>> 2;
      const to = into >>> 2;
      const wordCount = payloadLength >>> 2;
      for (let i = 0; i < wordCount; i++) batchWords[to + i] = sourceWords[from + i]!;
      copied = wordCount << 2;
    }
    for (let i = copied; i < payloadLength; i++) batch[into + i] = payload[payloadOffset + i]!;
  }

  /**
   * Group commit: writes the whole batch with one positioned write and makes it durable with one
   * fdatasync, first rolling to a new segment if this batch would take the current one past
   * segmentBytesMax. Returns durableSeq. Any I/O failure throws JOURNAL_IO and leaves the journal unusable.
   */
  commit(): number {
    if (this.state !== JournalState.open) this.assertUsable();
    if (this.batchRecordCount === 0) return this.lastDurableSeq;
    try {
      if (this.segmentBytes > 0 && this.segmentBytes + this.batchBytes > this.limits.segmentBytesMax) {
        this.roll(this.lastDurableSeq + 1);
      }
      this.writeBatch();
      try {
        this.fs.fdatasyncSync(this.fd);
      } catch (cause) {
        throw ioError('fdatasync', join(this.dir, this.currentSegmentFile), cause);
      }
    } catch (error) {
      this.fail(error);
    }
    this.segmentBytes += this.batchBytes;
    this.lastDurableSeq += this.batchRecordCount;
    this.commits++;
    this.committedRecords += this.batchRecordCount;
    this.committedBytes += this.batchBytes;
    this.batchBytes = 0;
    this.batchRecordCount = 0;
    return this.lastDurableSeq;
  }

  private writeBatch(): void {
    let written = 0;
    while (written < this.batchBytes) {
      let count: number;
      try {
        count = this.fs.writeSync(
          this.fd,
          this.batch,
          written,
          this.batchBytes - written,
          this.segmentBytes + written,
        );
      } catch (cause) {
        throw ioError('write', join(this.dir, this.currentSegmentFile), cause);
      }
      if (count <= 0)
        throw ioError('write', join(this.dir, this.currentSegmentFile), new Error('wrote 0 bytes'));
      written += count;
    }
  }

  /** Creates the segment that starts at firstSeq (durably: directory fsync) and makes it current. */
  private roll(firstSeq: number): void {
    const segment = { file: segmentFileName(firstSeq), firstSeq };
    const fd = createSegment(this.fs, this.dir, segment.file);
    const previous = this.fd;
    this.fd = fd;
    this.segments.push(segment);
    this.segmentBytes = 0;
    // Everything in the previous segment was fdatasynced by the commit that wrote it.
    try {
      this.fs.closeSync(previous);
    } catch (cause) {
      throw ioError('close', this.dir, cause);
    }
  }

  private fail(error: unknown): never {
    const journalError =
      error instanceof JournalError ? error : ioError('journal operation in', this.dir, error);
    this.state = JournalState.failed;
    this.failure = journalError;
    throw journalError;
  }

  /**
   * Deletes the oldest segments whose every record has seq <= coveredSeq (a snapshot covers them), oldest
   * first, fsyncing the directory after each so that a crash leaves a suffix of the journal, never a hole.
   * Never deletes the segment being written. Returns the file names removed.
   */
  prune(coveredSeq: number): string[] {
    this.assertUsable();
    assertSeqArgument('coveredSeq', coveredSeq, 0);
    const removed: string[] = [];
    try {
      while (this.segments.length > 1) {
        // A segment's last record is the one before the next segment's first.
        if (this.segments[1]!.firstSeq - 1 > coveredSeq) break;
        const oldest = this.segments[0]!;
        const path = join(this.dir, oldest.file);
        try {
          this.fs.unlinkSync(path);
        } catch (cause) {
          throw ioError('unlink', path, cause);
        }
        this.segments.shift();
        removed.push(oldest.file);
        fsyncDirectory(this.fs, this.dir);
      }
    } catch (error) {
      this.fail(error);
    }
    return removed;
  }

  /**
   * Closes the current segment. Records still in the batch buffer are dropped, not committed: they were
   * never durable, so nobody was told they were (commit first for a clean shutdown). Idempotent.
   */
  close(): void {
    if (this.state === JournalState.closed) return;
    this.state = JournalState.closed;
    this.batchBytes = 0;
    this.batchRecordCount = 0;
    try {
      this.fs.closeSync(this.fd);
    } catch (cause) {
      throw ioError('close', join(this.dir, this.currentSegmentFile), cause);
    }
  }
}

/** Creates an empty segment file and fsyncs the directory so the file survives a crash. Returns its fd. */
function createSegment(fs: JournalFs, dir: string, file: string): number {
  const path = join(dir, file);
  let fd: number;
  try {
    // 'wx': a segment with this name must not exist yet (listSegments saw every one).
    fd = fs.openSync(path, 'wx');
  } catch (cause) {
    throw ioError('create', path, cause);
  }
  try {
    fsyncDirectory(fs, dir);
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  return fd;
}
