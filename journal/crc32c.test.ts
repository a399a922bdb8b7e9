import t from 'tap';
import { seededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import { crc32c, crc32cReference } from './crc32c.ts';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const filled = (length: number, byte: (i: number) => number): Uint8Array =>
  Uint8Array.from({ length }, (_, i) => byte(i));

t.test('standard check values', async (t) => {
  t.equal(crc32c(ascii('123456789'), 0, 9), 0xe3069283, 'the CRC-32C check value');
  t.equal(crc32c(new Uint8Array(0), 0, 0), 0, 'empty input');
  // RFC 3720 (iSCSI), appendix B.4.
  t.equal(crc32c(new Uint8Array(32), 0, 32), 0x8a9136aa, '32 zero bytes');
  t.equal(
    crc32c(
      filled(32, () => 0xff),
      0,
      32,
    ),
    0x62a8ab43,
    '32 bytes of 0xff',
  );
  t.equal(
    crc32c(
      filled(32, (i) => i),
      0,
      32,
    ),
    0x46dd794e,
    '32 ascending bytes',
  );
  t.equal(
    crc32c(
      filled(32, (i) => 31 - i),
      0,
      32,
    ),
    0x113fdb5c,
    '32 descending bytes',
  );
  t.equal(crc32c(ascii('The quick brown fox jumps over the lazy dog'), 0, 43), 0x22620404, 'pangram');
});

t.test('offset, length and seed chaining agree with the bitwise reference', async (t) => {
  const seed = seedFromEnv();
  const random = seededRandom(seed);
  const bytes = filled(4096, () => Math.floor(random() * 256));
  let failures = 0;
  for (let round = 0; round < 300 && failures === 0; round++) {
    const offset = Math.floor(random() * 200);
    const length = Math.floor(random() * (bytes.length - offset));
    const split = Math.floor(random() * (length + 1));
    const expected = crc32cReference(bytes, offset, length);
    const whole = crc32c(bytes, offset, length);
    const chained = crc32c(bytes, offset + split, length - split, crc32c(bytes, offset, split));
    if (whole !== expected || chained !== expected) {
      failures++;
      t.fail(`SEED=${seed} round ${round}: offset ${offset} length ${length} split ${split}`);
    }
  }
  t.equal(failures, 0, `SEED=${seed}`);
});

t.test('a range outside the array is refused', async (t) => {
  t.throws(() => crc32c(new Uint8Array(4), 2, 3), RangeError);
  t.throws(() => crc32c(new Uint8Array(4), -1, 1), RangeError);
});
