/**
 * The dashboard's sliding place window: quantiles checked against the exact
 * sorted latencies of a seeded random sample (never below, at most 12.5%
 * above), old slots falling out of the window, and rates over the time the
 * window actually covers. The clock is passed in, so nothing here waits.
 */
import t from 'tap';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import {
  latencyBucketCount,
  latencyBucketOf,
  latencyBucketUpperMicros,
  PlaceWindow,
} from './place-window.ts';

t.test('buckets are contiguous, increasing, and hold what they claim', async (t) => {
  t.equal(latencyBucketOf(0), 0);
  t.equal(latencyBucketOf(-5), 0, 'a negative latency (clock trouble) counts as 0');
  t.equal(latencyBucketOf(2 ** 40), latencyBucketCount - 1, 'huge latencies land in the last bucket');
  let previous = 0;
  for (const micros of [1, 7, 8, 9, 15, 16, 17, 100, 1000, 4097, 65_535, 1_000_000, 2 ** 31 - 1]) {
    const bucket = latencyBucketOf(micros);
    t.ok(bucket >= previous, `bucket of ${micros} µs does not go down`);
    previous = bucket;
    t.ok(latencyBucketUpperMicros(bucket) > micros, `${micros} µs is below its bucket's upper bound`);
    if (bucket > 0)
      t.ok(latencyBucketUpperMicros(bucket - 1) <= micros, `${micros} µs is not in the bucket below`);
    t.ok(latencyBucketUpperMicros(bucket) <= Math.max(micros + 1, micros * 1.125 + 1), 'width ≤ 1/8');
  }
  for (let b = 1; b < latencyBucketCount; b++)
    t.equal(latencyBucketOf(latencyBucketUpperMicros(b - 1)), b, `bucket ${b} starts where ${b - 1} ends`);
});

t.test('quantiles bound the exact ones from above within 12.5%', async (t) => {
  const seed = seedFromEnv();
  t.comment(`SEED=${seed}`);
  const random = new SeededRandom(seed);
  const window = new PlaceWindow({ slotMs: 250, slotCount: 8, nowMs: 0 });
  const latenciesMs: number[] = [];
  for (let i = 0; i < 5000; i++) {
    // Mostly sub-millisecond, with a long tail up to seconds, as a sale looks.
    const latencyMs = random.chance(0.9) ? random.next() : random.next() * 10 ** random.int(0, 3);
    const places = random.int(1, 4);
    for (let p = 0; p < places; p++) latenciesMs.push(latencyMs);
    window.record(latencyMs, places, 0, 1000);
  }
  latenciesMs.sort((a, b) => a - b);
  const exact = (q: number): number => latenciesMs[Math.max(1, Math.ceil(q * latenciesMs.length)) - 1]!;
  const reading = window.read(1000);
  t.equal(reading.placeCount, latenciesMs.length);
  for (const [q, reported] of [
    [0.5, reading.latencyMsP50],
    [0.99, reading.latencyMsP99],
    [1, reading.latencyMsMax],
  ] as const) {
    const truth = exact(q);
    t.ok(
      reported !== null && reported >= truth && reported <= truth * 1.125 + 0.001,
      `q${q}: reported ${reported} ms, exact ${truth} ms (SEED=${seed})`,
    );
  }
});

t.test('old slots fall out; rates are over the time the window covers', async (t) => {
  const window = new PlaceWindow({ slotMs: 100, slotCount: 10, nowMs: 0 });
  t.same(window.read(0), {
    windowMs: 0,
    placesPerSecond: 0,
    ordersPerSecond: 0,
    placeCount: 0,
    latencyMsP50: null,
    latencyMsP99: null,
    latencyMsMax: null,
  });
  window.record(2, 10, 4, 50);
  window.record(40, 10, 0, 450);
  let reading = window.read(500);
  t.equal(reading.windowMs, 500, 'half a window since start: rates divide by 500 ms, not 1 s');
  t.equal(reading.placesPerSecond, 40);
  t.equal(reading.ordersPerSecond, 8);
  t.equal(reading.latencyMsP50, latencyBucketUpperMicros(latencyBucketOf(2000)) / 1000);
  t.equal(reading.latencyMsP99, latencyBucketUpperMicros(latencyBucketOf(40_000)) / 1000);
  reading = window.read(1050);
  t.equal(reading.windowMs, 950, 'nine full slots and half of the current one');
  t.equal(reading.placeCount, 10, 'the slot of t=50 ms has fallen out');
  t.equal(reading.latencyMsP50, latencyBucketUpperMicros(latencyBucketOf(40_000)) / 1000);
  reading = window.read(60_000);
  t.equal(reading.placeCount, 0, 'a long quiet time empties the window');
  t.equal(reading.latencyMsP99, null);
  window.record(1, 1, 1, 60_010);
  t.equal(window.read(60_020).placeCount, 1, 'and it fills again');
});

t.test('bad options are refused with the reason', async (t) => {
  t.throws(
    () => new PlaceWindow({ slotMs: 100, slotCount: 1, nowMs: 0 }),
    /slotCount must be an integer >= 2/,
  );
  t.throws(() => new PlaceWindow({ slotMs: 0, slotCount: 8, nowMs: 0 }), /slotMs must be > 0/);
});
