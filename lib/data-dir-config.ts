/**
 * The engine limits a data directory was created with, in `<data>/engine.json`.
 * Capacities shape the state arrays, the snapshots and the state hash, so a
 * directory keeps the limits it was created with: a node started with other
 * limits refuses with DATA_DIR_LIMITS_MISMATCH instead of replaying into a
 * differently shaped state, and `stampede replay` reads them from here.
 *
 * The limits' shape is the engine's (engine/limits.ts): callers pass its
 * `engineLimitsRecorded`, so lib/ imports nothing above it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The limits from what a directory recorded; throws when they are not valid limits. */
export type LimitsFromRecord<Limits> = (recorded: object) => Limits;

export class DataDirConfigError extends Error {
  readonly code: 'DATA_DIR_LIMITS_MISMATCH' | 'DATA_DIR_CONFIG_INVALID';
  readonly retriable = false;

  constructor(code: DataDirConfigError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

const configPath = (dataDir: string): string => join(dataDir, 'engine.json');

/** The limits recorded in the directory, or null for a new directory. */
export function readDataDirLimits<Limits>(
  dataDir: string,
  fromRecord: LimitsFromRecord<Limits>,
): Limits | null {
  const path = configPath(dataDir);
  if (!existsSync(path)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new DataDirConfigError(
      'DATA_DIR_CONFIG_INVALID',
      `${path} is not valid JSON: ${(error as Error).message}`,
    );
  }
  const limits = (parsed as { limits?: unknown }).limits;
  if (typeof limits !== 'object' || limits === null) {
    throw new DataDirConfigError('DATA_DIR_CONFIG_INVALID', `${path} has no "limits" object`);
  }
  try {
    return fromRecord(limits);
  } catch (error) {
    throw new DataDirConfigError('DATA_DIR_CONFIG_INVALID', `${path}: ${(error as Error).message}`);
  }
}

/** Records the limits in a new directory, or checks they match the recorded ones. */
export function adoptDataDirLimits<Limits extends object>(
  dataDir: string,
  limits: Limits,
  fromRecord: LimitsFromRecord<Limits>,
): void {
  const recorded = readDataDirLimits(dataDir, fromRecord);
  if (recorded === null) {
    writeFileSync(configPath(dataDir), `${JSON.stringify({ limits }, null, 2)}\n`);
    return;
  }
  checkDataDirLimits(dataDir, recorded, limits);
}

/** Throws DATA_DIR_LIMITS_MISMATCH naming every limit `asked` gives otherwise than `recorded`. */
export function checkDataDirLimits<Limits extends object>(
  dataDir: string,
  recorded: Readonly<Limits>,
  asked: Readonly<Partial<Record<keyof Limits, unknown>>>,
): void {
  const differing = (Object.keys(asked) as (keyof Limits & string)[]).filter(
    (key) => asked[key] !== undefined && recorded[key] !== asked[key],
  );
  if (differing.length > 0) {
    throw new DataDirConfigError(
      'DATA_DIR_LIMITS_MISMATCH',
      `data directory ${dataDir} was created with other engine limits (${differing
        .map((key) => `${key} ${recorded[key]} here, ${asked[key]} asked`)
        .join('; ')}); start with the recorded limits (leave them unset) or use a new data directory`,
    );
  }
}
