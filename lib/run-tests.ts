/**
 * `npm test`'s runner: runs tap (arguments pass through), streams its output,
 * and ends with the plain line CI reads — "N passed, N failed, N skipped" —
 * taken from tap's own closing summary. Exits with tap's exit code, and
 * non-zero when tap ran no test at all.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const tapBin = fileURLToPath(new URL('../node_modules/.bin/tap', import.meta.url));
const child = spawn(process.execPath, [tapBin, ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let tail = '';
child.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-4096);
});
child.on('close', (code) => {
  // tap closes with a line like: # { total: 752, pass: 750, fail: 1, skip: 1 }
  const summary = [...tail.matchAll(/#\s*\{\s*total:\s*(\d+)([^}]*)\}/g)].pop();
  const count = (name: string): number =>
    Number(new RegExp(`${name}:\\s*(\\d+)`).exec(summary?.[2] ?? '')?.[1] ?? 0);
  const total = Number(summary?.[1] ?? 0);
  console.log(`${count('pass')} passed, ${count('fail')} failed, ${count('skip') + count('todo')} skipped`);
  process.exit(total === 0 ? 1 : (code ?? 1));
});
