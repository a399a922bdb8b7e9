/**
 * A data directory created before a limit existed still starts: the missing
 * limit takes its default, and limits it does record still decide.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { engineLimits, engineLimitsDefault } from '../engine/limits.ts';
import { adoptDataDirLimits, readDataDirLimits } from './data-dir-config.ts';

t.test('a limit added since the directory was created takes its default', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-ddc-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const { paymentReferencesMax: _added, ...older } = engineLimits({ orderTtlMs: 30_000 });
  writeFileSync(join(dataDir, 'engine.json'), JSON.stringify({ limits: older }));
  t.equal(readDataDirLimits(dataDir)?.paymentReferencesMax, engineLimitsDefault.paymentReferencesMax);
  t.doesNotThrow(() => adoptDataDirLimits(dataDir, engineLimits({ orderTtlMs: 30_000 })));
  t.throws(() => adoptDataDirLimits(dataDir, engineLimits()), { code: 'DATA_DIR_LIMITS_MISMATCH' });
});
