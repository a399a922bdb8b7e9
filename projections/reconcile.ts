/**
 * `stampede reconcile`: recomputes from the journal what each store must hold (journal-model.ts: products
 * and their stock counters, the stock ledger row by row, orders with their lines, history and payments, the
 * out-of-stock set, available stock, order status hashes) and compares it with each configured store (stores.ts;
 * each store's reconciler is in its folder: mysql/reconciler.ts, redis/reconciler.ts). Every
 * difference is an anomaly naming the store, the table or key, the row, what was expected and what was found.
 *
 * Each store is compared as of its own checkpoint, read atomically with its data (a MySQL consistent-snapshot
 * transaction; a Redis MULTI for the checkpoint, available, oos and order-lines), so a projector may keep
 * running meanwhile: what it writes after that point is not judged (Redis order hashes carry their seq; one
 * newer than the checkpoint is skipped). How far each store lags the journal is reported, not counted as an
 * anomaly.
 *
 * Needs the journal from seq 1: a journal pruned after snapshots cannot say what the first orders were
 * (JOURNAL_GAP). A tool: allocates freely, holds the model in memory, reads stores in pages.
 */
import { FileJournalReader, type JournalReader, journalDir } from '../journal/journal-backend.ts';
import { decodeEvent } from './events.ts';
import { JournalModel } from './journal-model.ts';
import { projectionLimits } from './limits.ts';
import type { Anomaly, StoreReconciler } from './reconcile-store.ts';
import type { ProjectionStoreKind, ProjectionStoreSettings } from './store-kind.ts';
import { projectionStores } from './stores.ts';

export interface StoreSummary {
  /** The store's name ('mysql', 'redis'). */
  store: string;
  location: string;
  /** The store's checkpoint, the seq it was compared at. */
  checkpoint: number;
  /** Journal records after the checkpoint (not an anomaly: the projector may be catching up). */
  lagEvents: number;
  /** current: at the journal's end; behind: lagEvents to go; neverProjected: no checkpoint (or schema) there. */
  state: StoreState;
}

export type StoreState = 'current' | 'behind' | 'neverProjected';

/**
 * `stampede reconcile`'s exit codes: anomalies outrank a store that is only behind (or never projected), so a
 * cron job can tell "damaged" from "catching up" from "clean".
 */
export const reconcileExitCodes = { clean: 0, anomalies: 1, usage: 2, notCurrent: 3 } as const;

export function reconcileExitCodeOf(report: ReconcileReport): number {
  if (report.anomalies.length > 0) return reconcileExitCodes.anomalies;
  if (report.stores.some((s) => s.state !== 'current')) return reconcileExitCodes.notCurrent;
  return reconcileExitCodes.clean;
}

export interface ReconcileReport {
  journalLastSeq: number;
  stores: StoreSummary[];
  anomalies: Anomaly[];
}

/** The settings name the stores to compare (each store in `stores` that they configure). */
export interface ReconcileOptions extends ProjectionStoreSettings {
  /** Data directory whose journal to read (ignored when `reader` is given). */
  dataDir?: string;
  reader?: JournalReader;
  /** The stores to compare when configured (default: every store, stores.ts). */
  stores?: readonly ProjectionStoreKind[];
  /** Checkpoint name (default 'stampede'). */
  projector?: string;
  /** The TTL the Redis projector gives order hashes (default projectionLimitsDefault.orderStatusTtlMs). */
  orderStatusTtlMs?: number;
  /** Now, for the TTL rule (tests). */
  nowMs?: number;
}

export async function reconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  if (options.reader === undefined && options.dataDir === undefined) {
    throw new RangeError('reconcile: give a data directory or a journal reader');
  }
  const reader = options.reader ?? new FileJournalReader(journalDir(options.dataDir!));
  const anomalies: Anomaly[] = [];
  const stores: StoreReconciler[] = [];
  try {
    const journalLastSeq = await reader.lastSeq();
    const context = {
      projector: options.projector ?? 'stampede',
      anomalies,
      orderStatusTtlMs: options.orderStatusTtlMs ?? projectionLimits().orderStatusTtlMs,
      nowMs: options.nowMs,
    };
    for (const kind of options.stores ?? projectionStores) {
      const configured = kind.configure(options);
      if (typeof configured !== 'string') stores.push(await configured.openReconciler(context));
    }
    // One pass over the journal: stop at each store's checkpoint, lowest first, and compare it there.
    stores.sort((a, b) => a.checkpoint - b.checkpoint);
    const model = new JournalModel();
    const summaries: StoreSummary[] = [];
    for (const target of stores) {
      const lagEvents = Math.max(0, journalLastSeq - target.checkpoint);
      summaries.push({
        store: target.store,
        location: target.location,
        checkpoint: target.checkpoint,
        lagEvents,
        state: target.neverProjected ? 'neverProjected' : lagEvents > 0 ? 'behind' : 'current',
      });
      if (target.checkpoint > journalLastSeq) {
        anomalies.push({
          store: target.store,
          where: 'checkpoint',
          item: 'last applied seq',
          expected: `at most ${journalLastSeq} (the journal's last record)`,
          found: String(target.checkpoint),
        });
        continue;
      }
      if (!target.comparable) continue;
      if (target.checkpoint > model.lastSeq) {
        await reader.scan(
          model.lastSeq + 1,
          (seq, type, atMs, bytes, offset, length) =>
            model.apply(decodeEvent(seq, type, atMs, bytes, offset, length)),
          { toSeq: target.checkpoint },
        );
      }
      await target.compare(model, anomalies);
    }
    return { journalLastSeq, stores: summaries, anomalies };
  } finally {
    for (const target of stores) await target.close();
    if (options.reader === undefined) await reader.close();
  }
}

export function formatReport(report: ReconcileReport): string {
  const lines = [`journal: last seq ${report.journalLastSeq}`];
  for (const s of report.stores) {
    lines.push(
      `${s.store}: ${s.location}, checkpoint ${s.checkpoint}` +
        (s.state === 'neverProjected'
          ? ' (never projected: no projector has written this store)'
          : s.lagEvents > 0
            ? ` (${s.lagEvents} events behind the journal: compared as of the checkpoint)`
            : ''),
    );
  }
  for (const a of report.anomalies) {
    lines.push(`ANOMALY ${a.store} ${a.where} ${a.item}: expected ${a.expected}; found ${a.found}`);
  }
  const notCurrent = report.stores
    .filter((s) => s.state !== 'current')
    .map((s) =>
      s.state === 'neverProjected' ? `${s.store} never projected` : `${s.store} ${s.lagEvents} events behind`,
    );
  const code = reconcileExitCodeOf(report);
  switch (code) {
    case reconcileExitCodes.anomalies:
      lines.push(
        `reconcile: ${report.anomalies.length} ${report.anomalies.length === 1 ? 'anomaly' : 'anomalies'}` +
          (notCurrent.length === 0 ? '' : `; ${notCurrent.join(', ')}`),
      );
      break;
    case reconcileExitCodes.notCurrent:
      lines.push(`reconcile: no anomalies, but not current: ${notCurrent.join(', ')}`);
      break;
    default:
      lines.push('reconcile: clean');
  }
  return lines.join('\n');
}
