/**
 * `stampede reconcile` for MySQL: compares every table with what the journal model says it must hold, as
 * of the checkpoint read in the same consistent-snapshot transaction as the data (reconcile.ts drives it).
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { storeError } from '../errors.ts';
import type { JournalModel } from '../journal-model.ts';
import { projectionLimits } from '../limits.ts';
import {
  type Anomaly,
  compareRow,
  describeRow,
  pageRowsMax,
  type ReconcileContext,
  type Row,
  type StoreReconciler,
} from '../reconcile-store.ts';
import { connectMysql, mysqlLocation, parseMysqlUrl, schemaVersion } from './schema.ts';

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

export class MysqlReconciler implements StoreReconciler {
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

  static async open(url: string, { projector, anomalies }: ReconcileContext): Promise<MysqlReconciler> {
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
