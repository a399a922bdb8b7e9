/**
 * The MySQL projection's schema, as numbered migrations, and the connection helper the projector, the
 * reconciler and `stampede project --store mysql --migrate` share. Migrations run automatically when a
 * MySQL projector opens (and alone with --migrate); each is a list of idempotent statements (CREATE TABLE
 * IF NOT EXISTS, INSERT IGNORE), because MySQL DDL commits implicitly and cannot be rolled back: a crash
 * half-way through a migration is finished by the next run. schema_migrations records what ran; a named lock
 * (GET_LOCK) keeps two projectors from migrating at once. Never renumber or edit a released migration:
 * append one.
 *
 * Conventions: ids and counts are the engine's integers; money in integer minor units (BIGINT); times in
 * ms since the epoch (BIGINT, the engine's clock, as journaled); statuses as the engine's stable codes with
 * the names in order_statuses; every row written from an event carries that event's journal seq.
 */
import mysql, { type Connection } from 'mysql2/promise';
import { OrderStatus } from '../../engine/codes.ts';
import { ProjectionError, ProjectionErrorCode, storeError } from '../errors.ts';
import { orderStatusSeedName } from '../events.ts';

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

const statusRows = Object.values(OrderStatus)
  .filter((code) => code !== OrderStatus.none)
  .map((code) => `(${code}, '${orderStatusSeedName(code)}')`)
  .join(', ');

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'projection tables: checkpoint, products, sales, orders, lines, history, payments, stock ledger',
    statements: [
      `CREATE TABLE IF NOT EXISTS projection_checkpoint (
        projector VARCHAR(64) NOT NULL PRIMARY KEY,
        last_seq BIGINT NOT NULL COMMENT 'last journal seq applied; moved in the same transaction as the data',
        updated_at_ms BIGINT NOT NULL COMMENT 'wall clock of the projector when it moved'
      ) ENGINE=InnoDB`,
      `CREATE TABLE IF NOT EXISTS order_statuses (
        code TINYINT UNSIGNED NOT NULL PRIMARY KEY,
        name VARCHAR(32) NOT NULL
      ) ENGINE=InnoDB`,
      `INSERT IGNORE INTO order_statuses (code, name) VALUES ${statusRows}`,
      `CREATE TABLE IF NOT EXISTS products (
        sku_id INT UNSIGNED NOT NULL PRIMARY KEY,
        price_minor INT NOT NULL,
        currency CHAR(3) NOT NULL,
        stock_initial BIGINT NOT NULL,
        restocked BIGINT NOT NULL,
        on_hand BIGINT NOT NULL,
        reserved BIGINT NOT NULL,
        sold BIGINT NOT NULL,
        available BIGINT AS (on_hand - reserved) VIRTUAL,
        added_seq BIGINT NOT NULL,
        updated_seq BIGINT NOT NULL
      ) ENGINE=InnoDB`,
      `CREATE TABLE IF NOT EXISTS sales (
        sku_id INT UNSIGNED NOT NULL PRIMARY KEY,
        limit_per_buyer INT UNSIGNED NOT NULL COMMENT '0: no limit',
        starts_at_ms BIGINT NOT NULL COMMENT '0: open now',
        ends_at_ms BIGINT NOT NULL COMMENT '0: no end',
        updated_seq BIGINT NOT NULL
      ) ENGINE=InnoDB`,
      `CREATE TABLE IF NOT EXISTS orders (
        order_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
        buyer_id INT UNSIGNED NOT NULL,
        request_id BIGINT NOT NULL,
        status TINYINT UNSIGNED NOT NULL COMMENT 'order_statuses.code',
        reason_code SMALLINT UNSIGNED NOT NULL COMMENT 'ResultCode of the last transition (0 ok)',
        total_minor BIGINT NOT NULL,
        line_count TINYINT UNSIGNED NOT NULL,
        created_at_ms BIGINT NOT NULL,
        expires_at_ms BIGINT NOT NULL,
        updated_at_ms BIGINT NOT NULL,
        created_seq BIGINT NOT NULL,
        updated_seq BIGINT NOT NULL,
        KEY orders_buyer (buyer_id, order_id),
        KEY orders_status (status)
      ) ENGINE=InnoDB`,
      `CREATE TABLE IF NOT EXISTS order_lines (
        order_id BIGINT UNSIGNED NOT NULL,
        line_no TINYINT UNSIGNED NOT NULL,
        sku_id INT UNSIGNED NOT NULL,
        quantity INT NOT NULL,
        unit_price_minor INT NOT NULL,
        PRIMARY KEY (order_id, line_no),
        KEY order_lines_sku (sku_id)
      ) ENGINE=InnoDB`,
      `CREATE TABLE IF NOT EXISTS order_status_history (
        seq BIGINT NOT NULL PRIMARY KEY,
        order_id BIGINT UNSIGNED NOT NULL,
        previous_status TINYINT UNSIGNED NOT NULL COMMENT '0 for the creation row',
        status TINYINT UNSIGNED NOT NULL,
        reason_code SMALLINT UNSIGNED NOT NULL,
        at_ms BIGINT NOT NULL,
        KEY order_status_history_order (order_id, seq)
      ) ENGINE=InnoDB`,
      `CREATE TABLE IF NOT EXISTS payment_transactions (
        seq BIGINT NOT NULL PRIMARY KEY,
        order_id BIGINT UNSIGNED NOT NULL,
        buyer_id INT UNSIGNED NOT NULL,
        outcome ENUM('succeeded', 'declined', 'exception') NOT NULL,
        previous_status TINYINT UNSIGNED NOT NULL,
        status TINYINT UNSIGNED NOT NULL,
        reason_code SMALLINT UNSIGNED NOT NULL,
        amount_minor BIGINT NULL COMMENT 'the order total for a success; NULL when the journal does not say',
        at_ms BIGINT NOT NULL,
        KEY payment_transactions_order (order_id)
      ) ENGINE=InnoDB`,
      `CREATE TABLE IF NOT EXISTS stock_ledger (
        seq BIGINT NOT NULL COMMENT 'journal position of the event that moved the stock',
        line_no TINYINT UNSIGNED NOT NULL COMMENT 'order line (0 for product events)',
        sku_id INT UNSIGNED NOT NULL,
        kind ENUM('initial', 'restock', 'reserve', 'release', 'commit') NOT NULL,
        quantity INT NOT NULL,
        order_id BIGINT UNSIGNED NULL,
        at_ms BIGINT NOT NULL,
        PRIMARY KEY (seq, line_no),
        KEY stock_ledger_sku (sku_id, seq)
      ) ENGINE=InnoDB`,
    ],
  },
  {
    version: 2,
    name: 'payment_transactions: one row per payment delivery, with the amount and the provider reference',
    statements: [
      // ADD COLUMN IF NOT EXISTS (MariaDB) keeps the statement idempotent, as every migration's must be.
      `ALTER TABLE payment_transactions
        MODIFY amount_minor BIGINT NULL COMMENT 'the amount the provider reported paid; NULL for a decline (nothing moved)',
        ADD COLUMN IF NOT EXISTS provider_reference VARCHAR(96) CHARACTER SET ascii NULL
          COMMENT 'the provider''s id of the delivery (webhook eventId, sandbox reference); NULL when none' AFTER amount_minor,
        ADD KEY IF NOT EXISTS payment_transactions_reference (provider_reference)`,
    ],
  },
];

export const schemaVersion = migrations[migrations.length - 1]!.version;

// ────────────────────────────────────────────────── connections ──────────────────────────────────────────────────

export interface MysqlTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export const mysqlUrlDefault = 'mysql://root@127.0.0.1:3306/test';
const databaseNamePattern = /^[A-Za-z0-9_]{1,64}$/;

/** mysql://user:password@host:port/database (database default 'stampede'). */
export function parseMysqlUrl(url: string): MysqlTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ProjectionError(ProjectionErrorCode.configInvalid, `not a MySQL URL: '${url}'`);
  }
  if (parsed.protocol !== 'mysql:') {
    throw new ProjectionError(
      ProjectionErrorCode.configInvalid,
      `a MySQL URL starts with mysql://, got '${url}'`,
    );
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'stampede';
  if (!databaseNamePattern.test(database)) {
    throw new ProjectionError(
      ProjectionErrorCode.configInvalid,
      `database name '${database}' must be 1-64 letters, digits or underscores`,
    );
  }
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username) || 'root',
    password: decodeURIComponent(parsed.password),
    database,
  };
}

/** For messages: the URL without the password. */
export function mysqlLocation(target: MysqlTarget): string {
  return `mysql://${target.user}@${target.host}:${target.port}/${target.database}`;
}

/**
 * Connects and selects the database, creating it when missing unless told not to (a fresh server needs no
 * setup; the reconciler only looks). Numbers
 * come back as numbers: every BIGINT here is below 2^53, and DECIMAL sums are read as numbers.
 */
export async function connectMysql(
  target: MysqlTarget,
  connectTimeoutMs: number,
  createDatabase = true,
): Promise<Connection> {
  let connection: Connection | null = null;
  try {
    connection = await mysql.createConnection({
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
      connectTimeout: connectTimeoutMs,
      decimalNumbers: true,
      multipleStatements: false,
      enableKeepAlive: true,
    });
    // An 'error' event without a listener would crash the process; errors reach us through the queries.
    connection.on('error', () => {});
    if (createDatabase) await connection.query(`CREATE DATABASE IF NOT EXISTS \`${target.database}\``);
    await connection.query(`USE \`${target.database}\``);
    return connection;
  } catch (error) {
    connection?.destroy();
    throw storeError(error, `connecting to ${mysqlLocation(target)}`);
  }
}

/** Runs the migrations not yet applied, under a named lock. Returns the versions it applied. */
export async function migrate(
  connection: Connection,
  target: MysqlTarget,
  log: (message: string) => void,
  lockTimeoutS = 30,
): Promise<number[]> {
  const lockName = `stampede_migrate:${target.database}`;
  const applied: number[] = [];
  try {
    const [lock] = await connection.query<mysql.RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS got', [
      lockName,
      lockTimeoutS,
    ]);
    if (lock[0]?.got !== 1) {
      throw new ProjectionError(
        ProjectionErrorCode.storeUnavailable,
        `${mysqlLocation(target)}: another process holds the migration lock ${lockName}`,
      );
    }
    try {
      await connection.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INT NOT NULL PRIMARY KEY,
        name VARCHAR(200) NOT NULL,
        applied_at_ms BIGINT NOT NULL
      ) ENGINE=InnoDB`);
      const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT version FROM schema_migrations');
      const done = new Set(rows.map((row) => Number(row.version)));
      const newest = Math.max(0, ...done);
      if (newest > schemaVersion) {
        throw new ProjectionError(
          ProjectionErrorCode.configInvalid,
          `${mysqlLocation(target)} has schema version ${newest}; this build knows up to ${schemaVersion} (a newer Stampede wrote it)`,
        );
      }
      for (const migration of migrations) {
        if (done.has(migration.version)) continue;
        for (const statement of migration.statements) await connection.query(statement);
        await connection.query(
          'INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)',
          [migration.version, migration.name, Date.now()],
        );
        applied.push(migration.version);
        log(`mysql ${mysqlLocation(target)}: migration ${migration.version} applied (${migration.name})`);
      }
    } finally {
      await connection.query('SELECT RELEASE_LOCK(?)', [lockName]);
    }
  } catch (error) {
    throw storeError(error, `migrating ${mysqlLocation(target)}`);
  }
  return applied;
}
