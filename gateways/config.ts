/**
 * The node's configuration: one table of every setting (default, unit last,
 * environment variable, one line of documentation), loaded once at start-up
 * from, later wins:
 *
 *   defaults (this table) < JSON file (--config FILE, or STAMPEDE_CONFIG)
 *                         < environment (STAMPEDE_*) < overrides (command-line flags)
 *
 * loadConfig validates everything before anything starts and throws one
 * ConfigError listing every bad value, each with what it must be and what it
 * got: a bad value in any source is reported, even one a later source
 * overrides, and so is an unknown key in the file or an unknown STAMPEDE_*
 * variable, with the closest known name (most often a typo that would
 * otherwise silently leave a default in place). Then the relationships
 * between settings are checked, each with the reason it must hold.
 *
 * An empty environment variable counts as unset. Secrets are never echoed in
 * a message (only their length), and URLs never (they may carry a password).
 *
 * The token secret: in production it must be given (STAMPEDE_TOKEN_SECRET or
 * the file). Otherwise, when unset, the node generates one at first start
 * into <dataDir>/secret (mode 0600) and keeps using it: `tokenSecretOf`.
 *
 * Runs once, on the main thread, before the gateways start.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { linesPerOrderMaxLayout } from '../engine/layout.ts';
import {
  type EngineLimits,
  engineLimitsDefault,
  engineLimitsRecorded,
  validateEngineLimits,
} from '../engine/limits.ts';
import { fileJournalSelection, type JournalSelection } from '../journal/journal-selection.ts';
import { checkDataDirLimits, readDataDirLimits } from '../lib/data-dir-config.ts';
import { protoLimits } from '../proto/limits.ts';
import { tokenLimits } from './tokens.ts';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  readonly retriable = false;
  /** One sentence per bad value, in table order (file, then environment, then overrides, then relationships). */
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options: { cause?: unknown } = {}) {
    super(
      problems.length === 1
        ? `configuration is invalid: ${problems[0]}`
        : `configuration is invalid (${problems.length} problems):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.problems = Object.freeze([...problems]);
  }
}

type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string; got?: string };
type Source = 'env' | 'json';

/** One scalar setting: its default, its environment variable, and how to read it. */
class Setting<T> {
  readonly env: string;
  readonly defaultValue: T;
  readonly doc: string;
  /** Reads a raw value: a string from the environment, any JSON value from the file or overrides. */
  readonly parse: (raw: unknown, source: Source) => Parsed<T>;
  /** The default as --help shows it, when it is not simply defaultValue (an engine limit's comes from the data directory). */
  readonly defaultShown: string | undefined;

  constructor(
    env: string,
    defaultValue: T,
    doc: string,
    parse: (raw: unknown, source: Source) => Parsed<T>,
    defaultShown?: string,
  ) {
    this.env = env;
    this.defaultValue = defaultValue;
    this.doc = doc;
    this.parse = parse;
    this.defaultShown = defaultShown;
  }
}

const typeOf = (value: unknown): string =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : typeof value === 'object'
        ? 'an object'
        : `a ${typeof value}`;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(expected: string, got?: string): Parsed<T> =>
  got === undefined ? { ok: false, expected } : { ok: false, expected, got };

function int(env: string, defaultValue: number, min: number, max: number, doc: string): Setting<number> {
  const expected = `an integer from ${min} to ${max}`;
  return new Setting(env, defaultValue, doc, (raw, source) => {
    const value = source === 'env' && typeof raw === 'string' && /^-?\d{1,16}$/.test(raw) ? Number(raw) : raw;
    return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max
      ? ok(value)
      : bad(expected);
  });
}

/**
 * An engine limit: unset by default, so that a data directory's recorded limit (engine.json) applies, and
 * engineLimitsDefault only for a new directory (engineLimitsOf). Its range here is its own; the relationships
 * between limits are validateEngineLimits'.
 */
function engineLimit(
  env: string,
  key: keyof EngineLimits,
  min: number,
  max: number,
  doc: string,
): Setting<number | undefined> {
  const range = int(env, engineLimitsDefault[key], min, max, doc);
  return new Setting<number | undefined>(
    env,
    undefined,
    doc,
    range.parse,
    `the data directory's (engine.json), new ones ${engineLimitsDefault[key]}`,
  );
}

function decimal(env: string, defaultValue: number, min: number, max: number, doc: string): Setting<number> {
  const expected = `a number from ${min} to ${max}`;
  return new Setting(env, defaultValue, doc, (raw, source) => {
    const value =
      source === 'env' && typeof raw === 'string' && /^-?(\d+\.?\d*|\.\d+)$/.test(raw) ? Number(raw) : raw;
    return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max
      ? ok(value)
      : bad(expected);
  });
}

function bool(env: string, defaultValue: boolean, doc: string): Setting<boolean> {
  return new Setting(env, defaultValue, doc, (raw, source) => {
    if (typeof raw === 'boolean') return ok(raw);
    if (source === 'env' && (raw === 'true' || raw === '1')) return ok(true);
    if (source === 'env' && (raw === 'false' || raw === '0')) return ok(false);
    return bad(source === 'env' ? 'true or false (or 1 or 0)' : 'true or false');
  });
}

/** A flag that may also be left to a rule: true, false, or 'auto'. */
function boolOrAuto(env: string, defaultValue: boolean | 'auto', doc: string): Setting<boolean | 'auto'> {
  const flag = bool(env, false, doc);
  return new Setting<boolean | 'auto'>(env, defaultValue, doc, (raw, source) => {
    if (raw === 'auto') return ok('auto');
    const parsed = flag.parse(raw, source);
    return parsed.ok
      ? parsed
      : bad(source === 'env' ? 'true, false or auto (or 1 or 0)' : 'true, false or "auto"');
  });
}

const hostnamePattern =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function host(env: string, defaultValue: string, doc: string): Setting<string> {
  return new Setting(env, defaultValue, doc, (raw) =>
    typeof raw === 'string' && (isIP(raw) !== 0 || hostnamePattern.test(raw))
      ? ok(raw)
      : bad('a host name or an IP address'),
  );
}

const pathLengthMax = 4096;

function path(env: string, defaultValue: string, doc: string): Setting<string> {
  return new Setting(env, defaultValue, doc, (raw) =>
    typeof raw === 'string' && raw.length > 0 && raw.length <= pathLengthMax && !raw.includes('\0')
      ? ok(raw)
      : bad(`a non-empty path of at most ${pathLengthMax} characters`),
  );
}

/** An optional secret of tokenLimits' size; messages give its length only. */
function secret(env: string, doc: string): Setting<string | undefined> {
  const { secretBytesMin, secretBytesMax } = tokenLimits;
  return new Setting<string | undefined>(env, undefined, doc, (raw) => {
    if (typeof raw !== 'string')
      return bad(`a string of ${secretBytesMin} to ${secretBytesMax} bytes`, typeOf(raw));
    const bytes = Buffer.byteLength(raw, 'utf8');
    if (bytes < secretBytesMin) return bad(`at least ${secretBytesMin} bytes`, `${bytes} bytes`);
    if (bytes > secretBytesMax) return bad(`at most ${secretBytesMax} bytes`, `${bytes} bytes`);
    return ok(raw);
  });
}

/** An optional URL with one of `protocols`; messages never show it (it may carry a password). */
function url(env: string, protocols: readonly string[], doc: string): Setting<string | undefined> {
  const expected = `a ${protocols.map((p) => `${p}//`).join(' or ')} URL`;
  return new Setting<string | undefined>(env, undefined, doc, (raw) => {
    // 'db:3306' parses as a URL of scheme 'db:': only scheme://... counts, or the message would mislead.
    if (typeof raw !== 'string' || !raw.includes('://') || !URL.canParse(raw)) {
      return bad(expected, 'a value that is not a URL');
    }
    const { protocol } = new URL(raw);
    return protocols.includes(protocol) ? ok(raw) : bad(expected, `a ${protocol}// URL`);
  });
}

const brokerPattern = /^[A-Za-z0-9.-]{1,253}:\d{1,5}$/;

/** Kafka brokers as host:port: a comma-separated list in the environment, an array in the file. */
function brokers(env: string, doc: string): Setting<readonly string[]> {
  const expected = 'host:port brokers (comma-separated in the environment, an array in the file)';
  return new Setting<readonly string[]>(env, [], doc, (raw, source) => {
    const list =
      source === 'env' && typeof raw === 'string'
        ? raw
            .split(',')
            .map((broker) => broker.trim())
            .filter((broker) => broker !== '')
        : raw;
    return Array.isArray(list) && list.every((b) => typeof b === 'string' && brokerPattern.test(b))
      ? ok(Object.freeze([...(list as string[])]))
      : bad(expected);
  });
}

/** A Kafka topic name (Kafka's own rule: 1-249 of letters, digits, '.', '_', '-'). */
function topic(env: string, defaultValue: string, doc: string): Setting<string> {
  return new Setting(env, defaultValue, doc, (raw) =>
    typeof raw === 'string' && /^[A-Za-z0-9._-]{1,249}$/.test(raw)
      ? ok(raw)
      : bad("a Kafka topic name: 1 to 249 letters, digits, '.', '_' or '-'"),
  );
}

/** One of a fixed set of words. */
function oneOf<const T extends string>(
  env: string,
  defaultValue: T,
  choices: readonly T[],
  doc: string,
): Setting<T> {
  const expected = `one of ${choices.join(', ')}`;
  return new Setting<T>(env, defaultValue, doc, (raw) =>
    typeof raw === 'string' && (choices as readonly string[]).includes(raw) ? ok(raw as T) : bad(expected),
  );
}

/** uWebSockets.js terminates the process (std::terminate) on an idleTimeout of 1-7 or above 960. */
function idleTimeoutSeconds(env: string, defaultValue: number, doc: string): Setting<number> {
  const range = int(env, defaultValue, 0, 960, doc);
  return new Setting(env, defaultValue, doc, (raw, source) => {
    const parsed = range.parse(raw, source);
    return parsed.ok && (parsed.value === 0 || parsed.value >= 8)
      ? parsed
      : bad('0 (off) or an integer from 8 to 960 (uWebSockets.js aborts the process on other values)');
  });
}

const kib = 1024;
const mib = 1024 * kib;

/**
 * Every setting, with its default (unit last), its environment variable and
 * what it does. Nested groups are objects in the JSON file; their variables
 * spell the whole path (payments.sandbox.delayMs: STAMPEDE_PAYMENTS_SANDBOX_DELAY_MS).
 */
export const configSettings = {
  production: bool(
    'STAMPEDE_PRODUCTION',
    false,
    'Production mode: secrets must be given (never generated), the admin token is required, no demo catalog (auto means none).',
  ),
  host: host(
    'STAMPEDE_HOST',
    '127.0.0.1',
    'Address the HTTP API and the checkout WebSocket listen on (0.0.0.0 or :: for every interface).',
  ),
  httpPort: int(
    'STAMPEDE_HTTP_PORT',
    8080,
    0,
    65535,
    'TCP port of the HTTP API and the checkout WebSocket; 0 takes any free port.',
  ),
  dataDir: path(
    'STAMPEDE_DATA_DIR',
    'data',
    'Data directory: journal, snapshots, engine.json, and the generated secret.',
  ),
  tokenSecret: secret(
    'STAMPEDE_TOKEN_SECRET',
    'HMAC-SHA256 key of buyer, service and admin tokens. Unset outside production: generated into <dataDir>/secret.',
  ),
  webhookSecret: secret(
    'STAMPEDE_WEBHOOK_SECRET',
    "HMAC key the payment provider's webhooks are signed with; unset: the webhook route is off.",
  ),
  adminTokenRequired: bool(
    'STAMPEDE_ADMIN_TOKEN_REQUIRED',
    true,
    'The admin API needs an admin token; false (local runs only) opens it to anyone who reaches the port.',
  ),
  demoCatalog: boolOrAuto(
    'STAMPEDE_DEMO_CATALOG',
    'auto',
    'A small demo catalog at start. auto: into a fresh data directory (a journal with no events yet), never in production; true: into any engine without products; false: never.',
  ),
  wsPayloadBytesMax: int(
    'STAMPEDE_WS_PAYLOAD_BYTES_MAX',
    64 * kib, // a full JSON batch of commandsPerFrameMax one-line orders is about 37 KiB
    protoLimits.commandBytesMax,
    16 * mib,
    'Largest WebSocket frame a client may send: a larger one is answered FRAME_TOO_LARGE, close 4009 (past the larger of 4x this and wsBackpressureBytesMax the connection is dropped unanswered).',
  ),
  wsBackpressureBytesMax: int(
    'STAMPEDE_WS_BACKPRESSURE_BYTES_MAX',
    1 * mib,
    1 * kib,
    256 * mib,
    'Answers waiting for a client that does not read; beyond this it is disconnected (SLOW_READER).',
  ),
  wsIdleTimeoutSeconds: idleTimeoutSeconds(
    'STAMPEDE_WS_IDLE_TIMEOUT_SECONDS',
    120,
    'A WebSocket silent this long is closed (uWebSockets.js: 0 off, else 8-960, 4-second resolution).',
  ),
  httpBodyBytesMax: int(
    'STAMPEDE_HTTP_BODY_BYTES_MAX',
    64 * kib,
    1 * kib,
    16 * mib,
    'Largest HTTP request body (admin commands, webhooks); larger is FRAME_TOO_LARGE.',
  ),
  commandsPerFrameMax: int(
    'STAMPEDE_COMMANDS_PER_FRAME_MAX',
    256,
    1,
    65_536,
    'Commands in one service batch frame at most; more is TOO_MANY_COMMANDS.',
  ),
  connectionsMax: int(
    'STAMPEDE_CONNECTIONS_MAX',
    100_000,
    1,
    10_000_000,
    'WebSocket connections the node holds at most; more are refused (CONNECTIONS_FULL).',
  ),
  linesPerOrderMax: int(
    'STAMPEDE_LINES_PER_ORDER_MAX',
    engineLimitsDefault.linesPerOrderMax,
    1,
    linesPerOrderMaxLayout,
    'Lines in one order the edge accepts (at most what the command slot carries).',
  ),
  buyerRequestsPerSecond: decimal(
    'STAMPEDE_BUYER_REQUESTS_PER_SECOND',
    20,
    0.01,
    1_000_000,
    'Sustained requests per second per buyer; beyond it RATE_LIMITED.',
  ),
  buyerBurst: int(
    'STAMPEDE_BUYER_BURST',
    40,
    1,
    1_000_000,
    'Requests a buyer may send at once after being idle.',
  ),
  buyerRateKeysMax: int(
    'STAMPEDE_BUYER_RATE_KEYS_MAX',
    1_000_000,
    1,
    2 ** 26,
    'Buyers whose rate is tracked at once (about 64 bytes each, allocated at start-up); the idlest is forgotten.',
  ),
  ipRequestsPerSecond: decimal(
    'STAMPEDE_IP_REQUESTS_PER_SECOND',
    200,
    0.01,
    1_000_000,
    "Sustained WebSocket frames per second per client address, whatever they hold (a service connection's commands count per buyer instead); beyond it RATE_LIMITED.",
  ),
  ipBurst: int(
    'STAMPEDE_IP_BURST',
    400,
    1,
    1_000_000,
    'Frames one address may send at once after being idle.',
  ),
  ipRateKeysMax: int(
    'STAMPEDE_IP_RATE_KEYS_MAX',
    100_000,
    1,
    2 ** 26,
    'Client addresses whose rate is tracked at once; the idlest is forgotten.',
  ),
  payments: {
    sandbox: {
      delayMs: int(
        'STAMPEDE_PAYMENTS_SANDBOX_DELAY_MS',
        50,
        0,
        60_000,
        'The sandbox payment provider answers this long after a payment starts.',
      ),
      successRate: decimal(
        'STAMPEDE_PAYMENTS_SANDBOX_SUCCESS_RATE',
        0.95,
        0,
        1,
        'Share of sandbox payments that succeed.',
      ),
      declineRate: decimal(
        'STAMPEDE_PAYMENTS_SANDBOX_DECLINE_RATE',
        0.05,
        0,
        1,
        'Share declined. By default success + decline = 1: every payment is answered. Set them to sum below 1 to have the rest get no answer at all (the order times out after its TTL), to exercise timeouts.',
      ),
      inFlightMax: int(
        'STAMPEDE_PAYMENTS_SANDBOX_IN_FLIGHT_MAX',
        100_000,
        1,
        10_000_000,
        'Sandbox payments in flight at most; more are BUSY.',
      ),
    },
  },
  mysqlUrl: url('STAMPEDE_MYSQL_URL', ['mysql:'], 'MySQL projection store; unset: no MySQL projection.'),
  redisUrl: url(
    'STAMPEDE_REDIS_URL',
    ['redis:', 'rediss:'],
    'Redis projection store; unset: no Redis projection.',
  ),
  orderTtlMs: engineLimit(
    'STAMPEDE_ORDER_TTL_MS',
    'orderTtlMs',
    1_000,
    3_000_000,
    'How long a reservation waits for its payment before the order times out and its stock returns, in ms. An engine limit: a data directory keeps the value it was created with (engine.json), and a node started with another refuses to start.',
  ),
  /**
   * The engine's other limits (engine/limits.ts), each an engine limit like orderTtlMs: capacities are
   * preallocated at start-up, and a data directory keeps the ones it was created with.
   */
  engine: {
    skusMax: engineLimit(
      'STAMPEDE_ENGINE_SKUS_MAX',
      'skusMax',
      1,
      2 ** 28,
      'SKU ids the engine holds (1..skusMax).',
    ),
    ordersMax: engineLimit(
      'STAMPEDE_ENGINE_ORDERS_MAX',
      'ordersMax',
      1,
      2 ** 28,
      'Orders held in memory: live ones plus final ones kept for finalOrderRetentionMs.',
    ),
    buyersMax: engineLimit(
      'STAMPEDE_ENGINE_BUYERS_MAX',
      'buyersMax',
      1,
      2 ** 28,
      'Distinct buyers the engine tracks (limits, velocity, blocks).',
    ),
    buyerSkuPairsMax: engineLimit(
      'STAMPEDE_ENGINE_BUYER_SKU_PAIRS_MAX',
      'buyerSkuPairsMax',
      1,
      2 ** 28,
      'Distinct (buyer, SKU) pairs with a purchase count, for the per-buyer limit.',
    ),
    requestIdsMax: engineLimit(
      'STAMPEDE_ENGINE_REQUEST_IDS_MAX',
      'requestIdsMax',
      1,
      2 ** 28,
      'Place-order request ids remembered for idempotent retries (oldest forgotten first).',
    ),
    paymentReferencesMax: engineLimit(
      'STAMPEDE_ENGINE_PAYMENT_REFERENCES_MAX',
      'paymentReferencesMax',
      1,
      2 ** 28,
      'Payment deliveries (provider event ids) remembered so a redelivery gets the first answer (oldest forgotten first).',
    ),
    linesPerOrderMax: engineLimit(
      'STAMPEDE_ENGINE_LINES_PER_ORDER_MAX',
      'linesPerOrderMax',
      1,
      linesPerOrderMaxLayout,
      'Lines in one order the engine accepts; the edge limit linesPerOrderMax must not exceed it.',
    ),
    quantityPerLineMax: engineLimit(
      'STAMPEDE_ENGINE_QUANTITY_PER_LINE_MAX',
      'quantityPerLineMax',
      1,
      2 ** 20,
      'Units of one SKU in one order line.',
    ),
    priceMinorMax: engineLimit(
      'STAMPEDE_ENGINE_PRICE_MINOR_MAX',
      'priceMinorMax',
      1,
      2 ** 31 - 1,
      'Highest unit price, in minor units (cents).',
    ),
    stockPerSkuMax: engineLimit(
      'STAMPEDE_ENGINE_STOCK_PER_SKU_MAX',
      'stockPerSkuMax',
      1,
      2 ** 30,
      'Units on hand of one SKU.',
    ),
    finalOrderRetentionMs: engineLimit(
      'STAMPEDE_ENGINE_FINAL_ORDER_RETENTION_MS',
      'finalOrderRetentionMs',
      1,
      7 * 86_400_000,
      'A final order stays known this long, so a late payment becomes exception_checkout, not unknownOrder.',
    ),
    velocityWindowMs: engineLimit(
      'STAMPEDE_ENGINE_VELOCITY_WINDOW_MS',
      'velocityWindowMs',
      1,
      86_400_000,
      'Per-buyer velocity limit: the window velocityOrdersMax counts over.',
    ),
    velocityOrdersMax: engineLimit(
      'STAMPEDE_ENGINE_VELOCITY_ORDERS_MAX',
      'velocityOrdersMax',
      1,
      1_000_000,
      'Orders one buyer may place per velocityWindowMs.',
    ),
    timerSlotMs: engineLimit(
      'STAMPEDE_ENGINE_TIMER_SLOT_MS',
      'timerSlotMs',
      1,
      60_000,
      'Resolution of the timer wheel that expires reservations.',
    ),
    timerSlotCount: engineLimit(
      'STAMPEDE_ENGINE_TIMER_SLOT_COUNT',
      'timerSlotCount',
      1,
      2 ** 24,
      'Slots of the timer wheel, a power of two; timerSlotMs * timerSlotCount must cover orderTtlMs and finalOrderRetentionMs.',
    ),
  } satisfies Record<Exclude<keyof EngineLimits, 'orderTtlMs'>, Setting<number | undefined>>,
  journal: oneOf(
    'STAMPEDE_JOURNAL',
    'file',
    ['file', 'kafka'],
    "The journal the node writes and recovers from: file (segments in the data directory, fsync'd) or kafka (a topic partition, acks from every in-sync replica; see kafka.*).",
  ),
  kafka: {
    brokers: brokers('STAMPEDE_KAFKA_BROKERS', 'Kafka brokers of the kafka journal.'),
    topic: topic('STAMPEDE_KAFKA_TOPIC', 'stampede.journal', "The kafka journal's topic."),
    partition: int(
      'STAMPEDE_KAFKA_PARTITION',
      0,
      0,
      1_000_000,
      "The kafka journal's partition: one per node (engine shard), written by that node alone.",
    ),
  },
  readModel: oneOf(
    'STAMPEDE_READ_MODEL',
    'embedded',
    ['embedded', 'redis'],
    'Where GET /v1/stock/{skuId} and GET /v1/orders/{orderId} read: embedded (in-process, as fresh as the journal) or redis (the Redis projection; needs redisUrl; falls back to embedded when Redis fails or lacks the order).',
  ),
  logLevel: oneOf(
    'STAMPEDE_LOG_LEVEL',
    'info',
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    'Least severe log lines written (node/log.ts); every module logs through one pino logger on stderr.',
  ),
  logFormat: oneOf(
    'STAMPEDE_LOG_FORMAT',
    'auto',
    ['auto', 'json', 'pretty'],
    'Log lines as JSON (one object a line) or pretty (readable); auto: pretty when stderr is a terminal, else JSON.',
  ),
} as const satisfies SettingGroup;

interface SettingGroup {
  readonly [key: string]: Setting<unknown> | SettingGroup;
}
type ConfigOf<G> = { readonly [K in keyof G]: G[K] extends Setting<infer T> ? T : ConfigOf<G[K]> };
type OverridesOf<G> = {
  readonly [K in keyof G]?: (G[K] extends Setting<infer T> ? T : OverridesOf<G[K]>) | undefined;
};

/** The validated configuration (deeply frozen). */
export type GatewayConfig = ConfigOf<typeof configSettings>;
/** Values set by the caller (command-line flags); undefined means not given. */
export type ConfigOverrides = OverridesOf<typeof configSettings>;

/** Every variable with this prefix is Stampede's: one not in the table is an error, not ignored. */
const envPrefix = 'STAMPEDE_';
/** The one variable that is not a setting: the config file's path. */
const configFileEnv = 'STAMPEDE_CONFIG';

/** Largest config file read (it holds a few dozen settings). */
const configFileBytesMax = 1 * mib;

function forEachSetting(
  group: SettingGroup,
  visit: (setting: Setting<unknown>, path: string) => void,
  prefix = '',
): void {
  for (const [key, entry] of Object.entries(group)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (entry instanceof Setting) visit(entry, path);
    else forEachSetting(entry, visit, path);
  }
}

/** The unit a setting's path ends with (names carry their unit last), for --help. */
function unitOf(path: string): string | undefined {
  if (/Ms$/.test(path)) return 'milliseconds';
  if (/Seconds$/.test(path)) return 'seconds';
  if (/Bytes(Max|Min)?$/.test(path)) return 'bytes';
  if (/PerSecond$/.test(path)) return 'per second';
  if (/Rate$/.test(path)) return 'a share from 0 to 1';
  if (/Minor(Max|Min)?$/.test(path)) return 'minor units (cents)';
  return undefined;
}

/**
 * The environment variables of the settings under `paths` (a group's path covers its settings; default all),
 * with each one's key, unit, default and documentation: the settings part of every command's --help.
 */
export function configEnvironmentHelp(paths?: readonly string[]): string {
  const lines: string[] = [];
  forEachSetting(configSettings, (setting, path) => {
    if (paths !== undefined && !paths.some((p) => path === p || path.startsWith(`${p}.`))) return;
    const shown =
      setting.defaultShown ??
      (setting.defaultValue === undefined ? 'unset' : JSON.stringify(setting.defaultValue));
    const unit = unitOf(path);
    lines.push(
      `  ${setting.env.padEnd(40)} ${path}${unit === undefined ? '' : ` (${unit})`}, default ${shown}\n      ${setting.doc}`,
    );
  });
  return lines.join('\n');
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const show = (raw: unknown, source: Source): string => {
  // JSON.stringify shows a string as a string ("8080"); numbers as they are (NaN is not JSON).
  const text =
    source === 'env'
      ? `'${String(raw)}'`
      : typeof raw === 'number'
        ? String(raw)
        : (JSON.stringify(raw) ?? String(raw));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known key `unknown` was probably meant to be, if any. */
export function closestKey(unknown: string, known: readonly string[]): string | undefined {
  const lower = unknown.toLowerCase();
  return (
    known.find((key) => key.toLowerCase() === lower) ?? known.find((key) => editDistance(key, unknown) <= 2)
  );
}

/**
 * Loads and validates the configuration. `file` (or env.STAMPEDE_CONFIG when
 * file is not given) names an optional JSON file. Throws one ConfigError
 * listing every problem; never returns a partly valid configuration.
 */
export function loadConfig(options: {
  env: Readonly<Record<string, string | undefined>>;
  file?: string | undefined;
  overrides?: ConfigOverrides | undefined;
}): GatewayConfig {
  const { env } = options;
  const problems: string[] = [];
  const values = new Map<string, unknown>();
  /** Keys with a bad value somewhere: relationships that involve them are not judged. */
  const failed = new Set<string>();
  forEachSetting(configSettings, (setting, path) => values.set(path, setting.defaultValue));

  const apply = (
    setting: Setting<unknown>,
    path: string,
    raw: unknown,
    source: Source,
    label: string,
  ): void => {
    const parsed = setting.parse(raw, source);
    if (parsed.ok) {
      values.set(path, parsed.value);
      return;
    }
    failed.add(path);
    problems.push(`${label} must be ${parsed.expected}, got ${parsed.got ?? show(raw, source)}`);
  };

  /** Applies a JSON object (the file, or the overrides) over the values so far. */
  const applyObject = (
    object: Record<string, unknown>,
    group: SettingGroup,
    prefix: string,
    where: string,
    skipUndefined: boolean,
  ): void => {
    for (const [key, raw] of Object.entries(object)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const entry = Object.hasOwn(group, key) ? group[key] : undefined;
      if (entry === undefined) {
        const guess = closestKey(key, Object.keys(group));
        problems.push(
          `${where}unknown key '${path}'${guess === undefined ? '' : ` (did you mean '${prefix === '' ? guess : `${prefix}.${guess}`}'?)`}`,
        );
      } else if (raw === undefined && skipUndefined) {
        // an override not given
      } else if (entry instanceof Setting) {
        apply(entry, path, raw, 'json', `${where}${path}`);
      } else if (isPlainObject(raw)) {
        applyObject(raw, entry, path, where, skipUndefined);
      } else {
        problems.push(`${where}${path} must be an object, got ${typeOf(raw)}`);
      }
    }
  };

  const fileFromEnv = env[configFileEnv];
  const file = options.file ?? (fileFromEnv === '' ? undefined : fileFromEnv);
  if (file !== undefined) {
    const content = readConfigFile(file, problems);
    if (content !== undefined) applyObject(content, configSettings, '', `config file ${file}: `, false);
  }

  const known: string[] = [configFileEnv];
  forEachSetting(configSettings, (setting, path) => {
    known.push(setting.env);
    const raw = env[setting.env];
    if (raw !== undefined && raw !== '') apply(setting, path, raw, 'env', setting.env);
  });
  // Like an unknown key in the file: a mistyped variable would otherwise silently leave a default in place.
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(envPrefix) || raw === undefined || raw === '' || known.includes(name)) continue;
    const guess = closestKey(name, known);
    problems.push(
      `unknown environment variable ${name}${guess === undefined ? '' : ` (did you mean ${guess}?)`}`,
    );
  }

  if (options.overrides !== undefined) {
    applyObject(options.overrides as Record<string, unknown>, configSettings, '', '', true);
  }

  const config = build(configSettings, values, '') as GatewayConfig;
  problems.push(...relationshipProblems(config, failed));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function readConfigFile(file: string, problems: string[]): Record<string, unknown> | undefined {
  let text: string;
  try {
    const { size } = statSync(file);
    if (size > configFileBytesMax) {
      problems.push(`config file ${file} must be at most ${configFileBytesMax} bytes, got ${size}`);
      return undefined;
    }
    text = readFileSync(file, 'utf8');
  } catch (error) {
    problems.push(`config file ${file} cannot be read: ${(error as Error).message}`);
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    problems.push(`config file ${file} is not valid JSON: ${(error as Error).message}`);
    return undefined;
  }
  if (!isPlainObject(parsed)) {
    problems.push(`config file ${file} must hold a JSON object, got ${typeOf(parsed)}`);
    return undefined;
  }
  return parsed;
}

function build(group: SettingGroup, values: ReadonlyMap<string, unknown>, prefix: string): object {
  const result: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(group)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    result[key] = entry instanceof Setting ? values.get(path) : build(entry, values, path);
  }
  return Object.freeze(result);
}

/** What must hold between settings, each with why. Keys that failed on their own are not judged again. */
function relationshipProblems(config: GatewayConfig, failed: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const check = (keys: readonly string[], holds: boolean, problem: string): void => {
    if (!holds && keys.every((key) => !failed.has(key))) problems.push(problem);
  };
  check(
    ['buyerBurst', 'buyerRequestsPerSecond'],
    config.buyerBurst >= config.buyerRequestsPerSecond,
    `buyerBurst (${config.buyerBurst}) must be at least buyerRequestsPerSecond (${config.buyerRequestsPerSecond}): a smaller burst refuses a buyer who sends one second's allowance at once`,
  );
  check(
    ['ipBurst', 'ipRequestsPerSecond'],
    config.ipBurst >= config.ipRequestsPerSecond,
    `ipBurst (${config.ipBurst}) must be at least ipRequestsPerSecond (${config.ipRequestsPerSecond}): a smaller burst refuses an address that sends one second's allowance at once`,
  );
  check(
    ['ipRequestsPerSecond', 'buyerRequestsPerSecond'],
    config.ipRequestsPerSecond >= config.buyerRequestsPerSecond,
    `ipRequestsPerSecond (${config.ipRequestsPerSecond}) must be at least buyerRequestsPerSecond (${config.buyerRequestsPerSecond}): one buyer alone on an address must be able to use the whole buyer allowance`,
  );
  check(
    ['ipBurst', 'buyerBurst'],
    config.ipBurst >= config.buyerBurst,
    `ipBurst (${config.ipBurst}) must be at least buyerBurst (${config.buyerBurst}): one buyer alone on an address must be able to use the whole buyer burst`,
  );
  check(
    ['wsBackpressureBytesMax', 'wsPayloadBytesMax'],
    config.wsBackpressureBytesMax >= config.wsPayloadBytesMax,
    `wsBackpressureBytesMax (${config.wsBackpressureBytesMax}) must be at least wsPayloadBytesMax (${config.wsPayloadBytesMax}): the answers to one full frame are about its size, and a client must be able to receive them without being called a slow reader`,
  );
  check(
    ['journal', 'kafka.brokers'],
    config.journal !== 'kafka' || config.kafka.brokers.length > 0,
    'journal kafka needs kafka.brokers (STAMPEDE_KAFKA_BROKERS): the brokers that hold the journal',
  );
  check(
    ['readModel', 'redisUrl'],
    config.readModel !== 'redis' || config.redisUrl !== undefined,
    'readModel redis needs redisUrl (STAMPEDE_REDIS_URL): the Redis projection it reads is written only when Redis is configured',
  );
  const { successRate, declineRate } = config.payments.sandbox;
  check(
    ['payments.sandbox.successRate', 'payments.sandbox.declineRate'],
    successRate + declineRate <= 1,
    `payments.sandbox.successRate (${successRate}) + declineRate (${declineRate}) must be at most 1: they are shares of all payments, and the rest is the share never answered`,
  );
  if (config.production) {
    check(
      ['production', 'tokenSecret'],
      config.tokenSecret !== undefined,
      'tokenSecret (STAMPEDE_TOKEN_SECRET) must be set when production is true: a generated secret lives in one data directory, while the nodes of a deployment share one kept in its secret store',
    );
    check(
      ['production', 'adminTokenRequired'],
      config.adminTokenRequired,
      'adminTokenRequired must be true when production is true: the admin API changes stock and prices',
    );
    check(
      ['production', 'demoCatalog'],
      config.demoCatalog !== true,
      'demoCatalog must be false or auto when production is true: it would put made-up products on sale',
    );
  }
  return problems;
}

/**
 * The engine limits a node over `config.dataDir` runs with: those given (orderTtlMs, engine.*) over the data
 * directory's recorded ones (engine.json), or over engineLimitsDefault for a new directory. So a directory
 * created with other limits starts again without repeating them, and a limit given that differs from the
 * recorded one is still refused by the engine host (DATA_DIR_LIMITS_MISMATCH). Throws ConfigError when the
 * limits together cannot work.
 */
export function engineLimitsOf(config: GatewayConfig): EngineLimits {
  const recorded = readDataDirLimits(config.dataDir, engineLimitsRecorded);
  const given: Partial<Record<keyof EngineLimits, number | undefined>> = {
    ...config.engine,
    orderTtlMs: config.orderTtlMs,
  };
  // Refused here, before anything starts, and for replay too (which opens no engine host to refuse it).
  if (recorded !== null) checkDataDirLimits(config.dataDir, recorded, given);
  const limits: EngineLimits = { ...(recorded ?? engineLimitsDefault) };
  for (const key of Object.keys(given) as (keyof EngineLimits)[]) {
    const value = given[key];
    if (value !== undefined) limits[key] = value;
  }
  try {
    validateEngineLimits(limits);
  } catch (error) {
    throw new ConfigError([`engine limits: ${(error as Error).message}`], { cause: error });
  }
  if (config.linesPerOrderMax > limits.linesPerOrderMax) {
    throw new ConfigError([
      `linesPerOrderMax (${config.linesPerOrderMax}) must be at most engine.linesPerOrderMax (${limits.linesPerOrderMax}): the edge would accept orders the engine refuses`,
    ]);
  }
  return limits;
}

/** The journal `config` selects; the tools that only read it pass createTopic false (they never create one). */
export function journalSelectionOf(
  config: GatewayConfig,
  options: { createTopic?: boolean } = {},
): JournalSelection {
  if (config.journal === 'file') return fileJournalSelection;
  return {
    kind: 'kafka',
    brokers: [...config.kafka.brokers],
    topic: config.kafka.topic,
    partition: config.kafka.partition,
    ...(options.createTopic === undefined ? {} : { createTopic: options.createTopic }),
  };
}

/** Name of the generated secret inside the data directory. */
export const secretFileName = 'secret';

/**
 * The token secret of a configuration: the one given, or else the data
 * directory's (generated at first use). The gateways and `stampede token`
 * both take it from here, so they always agree.
 */
export function tokenSecretOf(config: GatewayConfig): string {
  return config.tokenSecret ?? loadOrCreateSecret(config.dataDir);
}

/**
 * Reads `<dataDir>/secret`, creating it first if missing: 32 random bytes,
 * base64url, mode 0600. Creation is atomic even against a concurrent first
 * start (`stampede token` while the node starts): the secret is written and
 * fsynced under a temporary name, then hard-linked to its name, which fails
 * if the other process won; then whichever file is there is read.
 * Throws ConfigError when the file is unusable: unreadable, too short, or
 * open to other users (like ssh, it refuses rather than use a leaked key).
 */
export function loadOrCreateSecret(dataDir: string): string {
  const file = join(dataDir, secretFileName);
  const existing = readSecretFile(file);
  if (existing !== null) return existing;
  const temp = join(dataDir, `${secretFileName}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    mkdirSync(dataDir, { recursive: true });
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, `${randomBytes(32).toString('base64url')}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temp, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // EEXIST: another process created it first
    }
    fsyncDirectory(dataDir);
  } catch (error) {
    throw new ConfigError([`cannot create the token secret ${file}: ${(error as Error).message}`], {
      cause: error,
    });
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // never created, or already gone
    }
  }
  const created = readSecretFile(file);
  if (created === null)
    throw new ConfigError([`the token secret ${file} vanished right after it was created`]);
  return created;
}

function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the secret is then as durable as the rename of any file there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The secret in `file`, or null if there is no such file. */
function readSecretFile(file: string): string | null {
  let text: string;
  try {
    const stat = statSync(file);
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw new ConfigError([
        `the token secret ${file} is open to other users (mode ${mode}): run chmod 600 ${file}`,
      ]);
    }
    if (stat.size > tokenLimits.secretBytesMax + 2) {
      throw new ConfigError([
        `the token secret ${file} must hold at most ${tokenLimits.secretBytesMax} bytes`,
      ]);
    }
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError([`cannot read the token secret ${file}: ${(error as Error).message}`], {
      cause: error,
    });
  }
  const secret = text.replace(/\r?\n$/, '');
  const bytes = Buffer.byteLength(secret, 'utf8');
  if (bytes < tokenLimits.secretBytesMin) {
    throw new ConfigError([
      `the token secret ${file} must hold at least ${tokenLimits.secretBytesMin} bytes, got ${bytes}; delete it to generate a new one (every token issued so far stops working)`,
    ]);
  }
  return secret;
}
