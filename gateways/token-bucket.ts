/**
 * Token-bucket rate limiting for the edge, keyed by buyer id or client
 * address. Runs on a gateway thread; one instance per key space (buyers,
 * addresses) per thread. It never reads the clock and owns no timer: the
 * caller passes nowMs, and a bucket's refill is computed when it is touched.
 *
 * Each key has a bucket of `burst` tokens that refills at `ratePerSecond`;
 * take(key, nowMs, cost) spends `cost` tokens or refuses (false) without
 * spending. A key seen for the first time starts full.
 *
 * Bounded: at most keysMax buckets, in arrays allocated once at start-up.
 * When the table is full, a new key takes the slot of the bucket refilled
 * least recently (every take refills, so: the key used least recently).
 * That bucket has had the longest time to fill, so forgetting it usually
 * forgets nothing: a bucket untouched for burst / ratePerSecond seconds is
 * full anyway, and a full bucket is exactly what a new key starts with.
 * Eviction loses a debt only when more than keysMax keys are active within
 * that refill time, and then it errs on the lenient side (the evicted key
 * comes back with a full bucket), never refusing a well-behaved key.
 * `evictedCount` counts evictions, and `evictedRefillingCount` the ones that
 * forgot a debt, so an operator can see when keysMax is too small.
 *
 * Keys are compared as Map keys: the number 7 and the string '7' are two keys.
 * Integer keys (buyer ids) can be kept in a typed-array hash instead of the
 * Map (`integerKeySlots`): a sale brings a new buyer with nearly every
 * attempt, and a Map insert per new key was over half the gateway's cost of
 * turning a late buyer away (0.45 µs per new-key take, measured).
 */
import { highWord, IntHashIndex, lowWord } from '../engine/int-hash.ts';

/** Where a limiter finds the slot of a key. */
export interface KeySlots<Key> {
  readonly size: number;
  /** The key's slot, or -1. */
  get(key: Key): number;
  set(key: Key, slot: number): void;
  delete(key: Key): void;
}

/** Any key, in a Map (the default; client addresses are strings). */
export function mapKeySlots<Key>(): KeySlots<Key> {
  const slots = new Map<Key, number>();
  return {
    get size() {
      return slots.size;
    },
    get: (key) => slots.get(key) ?? -1,
    set: (key, slot) => void slots.set(key, slot),
    delete: (key) => void slots.delete(key),
  };
}

/** Non-negative safe integer keys, in a fixed IntHashIndex of keysMax entries: nothing allocated per key. */
export function integerKeySlots(keysMax: number): KeySlots<number> {
  const index = new IntHashIndex(keysMax);
  const checked = (key: number): number => {
    if (!(Number.isSafeInteger(key) && key >= 0)) {
      throw new RangeError(`integer key slots take non-negative safe integers, got ${key}`);
    }
    return key;
  };
  return {
    get size() {
      return index.size;
    },
    get: (key) => index.get(lowWord(checked(key)), highWord(key), 0),
    set: (key, slot) => index.set(lowWord(checked(key)), highWord(key), 0, slot),
    delete: (key) => void index.delete(lowWord(checked(key)), highWord(key), 0),
  };
}

export interface TokenBucketOptions {
  /** Tokens added per second (may be fractional: 0.5 is one request every two seconds). */
  ratePerSecond: number;
  /** Bucket capacity: the most a key may spend at once after being idle. */
  burst: number;
  /** Buckets kept at most; the least recently refilled is forgotten when a new key needs room. */
  keysMax: number;
}

export interface TokenBucketKeyOptions<Key> {
  /** How keys find their slots (default: mapKeySlots). */
  keySlots?: (keysMax: number) => KeySlots<Key>;
}

/** Slack for float rounding in refills (a millionth of a token), so retryAfterMs is always enough. */
const tokensEpsilon = 1e-6;
const none = -1;

export class TokenBucketLimiter<Key extends string | number = string | number> {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly keysMax: number;
  /** Keys forgotten to make room for new ones. */
  evictedCount = 0;
  /** Of those, the ones whose bucket was not yet full again (their debt was forgotten). */
  evictedRefillingCount = 0;

  private readonly slotOfKey: KeySlots<Key>;
  private readonly keyOfSlot: (Key | undefined)[];
  private readonly tokens: Float64Array;
  private readonly refilledAtMs: Float64Array;
  /** Least-recently-refilled order: a doubly linked list through slots, oldest at `oldest`. */
  private readonly newer: Int32Array;
  private readonly older: Int32Array;
  private oldest = none;
  private newest = none;
  private slotsUsed = 0;

  constructor(options: TokenBucketOptions & TokenBucketKeyOptions<Key>) {
    const { ratePerSecond, burst, keysMax, keySlots = mapKeySlots } = options;
    if (!(Number.isFinite(ratePerSecond) && ratePerSecond > 0)) {
      throw new RangeError(`token bucket ratePerSecond must be a positive number, got ${ratePerSecond}`);
    }
    if (!(Number.isFinite(burst) && burst >= 1)) {
      throw new RangeError(`token bucket burst must be a number >= 1, got ${burst}`);
    }
    // Slots are Int32 links; a key table this large would be gigabytes anyway.
    if (!(Number.isSafeInteger(keysMax) && keysMax >= 1 && keysMax <= 2 ** 26)) {
      throw new RangeError(`token bucket keysMax must be an integer from 1 to 2^26, got ${keysMax}`);
    }
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.keysMax = keysMax;
    this.slotOfKey = keySlots(keysMax);
    this.keyOfSlot = new Array<Key | undefined>(keysMax).fill(undefined);
    this.tokens = new Float64Array(keysMax);
    this.refilledAtMs = new Float64Array(keysMax);
    this.newer = new Int32Array(keysMax).fill(none);
    this.older = new Int32Array(keysMax).fill(none);
  }

  /** Keys with a bucket now. */
  get size(): number {
    return this.slotOfKey.size;
  }

  /**
   * Spends `cost` tokens of `key`'s bucket if it has them. Returns false and
   * spends nothing otherwise (the caller answers RATE_LIMITED with
   * retryAfterMs). A cost above burst could never pass: a programmer error.
   */
  take(key: Key, nowMs: number, cost = 1): boolean {
    this.assertArguments(nowMs, cost);
    const slot = this.refill(key, nowMs);
    const tokens = this.tokens[slot]!;
    if (!this.passes(tokens, cost)) return false;
    this.tokens[slot] = Math.max(0, tokens - cost);
    return true;
  }

  /**
   * Milliseconds until take(key, ·, cost) would pass, 0 if it would now.
   * Reads only: it neither refills nor reorders the key.
   */
  retryAfterMs(key: Key, nowMs: number, cost = 1): number {
    this.assertArguments(nowMs, cost);
    const slot = this.slotOfKey.get(key);
    if (slot === none) return 0; // a new key starts full
    const passesAfter = (waitMs: number): boolean => this.passes(this.tokensAt(slot, nowMs + waitMs), cost);
    if (passesAfter(0)) return 0;
    const missing = cost - tokensEpsilon - this.tokensAt(slot, nowMs);
    let waitMs = Math.max(1, Math.ceil((missing * 1000) / this.ratePerSecond));
    // Float rounding can put the estimate a millisecond to either side of the exact answer;
    // settle it with the very test take() applies, so take() at nowMs + waitMs passes and a ms earlier fails.
    while (waitMs > 1 && passesAfter(waitMs - 1)) waitMs--;
    while (!passesAfter(waitMs)) waitMs++;
    return waitMs;
  }

  /** Tokens `key` has at nowMs (burst for a key without a bucket). Reads only. */
  tokensOf(key: Key, nowMs: number): number {
    this.assertArguments(nowMs, 1);
    const slot = this.slotOfKey.get(key);
    return slot === none ? this.burst : this.tokensAt(slot, nowMs);
  }

  private assertArguments(nowMs: number, cost: number): void {
    // NaN would pass through every comparison in tokensAt and hand out tokens.
    if (!Number.isFinite(nowMs))
      throw new RangeError(`token bucket nowMs must be a finite number, got ${nowMs}`);
    if (!(Number.isFinite(cost) && cost > 0 && cost <= this.burst)) {
      throw new RangeError(
        `token bucket cost must be a number above 0 and at most burst ${this.burst}, got ${cost}`,
      );
    }
  }

  private passes(tokens: number, cost: number): boolean {
    return tokens + tokensEpsilon >= cost;
  }

  private tokensAt(slot: number, nowMs: number): number {
    // A clock that steps back refills nothing (and never un-refills).
    const elapsedMs = Math.max(0, nowMs - this.refilledAtMs[slot]!);
    return Math.min(this.burst, this.tokens[slot]! + (elapsedMs * this.ratePerSecond) / 1000);
  }

  /** The key's slot, refilled to nowMs and moved to the newest end; a new key gets a full bucket. */
  private refill(key: Key, nowMs: number): number {
    let slot = this.slotOfKey.get(key);
    if (slot !== none) {
      this.tokens[slot] = this.tokensAt(slot, nowMs);
      this.refilledAtMs[slot] = Math.max(this.refilledAtMs[slot]!, nowMs);
      this.unlink(slot);
    } else {
      if (this.slotsUsed < this.keysMax) slot = this.slotsUsed++;
      else {
        slot = this.oldest;
        if (this.tokensAt(slot, nowMs) < this.burst) this.evictedRefillingCount++;
        this.evictedCount++;
        this.unlink(slot);
        this.slotOfKey.delete(this.keyOfSlot[slot]!);
      }
      this.slotOfKey.set(key, slot);
      this.keyOfSlot[slot] = key;
      this.tokens[slot] = this.burst;
      this.refilledAtMs[slot] = nowMs;
    }
    this.linkNewest(slot);
    return slot;
  }

  private unlink(slot: number): void {
    const older = this.older[slot]!;
    const newer = this.newer[slot]!;
    if (older === none) this.oldest = newer;
    else this.newer[older] = newer;
    if (newer === none) this.newest = older;
    else this.older[newer] = older;
    this.older[slot] = none;
    this.newer[slot] = none;
  }

  private linkNewest(slot: number): void {
    this.older[slot] = this.newest;
    this.newer[slot] = none;
    if (this.newest === none) this.oldest = slot;
    else this.newer[this.newest] = slot;
    this.newest = slot;
  }
}
