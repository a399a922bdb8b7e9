/**
 * The rate limiter as a client sees it, on a fake clock: a burst passes, the
 * next request waits exactly as long as retryAfterMs says, and a full key
 * table forgets the idlest key, never makes a well-behaved key wait. A seeded
 * run is checked against a naive reference model with an unbounded table.
 */
import t from 'tap';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import { integerKeySlots, mapKeySlots, TokenBucketLimiter } from './token-bucket.ts';

const startMs = 1_700_000_000_000;

t.test('a new key gets its burst at once, then one token every 1000 / rate ms', async (t) => {
  const limiter = new TokenBucketLimiter<number>({ ratePerSecond: 20, burst: 40, keysMax: 10 });
  for (let i = 0; i < 40; i++) t.equal(limiter.take(7, startMs), true, `request ${i + 1} of the burst`);
  t.equal(limiter.take(7, startMs), false, 'the 41st at the same instant is refused');
  t.equal(limiter.retryAfterMs(7, startMs), 50);
  t.equal(limiter.take(7, startMs + 49), false, 'not yet');
  t.equal(limiter.retryAfterMs(7, startMs + 49), 1);
  t.equal(limiter.take(7, startMs + 50), true, 'exactly at retryAfterMs');
  t.equal(limiter.take(7, startMs + 50), false);
  // Half a second refills ten; the bucket never holds more than burst.
  t.ok(Math.abs(limiter.tokensOf(7, startMs + 550) - 10) < 1e-9, 'ten tokens after 500 ms');
  t.equal(limiter.tokensOf(7, startMs + 60_000), 40);
  t.equal(limiter.take(8, startMs), true, 'other keys have their own bucket');
  t.equal(limiter.size, 2);
});

t.test('a refused take spends nothing; a cost spends several tokens at once', async (t) => {
  const limiter = new TokenBucketLimiter<string>({ ratePerSecond: 10, burst: 10, keysMax: 4 });
  t.equal(limiter.take('10.0.0.1', startMs, 8), true);
  t.equal(limiter.take('10.0.0.1', startMs, 3), false, 'only 2 left');
  t.equal(limiter.tokensOf('10.0.0.1', startMs), 2, 'the refusal spent nothing');
  t.equal(limiter.retryAfterMs('10.0.0.1', startMs, 3), 100);
  t.equal(limiter.take('10.0.0.1', startMs + 100, 3), true);
  t.equal(limiter.retryAfterMs('unknown', startMs, 10), 0, 'a new key starts full');
});

t.test('fractional rates: retryAfterMs is always enough and never a ms too long', async (t) => {
  for (const ratePerSecond of [0.3, 1, 3, 7, 33.3, 1000, 2500]) {
    const limiter = new TokenBucketLimiter<number>({ ratePerSecond, burst: 5, keysMax: 2 });
    let nowMs = startMs;
    for (let i = 0; i < 200; i++) {
      while (limiter.take(1, nowMs));
      const waitMs = limiter.retryAfterMs(1, nowMs);
      t.ok(waitMs > 0);
      if (limiter.tokensOf(1, nowMs + waitMs - 1) + 1e-6 >= 1) {
        t.fail(`rate ${ratePerSecond}: passed 1 ms before retryAfterMs ${waitMs}`);
      }
      nowMs += waitMs;
      if (!limiter.take(1, nowMs)) t.fail(`rate ${ratePerSecond}: refused at retryAfterMs ${waitMs}`);
    }
  }
});

t.test('a clock that steps back refills nothing and takes nothing back', async (t) => {
  const limiter = new TokenBucketLimiter<number>({ ratePerSecond: 1, burst: 2, keysMax: 2 });
  t.equal(limiter.take(1, startMs), true);
  t.equal(limiter.take(1, startMs), true);
  t.equal(limiter.take(1, startMs - 10_000), false);
  t.equal(limiter.take(1, startMs + 999), false, 'the step back did not move the refill time back');
  t.equal(limiter.take(1, startMs + 1000), true);
});

t.test('a full table forgets the least recently refilled key', async (t) => {
  const limiter = new TokenBucketLimiter<string>({ ratePerSecond: 1, burst: 3, keysMax: 3 });
  for (const key of ['a', 'b', 'c']) t.equal(limiter.take(key, startMs, 3), true);
  t.equal(limiter.take('a', startMs + 1000), true, 'a refilled most recently');
  t.equal(limiter.retryAfterMs('b', startMs + 1000), 0, 'retryAfterMs only reads: b stays the oldest');

  t.equal(limiter.take('d', startMs + 1000), true);
  t.equal(limiter.size, 3);
  t.equal(limiter.evictedCount, 1);
  t.equal(limiter.evictedRefillingCount, 1, 'b was still refilling: its debt was forgotten');
  t.equal(limiter.tokensOf('b', startMs + 1000), 3, 'b is forgotten: it would start full');
  t.equal(limiter.tokensOf('c', startMs + 1000), 1, 'c is kept');

  // c is now the oldest; once full again, forgetting it forgets nothing.
  t.equal(limiter.take('e', startMs + 10_000), true);
  t.equal(limiter.evictedCount, 2);
  t.equal(limiter.evictedRefillingCount, 1);
  t.equal(limiter.tokensOf('a', startMs + 10_000), 3, 'a kept');
  t.equal(limiter.tokensOf('d', startMs + 10_000), 3, 'd kept');
});

t.test('keysMax 1: every new key replaces the last one', async (t) => {
  const limiter = new TokenBucketLimiter<number>({ ratePerSecond: 1, burst: 1, keysMax: 1 });
  t.equal(limiter.take(1, startMs), true);
  t.equal(limiter.take(1, startMs), false);
  t.equal(limiter.take(2, startMs), true);
  t.equal(limiter.take(1, startMs), true, 'key 1 was forgotten (lenient, never stricter)');
  t.equal(limiter.size, 1);
});

t.test('options and arguments are checked with exact messages', async (t) => {
  const make = (ratePerSecond: number, burst: number, keysMax: number) => () =>
    new TokenBucketLimiter({ ratePerSecond, burst, keysMax });
  t.throws(make(0, 1, 1), { message: 'token bucket ratePerSecond must be a positive number, got 0' });
  t.throws(make(Number.NaN, 1, 1), {
    message: 'token bucket ratePerSecond must be a positive number, got NaN',
  });
  t.throws(make(1, 0.5, 1), { message: 'token bucket burst must be a number >= 1, got 0.5' });
  t.throws(make(1, 1, 0), { message: 'token bucket keysMax must be an integer from 1 to 2^26, got 0' });
  t.throws(make(1, 1, 1.5), { message: 'token bucket keysMax must be an integer from 1 to 2^26, got 1.5' });
  const limiter = new TokenBucketLimiter<number>({ ratePerSecond: 1, burst: 4, keysMax: 1 });
  t.throws(() => limiter.take(1, startMs, 5), {
    message: 'token bucket cost must be a number above 0 and at most burst 4, got 5',
  });
  t.throws(() => limiter.take(1, startMs, 0), { message: /cost must be a number above 0/ });
  t.throws(() => limiter.take(1, Number.NaN), {
    message: 'token bucket nowMs must be a finite number, got NaN',
  });
  t.throws(() => limiter.retryAfterMs(1, Number.POSITIVE_INFINITY), {
    message: /nowMs must be a finite number/,
  });
});

/**
 * The textbook bucket over a Map whose insertion order is the recency order
 * (a touched key is deleted and set again; the first key is the oldest):
 * the naive model the limiter must agree with answer for answer.
 */
class ReferenceBuckets {
  private readonly buckets = new Map<number, { tokens: number; atMs: number }>();
  evicted = 0;
  private readonly ratePerSecond: number;
  private readonly burst: number;
  private readonly keysMax: number;

  constructor(ratePerSecond: number, burst: number, keysMax: number) {
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.keysMax = keysMax;
  }

  take(key: number, nowMs: number, cost: number): boolean {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size === this.keysMax) {
        this.buckets.delete(this.buckets.keys().next().value!);
        this.evicted++;
      }
      bucket = { tokens: this.burst, atMs: nowMs };
    } else {
      const elapsedMs = Math.max(0, nowMs - bucket.atMs);
      bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsedMs * this.ratePerSecond) / 1000);
      bucket.atMs = Math.max(bucket.atMs, nowMs);
      this.buckets.delete(key);
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens + 1e-6 < cost) return false;
    bucket.tokens = Math.max(0, bucket.tokens - cost);
    return true;
  }
}

t.test('integer key slots refuse what is not a non-negative safe integer', async (t) => {
  const limiter = new TokenBucketLimiter<number>({
    ratePerSecond: 1,
    burst: 1,
    keysMax: 4,
    keySlots: integerKeySlots,
  });
  for (const key of [-1, 1.5, 2 ** 53, Number.NaN]) {
    t.throws(() => limiter.take(key, startMs), {
      message: `integer key slots take non-negative safe integers, got ${key}`,
    });
  }
  t.ok(limiter.take(2 ** 53 - 1, startMs), 'the largest safe integer is a key');
});

t.test('seeded run against the reference model, keys in a Map and in an integer hash', async (t) => {
  const seed = seedFromEnv();
  t.comment(`seed ${seed} (replay with SEED=${seed})`);
  const random = new SeededRandom(seed);
  for (let round = 0; round < 80; round++) {
    const ratePerSecond = random.pick([0.5, 1, 5, 20, 200]);
    const burst = random.pick([1, 2, 10, 40]);
    const keyCount = random.int(1, 50);
    const keysMax = random.int(1, 60);
    const keySlots = round % 2 === 0 ? mapKeySlots<number> : integerKeySlots;
    const limiter = new TokenBucketLimiter<number>({ ratePerSecond, burst, keysMax, keySlots });
    const reference = new ReferenceBuckets(ratePerSecond, burst, keysMax);
    let nowMs = startMs;
    for (let step = 0; step < 5000; step++) {
      nowMs += random.chance(0.05) ? -random.int(0, 100) : random.int(0, 30);
      // Spread past 2^32, so the integer hash's high word is used.
      const key = random.int(1, keyCount) * 1_000_000_007;
      const cost = random.chance(0.8) ? 1 : random.int(1, burst);
      const retryAfterMs = limiter.retryAfterMs(key, nowMs, cost);
      const passed = limiter.take(key, nowMs, cost);
      const where = `seed ${seed}, round ${round}, step ${step}`;
      if (passed !== (retryAfterMs === 0)) {
        t.fail(`${where}: retryAfterMs ${retryAfterMs} but take answered ${passed}`);
        return;
      }
      if (passed !== reference.take(key, nowMs, cost)) {
        t.fail(`${where}: the limiter answered ${passed}, the reference model the opposite`);
        return;
      }
    }
    t.equal(limiter.evictedCount, reference.evicted, `${where(seed, round)}: same evictions`);
    if (keyCount <= keysMax) t.equal(limiter.evictedCount, 0, 'no eviction while the keys fit');
    t.ok(limiter.size <= keysMax);
  }
});

const where = (seed: number, round: number): string => `seed ${seed}, round ${round}`;
