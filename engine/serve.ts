/**
 * `stampede serve`: one node with its embedded defaults — the engine and
 * journal threads over a data directory, and a ticker that feeds the timer
 * wheel. SIGINT/SIGTERM stop it gracefully: refuse new work, drain, fsync,
 * write a snapshot, exit 0.
 *
 * The WebSocket and HTTP gateways attach here (gateways/, issue 3).
 */

import { CommandClient } from './command-client.ts';
import { writeCommand } from './commands.ts';
import { EngineHost } from './engine-host.ts';

export async function serve(options: { dataDir: string }): Promise<number> {
  const log = (message: string): void => console.error(`stampede: ${message}`);
  const host = await EngineHost.start({ dataDir: options.dataDir, log });
  const client = new CommandClient(host.producers[0]!, host.control);
  log(
    `node running on data directory ${options.dataDir} (engine at seq ${host.ready.lastSeq}, state ${host.ready.stateHash})`,
  );

  // Time enters the engine only as commands: one Tick per timer slot.
  const ticker = setInterval(() => {
    client.submit(
      (w, f, at, correlationId) => writeCommand(w, f, at, correlationId, Date.now(), { type: 'tick' }),
      () => {},
    );
  }, host.limits.timerSlotMs);

  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: stopping (draining, fsyncing, writing a snapshot)`);
      clearInterval(ticker);
      client.close();
      host.stop().then(
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
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    host.onFailure((error) => {
      log(`node failed, exiting so it restarts from snapshot + journal: ${error.message}`);
      clearInterval(ticker);
      resolve(1);
    });
  });
}
