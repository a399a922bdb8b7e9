/**
 * A protobuf wire-format reader over a message's bytes, the counterpart of
 * wire-writer.ts: varints of up to 2^53 - 1 (every integer this protocol
 * carries; a double holds them exactly) and lengths, each checked against
 * where the enclosing message ends. On anything it does not read plainly
 * (truncated, above 2^53 - 1, a length past `end`) it sets `at` to -1 and
 * returns -1, for the caller to check after each field: the gateway's fast
 * decode path (client-codec.ts) then hands the frame to the full path, and the
 * bench client (bench/flash-sale-wire.ts) throws.
 */

export const noBytes = new Uint8Array(0);

export class WireReader {
  bytes: Uint8Array = noBytes;
  at = 0;

  /** A varint below 2^53 ending before `end`; -1 (and at = -1) otherwise. */
  varint(end: number): number {
    const bytes = this.bytes;
    let at = this.at;
    let value = 0;
    let scale = 1;
    while (at < end && scale <= 2 ** 49) {
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        this.at = at;
        return value <= Number.MAX_SAFE_INTEGER ? value : this.fail();
      }
      scale *= 0x80;
    }
    return this.fail();
  }

  /** A length-delimited field's end, within `end`; -1 (and at = -1) otherwise. */
  length(end: number): number {
    const length = this.varint(end);
    if (length < 0 || length > end - this.at) return this.fail();
    return this.at + length;
  }

  protected fail(): number {
    this.at = -1;
    return -1;
  }
}
