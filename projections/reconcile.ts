/**
 * `stampede reconcile`: recomputes from the journal what each store must hold (journal-model.ts: products
 * and their stock counters, the stock ledger row by row, orders with their lines, history and payments, the
 * out-of-stock set, available stock, order status hashes) and compares it with MySQL and Redis. Every
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
import { Redis } from 'ioredis';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { isFinalStatus } from '../engine/codes.ts';
import { FileJournalReader, type JournalReader } from '../journal/journal-backend.ts';
import { journalDir } from '../journal/recovery.ts';
import { storeError } from './errors.ts';
import { decodeEvent, orderStatusSeedName } from './events.ts';
import { JournalModel } from './journal-model.ts';
import { projectionLimits } from './limits.ts';
import { connectMysql, mysqlLocation, parseMysqlUrl, schemaVersion } from './mysql/schema.ts';
import {
  encodeLines,
  redisClientOptions,
  redisKeys,
  redisLocation,
  redisPrefixDefault,
} from './redis/store.ts';

export interface Anomaly {
  store: 'mysql' | 'redis';
  /** Table or key. */
  where: string;
  /** The row or member: 'order 17', 'sku 3', 'seq 120 line 0'. */
  item: string;
  expected: string;
  found: string;
}

export interface StoreSummary {
  store: 'mysql' | 'redis';
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

export interface ReconcileOptions {
  /** Data directory whose journal to read (ignored when `reader` is given). */
  dataDir?: string;
  reader?: JournalReader;
  mysqlUrl?: string;
  redisUrl?: string;
  redisPrefix?: string;
  /** Checkpoint name (default 'stampede'). */
  projector?: string;
  /** The TTL the Redis projector gives order hashes (default projectionLimitsDefault.orderStatusTtlMs). */
  orderStatusTtlMs?: number;
  /** Now, for the TTL rule (tests). */
  nowMs?: number;
}

type Value = string | number | null;
type Row = Record<string, Value>;

interface StoreReconciler {
  readonly store: 'mysql' | 'redis';
  readonly location: string;
  readonly checkpoint: number;
  /** The store holds no checkpoint (nor, for MySQL, a schema): no projector ever wrote there. */
  readonly neverProjected: boolean;
  /** Anomalies found while opening (a schema of another version); compare is skipped when `comparable` is false. */
  readonly comparable: boolean;
  compare(model: JournalModel, anomalies: Anomaly[]): Promise<void>;
  close(): Promise<void>;
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
    const projector = options.projector ?? 'stampede';
    if (options.mysqlUrl !== undefined)
      stores.push(await MysqlReconciler.open(options.mysqlUrl, projector, anomalies));
    if (options.redisUrl !== undefined) {
      stores.push(
        await RedisReconciler.open(
          options.redisUrl,
          options.redisPrefix ?? redisPrefixDefault,
          projector,
          options.orderStatusTtlMs ?? projectionLimits().orderStatusTtlMs,
          options.nowMs ?? Date.now(),
        ),
      );
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

// ─────────────────────────────────────────────────── comparing ───────────────────────────────────────────────────

const statusColumns = new Set(['status', 'previous_status', 'statusCode']);

function describeRow(row: Row, columns: readonly string[]): string {
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
function compareRow(
  anomalies: Anomaly[],
  store: Anomaly['store'],
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

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

interface TableSpec {
  table: string;
  keyColumns: readonly string[];
  columns: readonly string[];
  /** 'order 17', 'seq 120 line 0'. */
  itemOf: (key: readonly number[]) => string;
}

const pageRowsMax = 5000;

// ───────────────────────────────────────────────────── MySQL ─────────────────────────────────────────────────────

const tables = {
  products: {
    table: 'products',
    keyColumns: ['sku_id'],
    columns: ['price_minor', 'currency', 'stock_initial', 'restocked', 'on_hand', 'reserved', 'sold'],
    itemOf: (k) => `sku ${k[0]}`,
  },
  sales: {
    table: 'sales',
    keyColumns: ['sku_id'],
    columns: ['limit_per_buyer', 'starts_at_ms', 'ends_at_ms'],
    itemOf: (k) => `sku ${k[0]}`,
  },
  orders: {
    table: 'orders',
    keyColumns: ['order_id'],
    columns: [
      'buyer_id',
      'request_id',
      'status',
      'reason_code',
      'total_minor',
      'line_count',
      'created_at_ms',
      'expires_at_ms',
      'updated_at_ms',
      'created_seq',
      'updated_seq',
    ],
    itemOf: (k) => `order ${k[0]}`,
  },
  orderLines: {
    table: 'order_lines',
    keyColumns: ['order_id', 'line_no'],
    columns: ['sku_id', 'quantity', 'unit_price_minor'],
    itemOf: (k) => `order ${k[0]} line ${k[1]}`,
  },
  history: {
    table: 'order_status_history',
    keyColumns: ['seq'],
    columns: ['order_id', 'previous_status', 'status', 'reason_code', 'at_ms'],
    itemOf: (k) => `seq ${k[0]}`,
  },
  payments: {
    table: 'payment_transactions',
    keyColumns: ['seq'],
    columns: [
      'order_id',
      'buyer_id',
      'outcome',
      'previous_status',
      'status',
      'reason_code',
      'amount_minor',
      'provider_reference',
      'at_ms',
    ],
    itemOf: (k) => `seq ${k[0]}`,
  },
  ledger: {
    table: 'stock_ledger',
    keyColumns: ['seq', 'line_no'],
    columns: ['sku_id', 'kind', 'quantity', 'order_id', 'at_ms'],
    itemOf: (k) => `seq ${k[0]} line ${k[1]}`,
  },
} satisfies Record<string, TableSpec>;

/** What the MySQL tables must hold at the model's seq, each sorted by its key. */
function expectedMysqlRows(model: JournalModel): Record<keyof typeof tables, Row[]> {
  const byKey = (spec: TableSpec) => (a: Row, b: Row) =>
    compareKeys(
      spec.keyColumns.map((c) => Number(a[c])),
      spec.keyColumns.map((c) => Number(b[c])),
    );
  const products = [...model.products].map(([sku, p]) => ({
    sku_id: sku,
    price_minor: p.priceMinor,
    currency: p.currency,
    stock_initial: p.stockInitial,
    restocked: p.restocked,
    on_hand: p.onHand,
    reserved: p.reserved,
    sold: p.sold,
  }));
  const sales = [...model.sales].map(([sku, s]) => ({
    sku_id: sku,
    limit_per_buyer: s.limitPerBuyer,
    starts_at_ms: s.startsAtMs,
    ends_at_ms: s.endsAtMs,
  }));
  const orders = [...model.orders.values()];
  return {
    products: products.sort(byKey(tables.products)),
    sales: sales.sort(byKey(tables.sales)),
    orders: orders
      .map((o) => ({
        order_id: o.orderId,
        buyer_id: o.buyerId,
        request_id: o.requestId,
        status: o.status,
        reason_code: o.reasonCode,
        total_minor: o.totalMinor,
        line_count: o.lines.length,
        created_at_ms: o.createdAtMs,
        expires_at_ms: o.expiresAtMs,
        updated_at_ms: o.updatedAtMs,
        created_seq: o.createdSeq,
        updated_seq: o.updatedSeq,
      }))
      .sort(byKey(tables.orders)),
    orderLines: orders
      .flatMap((o) =>
        o.lines.map((line, lineNo) => ({
          order_id: o.orderId,
          line_no: lineNo,
          sku_id: line.skuId,
          quantity: line.quantity,
          unit_price_minor: line.unitPriceMinor,
        })),
      )
      .sort(byKey(tables.orderLines)),
    history: model.history.map((h) => ({
      seq: h.seq,
      order_id: h.orderId,
      previous_status: h.previousStatus,
      status: h.status,
      reason_code: h.reasonCode,
      at_ms: h.atMs,
    })),
    payments: model.payments.map((p) => ({
      seq: p.seq,
      order_id: p.orderId,
      buyer_id: p.buyerId,
      outcome: p.outcome,
      previous_status: p.previousStatus,
      status: p.status,
      reason_code: p.reasonCode,
      amount_minor: p.amountMinor,
      provider_reference: p.reference,
      at_ms: p.atMs,
    })),
    ledger: model.ledger.map((l) => ({
      seq: l.seq,
      line_no: l.lineNo,
      sku_id: l.skuId,
      kind: l.kind,
      quantity: l.quantity,
      order_id: l.orderId,
      at_ms: l.atMs,
    })),
  };
}

class MysqlReconciler implements StoreReconciler {
  readonly store = 'mysql';
  readonly location: string;
  readonly checkpoint: number;
  readonly comparable: boolean;
  readonly neverProjected: boolean;
  private readonly connection: Connection;

  private constructor(
    location: string,
    connection: Connection,
    checkpoint: number,
    comparable: boolean,
    neverProjected: boolean,
  ) {
    this.location = location;
    this.connection = connection;
    this.checkpoint = checkpoint;
    this.comparable = comparable;
    this.neverProjected = neverProjected;
  }

  static async open(url: string, projector: string, anomalies: Anomaly[]): Promise<MysqlReconciler> {
    const target = parseMysqlUrl(url);
    const location = mysqlLocation(target);
    const connection = await connectMysql(target, projectionLimits().connectTimeoutMs, false);
    try {
      // Every read below sees the database as of this instant, checkpoint and data alike.
      await connection.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await connection.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      const [tablesFound] = await connection.query<RowDataPacket[]>("SHOW TABLES LIKE 'schema_migrations'");
      let version = 0;
      if (tablesFound.length > 0) {
        const [rows] = await connection.query<RowDataPacket[]>(
          'SELECT MAX(version) AS version FROM schema_migrations',
        );
        version = Number(rows[0]?.version ?? 0);
      }
      // No schema at all: never projected (reported as such, not as damage); another version is an anomaly.
      if (version === 0) return new MysqlReconciler(location, connection, 0, false, true);
      if (version !== schemaVersion) {
        anomalies.push({
          store: 'mysql',
          where: 'schema_migrations',
          item: 'schema version',
          expected: String(schemaVersion),
          found: String(version),
        });
        return new MysqlReconciler(location, connection, 0, false, false);
      }
      const [rows] = await connection.query<RowDataPacket[]>(
        'SELECT last_seq FROM projection_checkpoint WHERE projector = ?',
        [projector],
      );
      const checkpoint = rows[0]?.last_seq;
      return new MysqlReconciler(
        location,
        connection,
        Number(checkpoint ?? 0),
        true,
        checkpoint === undefined,
      );
    } catch (error) {
      connection.destroy();
      throw storeError(error, `reading ${location}`);
    }
  }

  async compare(model: JournalModel, anomalies: Anomaly[]): Promise<void> {
    const expected = expectedMysqlRows(model);
    try {
      for (const name of Object.keys(tables) as (keyof typeof tables)[]) {
        await this.compareTable(tables[name], expected[name], anomalies);
      }
    } catch (error) {
      throw storeError(error, `reading ${this.location}`);
    }
  }

  /** Merge-join of the expected rows (sorted) with the table read in key order, a page at a time. */
  private async compareTable(spec: TableSpec, expected: readonly Row[], anomalies: Anomaly[]): Promise<void> {
    const keyOf = (row: Row): number[] => spec.keyColumns.map((column) => Number(row[column]));
    const select = `SELECT ${[...spec.keyColumns, ...spec.columns].join(', ')} FROM ${spec.table}`;
    const order = ` ORDER BY ${spec.keyColumns.join(', ')} LIMIT ${pageRowsMax}`;
    let after: number[] | null = null;
    let page: Row[] = [];
    let pageIndex = 0;
    let done = false;
    const nextFound = async (): Promise<Row | null> => {
      if (pageIndex < page.length) return page[pageIndex++]!;
      if (done) return null;
      let where = '';
      let values: number[] = [];
      if (after !== null) {
        if (spec.keyColumns.length === 1) {
          where = ` WHERE ${spec.keyColumns[0]} > ?`;
          values = [after[0]!];
        } else {
          const [k1, k2] = spec.keyColumns;
          where = ` WHERE ${k1} > ? OR (${k1} = ? AND ${k2} > ?)`;
          values = [after[0]!, after[0]!, after[1]!];
        }
      }
      const [rows] = await this.connection.query<RowDataPacket[]>(select + where + order, values);
      page = rows as Row[];
      pageIndex = 0;
      if (page.length < pageRowsMax) done = true;
      if (page.length === 0) return null;
      after = keyOf(page[page.length - 1]!);
      return page[pageIndex++]!;
    };

    let found = await nextFound();
    let index = 0;
    while (index < expected.length || found !== null) {
      const want = expected[index];
      const cmp = want === undefined ? 1 : found === null ? -1 : compareKeys(keyOf(want), keyOf(found));
      if (cmp < 0) {
        anomalies.push({
          store: 'mysql',
          where: spec.table,
          item: spec.itemOf(keyOf(want!)),
          expected: `a row: ${describeRow(want!, spec.columns)}`,
          found: 'no row',
        });
        index++;
      } else if (cmp > 0) {
        anomalies.push({
          store: 'mysql',
          where: spec.table,
          item: spec.itemOf(keyOf(found!)),
          expected: 'no row (the journal has nothing for it)',
          found: `a row: ${describeRow(found!, spec.columns)}`,
        });
        found = await nextFound();
      } else {
        compareRow(anomalies, 'mysql', spec.table, spec.itemOf(keyOf(want!)), want!, found!, spec.columns);
        index++;
        found = await nextFound();
      }
    }
  }

  async close(): Promise<void> {
    await this.connection.query('ROLLBACK').catch(() => {});
    this.connection.destroy();
  }
}

// ───────────────────────────────────────────────────── Redis ─────────────────────────────────────────────────────

class RedisReconciler implements StoreReconciler {
  readonly store = 'redis';
  readonly location: string;
  readonly checkpoint: number;
  readonly neverProjected: boolean;
  readonly comparable = true;
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly snapshot: {
    available: Record<string, string>;
    oos: string[];
    orderLines: Record<string, string>;
  };
  private readonly orderStatusTtlMs: number;
  private readonly nowMs: number;

  private constructor(
    location: string,
    client: Redis,
    prefix: string,
    /** The checkpoint key's value; null when there is none. */
    checkpoint: string | null,
    snapshot: RedisReconciler['snapshot'],
    orderStatusTtlMs: number,
    nowMs: number,
  ) {
    this.location = location;
    this.client = client;
    this.prefix = prefix;
    this.checkpoint = Number(checkpoint ?? 0);
    this.neverProjected = checkpoint === null;
    this.snapshot = snapshot;
    this.orderStatusTtlMs = orderStatusTtlMs;
    this.nowMs = nowMs;
  }

  static async open(
    url: string,
    prefix: string,
    projector: string,
    orderStatusTtlMs: number,
    nowMs: number,
  ): Promise<RedisReconciler> {
    const location = `${redisLocation(url)} (prefix '${prefix}')`;
    const client = new Redis(url, redisClientOptions(projectionLimits()));
    client.on('error', () => {});
    try {
      await client.connect();
      const keys = redisKeys(prefix);
      // One MULTI: the checkpoint and the data it covers, as of one instant.
      const results = await client
        .multi()
        .get(keys.checkpoint(projector))
        .hgetall(keys.available)
        .smembers(keys.oos)
        .hgetall(keys.orderLines)
        .exec();
      if (results === null) throw new Error('MULTI was aborted');
      for (const [error] of results) if (error) throw error;
      const value = (index: number): unknown => results[index]![1];
      return new RedisReconciler(
        location,
        client,
        prefix,
        value(0) as string | null,
        {
          available: value(1) as Record<string, string>,
          oos: value(2) as string[],
          orderLines: value(3) as Record<string, string>,
        },
        orderStatusTtlMs,
        nowMs,
      );
    } catch (error) {
      client.disconnect();
      throw storeError(error, `reading ${location}`);
    }
  }

  async compare(model: JournalModel, anomalies: Anomaly[]): Promise<void> {
    const keys = redisKeys(this.prefix);
    const push = (where: string, item: string, expected: string, found: string): void => {
      anomalies.push({ store: 'redis', where, item, expected, found });
    };

    // available: one field per product.
    const available = this.snapshot.available;
    for (const skuId of model.products.keys()) {
      const want = String(model.available(skuId));
      const got = available[String(skuId)];
      if (got !== want) push(keys.available, `sku ${skuId}`, want, got ?? 'no field');
    }
    for (const field of Object.keys(available)) {
      if (!model.products.has(Number(field)))
        push(keys.available, `sku ${field}`, 'no field (no such product)', available[field]!);
    }

    // oos: exactly the products with nothing available.
    const oos = new Set(this.snapshot.oos);
    for (const skuId of model.products.keys()) {
      const units = model.available(skuId);
      const want = units <= 0;
      if (want !== oos.has(String(skuId))) {
        push(
          keys.oos,
          `sku ${skuId}`,
          want ? `a member (available ${units})` : `not a member (available ${units})`,
          want ? 'not a member' : 'a member (stale out-of-stock entry)',
        );
      }
    }
    for (const member of oos) {
      if (!model.products.has(Number(member)))
        push(keys.oos, `sku ${member}`, 'not a member (no such product)', 'a member');
    }

    // order-lines: the orders that are not final yet.
    const orderLines = this.snapshot.orderLines;
    for (const order of model.orders.values()) {
      const got = orderLines[String(order.orderId)];
      const want = isFinalStatus(order.status) ? undefined : encodeLines(order.lines);
      if (got !== want)
        push(keys.orderLines, `order ${order.orderId}`, want ?? 'no field (final order)', got ?? 'no field');
    }
    for (const field of Object.keys(orderLines)) {
      if (!model.orders.has(Number(field)))
        push(keys.orderLines, `order ${field}`, 'no field (no such order)', orderLines[field]!);
    }

    // order hashes, a pipeline of HGETALLs at a time.
    const orders = [...model.orders.values()];
    const columns = ['status', 'statusCode', 'buyer', 'total', 'updatedAtMs', 'seq'];
    try {
      for (let i = 0; i < orders.length; i += pageRowsMax) {
        const slice = orders.slice(i, i + pageRowsMax);
        const pipeline = this.client.pipeline();
        for (const order of slice) pipeline.hgetall(keys.order(order.orderId));
        const results = (await pipeline.exec()) ?? [];
        slice.forEach((order, index) => {
          const [error, value] = results[index] ?? [new Error('no reply'), null];
          if (error) throw error;
          const found = value as Record<string, string>;
          const key = keys.order(order.orderId);
          if (found.status === undefined) {
            // The hash was written no earlier than the event, so it must live until updatedAtMs + TTL.
            if (this.nowMs < order.updatedAtMs + this.orderStatusTtlMs) {
              push(key, `order ${order.orderId}`, `status ${orderStatusSeedName(order.status)}`, 'no key');
            }
            return;
          }
          if (Number(found.seq) > this.checkpoint) return; // written after the snapshot: not judged
          const want: Row = {
            status: orderStatusSeedName(order.status),
            statusCode: order.status,
            buyer: order.buyerId,
            total: found.total === undefined ? null : order.totalMinor,
            updatedAtMs: order.updatedAtMs,
            seq: order.updatedSeq,
          };
          compareRow(anomalies, 'redis', key, `order ${order.orderId}`, want, found, columns);
        });
      }
      // Order hashes the journal knows nothing of.
      let cursor = '0';
      const pattern = `${keys.order(0).slice(0, -1)}*`;
      do {
        const [next, found] = await this.client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (const key of found) {
          const orderId = Number(key.slice(pattern.length - 1));
          if (!model.orders.has(orderId)) {
            const seq = Number(await this.client.hget(key, 'seq'));
            if (seq <= this.checkpoint)
              push(key, `order ${key.slice(pattern.length - 1)}`, 'no key (no such order)', 'a key');
          }
        }
      } while (cursor !== '0');
    } catch (error) {
      throw storeError(error, `reading ${this.location}`);
    }
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
