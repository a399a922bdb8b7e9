/** Test helper: a fresh temporary directory named after its user, removed at the test's teardown. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

export function tempDataDir(t: Test, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `stampede-${name}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
