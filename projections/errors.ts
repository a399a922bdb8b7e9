/**
 * The projectors' operating errors: stable codes, a `retriable` flag and a `cause`. Retriable means the
 * store may come back by itself (connection refused or reset, a timeout, a deadlock the server rolled back):
 * the projector drops its connection and retries with capped backoff. Anything else halts the projector
 * with the error, for an operator: retrying a wrong SQL statement or a foreign checkpoint never helps.
 */
import { errorText } from '../lib/error-text.ts';

export const ProjectionErrorCode = {
  /** The store cannot be reached or did not answer in time (retriable). */
  storeUnavailable: 'PROJECTION_STORE_UNAVAILABLE',
  /**
   * The store's checkpoint is neither where this projector left it nor where this batch ends: another
   * projector writes to the same store under the same name, or the store was restored from a backup.
   */
  checkpointMismatch: 'PROJECTION_CHECKPOINT_MISMATCH',
  /** The store lacks what earlier events put there (an order to update, a reservation to release). */
  storeInconsistent: 'PROJECTION_STORE_INCONSISTENT',
  /** Any other error the store answered with (SQL error, script error): halts. */
  storeFailed: 'PROJECTION_STORE_FAILED',
  /** The journal cannot be read from the checkpoint on (pruned past it, corrupt). */
  journalUnreadable: 'PROJECTION_JOURNAL_UNREADABLE',
  /** An address or option that cannot work. */
  configInvalid: 'PROJECTION_CONFIG_INVALID',
} as const;
export type ProjectionErrorCode = (typeof ProjectionErrorCode)[keyof typeof ProjectionErrorCode];

export class ProjectionError extends Error {
  override readonly name = 'ProjectionError';
  readonly code: ProjectionErrorCode;
  readonly retriable: boolean;

  constructor(
    code: ProjectionErrorCode,
    message: string,
    options: { cause?: unknown; retriable?: boolean } = {},
  ) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? code === ProjectionErrorCode.storeUnavailable;
  }
}

/** Socket and driver codes that mean "the store may answer if asked again". */
const retriableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTCONN',
  'EAI_AGAIN',
  // mysql2: the server closed the connection; a statement exceeded its timeout.
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  // MySQL: the server rolled the transaction back (deadlock, lock wait timeout), is shutting down, is full.
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
]);

/** ioredis reports a lost or refused connection by message, without a code. */
const retriableRedisMessages =
  /^(Connection is closed\.?|Command timed out|Stream isn't writeable.*|LOADING .*|BUSY .*|TRYAGAIN .*)$/;

/** True for errors a retry may cure; see the header. Follows `cause` and AggregateError members. */
export function isRetriable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  const e = error as {
    code?: unknown;
    retriable?: unknown;
    fatal?: unknown;
    message?: unknown;
    cause?: unknown;
  };
  if (typeof e.retriable === 'boolean') return e.retriable;
  if (typeof e.code === 'string' && retriableCodes.has(e.code)) return true;
  // mysql2 marks errors that killed the connection `fatal` (e.g. a command on a closed connection).
  if (e.fatal === true) return true;
  if (typeof e.message === 'string' && retriableRedisMessages.test(e.message)) return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isRetriable(inner, depth + 1)))
    return true;
  return e.cause !== undefined && isRetriable(e.cause, depth + 1);
}

/** Wraps a driver error: retriable ones keep their nature, anything else halts (errors.ts). */
export function storeError(error: unknown, context: string): ProjectionError {
  if (error instanceof ProjectionError) return error;
  const retriable = isRetriable(error);
  return new ProjectionError(
    retriable ? ProjectionErrorCode.storeUnavailable : ProjectionErrorCode.storeFailed,
    `${context}: ${errorText(error)}`,
    { cause: error, retriable },
  );
}
