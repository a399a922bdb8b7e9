/**
 * Every limit of the file journal in one table, unit last. The batch buffer and the read buffer are
 * allocated once, at these sizes, when a journal or a scan starts; `validateJournalLimits` asserts the
 * relationships between them at start-up, each with the reason it must hold.
 */
import { frameBytes } from './record-frame.ts';

export interface JournalLimits {
  /** A segment never grows past this: commit rolls to a new file first. Bounds what prune can free at once. */
  segmentBytesMax: number;
  /** The in-memory group-commit buffer: one write() and one fdatasync() carry at most this many bytes. */
  batchBytesMax: number;
  /** Largest payload append() accepts and recovery believes (a larger length field is corruption). */
  recordPayloadBytesMax: number;
  /** Readers (recovery, scanJournal, describeJournal) read segments in chunks of this size. */
  readChunkBytes: number;
}

const kib = 1024;
const mib = 1024 * kib;

export const journalLimitsDefault: Readonly<JournalLimits> = Object.freeze({
  segmentBytesMax: 256 * mib,
  batchBytesMax: 4 * mib,
  // The engine's largest event is a few hundred bytes (engine/layout.ts); 4 KiB leaves room to grow.
  recordPayloadBytesMax: 4 * kib,
  readChunkBytes: 1 * mib,
});

/** Buffers are allocated whole at start-up; keep them well inside what one Uint8Array may be. */
const bufferBytesMax = 1024 * mib;

export function validateJournalLimits(limits: JournalLimits): JournalLimits {
  for (const key of [
    'segmentBytesMax',
    'batchBytesMax',
    'recordPayloadBytesMax',
    'readChunkBytes',
  ] as const) {
    const value = limits[key];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`journal limit ${key} must be a positive integer, got ${value}`);
    }
  }
  // payloadLength is a u32 field; far below that, a record must fit the buffers below.
  if (limits.recordPayloadBytesMax > 2 ** 32 - 1) {
    throw new RangeError('recordPayloadBytesMax must fit the u32 payloadLength field');
  }
  const recordFrameBytesMax = frameBytes(limits.recordPayloadBytesMax);
  // append() answers "no room, commit first" when a record does not fit: an empty batch must take the
  // largest record, or that answer would repeat forever.
  if (limits.batchBytesMax < recordFrameBytesMax) {
    throw new RangeError(
      `batchBytesMax (${limits.batchBytesMax}) must hold the largest record frame (${recordFrameBytesMax} bytes)`,
    );
  }
  // A batch is one write into one segment (segments roll only between batches), so a fresh segment must
  // take a whole batch; this is what makes segmentBytesMax a hard cap on a segment's size.
  if (limits.segmentBytesMax < limits.batchBytesMax) {
    throw new RangeError(
      `segmentBytesMax (${limits.segmentBytesMax}) must be at least batchBytesMax (${limits.batchBytesMax})`,
    );
  }
  // Readers validate a frame only when it is whole in the read buffer.
  if (limits.readChunkBytes < recordFrameBytesMax) {
    throw new RangeError(
      `readChunkBytes (${limits.readChunkBytes}) must hold the largest record frame (${recordFrameBytesMax} bytes)`,
    );
  }
  if (limits.batchBytesMax > bufferBytesMax || limits.readChunkBytes > bufferBytesMax) {
    throw new RangeError(
      `batchBytesMax and readChunkBytes must be at most ${bufferBytesMax} (allocated up front)`,
    );
  }
  return limits;
}

export function journalLimits(overrides: Partial<JournalLimits> = {}): JournalLimits {
  return validateJournalLimits({ ...journalLimitsDefault, ...overrides });
}
