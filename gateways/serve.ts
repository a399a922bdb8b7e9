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
import { fileJournalSelectionFromEnv } from '../journal/journal-selection.ts';
import { verifyToken } from '../lib/tokens.ts';
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
import { StampedeServer } from './server.ts';
import { integerKeySlots, TokenBucketLimiter } from './token-bucket.ts';

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

export async function startFromConfig(
  config: GatewayConfig,
  log: (message: string) => void,
): Promise<StampedeServer> {
  return StampedeServer.start({
    dataDir: config.dataDir,
    // The file journal through fileJournalSelectionFromEnv: a test may give it a failing fs (TEST_JOURNAL_FS_MODULE).
    journal:
      config.journal === 'file' ? fileJournalSelectionFromEnv(process.env) : journalSelectionOf(config),
    limits: engineLimitsOf(config),
    host: config.host,
    httpPort: config.httpPort,
    notifyRingSlots: 65_536,
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
    busyRetryAfterMs: 50,
    httpBodyBytesMax: config.httpBodyBytesMax,
    pageSizeMax: 500,
    readModelOrdersMax: 1_000_000,
    payments: config.payments.sandbox,
    demoCatalog: config.demoCatalog,
    webhookSecret: config.webhookSecret,
    projections: { mysqlUrl: config.mysqlUrl, redisUrl: config.redisUrl, readModel: config.readModel },
    log,
  });
}

/**
 * How long a failed node may take to close its sockets and threads before it exits anyway: a socket, a
 * broker connection or a thread that does not answer must not keep a node up that takes no commands.
 */
const failedExitMs = 10_000;

export async function serve(options: {
  configFile?: string | undefined;
  overrides: ConfigOverrides;
}): Promise<number> {
  const log = (message: string): void => console.error(`stampede: ${message}`);
  const config = loadConfig({ env: process.env, file: options.configFile, overrides: options.overrides });
  const server = await startFromConfig(config, log);
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      server.stop().then(
        (stopped) => {
          log(`stopped at seq ${stopped.lastSeq}, state ${stopped.stateHash}`);
          resolve(0);
        },
        (error: unknown) => {
          log(`stop failed: ${error instanceof Error ? error.message : String(error)}`);
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
    server.host.onFailure((error) => {
      log(`node failed, exiting so it restarts from snapshot + journal: ${error.message}`);
      // Unref'd: a node whose handles all close exits by itself, sooner, with the code resolved below.
      setTimeout(() => {
        log(`still up ${failedExitMs} ms after failing: exiting now`);
        process.exit(1);
      }, failedExitMs).unref();
      stop(); // a graceful stop already under way ends in the failure too
    });
  });
}
