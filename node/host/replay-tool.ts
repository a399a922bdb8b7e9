/**
 * `stampede replay --data DIR [--journal file|kafka]`: rebuilds the engine
 * state from the newest snapshot plus the journal (or from the first record
 * with --from-scratch), checks the invariants, and summarises what the
 * journal says: events by type, orders by status, stock per SKU, and the
 * state hash a live engine stopped at that point would report. Exit code 1
 * when an invariant fails. The journal is read through a JournalReader: the
 * data directory's file journal by default, or Kafka's.
 */
import { EventType, eventName, OrderStatus, statusName } from '../../engine/codes.ts';
import {
  orderStatusChangedPrevious,
  orderStatusChangedStatus,
  PayloadScratch,
} from '../../engine/event-view.ts';
import { checkInvariants } from '../../engine/invariants.ts';
import { type EngineLimits, engineLimits, engineLimitsRecorded } from '../../engine/limits.ts';
import { Scalar } from '../../engine/state.ts';
import { stateHash } from '../../engine/state-hash.ts';
import type { JournalReader, OnRecord } from '../../journal/journal-backend.ts';
import { readDataDirLimits } from '../../lib/data-dir-config.ts';
import { recoverFromJournal } from './recovery.ts';

export interface ReplaySummary {
  lastSeq: number;
  snapshotSeq: number;
  eventsReplayed: number;
  eventsByType: Record<string, number>;
  ordersByStatus: Record<string, number>;
  stock: { skuId: number; onHand: number; reserved: number; available: number; sold: number }[];
  stateHash: string;
  invariantViolations: string[];
  seconds: number;
}

/** Snapshots (and engine.json's limits) from `dataDir`, records from `reader`, up to its last record now. */
export async function replayDataDir(
  dataDir: string,
  reader: JournalReader,
  options: {
    limits?: EngineLimits;
    fromScratch?: boolean;
    progress?: (done: number, total: number) => void;
  } = {},
): Promise<ReplaySummary> {
  const started = process.hrtime.bigint();
  const lastSeq = await reader.lastSeq();
  const recovered = await recoverFromJournal(
    reader,
    dataDir,
    options.limits ?? readDataDirLimits(dataDir, engineLimitsRecorded) ?? engineLimits(),
    {
      toSeq: lastSeq,
      fromScratch: options.fromScratch ?? false,
      ...(options.progress === undefined ? {} : { onProgress: options.progress }),
    },
  );
  const state = recovered.state;

  // What the whole retained journal says (all orders ever, not only those still in memory).
  const eventsByType: Record<string, number> = {};
  const ordersByStatus = new Map<number, number>();
  const payload = new PayloadScratch();
  const onRecord: OnRecord = (seq, type, _atMs, bytes, offset, length) => {
    const name = eventName(type);
    eventsByType[name] = (eventsByType[name] ?? 0) + 1;
    if (type === EventType.orderCreated) {
      ordersByStatus.set(OrderStatus.created, (ordersByStatus.get(OrderStatus.created) ?? 0) + 1);
    } else if (type === EventType.orderStatusChanged) {
      // The engine wrote it: a payload that does not fit its slot is a damaged journal, not input.
      if (!payload.fits(length)) throw new Error(`event ${seq}: payload of ${length} bytes does not fit`);
      payload.load(bytes, offset, length);
      const status = orderStatusChangedStatus(payload.words, 0);
      const previous = orderStatusChangedPrevious(payload.words, 0);
      ordersByStatus.set(status, (ordersByStatus.get(status) ?? 0) + 1);
      ordersByStatus.set(previous, (ordersByStatus.get(previous) ?? 0) - 1);
    }
  };
  await reader.scan(await reader.firstSeq(), onRecord, { toSeq: lastSeq });
  const stock: ReplaySummary['stock'] = [];
  for (let skuId = 1; skuId <= state.limits.skusMax; skuId++) {
    if (state.skuExists[skuId] !== 1) continue;
    const onHand = state.skuOnHand[skuId]!;
    const reserved = state.skuReserved[skuId]!;
    stock.push({ skuId, onHand, reserved, available: onHand - reserved, sold: state.skuSold[skuId]! });
  }
  return {
    lastSeq: state.scalars[Scalar.lastSeq]!,
    snapshotSeq: recovered.snapshotSeq,
    eventsReplayed: recovered.eventsReplayed,
    eventsByType,
    ordersByStatus: Object.fromEntries(
      [...ordersByStatus]
        .filter(([, count]) => count !== 0)
        .map(([status, count]) => [statusName(status), count]),
    ),
    stock,
    stateHash: stateHash(state),
    invariantViolations: checkInvariants(state),
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

export function formatReplaySummary(summary: ReplaySummary, stockRowsMax = 20): string {
  const lines = [
    `replayed to seq ${summary.lastSeq} (snapshot ${summary.snapshotSeq}, ${summary.eventsReplayed} events applied) in ${summary.seconds.toFixed(2)} s`,
    `events:  ${
      Object.entries(summary.eventsByType)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
    `orders:  ${
      Object.entries(summary.ordersByStatus)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
    'stock:   sku        onHand   reserved  available       sold',
    ...summary.stock
      .slice(0, stockRowsMax)
      .map(
        (s) =>
          `         ${String(s.skuId).padEnd(8)} ${String(s.onHand).padStart(8)} ${String(s.reserved).padStart(10)} ${String(s.available).padStart(10)} ${String(s.sold).padStart(10)}`,
      ),
    ...(summary.stock.length > stockRowsMax
      ? [`         … ${summary.stock.length - stockRowsMax} more SKUs (--json shows all)`]
      : []),
    `invariants: ${summary.invariantViolations.length === 0 ? 'ok' : summary.invariantViolations.join('; ')}`,
    `state hash: ${summary.stateHash}`,
  ];
  return lines.join('\n');
}

/** `replay --events`: every journal record from fromSeq as one protobuf-JSON line (proto/event-codec.ts). */
export async function printEvents(
  reader: JournalReader,
  fromSeq: number,
  print: (line: string) => void,
): Promise<void> {
  const { eventToJson } = await import('../../proto/event-codec.ts');
  await reader.scan(fromSeq, (seq, type, atMs, bytes, offset, length) => {
    print(JSON.stringify(eventToJson(seq, type, atMs, bytes, offset, length)));
  });
}
