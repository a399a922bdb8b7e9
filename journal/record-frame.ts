/**
 * The on-disk layout of one journal record, described here and nowhere else: every other module reads and
 * writes frames through these names and functions, never with literal offsets. Pure functions over a byte
 * array and a DataView of the same bytes; no allocation, any thread.
 *
 * A segment file is a sequence of frames from byte 0, nothing else (no file header: the segment's first
 * sequence number is in its name, and every frame carries magic and version). All fields little-endian.
 *
 *   byte 0        4        6        8              12             16                      24                      32
 *        ┌────────┬────────┬────────┬──────────────┬──────────────┬───────────────────────┬───────────────────────┐
 *        │ magic  │version │ type   │ payloadLength│   crc32c     │ seq                   │ timestampMs           │
 *        │  u32   │  u16   │  u16   │     u32      │    u32       │ float64 (int < 2^53)  │ float64               │
 *        ├────────┴────────┴────────┴──────────────┴──────────────┴───────────────────────┴───────────────────────┤
 *     32 │ payload: payloadLength bytes                                          │ zero padding to a multiple of 8 │
 *        └───────────────────────────────────────────────────────────────────────┴─────────────────────────────────┘
 *
 *   magic   'STJ1' in file order (0x314A5453 read as a little-endian u32): makes a frame start recognisable
 *           when recovery searches past a damaged record for a later valid one.
 *   version 1. A reader refuses versions it does not know rather than guessing.
 *   type    the engine's EventType (engine/codes.ts); the journal does not interpret it.
 *   seq     consecutive across the whole journal; the seq of a segment's first frame is in the file's name.
 *   crc32c  covers, in this order, bytes [4, 12) (version, type, payloadLength) then bytes
 *           [16, 32 + payloadLength) (seq, timestampMs, payload): everything in the frame except the magic,
 *           the crc field itself and the padding. The padding is checked separately: it must be zero, so a
 *           flipped bit anywhere in a segment is noticed.
 *
 * Why 8-byte alignment: the float64 fields of every frame are naturally aligned in the file and in an
 * aligned read buffer, and recovery only has to try every 8th byte when it looks for a valid frame after a
 * damaged one.
 */
import { crc32c } from './crc32c.ts';

/** Byte offsets of the header fields from the start of a frame, and the header size. */
export const RecordFrame = {
  magic: 0,
  version: 4,
  type: 6,
  payloadLength: 8,
  crc: 12,
  seq: 16,
  timestampMs: 24,
  /** Header size; the payload starts here. */
  payload: 32,
  headerBytes: 32,
  alignmentBytes: 8,
} as const;

export const recordMagic = 0x314a5453;
export const recordVersion = 1;
/** type is a u16. */
export const recordTypeMax = 0xffff;
/** seq and timestampMs are float64 holding integers: exact below 2^53. */
export const recordSeqMax = Number.MAX_SAFE_INTEGER;

/** Bytes a frame with this payload occupies on disk, padding included. */
export function frameBytes(payloadLength: number): number {
  return (
    (RecordFrame.headerBytes + payloadLength + RecordFrame.alignmentBytes - 1) &
    ~(RecordFrame.alignmentBytes - 1)
  );
}

/**
 * Writing a frame is three steps, so that the writer can copy the payload its own way in between (the
 * journal copies 32-bit words from a cached view: see FileJournal.append): writeFrameHeader, the payload
 * into bytes [at + RecordFrame.payload, + payloadLength), then sealFrame. The caller has checked that
 * frameBytes(payloadLength) bytes fit at `at` and that the fields are in range.
 */
export function writeFrameHeader(
  view: DataView,
  at: number,
  seq: number,
  type: number,
  timestampMs: number,
  payloadLength: number,
): void {
  view.setUint32(at + RecordFrame.magic, recordMagic, true);
  view.setUint16(at + RecordFrame.version, recordVersion, true);
  view.setUint16(at + RecordFrame.type, type, true);
  view.setUint32(at + RecordFrame.payloadLength, payloadLength, true);
  view.setFloat64(at + RecordFrame.seq, seq, true);
  view.setFloat64(at + RecordFrame.timestampMs, timestampMs, true);
}

/** Zeroes the padding and stores the checksum of a frame whose header and payload are written. Returns its size. */
export function sealFrame(bytes: Uint8Array, view: DataView, at: number, payloadLength: number): number {
  const size = frameBytes(payloadLength);
  for (let i = at + RecordFrame.payload + payloadLength; i < at + size; i++) bytes[i] = 0;
  view.setUint32(at + RecordFrame.crc, frameCrc(bytes, at, payloadLength), true);
  return size;
}

/** The three steps with a plain byte copy (tests, tools). Returns the frame's size. */
export function writeFrame(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  seq: number,
  type: number,
  timestampMs: number,
  payload: Uint8Array,
  payloadOffset: number,
  payloadLength: number,
): number {
  writeFrameHeader(view, at, seq, type, timestampMs, payloadLength);
  const payloadAt = at + RecordFrame.payload;
  for (let i = 0; i < payloadLength; i++) bytes[payloadAt + i] = payload[payloadOffset + i]!;
  return sealFrame(bytes, view, at, payloadLength);
}

/** The checksum a frame at `at` with this payload length should carry (see the crc32c line above). */
export function frameCrc(bytes: Uint8Array, at: number, payloadLength: number): number {
  const head = crc32c(bytes, at + RecordFrame.version, RecordFrame.crc - RecordFrame.version);
  return crc32c(bytes, at + RecordFrame.seq, RecordFrame.payload - RecordFrame.seq + payloadLength, head);
}

/** What checkFrame found. Anything but `ok` and `incomplete` means the bytes are not a frame. */
export const FrameCheck = {
  ok: 0,
  /** The bytes available end inside the frame (a torn tail, or a read chunk that ends there). */
  incomplete: 1,
  badMagic: 2,
  badVersion: 3,
  /** payloadLength above the reader's recordPayloadBytesMax. */
  badLength: 4,
  badCrc: 5,
  badPadding: 6,
} as const;
export type FrameCheck = (typeof FrameCheck)[keyof typeof FrameCheck];

const frameCheckNames: Record<FrameCheck, string> = {
  0: 'ok',
  1: 'incomplete record',
  2: 'bad magic',
  3: 'unknown version',
  4: 'payload length out of range',
  5: 'checksum mismatch',
  6: 'non-zero padding',
};

export function describeFrameCheck(check: FrameCheck): string {
  return frameCheckNames[check];
}

/**
 * Checks the frame at `at`, of which bytes [at, end) are available. `incomplete` is only returned when the
 * header parses (magic, version, length in range) and the frame runs past `end`, or the header itself does.
 */
export function checkFrame(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  end: number,
  recordPayloadBytesMax: number,
): FrameCheck {
  if (end - at < RecordFrame.headerBytes) {
    // A torn header: judge the magic if we have it, so garbage is not mistaken for a frame in progress.
    if (end - at >= 4 && view.getUint32(at + RecordFrame.magic, true) !== recordMagic)
      return FrameCheck.badMagic;
    return FrameCheck.incomplete;
  }
  if (view.getUint32(at + RecordFrame.magic, true) !== recordMagic) return FrameCheck.badMagic;
  if (view.getUint16(at + RecordFrame.version, true) !== recordVersion) return FrameCheck.badVersion;
  const payloadLength = view.getUint32(at + RecordFrame.payloadLength, true);
  if (payloadLength > recordPayloadBytesMax) return FrameCheck.badLength;
  const size = frameBytes(payloadLength);
  if (end - at < size) return FrameCheck.incomplete;
  if (view.getUint32(at + RecordFrame.crc, true) !== frameCrc(bytes, at, payloadLength))
    return FrameCheck.badCrc;
  for (let i = at + RecordFrame.payload + payloadLength; i < at + size; i++) {
    if (bytes[i] !== 0) return FrameCheck.badPadding;
  }
  return FrameCheck.ok;
}

export function framePayloadLength(view: DataView, at: number): number {
  return view.getUint32(at + RecordFrame.payloadLength, true);
}
export function frameSeq(view: DataView, at: number): number {
  return view.getFloat64(at + RecordFrame.seq, true);
}
export function frameType(view: DataView, at: number): number {
  return view.getUint16(at + RecordFrame.type, true);
}
export function frameTimestampMs(view: DataView, at: number): number {
  return view.getFloat64(at + RecordFrame.timestampMs, true);
}
