/**
 * Test helper: runs `stampede ARGS` (cli.ts through tsx) as a real process and collects its output. A
 * generous bound kills it, so a command that wrongly keeps running (a node that ignored a bad setting)
 * fails its test instead of hanging it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const cli = join(import.meta.dirname, '..', 'cli.ts');

export function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  runMsMax = 120_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import=tsx', cli, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), runMsMax);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    }),
  );
}
