/**
 * The MySQL projection (mysql2, promise API): products with their stock counters, sales, orders and their
 * lines, every status transition, payment transactions, and a stock ledger with one row per movement
 * carrying its journal position (tables in schema.ts).
 *
 * One transaction per batch of events, and the checkpoint row moves inside it:
 *
 *   1. SELECT the checkpoint FOR UPDATE: it must be where the projector left it (or already at the batch's
 *      end: a retry after a lost COMMIT answer, nothing to do). The row lock also serialises two projectors
 *      that were wrongly given the same name: the second finds the checkpoint moved and halts.
 *   2. SELECT the lines and totals of older orders this batch changes (one query).
 *   3. Multi-row INSERTs (rowsPerStatementMax rows each) for new products, orders, lines, history,
 *      payments and ledger rows; one multi-row UPDATE (a join on a derived table) for the status of older
 *      orders; and ONE counter UPDATE per SKU per batch, with the batch's movements summed: a hot SKU's
 *      thousands of reservations a second cost one row lock per batch, not one per movement.
 *   4. UPDATE the checkpoint, COMMIT.
 *
 * A crash anywhere before COMMIT leaves nothing of the batch (InnoDB rolls it back with the connection);
 * after it, the checkpoint says so. Either way the projector resumes from the stored checkpoint.
 *
 * Runs on the projector's thread; one connection, used by one batch at a time.
 */
import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { OrderStatus } from '../../engine/codes.ts';
import { ProjectionError, ProjectionErrorCode, storeError } from '../errors.ts';
import {
  MovementKind,
  movementDeltas,
  movementOfTransition,
  type OrderLine,
  orderOfCreated,
  type ProjectedEvent,
  type ProjectedOrder,
  paymentRowOf,
} from '../events.ts';
import { type ProjectionLimits, projectionLimits } from '../limits.ts';
import type { ProjectionStore } from '../projector.ts';
import { connectMysql, type MysqlTarget, migrate, mysqlLocation, parseMysqlUrl } from './schema.ts';

export interface MysqlStoreOptions {
  /** mysql://user:password@host:port/database */
  url: string;
  /** The checkpoint row's name (default 'stampede'): one per journal (engine shard) projected here. */
  projector?: string;
  limits?: Partial<ProjectionLimits>;
  log?: (message: string) => void;
  /**
   * Fault injection for tests: called with the step's label before each statement of a batch transaction
   * ('products', 'orders', ..., 'ledger', 'stock', 'checkpoint', 'commit') and after the COMMIT answered
   * ('committed'). A test throws here, or destroys the connection.
   */
  injectFault?: (step: string, connection: Connection) => void | Promise<void>;
}

interface Statement {
  label: string;
  sql: string;
  values?: unknown[];
  /** For UPDATEs: the rows that must match (the store is missing something when fewer do). */
  rowsExpected?: number;
}

interface KnownOrder {
  totalMinor: number;
  lines: OrderLine[];
}

export class MysqlProjectionStore implements ProjectionStore {
  readonly kind = 'mysql';
  readonly location: string;
  readonly projector: string;
  private readonly target: MysqlTarget;
  private readonly limits: ProjectionLimits;
  private readonly log: (message: string) => void;
  private readonly injectFault: MysqlStoreOptions['injectFault'];
  private connection: Connection | null = null;

  constructor(options: MysqlStoreOptions) {
    this.target = parseMysqlUrl(options.url);
    this.location = mysqlLocation(this.target);
    this.projector = options.projector ?? 'stampede';
    this.limits = projectionLimits(options.limits);
    this.log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
    this.injectFault = options.injectFault;
  }

  async open(): Promise<number> {
    await this.close();
    const connection = await connectMysql(this.target, this.limits.connectTimeoutMs);
    this.connection = connection;
    await migrate(connection, this.target, this.log);
    try {
      await this.query(
        'INSERT IGNORE INTO projection_checkpoint (projector, last_seq, updated_at_ms) VALUES (?, 0, ?)',
        [this.projector, Date.now()],
      );
      const [rows] = await connection.query<RowDataPacket[]>({
        sql: 'SELECT last_seq FROM projection_checkpoint WHERE projector = ?',
        values: [this.projector],
        timeout: this.limits.statementTimeoutMs,
      });
      return Number(rows[0]!.last_seq);
    } catch (error) {
      throw storeError(error, `reading the checkpoint of ${this.projector} in ${this.location}`);
    }
  }

  private async query(sql: string, values?: unknown[]): Promise<ResultSetHeader> {
    const connection = this.connection;
    if (connection === null) {
      throw new ProjectionError(ProjectionErrorCode.storeUnavailable, `${this.location}: not connected`);
    }
    const [result] = await connection.query<ResultSetHeader>({
      sql,
      ...(values === undefined ? {} : { values }),
      timeout: this.limits.statementTimeoutMs,
    });
    return result;
  }

  async apply(events: readonly ProjectedEvent[], checkpoint: number): Promise<'applied' | 'alreadyApplied'> {
    const first = events[0];
    const last = events[events.length - 1];
    if (first === undefined || last === undefined || first.seq !== checkpoint + 1) {
      throw new Error(
        `mysql apply: batch must start at checkpoint + 1 (${checkpoint + 1}), got ${first?.seq}`,
      );
    }
    const connection = this.connection;
    if (connection === null) {
      throw new ProjectionError(ProjectionErrorCode.storeUnavailable, `${this.location}: not connected`);
    }
    let inTransaction = false;
    try {
      await this.query('START TRANSACTION');
      inTransaction = true;
      const [rows] = await connection.query<RowDataPacket[]>({
        sql: 'SELECT last_seq FROM projection_checkpoint WHERE projector = ? FOR UPDATE',
        values: [this.projector],
        timeout: this.limits.statementTimeoutMs,
      });
      const stored = Number(rows[0]?.last_seq ?? -1);
      if (stored === last.seq) {
        await this.query('ROLLBACK');
        return 'alreadyApplied';
      }
      if (stored !== checkpoint) {
        throw new ProjectionError(
          ProjectionErrorCode.checkpointMismatch,
          `${this.location}: checkpoint of ${this.projector} is ${stored}, the projector applied up to ${checkpoint} ` +
            '(another projector writing under the same name, or a restored database?)',
        );
      }
      const known = await this.knownOrders(events);
      for (const statement of buildStatements(events, known, this.limits.rowsPerStatementMax)) {
        await this.injectFault?.(statement.label, connection);
        const result = await this.query(statement.sql, statement.values);
        if (statement.rowsExpected !== undefined && result.affectedRows !== statement.rowsExpected) {
          throw new ProjectionError(
            ProjectionErrorCode.storeInconsistent,
            `${this.location}: ${statement.label} of seqs ${first.seq}..${last.seq} matched ${result.affectedRows} rows, ` +
              `${statement.rowsExpected} expected (rows that earlier events wrote are missing: run stampede reconcile)`,
          );
        }
      }
      await this.injectFault?.('checkpoint', connection);
      await this.query(
        'UPDATE projection_checkpoint SET last_seq = ?, updated_at_ms = ? WHERE projector = ?',
        [last.seq, Date.now(), this.projector],
      );
      await this.injectFault?.('commit', connection);
      await this.query('COMMIT');
      inTransaction = false;
      await this.injectFault?.('committed', connection);
      return 'applied';
    } catch (error) {
      // A live connection rolls back now; a dead one was rolled back by the server when it went.
      if (inTransaction) await this.query('ROLLBACK').catch(() => {});
      throw storeError(error, `applying seqs ${first.seq}..${last.seq} to ${this.location}`);
    }
  }

  /** Lines and totals of the orders this batch changes that were created before it. */
  private async knownOrders(events: readonly ProjectedEvent[]): Promise<Map<number, KnownOrder>> {
    const createdHere = new Set<number>();
    const wanted = new Set<number>();
    for (const event of events) {
      if (event.kind === 'orderCreated') createdHere.add(event.orderId);
      else if (event.kind === 'orderStatusChanged' && !createdHere.has(event.orderId))
        wanted.add(event.orderId);
    }
    const known = new Map<number, KnownOrder>();
    const ids = [...wanted];
    const chunk = this.limits.rowsPerStatementMax;
    for (let i = 0; i < ids.length; i += chunk) {
      const connection = this.connection!;
      const [rows] = await connection.query<RowDataPacket[]>({
        sql:
          'SELECT o.order_id, o.total_minor, l.sku_id, l.quantity, l.unit_price_minor FROM orders o ' +
          'LEFT JOIN order_lines l ON l.order_id = o.order_id WHERE o.order_id IN (?) ORDER BY o.order_id, l.line_no',
        values: [ids.slice(i, i + chunk)],
        timeout: this.limits.statementTimeoutMs,
      });
      for (const row of rows) {
        const orderId = Number(row.order_id);
        let order = known.get(orderId);
        if (order === undefined) {
          order = { totalMinor: Number(row.total_minor), lines: [] };
          known.set(orderId, order);
        }
        if (row.sku_id !== null) {
          order.lines.push({
            skuId: Number(row.sku_id),
            quantity: Number(row.quantity),
            unitPriceMinor: Number(row.unit_price_minor),
          });
        }
      }
    }
    for (const orderId of wanted) {
      if (!known.has(orderId)) {
        throw new ProjectionError(
          ProjectionErrorCode.storeInconsistent,
          `${this.location}: the batch changes order ${orderId}, which the store does not hold (run stampede reconcile)`,
        );
      }
    }
    return known;
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = null;
    connection?.destroy();
  }
}

// ─────────────────────────────────────────────── batch → statements ───────────────────────────────────────────────

interface SkuDelta {
  onHand: number;
  reserved: number;
  sold: number;
  restocked: number;
  updatedSeq: number;
}

/** `SELECT a AS x, b AS y UNION ALL SELECT c, d ...`: a derived table of integer rows for UPDATE ... JOIN. */
function derivedTable(columns: readonly string[], rows: readonly number[][]): string {
  return rows
    .map((row, index) => {
      const cells = row.map((value, column) => {
        if (!Number.isSafeInteger(value))
          throw new Error(`derived table: ${columns[column]} = ${value} is not an integer`);
        return index === 0 ? `${value} AS ${columns[column]}` : String(value);
      });
      return `SELECT ${cells.join(', ')}`;
    })
    .join(' UNION ALL ');
}

function chunks<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/** Every write of one batch, in an order that respects what refers to what. Pure: tested without a server. */
export function buildStatements(
  events: readonly ProjectedEvent[],
  known: ReadonlyMap<number, KnownOrder>,
  rowsPerStatementMax: number,
): Statement[] {
  const newProducts: unknown[][] = [];
  const prices = new Map<number, { priceMinor: number; seq: number }>();
  const sales = new Map<number, unknown[]>();
  const newOrders = new Map<number, ProjectedOrder>();
  const orderUpdates = new Map<
    number,
    { status: number; reasonCode: number; updatedAtMs: number; updatedSeq: number }
  >();
  const history: unknown[][] = [];
  const payments: unknown[][] = [];
  const ledger: unknown[][] = [];
  const deltas = new Map<number, SkuDelta>();

  const move = (
    seq: number,
    lineNo: number,
    skuId: number,
    kind: MovementKind,
    quantity: number,
    orderId: number | null,
    atMs: number,
  ): void => {
    ledger.push([seq, lineNo, skuId, kind, quantity, orderId, atMs]);
    const d = movementDeltas(kind, quantity);
    const sum = deltas.get(skuId) ?? { onHand: 0, reserved: 0, sold: 0, restocked: 0, updatedSeq: seq };
    sum.onHand += d.onHand;
    sum.reserved += d.reserved;
    sum.sold += d.sold;
    sum.restocked += d.restocked;
    sum.updatedSeq = seq;
    deltas.set(skuId, sum);
  };

  for (const event of events) {
    switch (event.kind) {
      case 'productAdded':
        newProducts.push([
          event.skuId,
          event.priceMinor,
          event.currency,
          event.stock,
          0,
          0,
          0,
          0,
          event.seq,
          event.seq,
        ]);
        move(event.seq, 0, event.skuId, MovementKind.initial, event.stock, null, event.atMs);
        break;
      case 'stockRestocked':
        move(event.seq, 0, event.skuId, MovementKind.restock, event.quantity, null, event.atMs);
        break;
      case 'priceSet':
        prices.set(event.skuId, { priceMinor: event.priceMinor, seq: event.seq });
        break;
      case 'saleConfigured':
        sales.set(event.skuId, [
          event.skuId,
          event.limitPerBuyer,
          event.startsAtMs,
          event.endsAtMs,
          event.seq,
        ]);
        break;
      case 'orderCreated':
        newOrders.set(event.orderId, orderOfCreated(event));
        history.push([event.seq, event.orderId, OrderStatus.none, OrderStatus.created, 0, event.atMs]);
        break;
      case 'orderStatusChanged': {
        const created = newOrders.get(event.orderId);
        const order = created ?? known.get(event.orderId);
        if (order === undefined)
          throw new Error(`mysql batch: order ${event.orderId} neither known nor created`);
        const change = {
          status: event.status,
          reasonCode: event.code,
          updatedAtMs: event.atMs,
          updatedSeq: event.seq,
        };
        if (created !== undefined) Object.assign(created, change);
        else orderUpdates.set(event.orderId, change);
        history.push([event.seq, event.orderId, event.previous, event.status, event.code, event.atMs]);
        const kind = movementOfTransition(event.previous, event.status);
        if (kind !== null) {
          order.lines.forEach((line, lineNo) => {
            move(event.seq, lineNo, line.skuId, kind, line.quantity, event.orderId, event.atMs);
          });
        }
        break;
      }
      case 'paymentReceived': {
        const row = paymentRowOf(event);
        payments.push([
          event.seq,
          event.orderId,
          event.buyerId,
          row.outcome,
          event.previous,
          event.status,
          event.result,
          row.amountMinor,
          row.reference,
          event.atMs,
        ]);
        break;
      }
      case 'buyerBlocked':
      case 'orderRefused':
      case 'orderForgotten':
        break;
      default: {
        const never: never = event;
        throw new Error(`mysql batch: unknown event ${JSON.stringify(never)}`);
      }
    }
  }

  const statements: Statement[] = [];
  const insert = (label: string, head: string, rows: unknown[][], tail = ''): void => {
    for (const part of chunks(rows, rowsPerStatementMax)) {
      statements.push({ label, sql: `${head} VALUES ?${tail}`, values: [part] });
    }
  };
  insert(
    'products',
    'INSERT INTO products (sku_id, price_minor, currency, stock_initial, restocked, on_hand, reserved, sold, added_seq, updated_seq)',
    newProducts,
  );
  for (const part of chunks([...prices], rowsPerStatementMax)) {
    statements.push({
      label: 'prices',
      sql:
        `UPDATE products p JOIN (${derivedTable(
          ['sku_id', 'price_minor', 'seq'],
          part.map(([sku, v]) => [sku, v.priceMinor, v.seq]),
        )}) v ` +
        'ON p.sku_id = v.sku_id SET p.price_minor = v.price_minor, p.updated_seq = GREATEST(p.updated_seq, v.seq)',
      rowsExpected: part.length,
    });
  }
  insert(
    'sales',
    'INSERT INTO sales (sku_id, limit_per_buyer, starts_at_ms, ends_at_ms, updated_seq)',
    [...sales.values()],
    ' ON DUPLICATE KEY UPDATE limit_per_buyer = VALUES(limit_per_buyer), starts_at_ms = VALUES(starts_at_ms), ' +
      'ends_at_ms = VALUES(ends_at_ms), updated_seq = VALUES(updated_seq)',
  );
  const orders = [...newOrders.values()];
  insert(
    'orders',
    'INSERT INTO orders (order_id, buyer_id, request_id, status, reason_code, total_minor, line_count, created_at_ms, ' +
      'expires_at_ms, updated_at_ms, created_seq, updated_seq)',
    orders.map((o) => [
      o.orderId,
      o.buyerId,
      o.requestId,
      o.status,
      o.reasonCode,
      o.totalMinor,
      o.lines.length,
      o.createdAtMs,
      o.expiresAtMs,
      o.updatedAtMs,
      o.createdSeq,
      o.updatedSeq,
    ]),
  );
  insert(
    'order_lines',
    'INSERT INTO order_lines (order_id, line_no, sku_id, quantity, unit_price_minor)',
    orders.flatMap((o) =>
      o.lines.map((line, lineNo) => [o.orderId, lineNo, line.skuId, line.quantity, line.unitPriceMinor]),
    ),
  );
  for (const part of chunks([...orderUpdates], rowsPerStatementMax)) {
    const rows = part.map(([orderId, u]) => [orderId, u.status, u.reasonCode, u.updatedAtMs, u.updatedSeq]);
    statements.push({
      label: 'order_updates',
      sql:
        `UPDATE orders o JOIN (${derivedTable(['order_id', 'status', 'reason_code', 'updated_at_ms', 'updated_seq'], rows)}) v ` +
        'ON o.order_id = v.order_id SET o.status = v.status, o.reason_code = v.reason_code, ' +
        'o.updated_at_ms = v.updated_at_ms, o.updated_seq = v.updated_seq',
      rowsExpected: part.length,
    });
  }
  insert(
    'history',
    'INSERT INTO order_status_history (seq, order_id, previous_status, status, reason_code, at_ms)',
    history,
  );
  insert(
    'payments',
    'INSERT INTO payment_transactions (seq, order_id, buyer_id, outcome, previous_status, status, reason_code, amount_minor, provider_reference, at_ms)',
    payments,
  );
  insert(
    'ledger',
    'INSERT INTO stock_ledger (seq, line_no, sku_id, kind, quantity, order_id, at_ms)',
    ledger,
  );
  for (const part of chunks([...deltas], rowsPerStatementMax)) {
    const rows = part.map(([sku, d]) => [sku, d.onHand, d.reserved, d.sold, d.restocked, d.updatedSeq]);
    statements.push({
      label: 'stock',
      sql:
        `UPDATE products p JOIN (${derivedTable(['sku_id', 'd_on_hand', 'd_reserved', 'd_sold', 'd_restocked', 'seq'], rows)}) v ` +
        'ON p.sku_id = v.sku_id SET p.on_hand = p.on_hand + v.d_on_hand, p.reserved = p.reserved + v.d_reserved, ' +
        'p.sold = p.sold + v.d_sold, p.restocked = p.restocked + v.d_restocked, p.updated_seq = GREATEST(p.updated_seq, v.seq)',
      rowsExpected: part.length,
    });
  }
  return statements;
}
