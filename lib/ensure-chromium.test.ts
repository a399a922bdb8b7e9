/**
 * On a fresh machine the README's test command passes as written: `npm test` installs the Chromium the
 * dashboard test drives before anything else (lib/ensure-chromium.ts), and CI runs exactly the README's
 * command, not a longer one of its own. The script itself: nothing to do when the browser is there, and a
 * clear reason when it cannot install it (no apt-get).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const root = join(import.meta.dirname, '..');
const script = join(root, 'lib', 'ensure-chromium.ts');

/** Runs the script with `path` as the browser to look for and only `binDir` on PATH. */
function ensure(path: string, binDir: string) {
  return spawnSync(process.execPath, ['--import=tsx', script, path], {
    cwd: root,
    env: { PATH: binDir },
    encoding: 'utf8',
  });
}

t.test("CI runs the README's test command, and npm test installs Chromium first", async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const readmeCommand = /^(npm install && npm test)\b/m.exec(readme)?.[1];
  t.equal(readmeCommand, 'npm install && npm test', "the README's test command");
  const ci = readFileSync(join(root, '.ci', 'run'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
  t.equal(ci.at(-1), readmeCommand, ".ci/run's command is the README's");
  t.notMatch(ci.join('\n'), /apt-get|chromium/, '.ci/run installs nothing of its own');
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  t.match(
    scripts.test,
    /^tsx lib\/ensure-chromium\.ts && /,
    'npm test ensures Chromium before anything else',
  );
});

t.test(
  'ensure-chromium: nothing to do when the browser is there; the reason when it cannot install',
  async (t) => {
    const present = ensure(process.execPath, '/usr/bin:/bin');
    t.equal(present.status, 0, present.stderr);
    t.equal(present.stderr, '', 'silent');
    // A PATH with a shell and nothing else: no apt-get to install with.
    const bin = mkdtempSync(join(tmpdir(), 'stampede-bin-'));
    t.teardown(() => rmSync(bin, { recursive: true, force: true }));
    symlinkSync('/bin/sh', join(bin, 'sh'));
    const missing = ensure(join(bin, 'no-chromium'), bin);
    t.equal(missing.status, 1);
    t.match(missing.stderr, /no-chromium is missing and there is no apt-get here/);
  },
);
