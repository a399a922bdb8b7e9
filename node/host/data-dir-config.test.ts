/**
 * A data directory created before a limit existed still starts: the missing
 * limit takes its default, and limits it does record still decide (the
 * host adopts them through lib/data-dir-config.ts with engineLimitsRecorded).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { engineLimits, engineLimitsDefault, engineLimitsRecorded } from '../../engine/limits.ts';
import { adoptDataDirLimits, readDataDirLimits } from '../../lib/data-dir-config.ts';

t.test('a limit added since the directory was created takes its default', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-ddc-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const { paymentReferencesMax: _added, ...older } = engineLimits({ orderTtlMs: 30_000 });
  writeFileSync(join(dataDir, 'engine.json'), JSON.stringify({ limits: older }));
  t.equal(
    readDataDirLimits(dataDir, engineLimitsRecorded)?.paymentReferencesMax,
    engineLimitsDefault.paymentReferencesMax,
  );
  t.doesNotThrow(() =>
    adoptDataDirLimits(dataDir, engineLimits({ orderTtlMs: 30_000 }), engineLimitsRecorded),
  );
  t.throws(() => adoptDataDirLimits(dataDir, engineLimits(), engineLimitsRecorded), {
    code: 'DATA_DIR_LIMITS_MISMATCH',
  });
});
