/**
 * Every limit of the projectors in one table, unit last, with the relationships between them asserted at
 * start-up (validateProjectionLimits), each with the reason it must hold.
 */

export interface ProjectionLimits {
  /**
   * Journal records read per scan. scanJournal re-reads the segment holding fromSeq from its start on every
   * call, so a projector catching up reads big slices and cuts them into store batches.
   */
  readRecordsMax: number;
  /** Events per store batch: one MySQL transaction, or one Redis script call, moves the checkpoint once. */
  batchEventsMax: number;
  /** Rows per multi-row INSERT (well inside max_allowed_packet and the parser's comfort). */
  rowsPerStatementMax: number;
  /** A caught-up projector looks for new records this often. */
  pollIntervalMs: number;
  /**
   * At the journal's end, the share of time a projector may spend re-reading the segment (scanJournal reads
   * it from its start every time): after a scan of s ms that reached the end, it waits at least
   * s * (100 / readDutyPercentMax - 1) ms. Bounds the cost of following the tail of a large segment.
   */
  readDutyPercentMax: number;
  /** Backoff after a retriable store error: doubles from min to max (with jitter), reset by a success. */
  retryDelayMsMin: number;
  retryDelayMsMax: number;
  /** A projector that has not reached the journal's end asks where it ends at most this often (lag metric). */
  lagProbeIntervalMs: number;
  /** Connecting to a store gives up after this (a retriable timeout). */
  connectTimeoutMs: number;
  /** One SQL statement or Redis command gives up after this (a retriable timeout; the connection is dropped). */
  statementTimeoutMs: number;
  /** Redis order status keys expire this long after their last update. */
  orderStatusTtlMs: number;
}

export const projectionLimitsDefault: Readonly<ProjectionLimits> = Object.freeze({
  readRecordsMax: 50_000,
  batchEventsMax: 5_000,
  rowsPerStatementMax: 1_000,
  pollIntervalMs: 50,
  readDutyPercentMax: 25,
  retryDelayMsMin: 50,
  retryDelayMsMax: 5_000,
  lagProbeIntervalMs: 1_000,
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 30_000,
  orderStatusTtlMs: 24 * 60 * 60 * 1000,
});

export function validateProjectionLimits(limits: ProjectionLimits): ProjectionLimits {
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`projection limit ${key} must be a positive integer, got ${value}`);
    }
  }
  // A store batch is cut from one read: a bigger batch could never fill.
  if (limits.batchEventsMax > limits.readRecordsMax) {
    throw new RangeError(
      `batchEventsMax (${limits.batchEventsMax}) must be at most readRecordsMax (${limits.readRecordsMax})`,
    );
  }
  if (limits.readDutyPercentMax > 100) {
    throw new RangeError(`readDutyPercentMax is a percentage (1..100), got ${limits.readDutyPercentMax}`);
  }
  if (limits.retryDelayMsMin > limits.retryDelayMsMax) {
    throw new RangeError(
      `retryDelayMsMin (${limits.retryDelayMsMin}) must be at most retryDelayMsMax (${limits.retryDelayMsMax})`,
    );
  }
  return limits;
}

export function projectionLimits(overrides: Partial<ProjectionLimits> = {}): ProjectionLimits {
  return validateProjectionLimits({ ...projectionLimitsDefault, ...overrides });
}
