/**
 * The durable epoch's async wait, as a gateway thread uses it: woken by a
 * commit, ended by its timeout otherwise, and holding the process's event
 * loop open exactly while it waits.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { ControlBlock } from './control-block.ts';

t.test('a commit wakes every waiter; without one, each wait ends at its timeout', async (t) => {
  const control = new ControlBlock();
  const epoch = control.durableEpoch;
  const woken = Promise.all([
    control.waitDurableEpochChange(epoch, 10_000),
    control.waitDurableEpochChange(epoch, 10_000),
  ]);
  const started = performance.now();
  control.setDurableSeq(7);
  await woken;
  t.ok(performance.now() - started < 5_000, 'both woken by the commit, not by their timeout');
  t.equal(control.durableSeq, 7);
  const waitStarted = performance.now();
  await control.waitDurableEpochChange(control.durableEpoch, 50);
  t.ok(performance.now() - waitStarted >= 45, 'no commit: the wait lasts its timeout');
  const passedStarted = performance.now();
  await control.waitDurableEpochChange(epoch, 10_000);
  t.ok(performance.now() - passedStarted < 5_000, 'an epoch already passed returns at once');
});

t.test('a pending wait keeps the process alive, and lets it exit once it ends', async (t) => {
  const child = join(import.meta.dirname, 'control-block.test-child.ts');
  const started = performance.now();
  const { stdout } = await promisify(execFile)(process.execPath, ['--import=tsx', child, '300'], {
    timeout: 60_000,
  });
  const waitedMs = Number(/waited (\d+) ms/.exec(stdout)?.[1]);
  t.ok(waitedMs >= 290, `the process waited the wait's 300 ms (${stdout.trim()})`);
  // The process's own start-up (tsx) is part of the elapsed time; a left-over keep-alive would be days.
  t.ok(performance.now() - started < 30_000, 'and exited when it ended');
});
