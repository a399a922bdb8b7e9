/**
 * Snapshot encoding: the engine state as one byte buffer, and back. The
 * engine thread encodes (no I/O here); the journal side
 * (journal/snapshot-store.ts) frames it with a checksum and writes it with
 * fsync, only once the journal is durable past the snapshot's lastSeq.
 *
 * Version 2 (written): only what differs from a fresh state of the same
 * limits, so a snapshot's size follows the orders, SKUs and buyers in use,
 * not the capacities (an empty default store: ~3 KiB of header plus the
 * 400 KiB availability array, where version 1 wrote 366 MiB).
 *
 *   0  magic u32 'STS1'   4  version u32   8  headerBytes u32   12 (zero)
 *   16 header: UTF-8 JSON { limits, lastSeq, arrays: [{ name, bytes, runs }] }
 *   ...zero padding to 8, then for each array in stateArrays() order its
 *      `runs` runs (engine/state-runs.ts): start word u32, word count u32,
 *      the words, zero padding to 8.
 * Decoding builds a fresh state from the header's limits and writes the runs
 * over it, so the words outside them are the baseline by construction.
 *
 * Version 1 (read, never written): the same prefix and header without
 * `runs`, then every array whole, each padded to 8. Read so that a data
 * directory whose newest snapshot predates version 2 still starts (its
 * journal may already be pruned up to that snapshot); the next snapshot the
 * node takes is version 2. Other versions are refused (SNAPSHOT_INVALID).
 *
 * Adding an array to the state is one line in stateArrays() (state.ts), at
 * the end of the list: the header names every array with its byte length, so
 * a snapshot taken before the array existed is refused with a message naming
 * it (or, to read such snapshots, bump snapshotVersion and let decode leave
 * the new array at its baseline when the header lacks it).
 */
import { type EngineLimits, validateEngineLimits } from './limits.ts';
import { EngineState, Scalar, type StateArray, stateArrays } from './state.ts';
import { forEachChangedRun, wordAt, wordCountOf } from './state-runs.ts';

export const snapshotMagic = 0x31535453; // 'STS1' little-endian
export const snapshotVersion = 2;
const snapshotVersionWhole = 1;
const prefixBytes = 16;
const runHeaderBytes = 8;
const align8 = (n: number): number => (n + 7) & ~7;

interface SnapshotHeader {
  limits: EngineLimits;
  lastSeq: number;
  /** runs: absent in version 1. */
  arrays: { name: string; bytes: number; runs?: number }[];
}

export function encodeSnapshot(state: EngineState): Uint8Array {
  const arrays = stateArrays(state);
  // Pass 1: the runs of every array (start, end word pairs), which size the buffer.
  const runsOf = arrays.map((entry) => {
    const runs: number[] = [];
    forEachChangedRun(entry, (start, end) => runs.push(start, end));
    return runs;
  });
  const header: SnapshotHeader = {
    limits: state.limits,
    lastSeq: state.scalars[Scalar.lastSeq]!,
    arrays: arrays.map(({ name, array }, i) => ({
      name,
      bytes: array.byteLength,
      runs: runsOf[i]!.length / 2,
    })),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  let total = align8(prefixBytes + json.length);
  for (const runs of runsOf) {
    for (let r = 0; r < runs.length; r += 2) total += runHeaderBytes + align8((runs[r + 1]! - runs[r]!) * 4);
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, snapshotMagic, true);
  view.setUint32(4, snapshotVersion, true);
  view.setUint32(8, json.length, true);
  out.set(json, prefixBytes);
  // Pass 2: the runs' words. Every offset is a multiple of 4, so words go in through one Int32Array.
  const outWords = new Int32Array(out.buffer);
  let at = align8(prefixBytes + json.length);
  arrays.forEach(({ array }, i) => {
    const runs = runsOf[i]!;
    const whole = array.byteLength >> 2;
    const words = new Int32Array(array.buffer, array.byteOffset, whole);
    for (let r = 0; r < runs.length; r += 2) {
      const start = runs[r]!;
      const end = runs[r + 1]!;
      outWords[at >> 2] = start;
      outWords[(at >> 2) + 1] = end - start;
      at += runHeaderBytes;
      outWords.set(words.subarray(start, Math.min(end, whole)), at >> 2);
      if (end > whole) outWords[(at >> 2) + whole - start] = wordAt(array, whole);
      at += align8((end - start) * 4);
    }
  });
  return out;
}

export class SnapshotFormatError extends Error {
  readonly code = 'SNAPSHOT_INVALID';
}

/** The sequence a snapshot covers, without decoding the state. */
export function snapshotLastSeq(bytes: Uint8Array): number {
  return readHeader(bytes).header.lastSeq;
}

/**
 * Rebuilds the state. `availabilityBuffer` lets the engine keep publishing
 * into the SharedArrayBuffer gateways already hold; `prefault` as for EngineState.
 */
export function decodeSnapshot(
  bytes: Uint8Array,
  availabilityBuffer?: SharedArrayBuffer,
  options: { prefault?: boolean } = {},
): EngineState {
  const { header, version, dataStart } = readHeader(bytes);
  let limits: EngineLimits;
  try {
    limits = validateEngineLimits(header.limits);
  } catch (error) {
    throw new SnapshotFormatError(`snapshot limits are invalid: ${(error as Error).message}`);
  }
  const state = new EngineState(limits, availabilityBuffer, options);
  const arrays = stateArrays(state);
  if (arrays.length !== header.arrays.length) {
    throw new SnapshotFormatError(
      `snapshot has ${header.arrays.length} arrays, this engine has ${arrays.length}`,
    );
  }
  const read = version === snapshotVersionWhole ? readWhole : readRuns;
  let at = dataStart;
  arrays.forEach((entry, i) => {
    const stored = header.arrays[i]!;
    if (stored.name !== entry.name || stored.bytes !== entry.array.byteLength) {
      throw new SnapshotFormatError(
        `snapshot array ${i} is ${stored.name}/${stored.bytes}B, expected ${entry.name}/${entry.array.byteLength}B`,
      );
    }
    at = read(bytes, at, entry, stored.runs);
  });
  if (at !== bytes.length)
    throw new SnapshotFormatError(`snapshot has ${bytes.length - at} bytes after its last array`);
  return state;
}

/** Version 1: the array's bytes whole. Returns the offset after them. */
function readWhole(bytes: Uint8Array, at: number, { name, array }: StateArray): number {
  if (at + array.byteLength > bytes.length)
    throw new SnapshotFormatError(`snapshot truncated in array ${name}`);
  bytesOf(array).set(bytes.subarray(at, at + array.byteLength));
  return at + align8(array.byteLength);
}

/** Version 2: the array's runs over its baseline. Returns the offset after them. */
function readRuns(
  bytes: Uint8Array,
  at: number,
  { name, array }: StateArray,
  runs: number | undefined,
): number {
  if (runs === undefined || !Number.isSafeInteger(runs) || runs < 0)
    throw new SnapshotFormatError(`snapshot array ${name} has no run count`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const target = bytesOf(array);
  const wordCount = wordCountOf(array);
  let next = 0; // runs are in order and apart: a run before the previous one's end is corrupt
  for (let r = 0; r < runs; r++) {
    if (at + runHeaderBytes > bytes.length)
      throw new SnapshotFormatError(`snapshot truncated in array ${name}`);
    const start = view.getUint32(at, true);
    const count = view.getUint32(at + 4, true);
    at += runHeaderBytes;
    if (start < next || count === 0 || start + count > wordCount)
      throw new SnapshotFormatError(`snapshot array ${name}: run ${r} [${start}, +${count}) out of place`);
    if (at + count * 4 > bytes.length) throw new SnapshotFormatError(`snapshot truncated in array ${name}`);
    const from = start * 4;
    const length = Math.min(count * 4, array.byteLength - from); // a partial last word keeps its bytes only
    target.set(bytes.subarray(at, at + length), from);
    at += align8(count * 4);
    next = start + count;
  }
  return at;
}

const bytesOf = (array: ArrayBufferView): Uint8Array =>
  new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

function readHeader(bytes: Uint8Array): { header: SnapshotHeader; version: number; dataStart: number } {
  if (bytes.length < prefixBytes) throw new SnapshotFormatError('snapshot shorter than its prefix');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== snapshotMagic) throw new SnapshotFormatError('not a snapshot (bad magic)');
  const version = view.getUint32(4, true);
  if (version !== snapshotVersion && version !== snapshotVersionWhole) {
    throw new SnapshotFormatError(
      `snapshot version ${version} is not one this engine reads (${snapshotVersionWhole}, ${snapshotVersion})`,
    );
  }
  const jsonBytes = view.getUint32(8, true);
  if (prefixBytes + jsonBytes > bytes.length) throw new SnapshotFormatError('snapshot header truncated');
  let header: SnapshotHeader;
  try {
    header = JSON.parse(
      new TextDecoder().decode(bytes.subarray(prefixBytes, prefixBytes + jsonBytes)),
    ) as SnapshotHeader;
  } catch (error) {
    throw new SnapshotFormatError(`snapshot header is not JSON: ${(error as Error).message}`);
  }
  const shapeOk =
    typeof header === 'object' &&
    header !== null &&
    typeof header.limits === 'object' &&
    header.limits !== null &&
    Number.isSafeInteger(header.lastSeq) &&
    Array.isArray(header.arrays) &&
    header.arrays.every((a) => typeof a?.name === 'string' && Number.isSafeInteger(a.bytes));
  if (!shapeOk) throw new SnapshotFormatError('snapshot header lacks limits, lastSeq or arrays');
  return { header, version, dataStart: align8(prefixBytes + jsonBytes) };
}
