/**
 * Real MariaDB/MySQL and Redis for tests, isolated per test: a fresh database stampede_test_<random>
 * (dropped afterwards) and a random Redis key prefix (its keys deleted afterwards). Addresses from
 * MYSQL_URL and REDIS_URL, defaulting to the local servers; an unreachable server fails the test with a
 * message that says which address and variable.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import type { Test } from 'tap';
import { mysqlUrlDefault, parseMysqlUrl } from '../mysql/schema.ts';
import { redisUrlDefault } from '../redis/store.ts';

export const mysqlBaseUrl = (): string => process.env.MYSQL_URL ?? mysqlUrlDefault;
export const redisBaseUrl = (): string => process.env.REDIS_URL ?? redisUrlDefault;

/** The same URL with another host:port (through a proxy) or database. */
export function withAddress(
  url: string,
  change: { host?: string; port?: number; database?: string },
): string {
  const parsed = new URL(url);
  if (change.host !== undefined) parsed.hostname = change.host;
  if (change.port !== undefined) parsed.port = String(change.port);
  if (change.database !== undefined) parsed.pathname = `/${change.database}`;
  return parsed.toString();
}

/** A new empty database; returns its URL. Dropped at teardown. */
export async function freshMysqlDatabase(t: Test): Promise<string> {
  const base = mysqlBaseUrl();
  const target = parseMysqlUrl(base);
  let connection: mysql.Connection;
  try {
    connection = await mysql.createConnection({
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
      connectTimeout: 3000,
    });
  } catch (error) {
    throw new Error(
      `MariaDB/MySQL is not reachable at ${base} (set MYSQL_URL to a server these tests may create databases on): ${(error as Error).message}`,
    );
  }
  const database = `stampede_test_${randomBytes(5).toString('hex')}`;
  await connection.query(`CREATE DATABASE ${database}`);
  await connection.end();
  t.teardown(async () => {
    const c = await mysql.createConnection({
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
    });
    await c.query(`DROP DATABASE IF EXISTS ${database}`);
    await c.end();
  });
  return withAddress(base, { database });
}

/** A connection to a test database, closed at teardown. */
export async function mysqlConnection(t: Test, url: string): Promise<mysql.Connection> {
  const target = parseMysqlUrl(url);
  const connection = await mysql.createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    decimalNumbers: true,
  });
  t.teardown(() => connection.end());
  return connection;
}

/** A random key prefix on the test Redis; its keys are deleted at teardown. Returns the URL, prefix and a client. */
export async function freshRedisPrefix(t: Test): Promise<{ url: string; prefix: string; client: Redis }> {
  const url = redisBaseUrl();
  const client = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 3000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(`Redis is not reachable at ${url} (set REDIS_URL): ${(error as Error).message}`);
  }
  const prefix = `stampede-test-${randomBytes(5).toString('hex')}:`;
  t.teardown(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
    client.disconnect();
  });
  return { url, prefix, client };
}

/** Polls `condition` every 5 ms until it holds (true) or timeoutMs passes (false). */
export async function eventually(condition: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}
