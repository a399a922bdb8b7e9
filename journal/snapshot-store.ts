/**
 * Snapshot files in `<data>/snapshots/`: `snapshot-<lastSeq, 16 digits>.snap`,
 * each the engine's encoded state (engine/snapshot.ts) followed by a trailer
 * of its length (u64 as f64) and CRC32C (u32) plus magic. Written to a
 * temporary name, fsynced, renamed, and the directory fsynced, so a crash
 * leaves either the old set or the new one. The writer must only write a
 * snapshot once the journal is durable past its lastSeq (the host does).
 *
 * Recovery takes the newest snapshot whose trailer checks out; a bad one is
 * logged and skipped (an older one, or the journal from the start, still
 * gives the right state).
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32c } from './crc32c.ts';

const trailerBytes = 16;
const trailerMagic = 0x31544e53; // 'SNT1'
const namePattern = /^snapshot-(\d{16})\.snap$/;

export const snapshotsDir = (dataDir: string): string => join(dataDir, 'snapshots');
const fileName = (lastSeq: number): string => `snapshot-${String(lastSeq).padStart(16, '0')}.snap`;

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a snapshot durably; keeps the newest `keep` snapshots and deletes older ones. Returns the path. */
export function writeSnapshot(dataDir: string, lastSeq: number, bytes: Uint8Array, keep = 2): string {
  const dir = snapshotsDir(dataDir);
  mkdirSync(dir, { recursive: true });
  const trailer = new Uint8Array(trailerBytes);
  const view = new DataView(trailer.buffer);
  view.setFloat64(0, bytes.length, true);
  view.setUint32(8, crc32c(bytes, 0, bytes.length), true);
  view.setUint32(12, trailerMagic, true);
  const path = join(dir, fileName(lastSeq));
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w');
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    writeSync(fd, trailer);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  fsyncDir(dir);
  for (const old of listSnapshots(dataDir).slice(keep)) unlinkSync(join(dir, old.file));
  return path;
}

/** Snapshot files, newest first. */
export function listSnapshots(dataDir: string): { file: string; lastSeq: number }[] {
  let names: string[];
  try {
    names = readdirSync(snapshotsDir(dataDir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const found: { file: string; lastSeq: number }[] = [];
  for (const file of names) {
    const match = namePattern.exec(file);
    if (match) found.push({ file, lastSeq: Number(match[1]) });
  }
  return found.sort((a, b) => b.lastSeq - a.lastSeq);
}

/** The newest snapshot that verifies, or null. `maxSeq` skips snapshots beyond what the journal holds. */
export function readNewestSnapshot(
  dataDir: string,
  log: (message: string) => void,
  maxSeq = Number.MAX_SAFE_INTEGER,
): { lastSeq: number; bytes: Uint8Array; file: string } | null {
  for (const { file, lastSeq } of listSnapshots(dataDir)) {
    if (lastSeq > maxSeq) {
      log(`snapshot ${file} covers seq ${lastSeq}, past the journal's end ${maxSeq}: skipped`);
      continue;
    }
    const all = readFileSync(join(snapshotsDir(dataDir), file));
    const bytes = new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
    const problem = verify(bytes);
    if (problem !== null) {
      log(`snapshot ${file} is unusable (${problem}): skipped`);
      continue;
    }
    return { lastSeq, bytes: bytes.subarray(0, bytes.length - trailerBytes), file };
  }
  return null;
}

function verify(bytes: Uint8Array): string | null {
  if (bytes.length < trailerBytes) return 'shorter than its trailer';
  const view = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - trailerBytes, trailerBytes);
  if (view.getUint32(12, true) !== trailerMagic) return 'no trailer (torn write?)';
  const length = view.getFloat64(0, true);
  if (length !== bytes.length - trailerBytes) return `length ${length} != ${bytes.length - trailerBytes}`;
  if (view.getUint32(8, true) !== crc32c(bytes, 0, length)) return 'checksum mismatch';
  return null;
}
