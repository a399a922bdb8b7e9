/**
 * Snapshot encoding: the whole engine state as one byte buffer, and back.
 * The engine thread copies its arrays into the buffer (no I/O here); the
 * journal side (journal/snapshot-store.ts) adds a checksum, writes it with
 * fsync and only once the journal is durable past the snapshot's lastSeq.
 *
 *   0  magic u32 'STS1'   4  version u32   8  headerBytes u32   12 (zero)
 *   16 header: UTF-8 JSON { limits, lastSeq, arrays: [{ name, bytes }] }
 *   ...zero padding to 8, then each array's bytes in stateArrays() order,
 *      each padded to 8.
 */
import { type EngineLimits, validateEngineLimits } from './limits.ts';
import { EngineState, Scalar, stateArrays } from './state.ts';

export const snapshotMagic = 0x31535453; // 'STS1' little-endian
export const snapshotVersion = 1;
const prefixBytes = 16;
const align8 = (n: number): number => (n + 7) & ~7;

interface SnapshotHeader {
  limits: EngineLimits;
  lastSeq: number;
  arrays: { name: string; bytes: number }[];
}

export function encodeSnapshot(state: EngineState): Uint8Array {
  const arrays = stateArrays(state);
  const header: SnapshotHeader = {
    limits: state.limits,
    lastSeq: state.scalars[Scalar.lastSeq]!,
    arrays: arrays.map(({ name, array }) => ({ name, bytes: array.byteLength })),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  let total = align8(prefixBytes + json.length);
  for (const { array } of arrays) total += align8(array.byteLength);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, snapshotMagic, true);
  view.setUint32(4, snapshotVersion, true);
  view.setUint32(8, json.length, true);
  out.set(json, prefixBytes);
  let at = align8(prefixBytes + json.length);
  for (const { array } of arrays) {
    out.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), at);
    at += align8(array.byteLength);
  }
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
 * into the SharedArrayBuffer gateways already hold.
 */
export function decodeSnapshot(bytes: Uint8Array, availabilityBuffer?: SharedArrayBuffer): EngineState {
  const { header, dataStart } = readHeader(bytes);
  const state = new EngineState(validateEngineLimits(header.limits), availabilityBuffer);
  const arrays = stateArrays(state);
  if (arrays.length !== header.arrays.length) {
    throw new SnapshotFormatError(
      `snapshot has ${header.arrays.length} arrays, this engine has ${arrays.length}`,
    );
  }
  let at = dataStart;
  arrays.forEach(({ name, array }, i) => {
    const stored = header.arrays[i]!;
    if (stored.name !== name || stored.bytes !== array.byteLength) {
      throw new SnapshotFormatError(
        `snapshot array ${i} is ${stored.name}/${stored.bytes}B, expected ${name}/${array.byteLength}B`,
      );
    }
    if (at + stored.bytes > bytes.length)
      throw new SnapshotFormatError(`snapshot truncated in array ${name}`);
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(
      bytes.subarray(at, at + stored.bytes),
    );
    at += align8(stored.bytes);
  });
  return state;
}

function readHeader(bytes: Uint8Array): { header: SnapshotHeader; dataStart: number } {
  if (bytes.length < prefixBytes) throw new SnapshotFormatError('snapshot shorter than its prefix');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== snapshotMagic) throw new SnapshotFormatError('not a snapshot (bad magic)');
  const version = view.getUint32(4, true);
  if (version !== snapshotVersion)
    throw new SnapshotFormatError(`snapshot version ${version} is not ${snapshotVersion}`);
  const jsonBytes = view.getUint32(8, true);
  if (prefixBytes + jsonBytes > bytes.length) throw new SnapshotFormatError('snapshot header truncated');
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(prefixBytes, prefixBytes + jsonBytes)),
  ) as SnapshotHeader;
  return { header, dataStart: align8(prefixBytes + jsonBytes) };
}
