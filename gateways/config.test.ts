/**
 * Configuration as an operator meets it: defaults that start a local node,
 * sources that override each other in the documented order, and one start-up
 * error that lists every mistake with what was expected and what was found,
 * never a secret. Plus the generated token secret of a data directory.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { type EngineLimits, engineLimitsDefault } from '../engine/limits.ts';
import {
  ConfigError,
  configEnvironmentHelp,
  configSettings,
  engineLimitsOf,
  type GatewayConfig,
  loadConfig,
  loadOrCreateSecret,
  tokenSecretOf,
} from './config.ts';
import { demoCatalogOf } from './serve.ts';

const secret32 = 'k'.repeat(32);

/** The problems loadConfig reports, or a failure when it does not throw ConfigError. */
function problemsOf(options: Parameters<typeof loadConfig>[0]): readonly string[] {
  try {
    loadConfig(options);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('loadConfig accepted the configuration');
}

/** A fresh directory, removed when the test ends. */
const tempDir = (t: { teardown: (fn: () => void) => void }): string => {
  const dir = mkdtempSync(join(tmpdir(), 'stampede-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

function writeJson(dir: string, name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

/** All settings as (path, setting) pairs. */
type AnySetting = {
  env: string;
  defaultValue: unknown;
  parse: (raw: unknown, source: 'json') => { ok: boolean };
};
function settings(): [string, AnySetting][] {
  const out: [string, AnySetting][] = [];
  const walk = (group: object, prefix: string): void => {
    for (const [key, entry] of Object.entries(group)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if ('env' in entry) out.push([path, entry]);
      else walk(entry, path);
    }
  };
  walk(configSettings, '');
  return out;
}

t.test('defaults start a local node', async (t) => {
  const config = loadConfig({ env: {} });
  t.equal(config.httpPort, 8080);
  t.equal(config.host, '127.0.0.1');
  t.equal(config.dataDir, 'data');
  t.equal(config.tokenSecret, undefined);
  t.equal(config.wsPayloadBytesMax, 65_536);
  t.equal(config.wsBackpressureBytesMax, 1_048_576);
  t.equal(config.wsIdleTimeoutSeconds, 120);
  t.equal(config.commandsPerFrameMax, 256);
  t.equal(config.connectionsMax, 100_000);
  t.equal(config.linesPerOrderMax, 8);
  t.same(
    [config.buyerRequestsPerSecond, config.buyerBurst, config.ipRequestsPerSecond, config.ipBurst],
    [20, 40, 200, 400],
  );
  t.equal(config.adminTokenRequired, true);
  t.equal(config.demoCatalog, 'auto', 'a fresh data directory gets the demo catalog outside production');
  t.same(config.payments.sandbox, {
    delayMs: 50,
    successRate: 0.95,
    declineRate: 0.05,
    inFlightMax: 100_000,
  });
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.payments.sandbox), 'deeply frozen');
  for (const [path, setting] of settings()) {
    const value = path
      .split('.')
      .reduce<unknown>((object, key) => (object as Record<string, unknown>)[key], config);
    t.equal(value, setting.defaultValue, `${path} is its table default`);
    if (setting.defaultValue !== undefined)
      t.ok(setting.parse(setting.defaultValue, 'json').ok, `${path}: the default is valid`);
  }
});

t.test('one environment variable per setting, named after its path', async (t) => {
  const seen = new Set<string>();
  const help = configEnvironmentHelp();
  for (const [path, setting] of settings()) {
    const expected = `STAMPEDE_${path
      .replace(/\./g, '_')
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .toUpperCase()}`;
    t.equal(setting.env, expected, path);
    t.notOk(seen.has(setting.env), `${setting.env} is used once`);
    seen.add(setting.env);
    t.ok(help.includes(setting.env), `--help lists ${setting.env}`);
  }
});

t.test('precedence: defaults < file < environment < overrides', async (t) => {
  const dir = tempDir(t);
  const file = writeJson(dir, 'stampede.json', {
    httpPort: 9000,
    host: '0.0.0.0',
    dataDir: '/srv/file',
    payments: { sandbox: { delayMs: 10 } },
  });
  const env = { STAMPEDE_HTTP_PORT: '9001', STAMPEDE_DATA_DIR: '/srv/env' };
  const config = loadConfig({
    env,
    file,
    overrides: { dataDir: '/srv/flag', wsIdleTimeoutSeconds: undefined },
  });
  t.equal(config.host, '0.0.0.0', 'file over default');
  t.equal(config.payments.sandbox.delayMs, 10, 'nested file value over default');
  t.equal(config.payments.sandbox.successRate, 0.95, 'siblings keep their defaults');
  t.equal(config.httpPort, 9001, 'environment over file');
  t.equal(config.dataDir, '/srv/flag', 'override over environment');
  t.equal(config.wsIdleTimeoutSeconds, 120, 'an undefined override is not given');

  t.equal(loadConfig({ env: { STAMPEDE_CONFIG: file } }).httpPort, 9000, 'STAMPEDE_CONFIG names the file');
  const other = writeJson(dir, 'other.json', { httpPort: 9100 });
  t.equal(
    loadConfig({ env: { STAMPEDE_CONFIG: file }, file: other }).httpPort,
    9100,
    '--config wins over STAMPEDE_CONFIG',
  );
  t.equal(
    loadConfig({ env: { STAMPEDE_HTTP_PORT: '', STAMPEDE_CONFIG: '' } }).httpPort,
    8080,
    'empty is unset',
  );
});

t.test('environment values are parsed by kind', async (t) => {
  const config = loadConfig({
    env: {
      STAMPEDE_PRODUCTION: 'false',
      STAMPEDE_DEMO_CATALOG: '1',
      STAMPEDE_ADMIN_TOKEN_REQUIRED: 'false',
      STAMPEDE_BUYER_REQUESTS_PER_SECOND: '2.5',
      STAMPEDE_WS_IDLE_TIMEOUT_SECONDS: '0',
      STAMPEDE_HOST: '::',
      STAMPEDE_TOKEN_SECRET: secret32,
      STAMPEDE_WEBHOOK_SECRET: 'w'.repeat(40),
      STAMPEDE_MYSQL_URL: 'mysql://user:pass@db:3306/stampede',
      STAMPEDE_REDIS_URL: 'rediss://cache:6380',
      STAMPEDE_PAYMENTS_SANDBOX_SUCCESS_RATE: '.5',
    },
  });
  t.equal(config.demoCatalog, true);
  t.equal(config.adminTokenRequired, false);
  t.equal(config.buyerRequestsPerSecond, 2.5);
  t.equal(config.wsIdleTimeoutSeconds, 0);
  t.equal(config.host, '::');
  t.equal(config.tokenSecret, secret32);
  t.equal(config.mysqlUrl, 'mysql://user:pass@db:3306/stampede');
  t.equal(config.redisUrl, 'rediss://cache:6380');
  t.equal(config.payments.sandbox.successRate, 0.5);
});

t.test('the kafka journal: brokers as a list, topic and partition checked', async (t) => {
  const config = loadConfig({
    env: {
      STAMPEDE_JOURNAL: 'kafka',
      STAMPEDE_KAFKA_BROKERS: 'k1:9092, k2.example:9093',
      STAMPEDE_KAFKA_PARTITION: '3',
    },
  });
  t.equal(config.journal, 'kafka');
  t.strictSame(config.kafka.brokers, ['k1:9092', 'k2.example:9093']);
  t.equal(config.kafka.topic, 'stampede.journal');
  t.equal(config.kafka.partition, 3);
  t.strictSame(problemsOf({ env: { STAMPEDE_KAFKA_BROKERS: 'k1' } }), [
    "STAMPEDE_KAFKA_BROKERS must be host:port brokers (comma-separated in the environment, an array in the file), got 'k1'",
  ]);
  t.match(
    problemsOf({ env: { STAMPEDE_KAFKA_TOPIC: 'no spaces' } })[0],
    /^STAMPEDE_KAFKA_TOPIC must be a Kafka topic name/,
  );
  t.match(
    problemsOf({ env: { STAMPEDE_JOURNAL: 'tape' } })[0],
    /^STAMPEDE_JOURNAL must be one of file, kafka, got 'tape'/,
  );
});

t.test('every kind of bad value, each with what was expected and what was found', async (t) => {
  const cases: [Record<string, string>, string][] = [
    [{ STAMPEDE_HTTP_PORT: 'abc' }, "STAMPEDE_HTTP_PORT must be an integer from 0 to 65535, got 'abc'"],
    [{ STAMPEDE_HTTP_PORT: '65536' }, "STAMPEDE_HTTP_PORT must be an integer from 0 to 65535, got '65536'"],
    [{ STAMPEDE_HTTP_PORT: '80.5' }, "STAMPEDE_HTTP_PORT must be an integer from 0 to 65535, got '80.5'"],
    [{ STAMPEDE_HTTP_PORT: '1e3' }, "STAMPEDE_HTTP_PORT must be an integer from 0 to 65535, got '1e3'"],
    [{ STAMPEDE_HTTP_PORT: ' 8080' }, "STAMPEDE_HTTP_PORT must be an integer from 0 to 65535, got ' 8080'"],
    [
      { STAMPEDE_CONNECTIONS_MAX: '0' },
      "STAMPEDE_CONNECTIONS_MAX must be an integer from 1 to 10000000, got '0'",
    ],
    [
      { STAMPEDE_LINES_PER_ORDER_MAX: '9' },
      "STAMPEDE_LINES_PER_ORDER_MAX must be an integer from 1 to 8, got '9'",
    ],
    [
      { STAMPEDE_WS_PAYLOAD_BYTES_MAX: '100' },
      "STAMPEDE_WS_PAYLOAD_BYTES_MAX must be an integer from 1024 to 16777216, got '100'",
    ],
    [
      { STAMPEDE_BUYER_REQUESTS_PER_SECOND: 'fast' },
      "STAMPEDE_BUYER_REQUESTS_PER_SECOND must be a number from 0.01 to 1000000, got 'fast'",
    ],
    [
      { STAMPEDE_PAYMENTS_SANDBOX_DECLINE_RATE: '1.5' },
      "STAMPEDE_PAYMENTS_SANDBOX_DECLINE_RATE must be a number from 0 to 1, got '1.5'",
    ],
    [
      { STAMPEDE_DEMO_CATALOG: 'yes' },
      "STAMPEDE_DEMO_CATALOG must be true, false or auto (or 1 or 0), got 'yes'",
    ],
    [{ STAMPEDE_HOST: 'my host' }, "STAMPEDE_HOST must be a host name or an IP address, got 'my host'"],
    [{ STAMPEDE_HOST: 'a..b' }, "STAMPEDE_HOST must be a host name or an IP address, got 'a..b'"],
    [
      { STAMPEDE_DATA_DIR: 'a\0b' },
      "STAMPEDE_DATA_DIR must be a non-empty path of at most 4096 characters, got 'a\0b'",
    ],
    [
      { STAMPEDE_WS_IDLE_TIMEOUT_SECONDS: '5' },
      "STAMPEDE_WS_IDLE_TIMEOUT_SECONDS must be 0 (off) or an integer from 8 to 960 (uWebSockets.js aborts the process on other values), got '5'",
    ],
    [
      { STAMPEDE_WS_IDLE_TIMEOUT_SECONDS: '961' },
      "STAMPEDE_WS_IDLE_TIMEOUT_SECONDS must be 0 (off) or an integer from 8 to 960 (uWebSockets.js aborts the process on other values), got '961'",
    ],
    [{ STAMPEDE_TOKEN_SECRET: 'hunter2' }, 'STAMPEDE_TOKEN_SECRET must be at least 32 bytes, got 7 bytes'],
    [
      { STAMPEDE_WEBHOOK_SECRET: 'x'.repeat(1025) },
      'STAMPEDE_WEBHOOK_SECRET must be at most 1024 bytes, got 1025 bytes',
    ],
    [
      { STAMPEDE_MYSQL_URL: 'db.internal:3306' },
      'STAMPEDE_MYSQL_URL must be a mysql:// URL, got a value that is not a URL',
    ],
    [
      { STAMPEDE_REDIS_URL: 'http://user:secret@cache' },
      'STAMPEDE_REDIS_URL must be a redis:// or rediss:// URL, got a http:// URL',
    ],
  ];
  for (const [env, problem] of cases) t.strictSame(problemsOf({ env }), [problem], problem);

  // Secrets and URLs never appear in a message: they may be credentials.
  const problems = problemsOf({
    env: { STAMPEDE_TOKEN_SECRET: 'hunter2', STAMPEDE_MYSQL_URL: 'ftp://root:hunter3@db' },
  }).join('\n');
  t.notMatch(problems, /hunter/);
});

t.test('bad values in the file and the overrides are reported with their key', async (t) => {
  const dir = tempDir(t);
  const file = writeJson(dir, 'bad.json', {
    httpPort: '8080',
    demoCatalog: 'true',
    payments: { sandbox: { successRate: -0.1 } },
    tokenSecret: 42,
  });
  t.strictSame(problemsOf({ env: {}, file }), [
    `config file ${file}: httpPort must be an integer from 0 to 65535, got "8080"`,
    `config file ${file}: demoCatalog must be true, false or "auto", got "true"`,
    `config file ${file}: payments.sandbox.successRate must be a number from 0 to 1, got -0.1`,
    `config file ${file}: tokenSecret must be a string of 32 to 1024 bytes, got a number`,
  ]);
  const groupNotObject = writeJson(dir, 'group.json', { payments: { sandbox: 5 } });
  t.strictSame(problemsOf({ env: {}, file: groupNotObject }), [
    `config file ${groupNotObject}: payments.sandbox must be an object, got a number`,
  ]);
  t.strictSame(problemsOf({ env: {}, overrides: { dataDir: '', httpPort: Number.NaN } }), [
    'dataDir must be a non-empty path of at most 4096 characters, got ""',
    'httpPort must be an integer from 0 to 65535, got NaN',
  ]);
});

t.test('unknown keys in the file are errors, with the likely intended key', async (t) => {
  const dir = tempDir(t);
  const file = writeJson(dir, 'typos.json', {
    htpPort: 1,
    HOST: 'x',
    payments: { sandbox: { delay: 3 }, stripe: {} },
    completelyUnrelated: true,
  });
  t.strictSame(problemsOf({ env: {}, file }), [
    `config file ${file}: unknown key 'htpPort' (did you mean 'httpPort'?)`,
    `config file ${file}: unknown key 'HOST' (did you mean 'host'?)`,
    `config file ${file}: unknown key 'payments.sandbox.delay' (did you mean 'payments.sandbox.delayMs'?)`,
    `config file ${file}: unknown key 'payments.stripe'`,
    `config file ${file}: unknown key 'completelyUnrelated'`,
  ]);
  // The same for overrides (a caller's typo), and no prototype keys sneak through.
  t.strictSame(problemsOf({ env: {}, overrides: JSON.parse('{"toString": 1, "__proto__": 2}') }), [
    "unknown key 'toString'",
    "unknown key '__proto__'",
  ]);
});

t.test('unknown STAMPEDE_* variables are errors, with the likely intended name', async (t) => {
  t.strictSame(
    problemsOf({
      env: {
        STAMPEDE_HTTPPORT: '1',
        stampede_host: 'x', // not the prefix: not ours
        STAMPEDE_ORDERTTL_MS: '1000',
        STAMPEDE_NOTHING_LIKE_IT: 'x',
        STAMPEDE_EMPTY_TYPO: '', // empty counts as unset, here too
        KAFKA_BROKERS: 'a:1', // test-only variables are not the node's
      },
    }),
    [
      'unknown environment variable STAMPEDE_HTTPPORT (did you mean STAMPEDE_HTTP_PORT?)',
      'unknown environment variable STAMPEDE_ORDERTTL_MS (did you mean STAMPEDE_ORDER_TTL_MS?)',
      'unknown environment variable STAMPEDE_NOTHING_LIKE_IT',
    ],
  );
  t.doesNotThrow(() => loadConfig({ env: { STAMPEDE_CONFIG: '' } }), 'STAMPEDE_CONFIG is known');
});

t.test(
  'engine limits: the data directory recorded ones are the defaults; another one given is refused',
  async (t) => {
    const dataDir = tempDir(t);
    const limitsOf = (env: Record<string, string>): EngineLimits =>
      engineLimitsOf(loadConfig({ env: { STAMPEDE_DATA_DIR: dataDir, ...env } }));
    t.strictSame(limitsOf({}), engineLimitsDefault, 'a new directory: the engine defaults');
    t.strictSame(
      limitsOf({ STAMPEDE_ORDER_TTL_MS: '2000', STAMPEDE_ENGINE_VELOCITY_ORDERS_MAX: '3' }),
      { ...engineLimitsDefault, orderTtlMs: 2_000, velocityOrdersMax: 3 },
      'a new directory: the given ones over the defaults',
    );
    const recorded = { ...engineLimitsDefault, orderTtlMs: 1_000, skusMax: 64 };
    writeFileSync(join(dataDir, 'engine.json'), JSON.stringify({ limits: recorded }));
    t.strictSame(limitsOf({}), recorded, 'a directory created with other limits: those');
    t.strictSame(limitsOf({ STAMPEDE_ENGINE_SKUS_MAX: '64' }), recorded, 'the recorded value given again');
    t.throws(() => limitsOf({ STAMPEDE_ORDER_TTL_MS: '2000', STAMPEDE_ENGINE_SKUS_MAX: '64' }), {
      code: 'DATA_DIR_LIMITS_MISMATCH',
      message: /orderTtlMs 1000 here, 2000 asked\); start with the recorded limits \(leave them unset\)/,
    });
    rmSync(join(dataDir, 'engine.json'));
    t.match(problemsOf({ env: { STAMPEDE_ENGINE_SKUS_MAX: '0' } }), [
      /STAMPEDE_ENGINE_SKUS_MAX must be an integer/,
    ]);
    t.throws(() => limitsOf({ STAMPEDE_ENGINE_TIMER_SLOT_COUNT: '1000' }), {
      name: 'ConfigError',
      message: /engine limits: timerSlotCount must be a power of two/,
    });
    t.throws(() => limitsOf({ STAMPEDE_ENGINE_LINES_PER_ORDER_MAX: '2' }), {
      name: 'ConfigError',
      message: /linesPerOrderMax \(8\) must be at most engine.linesPerOrderMax \(2\)/,
    });
    for (const key of Object.keys(engineLimitsDefault)) {
      const setting =
        key === 'orderTtlMs' ? configSettings.orderTtlMs : configSettings.engine[key as 'skusMax'];
      t.ok(setting !== undefined && configEnvironmentHelp().includes(setting.env), `${key} is in the table`);
    }
  },
);

t.test('help for a part of the table: only those settings, with unit and default', async (t) => {
  const help = configEnvironmentHelp(['dataDir', 'kafka']);
  t.match(help, /STAMPEDE_DATA_DIR +dataDir, default "data"/);
  t.match(help, /STAMPEDE_KAFKA_PARTITION +kafka.partition, default 0/);
  t.notMatch(help, /STAMPEDE_HTTP_PORT/);
  t.match(
    configEnvironmentHelp(['orderTtlMs']),
    /orderTtlMs \(milliseconds\), default the data directory's \(engine.json\), new ones 600000/,
  );
});

t.test('an unusable file is one clear problem', async (t) => {
  const dir = tempDir(t);
  const missing = join(dir, 'missing.json');
  t.match(problemsOf({ env: {}, file: missing }), [
    new RegExp(`^config file ${missing} cannot be read: ENOENT`),
  ]);
  const notJson = writeJson(dir, 'broken.json', '{ "httpPort": 80, }');
  t.match(problemsOf({ env: {}, file: notJson }), [
    new RegExp(`^config file ${notJson} is not valid JSON: `),
  ]);
  const array = writeJson(dir, 'array.json', [1]);
  t.strictSame(problemsOf({ env: {}, file: array }), [
    `config file ${array} must hold a JSON object, got an array`,
  ]);
  const huge = writeJson(dir, 'huge.json', `{"x": "${'a'.repeat(1024 * 1024)}"}`);
  t.match(problemsOf({ env: {}, file: huge }), [/must be at most 1048576 bytes/]);
});

t.test('every problem of every source in one ConfigError', async (t) => {
  const dir = tempDir(t);
  const file = writeJson(dir, 'c.json', { httpPort: -1, nope: 1 });
  let caught: unknown;
  try {
    loadConfig({
      env: { STAMPEDE_HOST: '', STAMPEDE_HTTP_PORT: 'abc', STAMPEDE_IP_BURST: 'x' },
      file,
      overrides: { connectionsMax: 0 },
    });
  } catch (error) {
    caught = error;
  }
  t.ok(caught instanceof ConfigError);
  const error = caught as ConfigError;
  t.equal(error.code, 'CONFIG_INVALID');
  t.equal(error.retriable, false);
  t.equal(error.problems.length, 5, 'the file value overridden by the environment is still reported');
  t.match(error.message, /^configuration is invalid \(5 problems\):\n {2}- config file /);
  t.match(error.message, /STAMPEDE_IP_BURST must be an integer from 1 to 1000000, got 'x'/);
  t.match(error.message, /connectionsMax must be an integer from 1 to 10000000, got 0/);
  t.equal(
    new ConfigError(['one thing']).message,
    'configuration is invalid: one thing',
    'a single problem reads as one line',
  );
});

t.test('relationships between settings, each with the reason', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { STAMPEDE_BUYER_BURST: '10' },
      /^buyerBurst \(10\) must be at least buyerRequestsPerSecond \(20\): a smaller burst refuses a buyer/,
    ],
    [{ STAMPEDE_IP_BURST: '100' }, /^ipBurst \(100\) must be at least ipRequestsPerSecond \(200\): /],
    [
      { STAMPEDE_IP_REQUESTS_PER_SECOND: '10', STAMPEDE_IP_BURST: '400' },
      /^ipRequestsPerSecond \(10\) must be at least buyerRequestsPerSecond \(20\): one buyer alone/,
    ],
    [
      { STAMPEDE_BUYER_BURST: '500', STAMPEDE_BUYER_REQUESTS_PER_SECOND: '20' },
      /^ipBurst \(400\) must be at least buyerBurst \(500\): /,
    ],
    [
      { STAMPEDE_WS_PAYLOAD_BYTES_MAX: '65536', STAMPEDE_WS_BACKPRESSURE_BYTES_MAX: '4096' },
      /^wsBackpressureBytesMax \(4096\) must be at least wsPayloadBytesMax \(65536\): /,
    ],
    [
      { STAMPEDE_PAYMENTS_SANDBOX_SUCCESS_RATE: '0.98' },
      /^payments\.sandbox\.successRate \(0\.98\) \+ declineRate \(0\.05\) must be at most 1: /,
    ],
    [{ STAMPEDE_JOURNAL: 'kafka' }, /^journal kafka needs kafka\.brokers \(STAMPEDE_KAFKA_BROKERS\): /],
    [{ STAMPEDE_READ_MODEL: 'redis' }, /^readModel redis needs redisUrl \(STAMPEDE_REDIS_URL\): /],
  ];
  for (const [env, problem] of cases) {
    const problems = problemsOf({ env });
    t.equal(problems.length, 1, String(problem));
    t.match(problems[0], problem);
  }
  // A key that is bad on its own is not judged again against others.
  t.strictSame(
    problemsOf({ env: { STAMPEDE_BUYER_BURST: 'many', STAMPEDE_BUYER_REQUESTS_PER_SECOND: '50' } }),
    ["STAMPEDE_BUYER_BURST must be an integer from 1 to 1000000, got 'many'"],
  );
});

t.test('production needs a given secret, the admin token and no demo catalog', async (t) => {
  t.strictSame(
    problemsOf({
      env: {
        STAMPEDE_PRODUCTION: 'true',
        STAMPEDE_ADMIN_TOKEN_REQUIRED: 'false',
        STAMPEDE_DEMO_CATALOG: 'true',
      },
    }),
    [
      'tokenSecret (STAMPEDE_TOKEN_SECRET) must be set when production is true: a generated secret lives in one data directory, while the nodes of a deployment share one kept in its secret store',
      'adminTokenRequired must be true when production is true: the admin API changes stock and prices',
      'demoCatalog must be false or auto when production is true: it would put made-up products on sale',
    ],
  );
  const config: GatewayConfig = loadConfig({
    env: { STAMPEDE_PRODUCTION: 'true', STAMPEDE_TOKEN_SECRET: secret32 },
  });
  t.equal(tokenSecretOf(config), secret32, 'the given secret is used, nothing is generated');
  t.equal(config.demoCatalog, 'auto');
  t.equal(demoCatalogOf(config), false, 'auto in production: no demo catalog, not even in a fresh directory');
  t.equal(demoCatalogOf(loadConfig({ env: {} })), 'fresh', 'auto elsewhere: a fresh directory gets it');
  t.equal(demoCatalogOf(loadConfig({ env: { STAMPEDE_DEMO_CATALOG: 'auto' } })), 'fresh', 'auto spelled out');
  t.equal(demoCatalogOf(loadConfig({ env: { STAMPEDE_DEMO_CATALOG: '0' } })), false);
});

t.test('loadOrCreateSecret: generated once, mode 0600, then reused', async (t) => {
  const dataDir = join(tempDir(t), 'data', 'nested');
  const secret = loadOrCreateSecret(dataDir);
  t.match(secret, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  const file = join(dataDir, 'secret');
  t.equal(readFileSync(file, 'utf8'), `${secret}\n`);
  if (process.platform !== 'win32') t.equal(statSync(file).mode & 0o777, 0o600);
  t.equal(loadOrCreateSecret(dataDir), secret, 'the second start reads the same secret');
  t.strictSame(readdirSync(dataDir), ['secret'], 'no temporary file left behind');
  t.equal(tokenSecretOf(loadConfig({ env: {}, overrides: { dataDir } })), secret);
  t.not(loadOrCreateSecret(join(tempDir(t), 'other')), secret, 'another directory, another secret');
});

t.test('loadOrCreateSecret refuses a secret file it should not trust', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'secret'), 'short\n', { mode: 0o600 });
  t.throws(() => loadOrCreateSecret(dir), {
    code: 'CONFIG_INVALID',
    message: new RegExp(
      `the token secret ${join(dir, 'secret')} must hold at least 32 bytes, got 5; delete it`,
    ),
  });
  if (process.platform !== 'win32') {
    writeFileSync(join(dir, 'secret'), `${secret32}\n`);
    chmodSync(join(dir, 'secret'), 0o644);
    t.throws(() => loadOrCreateSecret(dir), {
      code: 'CONFIG_INVALID',
      message: `configuration is invalid: the token secret ${join(dir, 'secret')} is open to other users (mode 0644): run chmod 600 ${join(dir, 'secret')}`,
    });
    chmodSync(join(dir, 'secret'), 0o600);
    t.equal(loadOrCreateSecret(dir), secret32, 'an operator-provided file with mode 0600 is used as is');
  }
});

t.test('concurrent first starts agree on one secret', async (t) => {
  const dataDir = join(tempDir(t), 'shared');
  const script = join(tempDir(t), 'load-secret.ts');
  const configModule = fileURLToPath(new URL('./config.ts', import.meta.url));
  writeFileSync(
    script,
    `import { loadOrCreateSecret } from ${JSON.stringify(configModule)};\nprocess.stdout.write(loadOrCreateSecret(process.argv[2]));\n`,
  );
  const run = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
    });
  const secrets = await Promise.all(Array.from({ length: 6 }, run));
  t.equal(new Set(secrets).size, 1, 'every process read the same secret');
  t.equal(secrets[0], loadOrCreateSecret(dataDir));
  t.strictSame(readdirSync(dataDir), ['secret']);
});
