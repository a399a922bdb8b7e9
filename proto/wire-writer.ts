/**
 * A protobuf wire-format writer over one reusable buffer, for the few
 * messages the gateway writes by hand because they go out by the hundred
 * thousand (proto/client-codec.ts: order answers, order updates, subscriptions
 * and batches of them).
 * protobufjs's Writer allocates an operation object per field and a buffer
 * per message; this writes bytes in place and allocates only the copy it
 * hands out.
 *
 * Lengths come first in protobuf, so callers size a message before writing
 * it (varintBytes, utf8Of) instead of backpatching.
 */

/** Bytes of `value` as a varint: an integer from 0 to 2^53 - 1 (a double holds it exactly). */
export function varintBytes(value: number): number {
  // Comparisons only: division and % on doubles were most of the cost of a varint.
  if (value < 2 ** 7) return 1;
  if (value < 2 ** 14) return 2;
  if (value < 2 ** 21) return 3;
  if (value < 2 ** 28) return 4;
  if (value < 2 ** 35) return 5;
  if (value < 2 ** 42) return 6;
  if (value < 2 ** 49) return 7;
  return 8;
}

/**
 * A well-formed string's UTF-8 bytes, remembered: the server's messages are a
 * handful of constants, and copying remembered bytes beat encoding the same
 * text again for every answer. Bounded (cleared when full), as a message may
 * also quote a client's text.
 */
export function utf8Of(text: string): Uint8Array {
  if (text === utf8Last.text) return utf8Last.bytes; // a sale's answers mostly repeat one message
  let bytes = utf8Remembered.get(text);
  if (bytes === undefined) {
    bytes = Buffer.from(text, 'utf8');
    if (utf8Remembered.size >= utf8RememberedMax) utf8Remembered.clear();
    utf8Remembered.set(text, bytes);
  }
  utf8Last.text = text;
  utf8Last.bytes = bytes;
  return bytes;
}
const utf8Last: { text: string; bytes: Uint8Array } = { text: '', bytes: new Uint8Array(0) };
const utf8Remembered = new Map<string, Uint8Array>();
const utf8RememberedMax = 64;

const doubleScratch = new Float64Array(1);
const doubleScratchBytes = new Uint8Array(doubleScratch.buffer);

export class WireWriter {
  private bytes: Uint8Array;
  private at = 0;

  constructor(initialBytes = 64 * 1024) {
    this.bytes = new Uint8Array(initialBytes);
  }

  /** Starts a message of exactly `bytes` bytes (grows the buffer once if it must). */
  begin(bytes: number): void {
    this.at = 0;
    if (bytes > this.bytes.length) {
      this.bytes = new Uint8Array(Math.max(bytes, this.bytes.length * 2));
    }
  }

  /** A copy of what was written since begin(): the buffer itself is reused. */
  finish(): Uint8Array {
    return this.bytes.slice(0, this.at);
  }

  /** Bytes written since begin(). */
  get length(): number {
    return this.at;
  }

  /** What was written since begin(), not copied: valid until the next write or begin(). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.at);
  }

  /** Room for `bytes` more after what was written, for a message whose size is not known at begin(). */
  room(bytes: number): void {
    if (this.at + bytes <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.at + bytes, this.bytes.length * 2));
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
  }

  /** An integer from 0 to 2^53 - 1, in 32-bit integer arithmetic (no division on doubles). */
  varint(value: number): void {
    const bytes = this.bytes;
    let at = this.at;
    let low = value >>> 0; // ToUint32: the low 32 bits, exactly, for any integer below 2^53
    if (value > 0xffffffff) {
      const high = (value - low) / 2 ** 32; // exact: a multiple of 2^32 below 2^53
      for (let i = 0; i < 4; i++) {
        bytes[at++] = (low & 0x7f) | 0x80;
        low >>>= 7;
      }
      low |= high << 4; // 4 bits left of the low word, then the high word's 21 at most
    }
    while (low >= 0x80) {
      bytes[at++] = (low & 0x7f) | 0x80;
      low >>>= 7;
    }
    bytes[at++] = low;
    this.at = at;
  }

  /** Little-endian, as protobuf wants (and as every machine Node runs on stores it). */
  double(value: number): void {
    doubleScratch[0] = value;
    this.bytes.set(doubleScratchBytes, this.at);
    this.at += 8;
  }

  raw(bytes: Uint8Array): void {
    this.bytes.set(bytes, this.at);
    this.at += bytes.length;
  }
}
