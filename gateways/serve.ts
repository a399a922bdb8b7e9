/**
 * `stampede serve` (and `npm start`): one node with its embedded defaults —
 * engine and journal threads over a data directory, the checkout WebSocket
 * and the HTTP API — configured from defaults < an optional JSON file <
 * the environment < command-line flags, all validated before anything
 * starts. SIGINT/SIGTERM stop it gracefully (refuse new work, answer what is
 * in flight, fsync, snapshot) and exit 0. A node that fails (its journal,
 * most often) exits 1 within failedExitMs, so its supervisor restarts it
 * from snapshot + journal: commands in flight were answered
 * JOURNAL_UNAVAILABLE, and the sockets closed, on the way.
 */
import { relative } from 'node:path';
import type { Logger } from 'pino';
import { fileJournalSelectionFromEnv } from '../journal/journal-selection.ts';
import { nodeLimits } from '../node/limits.ts';
import { createNodeLogger } from '../node/log.ts';
import { StampedeNode } from '../node/node.ts';
import type { DemoCatalogRule } from '../node/node-options.ts';
import type { TokenCheck } from './checkout-service.ts';
import {
  type ConfigOverrides,
  engineLimitsOf,
  type GatewayConfig,
  journalSelectionOf,
  loadConfig,
  tokenSecretOf,
} from './config.ts';
import { closeCodeOf, httpStatusOf } from './errors.ts';
import { integerKeySlots, TokenBucketLimiter } from './token-bucket.ts';
import { verifyToken } from './tokens.ts';

/** Turns a verified token into what the checkout service needs. */
export function tokenVerifier(secret: string): (token: string, nowMs: number) => TokenCheck {
  return (token, nowMs) => {
    const check = verifyToken(secret, token, nowMs);
    if (!check.ok) return { ok: false, code: check.code, message: `the token was refused (${check.code})` };
    const claims = check.claims;
    return {
      ok: true,
      role: claims.role,
      buyerId: claims.role === 'buyer' ? claims.buyerId : 0,
      expiresAtMs: claims.expiresAtMs,
    };
  };
}

/**
 * When the node loads the demo catalog: 'auto' is a fresh data directory's first look at a store outside
 * production, and nothing in production, where made-up products must never go on sale (an explicit true
 * there is refused by loadConfig).
 */
export function demoCatalogOf(config: GatewayConfig): DemoCatalogRule {
  if (config.demoCatalog !== 'auto') return config.demoCatalog;
  return config.production ? false : 'fresh';
}

/** The node a configuration describes, running `modules` (all when undefined). */
export async function startFromConfig(
  config: GatewayConfig,
  logger: Logger,
  modules?: readonly string[],
): Promise<StampedeNode> {
  return StampedeNode.start(
    {
      dataDir: config.dataDir,
      // The file journal through fileJournalSelectionFromEnv: a test may give it a failing fs (TEST_JOURNAL_FS_MODULE).
      journal:
        config.journal === 'file' ? fileJournalSelectionFromEnv(process.env) : journalSelectionOf(config),
      limits: engineLimitsOf(config),
      host: config.host,
      httpPort: config.httpPort,
      notifyRingSlots: nodeLimits.notifyRingSlots,
      verifyToken: tokenVerifier(tokenSecretOf(config)),
      buyerLimiter: new TokenBucketLimiter<number>({
        ratePerSecond: config.buyerRequestsPerSecond,
        burst: config.buyerBurst,
        keysMax: config.buyerRateKeysMax,
        keySlots: integerKeySlots,
      }),
      ipLimiter: new TokenBucketLimiter({
        ratePerSecond: config.ipRequestsPerSecond,
        burst: config.ipBurst,
        keysMax: config.ipRateKeysMax,
      }),
      httpStatusOf,
      closeCodeOf,
      wsPayloadBytesMax: config.wsPayloadBytesMax,
      linesPerOrderMax: config.linesPerOrderMax,
      wsBackpressureBytesMax: config.wsBackpressureBytesMax,
      wsIdleTimeoutSeconds: config.wsIdleTimeoutSeconds,
      connectionsMax: config.connectionsMax,
      batchMessagesMax: config.commandsPerFrameMax,
      busyRetryAfterMs: nodeLimits.busyRetryAfterMs,
      httpBodyBytesMax: config.httpBodyBytesMax,
      pageSizeMax: nodeLimits.pageSizeMax,
      readModelOrdersMax: nodeLimits.readModelOrdersMax,
      payments: config.payments.sandbox,
      demoCatalog: demoCatalogOf(config),
      webhookSecret: config.webhookSecret,
      projections: { mysqlUrl: config.mysqlUrl, redisUrl: config.redisUrl, readModel: config.readModel },
      logger,
    },
    { modules },
  );
}

/**
 * What a newcomer does next, once the node listens: where the store is, how
 * to get a token, how to add a product. The commands are spelled the way
 * this process was started (`node dist/cli.js`, or through tsx).
 */
export function firstSteps(config: GatewayConfig, port: number): string[] {
  const base = `http://${config.host}:${port}`;
  const script = process.argv[1] === undefined ? 'cli.js' : relative(process.cwd(), process.argv[1]);
  const cli = ['node', ...process.execArgv, script].join(' ');
  const data = `--data ${config.dataDir}`;
  return [
    `the store: ${base}/v1/products (live dashboard: ${base}/dashboard, API: ${base}/openapi.json)`,
    `a token: ${cli} token --admin ${data} (a buyer's: --buyer 42)`,
    `add a product: curl -X POST ${base}/v1/admin/products -H "authorization: Bearer $(${cli} token --admin ${data})" -H 'content-type: application/json' -d '{"skuId":10,"priceMinor":1999,"currency":"USD","stock":100}'`,
  ];
}

/**
 * How long a failed node may take to close its sockets and threads before it exits anyway: a socket, a
 * broker connection or a thread that does not answer must not keep a node up that takes no commands.
 */
const failedExitMs = 10_000;

export async function serve(options: {
  configFile?: string | undefined;
  overrides: ConfigOverrides;
  /** `--modules a,b,c`: the modules to run (default all). */
  modules?: readonly string[] | undefined;
}): Promise<number> {
  const config = loadConfig({ env: process.env, file: options.configFile, overrides: options.overrides });
  const logger = createNodeLogger({ level: config.logLevel, format: config.logFormat });
  const serveLog = logger.child({ module: 'serve' });
  const log = (message: string): void => serveLog.info(message);
  const server = await startFromConfig(config, logger, options.modules);
  if (server.routes.includes('POST /v1/admin/products')) {
    for (const line of firstSteps(config, server.port)) log(line);
  }
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      server.stop().then(
        (stopped) => {
          log(stopped === null ? 'stopped' : `stopped at seq ${stopped.lastSeq}, state ${stopped.stateHash}`);
          resolve(0);
        },
        (error: unknown) => {
          serveLog.error({ err: error }, 'stop failed');
          resolve(1);
        },
      );
    };
    const onSignal = (signal: string): void => {
      if (stopping) return;
      log(
        `${signal}: stopping (refusing new work, answering what is in flight, fsyncing, writing a snapshot)`,
      );
      stop();
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    server.engine?.host.onFailure((error) => {
      serveLog.fatal(
        { err: error },
        `node failed, exiting so it restarts from snapshot + journal: ${error.message}`,
      );
      // Unref'd: a node whose handles all close exits by itself, sooner, with the code resolved below.
      setTimeout(() => {
        serveLog.fatal(`still up ${failedExitMs} ms after failing: exiting now`);
        process.exit(1);
      }, failedExitMs).unref();
      stop(); // a graceful stop already under way ends in the failure too
    });
  });
}
