/**
 * Snapshot files in `<data>/snapshots/`: `snapshot-<lastSeq, 16 digits>.snap`. Format 2 (trailer magic
 * 'SNT2'):
 *
 *   [engine state (engine/snapshot.ts)] [journal identity: UTF-8 JSON, journal-identity.ts] [trailer, 20 bytes]
 *   trailer: state length (u64 as f64) | identity length (u32) | CRC32C of state + identity (u32) | magic (u32)
 *
 * The identity names the journal whose records the state is the sum of, up to lastSeq: recovery refuses a
 * snapshot over another journal (JOURNAL_MISMATCH). It lives in this framing, not in the engine's encoding,
 * so the two change independently. Written to a temporary name, fsynced, renamed, and the directory
 * fsynced, so a crash leaves either the old set or the new one. The writer must only write a snapshot once
 * the journal is durable past its lastSeq (the host does).
 *
 * Recovery takes the newest snapshot whose trailer checks out; a damaged one, or one in format 1 (trailer
 * 'SNT1', no identity), is logged and skipped: an older one, or the journal from the start, still gives the
 * right state (and where the journal no longer holds those records, recovery stops with JOURNAL_GAP). A
 * snapshot past the journal's end is not skipped: recovery refuses it (journal-identity.ts,
 * checkJournalHistory), since starting without it would lose what it holds.
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
import { decodeIdentity, encodeIdentity, type JournalIdentity } from './journal-identity.ts';

const trailerBytes = 20;
const trailerMagic = 0x32544e53; // 'SNT2'
const formatOneMagic = 0x31544e53; // 'SNT1': no identity; read as unusable
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

function writeAll(fd: number, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
}

/**
 * Writes a snapshot of the state over `journal` durably; keeps the newest `keep` snapshots and deletes
 * older ones. Returns the path.
 */
export function writeSnapshot(
  dataDir: string,
  lastSeq: number,
  bytes: Uint8Array,
  journal: JournalIdentity,
  keep = 2,
): string {
  const dir = snapshotsDir(dataDir);
  mkdirSync(dir, { recursive: true });
  const identity = encodeIdentity(journal);
  const trailer = new Uint8Array(trailerBytes);
  const view = new DataView(trailer.buffer);
  view.setFloat64(0, bytes.length, true);
  view.setUint32(8, identity.length, true);
  const crc = crc32c(identity, 0, identity.length, crc32c(bytes, 0, bytes.length));
  view.setUint32(12, crc, true);
  view.setUint32(16, trailerMagic, true);
  const path = join(dir, fileName(lastSeq));
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w');
  try {
    writeAll(fd, bytes);
    writeAll(fd, identity);
    writeAll(fd, trailer);
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

export interface StoredSnapshot {
  file: string;
  lastSeq: number;
  /** The engine state (engine/snapshot.ts encoding). */
  bytes: Uint8Array;
  /** The journal it was taken over. */
  journal: JournalIdentity;
}

/** The newest snapshot that verifies, or null. Whether it fits the journal is the caller's check. */
export function readNewestSnapshot(dataDir: string, log: (message: string) => void): StoredSnapshot | null {
  for (const { file, lastSeq } of listSnapshots(dataDir)) {
    const all = readFileSync(join(snapshotsDir(dataDir), file));
    const read = parse(new Uint8Array(all.buffer, all.byteOffset, all.byteLength));
    if (typeof read === 'string') {
      log(`snapshot ${file} is unusable (${read}): skipped`);
      continue;
    }
    return { file, lastSeq, ...read };
  }
  return null;
}

function parse(bytes: Uint8Array): { bytes: Uint8Array; journal: JournalIdentity } | string {
  if (bytes.length < 4) return 'shorter than its trailer';
  const magic = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true);
  if (magic === formatOneMagic) return 'format 1, written before snapshots named their journal';
  if (magic !== trailerMagic) return 'no trailer (torn write?)';
  if (bytes.length < trailerBytes) return 'shorter than its trailer';
  const view = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - trailerBytes, trailerBytes);
  const stateLength = view.getFloat64(0, true);
  const identityLength = view.getUint32(8, true);
  const bodyLength = bytes.length - trailerBytes;
  if (!Number.isSafeInteger(stateLength) || stateLength + identityLength !== bodyLength) {
    return `lengths ${stateLength} + ${identityLength} != ${bodyLength}`;
  }
  if (view.getUint32(12, true) !== crc32c(bytes, 0, bodyLength)) return 'checksum mismatch';
  const journal = decodeIdentity(bytes.subarray(stateLength, bodyLength));
  if (journal === null) return 'its journal identity does not parse';
  return { bytes: bytes.subarray(0, stateLength), journal };
}
