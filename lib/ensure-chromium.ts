/**
 * `npm test`'s first step: the dashboard test drives Debian's Chromium at /usr/bin/chromium through
 * playwright-core (which downloads no browser), so on a fresh Debian machine this installs it with apt-get
 * (through sudo when not root), and the README's `npm install && npm test` passes as written. Does nothing
 * when the browser is there; elsewhere (no apt-get) it exits 1 saying what to install.
 *
 *   tsx lib/ensure-chromium.ts [PATH]   (PATH: the browser to look for, default /usr/bin/chromium)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const chromiumPath = process.argv[2] ?? '/usr/bin/chromium';

/** Runs a command with its output on ours; true when it exits 0. */
function run(command: string, args: readonly string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  return result.status === 0;
}

/** Whether `command` is on PATH (`command -v` is POSIX sh's which). */
const onPath = (command: string): boolean =>
  spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

function ensureChromium(): number {
  if (existsSync(chromiumPath)) return 0;
  if (!onPath('apt-get')) {
    console.error(
      `${chromiumPath} is missing and there is no apt-get here: the dashboard test needs Chromium at ${chromiumPath} (Debian's package chromium); install it, then run npm test again`,
    );
    return 1;
  }
  const root = process.getuid?.() === 0;
  if (!root && !onPath('sudo')) {
    console.error(`${chromiumPath} is missing: run apt-get install chromium as root, then npm test again`);
    return 1;
  }
  console.error(`${chromiumPath} is missing: installing Debian's chromium for the dashboard test`);
  const apt = (args: readonly string[]): boolean =>
    root ? run('apt-get', args) : run('sudo', ['apt-get', ...args]);
  if (
    apt(['update']) &&
    apt(['install', '-y', '--no-install-recommends', 'chromium']) &&
    existsSync(chromiumPath)
  )
    return 0;
  console.error(
    `installing chromium did not give ${chromiumPath}: install it by hand, then run npm test again`,
  );
  return 1;
}

process.exitCode = ensureChromium();
