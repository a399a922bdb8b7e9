/**
 * `stampede bench flash-sale` (npm run bench:flash-sale): a flash sale driven
 * over real WebSockets against Stampede, then (--compare) the same sale
 * against the usual alternatives on the real Redis and MariaDB, each system
 * audited at the end. Answers the capacity planner's question: on this
 * machine, for this sale, how do they compare?
 *
 *   1. options, validated (bad ones: a message and exit 2)
 *   2. Stampede: its own `stampede serve` child process (or --target), client
 *      worker threads, audit from the read API and the journal
 *   3. --compare: redis-lua, mysql-cond, mysql-tx with the same buyers,
 *      stock and load
 *   4. output: the table (or --json, one line per system), --report FILE.html
 *   5. exit 1 if any system failed its audit
 *
 * Progress goes to stderr when it is a terminal. Runs on the main thread.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../gateways/config.ts';
import { auditSale } from './flash-sale-audit.ts';
import { baselineNames, runBaseline } from './flash-sale-baselines.ts';
import type { BuyerShares } from './flash-sale-buyers.ts';
import {
  formatTable,
  type LoadShape,
  type SystemFigures,
  type SystemRun,
  systemFigures,
  withRatios,
} from './flash-sale-figures.ts';
import { recorderLimits } from './flash-sale-recorder.ts';
import { cdfOf, renderReport, type SystemSeries, throughputOf } from './flash-sale-report.ts';
import { defaultClientWorkers, runStampede, targetNotAuditable } from './flash-sale-stampede.ts';

export const flashSaleUsage = `stampede bench flash-sale — a flash sale against Stampede (and, with --compare, Redis and MySQL)

Usage:
  stampede bench flash-sale [options]

  --buyers N          distinct buyers, one place attempt each (default 200000)
  --stock N           units of each SKU (default 10000)
  --skus N            SKUs; demand is Zipf-skewed: SKU k wanted in proportion to 1/k (default 1)
  --concurrency N     closed loop: commands in flight at most, 1 or more per client worker (default 256)
  --open-loop         open loop instead: buyers arrive at --rate per second whatever the answers;
  --rate N            latency counts from the intended arrival time
  --pay S --decline S --abandon S
                      shares of the buyers who get a reservation: pay (accepted), pay (declined:
                      the unit comes back), walk away (held until the order TTL); sum 1
                      (default 0.8 / 0.1 / 0.1; shares not given split what is left)
  --warmup N          buyers of an unmeasured warm-up sale (own SKU, stock for half of them) run first on
                      the same connections, so neither side is measured cold (default 20000 or
                      --buyers if fewer; 0: none)
  --clients N         client worker threads (default ${defaultClientWorkers()}: one per two cores)
  --target URL        drive a running node (http://host:port); tokens are signed with its
                      tokenSecret (STAMPEDE_TOKEN_SECRET or --config FILE); the journal audit is skipped.
                      Checked first (ready, takes the tokens, has the journal's metrics): a target that
                      cannot be audited is refused
  --create-skus       with --target: create the sale's SKUs (and the warm-up's) in the target's store, after
                      its last SKU; without it a --target run is refused, so a live store gets none unasked
  --journal file|kafka
                      the bench's own node's journal (default: STAMPEDE_JOURNAL, else file); kafka uses
                      STAMPEDE_KAFKA_BROKERS and a fresh topic per run (stampede.flash-sale.<time>-<seed>),
                      which the audit reads back
  --config FILE       the node's settings file (tokenSecret, redisUrl, mysqlUrl), under the environment
  --compare           then run the baselines: ${baselineNames.join(', ')}
  --redis URL         (default redisUrl: $STAMPEDE_REDIS_URL, else redis://127.0.0.1:6379)
  --mysql URL         (default mysqlUrl: $STAMPEDE_MYSQL_URL, else mysql://root@127.0.0.1:3306/test)
  --json              one JSON line per system on stdout instead of the table
  --report FILE.html  write a self-contained HTML report (latency CDFs, throughput, sell-out)
  --seed N            who wants which SKU and who pays (default: random, printed)
  --timeout SECONDS   a system's run fails if not every buyer is answered by then (default 900)
  --order-ttl-ms N    the bench's own node: an unpaid order times out after N ms and its unit comes
                      back (default 2000, so abandoned reservations return within the run; the audit
                      waits for them)

Exit codes: 0 every audit passed, 1 an audit failed (or the run failed), 2 bad usage or a target that
cannot be audited (nothing was created).`;

export interface FlashSaleOptions {
  buyers: number;
  stock: number;
  skus: number;
  load: { model: 'closed'; concurrency: number } | { model: 'open'; ratePerSec: number };
  shares: BuyerShares;
  clients: number;
  warmupBuyers: number;
  target: string | undefined;
  /** With --target: the configured tokenSecret the bench signs its tokens with (undefined: not configured). */
  targetTokenSecret: string | undefined;
  /** --create-skus: the only way a --target run may add SKUs to the target's store. */
  createSkus: boolean;
  /** The own node's journal; undefined: what the environment configures for `serve`. */
  journal: 'file' | 'kafka' | undefined;
  compare: boolean;
  redisUrl: string;
  mysqlUrl: string;
  json: boolean;
  report: string | undefined;
  seed: number;
  runMsMax: number;
  orderTtlMs: number;
}

class FlashSaleUsageError extends Error {}

function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max)
    throw new FlashSaleUsageError(`--${name} must be an integer from ${min} to ${max}, got '${text}'`);
  return value;
}

function share(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1)
    throw new FlashSaleUsageError(`--${name} must be a share from 0 to 1, got '${text}'`);
  return value;
}

const sharesDefault: BuyerShares = { pay: 0.8, decline: 0.1, abandon: 0.1 };

/** Shares given on the command line; those not given split what is left (all defaults when none is given). */
function sharesOf(given: Partial<Record<keyof BuyerShares, number | undefined>>): BuyerShares {
  const keys = ['pay', 'decline', 'abandon'] as const;
  if (keys.every((k) => given[k] === undefined)) return sharesDefault;
  const sum = keys.reduce((n, k) => n + (given[k] ?? 0), 0);
  const missing = keys.filter((k) => given[k] === undefined);
  const rest = missing.length === 0 ? 0 : (1 - sum) / missing.length;
  const shares = { pay: given.pay ?? rest, decline: given.decline ?? rest, abandon: given.abandon ?? rest };
  const total = shares.pay + shares.decline + shares.abandon;
  if (rest < -1e-9 || Math.abs(total - 1) > 1e-9)
    throw new FlashSaleUsageError(
      `--pay, --decline and --abandon must add up to 1, got ${shares.pay} + ${shares.decline} + ${shares.abandon}`,
    );
  return shares;
}

export function parseFlashSaleOptions(
  args: string[],
  env: Readonly<Record<string, string | undefined>>,
): FlashSaleOptions {
  const { values } = parseArgs({
    args,
    options: {
      buyers: { type: 'string' },
      stock: { type: 'string' },
      skus: { type: 'string' },
      concurrency: { type: 'string' },
      'open-loop': { type: 'boolean' },
      rate: { type: 'string' },
      pay: { type: 'string' },
      decline: { type: 'string' },
      abandon: { type: 'string' },
      clients: { type: 'string' },
      warmup: { type: 'string' },
      target: { type: 'string' },
      config: { type: 'string' },
      journal: { type: 'string' },
      'create-skus': { type: 'boolean' },
      compare: { type: 'boolean' },
      redis: { type: 'string' },
      mysql: { type: 'string' },
      json: { type: 'boolean' },
      report: { type: 'string' },
      seed: { type: 'string' },
      timeout: { type: 'string' },
      'order-ttl-ms': { type: 'string' },
    },
    strict: true,
  });
  // The engine's default capacity (serve) is 1,000,000 buyers: the sale's and the warm-up's fit together.
  const buyers = integer('buyers', values.buyers, 200_000, 1, 900_000);
  const openLoop = values['open-loop'] ?? false;
  if (openLoop !== (values.rate !== undefined))
    throw new FlashSaleUsageError('--open-loop and --rate N go together (the arrival rate of the open loop)');
  if (openLoop && values.concurrency !== undefined)
    throw new FlashSaleUsageError('--concurrency is the closed loop; the open loop is paced by --rate');
  if (values.report !== undefined && !values.report.endsWith('.html'))
    throw new FlashSaleUsageError(`--report must name an .html file, got '${values.report}'`);
  if (values.target !== undefined && !/^(https?|wss?):\/\/[^/\s]+\/?$/.test(values.target))
    throw new FlashSaleUsageError(
      `--target must be a base URL like http://127.0.0.1:8080, got '${values.target}'`,
    );
  // The node's configuration table, as `serve` reads it: the stores' URLs and a target's token secret.
  const config = loadConfig({
    env,
    file: values.config,
    overrides: { redisUrl: values.redis, mysqlUrl: values.mysql },
  });
  if (values.target !== undefined && values['create-skus'] !== true)
    throw new FlashSaleUsageError(
      "--target: the sale needs SKUs of its own, created in the target's store after its last one; pass --create-skus to allow that (nothing is created without it)",
    );
  const journal = values.journal;
  if (journal !== undefined && journal !== 'file' && journal !== 'kafka')
    throw new FlashSaleUsageError(`--journal must be file or kafka, got '${journal}'`);
  if (journal !== undefined && values.target !== undefined)
    throw new FlashSaleUsageError("--journal is the own node's journal; a --target node has its own");
  if (journal === 'kafka' && !env.STAMPEDE_KAFKA_BROKERS)
    throw new FlashSaleUsageError(
      "--journal kafka needs STAMPEDE_KAFKA_BROKERS (host:port,…): the brokers of the own node's journal",
    );
  const clients = integer('clients', values.clients, defaultClientWorkers(), 1, 64);
  const concurrency = integer('concurrency', values.concurrency, 256, 1, 100_000);
  if (!openLoop && concurrency < clients)
    throw new FlashSaleUsageError(
      `--concurrency must be at least 1 per client worker, got ${concurrency} for ${clients} worker(s)`,
    );
  return {
    buyers,
    stock: integer('stock', values.stock, 10_000, 1, 1_000_000),
    skus: integer('skus', values.skus, 1, 1, 1000),
    load: openLoop
      ? { model: 'open', ratePerSec: integer('rate', values.rate, 0, 1, 10_000_000) }
      : { model: 'closed', concurrency },
    shares: sharesOf({
      pay: share('pay', values.pay),
      decline: share('decline', values.decline),
      abandon: share('abandon', values.abandon),
    }),
    clients,
    warmupBuyers: integer('warmup', values.warmup, Math.min(20_000, buyers), 0, 100_000),
    target: values.target,
    targetTokenSecret: values.target === undefined ? undefined : config.tokenSecret,
    createSkus: values['create-skus'] ?? false,
    journal,
    compare: values.compare ?? false,
    redisUrl: config.redisUrl ?? 'redis://127.0.0.1:6379',
    mysqlUrl: config.mysqlUrl ?? 'mysql://root@127.0.0.1:3306/test',
    json: values.json ?? false,
    report: values.report,
    seed: integer('seed', values.seed, Math.floor(Math.random() * 2 ** 31), 0, 2 ** 31 - 1),
    runMsMax: integer('timeout', values.timeout, 900, 1, 86_400) * 1000,
    orderTtlMs: integer('order-ttl-ms', values['order-ttl-ms'], 2_000, 1_000, 3_000_000),
  };
}

/** A line of progress on a log that is not a terminal, at most this often (a terminal's line is rewritten). */
const progressLogMsMin = 5_000;

/** Progress on stderr: rewritten in place on a terminal, else a line every progressLogMsMin. */
function progressLine(system: string, buyers: number): (placeAnswered: number, finalTotal: number) => void {
  const startedMs = performance.now();
  let loggedMs = startedMs;
  return (placeAnswered, finalTotal) => {
    const now = performance.now();
    const seconds = (now - startedMs) / 1000;
    const text = `${system}: ${placeAnswered.toLocaleString('en-US')}/${buyers.toLocaleString('en-US')} answered, ${finalTotal.toLocaleString('en-US')} final, ${Math.round(placeAnswered / Math.max(seconds, 0.001)).toLocaleString('en-US')}/s`;
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
    else if (now - loggedMs >= progressLogMsMin) {
      loggedMs = now;
      process.stderr.write(`flash-sale: ${text}\n`);
    }
  };
}

const clearProgress = (): void => {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
};

export async function runFlashSale(options: FlashSaleOptions, command: string): Promise<number> {
  // The load average tells a reader whether something else was running on the machine at the time.
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, load average ${loadavg()[0]!.toFixed(2)} at start`;
  const startedAt = new Date().toISOString();
  console.error(`flash-sale: ${command}\nflash-sale: ${machine}; seed ${options.seed}`);
  const shape: LoadShape = {
    loadModel: options.load.model,
    concurrency: options.load.model === 'closed' ? options.load.concurrency : 0,
    ratePerSec: options.load.model === 'open' ? options.load.ratePerSec : null,
    buyers: options.buyers,
    stock: options.stock,
    skus: options.skus,
  };
  const rows: SystemFigures[] = [];
  const series: SystemSeries[] = [];
  const add = (system: string, run: SystemRun): void => {
    const audit = auditSale(run.outcome);
    rows.push(
      systemFigures({
        system,
        shape,
        record: run.record,
        outcome: run.outcome,
        audit,
        resources: run.resources,
        notes: run.notes,
      }),
    );
    series.push({
      system,
      cdf: cdfOf(run.record.placeToAnswerUs),
      answersPerSec: throughputOf(
        run.record.placeAnswersPerBucket,
        run.record.startAtMs,
        run.record.firstSendAtMs,
        run.record.lastPlaceAnswerAtMs,
      ),
      bucketMs: recorderLimits.bucketMs,
      sellOutAtMs: rows[rows.length - 1]!.sellOutAtMs,
    });
    if (!options.json) console.error(`flash-sale: ${system} done, audit ${audit.ok ? 'ok' : 'FAILED'}`);
  };

  const stampede = await runStampede({
    ...options,
    progress: progressLine('stampede', options.buyers),
    warmupProgress: progressLine('stampede warm-up', options.warmupBuyers),
    log: (line) => {
      clearProgress();
      console.error(`flash-sale: stampede: ${line}`);
    },
  });
  clearProgress();
  add('stampede', stampede);
  if (options.compare) {
    for (const name of baselineNames) {
      const run = await runBaseline(name, { ...options, progress: progressLine(name, options.buyers) });
      clearProgress();
      add(name, run);
    }
  }

  const final = withRatios(rows);
  if (options.json)
    for (const r of final) console.log(JSON.stringify({ ...r, seed: options.seed, machine, command }));
  else {
    console.log(`command: ${command}\nmachine: ${machine}; seed ${options.seed}\n`);
    console.log(formatTable(final));
  }
  if (options.report !== undefined) {
    writeFileSync(
      options.report,
      renderReport({ command, machine, seed: options.seed, startedAt, rows: final, series }),
    );
    console.error(`flash-sale: report written to ${options.report}`);
  }
  return final.every((r) => r.auditOk) ? 0 : 1;
}

/** The `stampede bench flash-sale ARGS` command; returns the exit code. */
export async function runFlashSaleCommand(args: string[]): Promise<number> {
  let options: FlashSaleOptions;
  try {
    options = parseFlashSaleOptions(args, process.env);
  } catch (error) {
    const parseError = (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ?? false;
    if (!(error instanceof FlashSaleUsageError) && !parseError) throw error;
    console.error(`stampede bench flash-sale: ${(error as Error).message}\n\n${flashSaleUsage}`);
    return 2;
  }
  try {
    return await runFlashSale(options, ['stampede bench flash-sale', ...args].join(' '));
  } catch (error) {
    // A target refused before the sale, or a secret missing: what to fix, not a stack.
    const code = (error as { code?: unknown }).code;
    if (code !== targetNotAuditable && code !== 'CONFIG_INVALID') throw error;
    clearProgress();
    console.error(`stampede bench flash-sale: ${(error as Error).message}`);
    return 2;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) console.log(flashSaleUsage);
  else
    runFlashSaleCommand(args).then(
      (code) => {
        process.exitCode = code;
      },
      (error: unknown) => {
        console.error(error);
        process.exitCode = 1;
      },
    );
}
