/**
 * The journal's operating errors: one catalogue of stable codes (log lines, alerts and the lead's restart
 * logic match on them, so never rename one), each with its default `retriable` flag and what it means for
 * an operator. Business outcomes never come through here, and neither do failed assertions about
 * arguments (those are plain Errors: programmer errors crash).
 */

export const JournalErrorCode = {
  /** Bytes on disk that are not the records the journal wrote, before the tail (or in a closed segment). */
  corrupt: 'JOURNAL_CORRUPT',
  /** Records missing between segments, or a read asked for records before the first retained one. */
  gap: 'JOURNAL_GAP',
  /**
   * The journal is not the one the data directory or its snapshot belongs to (journal-identity.ts): another
   * directory, topic or cluster, so its records do not continue that state.
   */
  mismatch: 'JOURNAL_MISMATCH',
  /** The operating system failed a read, write, fsync, open or unlink. */
  io: 'JOURNAL_IO',
  /** append() was handed a sequence number other than the next one (a bug upstream). */
  sequence: 'JOURNAL_SEQUENCE',
  /** append() was handed a payload larger than recordPayloadBytesMax (a bug upstream). */
  recordTooLarge: 'JOURNAL_RECORD_TOO_LARGE',
  /** The journal failed earlier (JOURNAL_IO) or was closed: it refuses further appends and commits. */
  unusable: 'JOURNAL_UNUSABLE',
} as const;
export type JournalErrorCode = (typeof JournalErrorCode)[keyof typeof JournalErrorCode];

/** What an operator should do about each code; a test keeps it in step with JournalErrorCode. */
export const journalErrorCatalogue: Readonly<
  Record<JournalErrorCode, { retriable: boolean; action: string }>
> = {
  JOURNAL_CORRUPT: {
    retriable: false,
    action:
      'Do not start. Restore the named segment from a replica or backup, or, knowingly, cut the journal there.',
  },
  JOURNAL_GAP: {
    retriable: false,
    action:
      'Do not start. Put the missing segment back, or restore from a snapshot that covers the gap; a snapshot ' +
      "past the journal's end is never skipped silently (its state would be lost).",
  },
  JOURNAL_MISMATCH: {
    retriable: false,
    action:
      'Do not start. Give the node the journal its data directory belongs to (the message names it), or ' +
      'start over from the given journal with a new data directory.',
  },
  JOURNAL_IO: {
    retriable: false,
    action:
      'Stop the node: after a failed write or fsync the state of the file is unknown (the kernel may have ' +
      'dropped the dirty pages). Restart from snapshot + journal once the disk is healthy.',
  },
  JOURNAL_SEQUENCE: {
    retriable: false,
    action: 'A bug in the caller: it skipped or repeated a sequence number.',
  },
  JOURNAL_RECORD_TOO_LARGE: {
    retriable: false,
    action: 'A bug in the caller: payloads are bounded by the layout.',
  },
  JOURNAL_UNUSABLE: {
    retriable: false,
    action: 'Open a new FileJournal (after a restart if it failed with I/O).',
  },
};

export class JournalError extends Error {
  override readonly name = 'JournalError';
  readonly code: JournalErrorCode;
  readonly retriable: boolean;

  constructor(
    code: JournalErrorCode,
    message: string,
    options: { cause?: unknown; retriable?: boolean } = {},
  ) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? journalErrorCatalogue[code].retriable;
  }
}

/** True when `error` is a JournalError with this code (for tests and the worker's restart logic). */
export function isJournalError(error: unknown, code?: JournalErrorCode): error is JournalError {
  return error instanceof JournalError && (code === undefined || error.code === code);
}
