/**
 * What a store's reconciler is to the reconcile driver (reconcile.ts), and the row comparison every
 * reconciler shares: one anomaly per differing row, naming only the columns that differ.
 */
import { orderStatusSeedName } from './events.ts';
import type { JournalModel } from './journal-model.ts';

export interface Anomaly {
  /** The store's name ('mysql', 'redis'). */
  store: string;
  /** Table or key. */
  where: string;
  /** The row or member: 'order 17', 'sku 3', 'seq 120 line 0'. */
  item: string;
  expected: string;
  found: string;
}

/** One store as of its checkpoint, read atomically with its data when it was opened. */
export interface StoreReconciler {
  readonly store: string;
  readonly location: string;
  readonly checkpoint: number;
  /** The store holds no checkpoint (nor, for MySQL, a schema): no projector ever wrote there. */
  readonly neverProjected: boolean;
  /** Anomalies found while opening (a schema of another version); compare is skipped when `comparable` is false. */
  readonly comparable: boolean;
  compare(model: JournalModel, anomalies: Anomaly[]): Promise<void>;
  close(): Promise<void>;
}

/** What every reconciler is opened with. */
export interface ReconcileContext {
  /** Checkpoint name. */
  projector: string;
  /** Where anomalies found while opening go. */
  anomalies: Anomaly[];
  /** The TTL the Redis projector gives order hashes. */
  orderStatusTtlMs: number;
  /** Now, for the TTL rule (tests); by default the time the store's reconciler is opened. */
  nowMs: number | undefined;
}

export type Value = string | number | null;
export type Row = Record<string, Value>;

/** Rows read or compared a page at a time. */
export const pageRowsMax = 5000;

const statusColumns = new Set(['status', 'previous_status', 'statusCode']);

export function describeRow(row: Row, columns: readonly string[]): string {
  return columns
    .map((column) => {
      const value = row[column] ?? null;
      // Status codes read back as strings from Redis: name them too.
      const code = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
      const name =
        statusColumns.has(column) && typeof code === 'number' ? ` (${orderStatusSeedName(code)})` : '';
      return `${column}=${value === null ? 'NULL' : String(value)}${name}`;
    })
    .join(' ');
}

function sameValue(a: Value | undefined, b: Value | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) {
    return (a === null || a === undefined) && (b === null || b === undefined);
  }
  return String(a) === String(b);
}

/** Compares one expected row with one found row; one anomaly listing only the differing columns. */
export function compareRow(
  anomalies: Anomaly[],
  store: string,
  where: string,
  item: string,
  expected: Row,
  found: Row,
  columns: readonly string[],
): void {
  const differing = columns.filter((column) => !sameValue(expected[column], found[column]));
  if (differing.length === 0) return;
  anomalies.push({
    store,
    where,
    item,
    expected: describeRow(expected, differing),
    found: describeRow(found, differing),
  });
}
