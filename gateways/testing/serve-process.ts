/**
 * A real `stampede serve` process for tests (through tsx, on a free port): the
 * port once its log says it listens, bounded by `startMsMax`; its exit code
 * (or the signal that ended it); and its log so far.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const cli = join(import.meta.dirname, '..', '..', 'cli.ts');

export interface ServeProcess {
  readonly child: ChildProcess;
  /** Rejects if the process exits first, or does not listen within startMsMax. */
  readonly port: Promise<number>;
  readonly exited: Promise<number | string>;
  stderr(): string;
}

export function spawnServe(
  dataDir: string,
  options: { env?: Record<string, string>; flags?: readonly string[]; startMsMax?: number } = {},
): ServeProcess {
  const startMsMax = options.startMsMax ?? 120_000;
  const child = spawn(
    process.execPath,
    ['--import=tsx', cli, 'serve', '--data', dataDir, '--port', '0', ...(options.flags ?? [])],
    { env: { ...process.env, ...options.env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const port = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`serve did not listen within ${startMsMax} ms: ${stderr}`)),
      startMsMax,
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on http:\/\/[^:]+:(\d+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}: ${stderr}`));
    });
  });
  // A test that never awaits the port (it expects the process to fail) must not see an unhandled rejection.
  port.catch(() => {});
  return { child, port, exited, stderr: () => stderr };
}
