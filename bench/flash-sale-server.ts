/**
 * The Stampede node the flash-sale bench measures when no --target is given:
 * `stampede serve` in a child process (through tsx when the bench runs from
 * source), over a fresh temporary data directory, configured through the
 * environment. A separate process, so its CPU time and peak RSS are its own
 * (/proc/<pid>), apart from the load generator's.
 *
 * The child's stderr is the contract: `listening on http://host:port` when
 * it is up, `stopped at seq N, state HASH` after SIGTERM (serve.ts). The
 * last lines are kept (bounded) to explain a failure.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const serverChildLimits = Object.freeze({
  startTimeoutMs: 60_000,
  /** A graceful stop writes a snapshot of the whole engine state; give it time. */
  stopTimeoutMs: 120_000,
  stderrLinesKept: 40,
});

export interface ServerChild {
  readonly pid: number;
  readonly port: number;
  readonly dataDir: string;
  /** SIGTERM, then the live state the node reported as it stopped. */
  stop(): Promise<{ lastSeq: number; stateHash: string }>;
  /** Kills the child if it still runs and removes the data directory. */
  dispose(): void;
}

export async function startServerChild(env: Record<string, string>): Promise<ServerChild> {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-flash-sale-'));
  const self = fileURLToPath(import.meta.url);
  const cli = fileURLToPath(new URL(self.endsWith('.ts') ? '../cli.ts' : '../cli.js', import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, cli, 'serve'], {
    env: {
      ...process.env,
      // An empty store: the bench creates its SKUs from 1 and audits every unit (a fresh directory's demo catalog would collide).
      STAMPEDE_DEMO_CATALOG: 'false',
      ...env,
      STAMPEDE_DATA_DIR: dataDir,
      STAMPEDE_HOST: '127.0.0.1',
      STAMPEDE_HTTP_PORT: '0',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: string[] = [];
  let stopped: { lastSeq: number; stateHash: string } | null = null;
  let onLine: (line: string) => void = () => {};
  let pending = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      lines.push(line);
      if (lines.length > serverChildLimits.stderrLinesKept) lines.shift();
      const stop = /stopped at seq (\d+), state ([0-9a-f]+)/.exec(line); // the hash is hex; JSON lines go on after it
      if (stop !== null) stopped = { lastSeq: Number(stop[1]), stateHash: stop[2]! };
      onLine(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const explain = (what: string): Error =>
    new Error(`${what}; its last output:\n${lines.map((l) => `  | ${l}`).join('\n')}`);
  const dispose = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(explain(`the server did not start within ${serverChildLimits.startTimeoutMs} ms`)),
        serverChildLimits.startTimeoutMs,
      );
      onLine = (line) => {
        const listening = /listening on http:\/\/[^\s]+:(\d+)/.exec(line);
        if (listening !== null) {
          clearTimeout(timer);
          resolve(Number(listening[1]));
        }
      };
      void exited.then((code) => {
        clearTimeout(timer);
        reject(explain(`the server exited with code ${code} before listening`));
      });
    });
    onLine = () => {};
    return {
      pid: child.pid!,
      port,
      dataDir,
      dispose,
      stop: async () => {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), serverChildLimits.stopTimeoutMs);
        const code = await exited;
        clearTimeout(timer);
        if (code !== 0 || stopped === null) throw explain(`the server stopped with code ${code}`);
        return stopped;
      },
    };
  } catch (error) {
    dispose();
    throw error;
  }
}
