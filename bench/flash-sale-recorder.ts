/**
 * What one load generator saw during a flash sale, in bounded memory: each
 * buyer's final answers (count and kind), place→answer and place→paid
 * latency histograms (hdr-histogram-js, microseconds), place answers per
 * time bucket, and when sold-out answers started and stopped. The Stampede
 * client workers and the baselines record through the same class, so every
 * system is measured the same way; a worker ships its record to the main
 * thread as `RecordData` (histograms compressed) and the main thread merges.
 *
 * Allocated once per run: arrays sized by the buyer range and the bucket
 * count, histograms of fixed range. Runs on a client worker or the bench's
 * main thread.
 */
import * as hdr from 'hdr-histogram-js';

/** A buyer's final answer, as the buyer understood it. */
export const Outcome = {
  /** No final answer (yet). */
  none: 0,
  /** Got a unit and paid for it (a baseline's successful buy). */
  paid: 1,
  /** Got a reservation and walked away from it: the stock stays reserved until the order's TTL. */
  holding: 2,
  /** Got a reservation that was then released (payment declined, or it timed out while paying). */
  released: 3,
  /** Refused: sold out (or not enough stock). */
  soldOut: 4,
  /** Refused for another business reason (per-buyer limit, capacity, ...). */
  refused: 5,
  /** A request failed with an error that is not a business answer. */
  failed: 6,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];
export const outcomeKinds = 7;
export const outcomeNames = ['none', 'paid', 'holding', 'released', 'soldOut', 'refused', 'failed'] as const;

export const recorderLimits = Object.freeze({
  /** Throughput resolution. */
  bucketMs: 100,
  /** Latencies above an hour are recorded as an hour (the histogram's range). */
  latencyUsMax: 3_600_000_000,
  /** Three significant digits: 0.1% resolution at any latency. */
  latencySignificantDigits: 3,
});

export function newLatencyHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: recorderLimits.latencyUsMax,
    numberOfSignificantValueDigits: recorderLimits.latencySignificantDigits,
  });
}

/** What a sale's record holds; `Histogram` is how the latency histograms travel. */
interface RecordFields<Histogram> {
  /** Time zero of the throughput buckets (the same for every worker of a run). */
  startAtMs: number;
  finalCounts: Uint8Array;
  finalOutcome: Uint8Array;
  /** outcomesBySku[skuIndex * outcomeKinds + outcome]: final answers by SKU and kind. */
  outcomesBySku: Int32Array;
  placeToAnswerUs: Histogram;
  placeToPaidUs: Histogram;
  placeAnswersPerBucket: Uint32Array;
  placeAnswered: number;
  /** Place answers before the first sold-out answer (the phase in which every attempt reaches the store). */
  placeAnsweredBeforeSoldOut: number;
  firstSendAtMs: number;
  lastPlaceAnswerAtMs: number;
  lastAnswerAtMs: number;
  soldOutFirstAtMs: number;
  soldOutLastAtMs: number;
  /** Answers that are not final (BUSY, RATE_LIMITED retried) and other side counts, by name. */
  counters: Record<string, number>;
}

/** A record as it crosses threads: typed arrays and compressed histograms (structured-clone friendly). */
export interface RecordData extends RecordFields<string> {
  buyerIdFirst: number;
}

export class SaleRecorder {
  readonly buyerIdFirst: number;
  readonly buyerCount: number;
  readonly skuCount: number;
  readonly startAtMs: number;
  readonly finalCounts: Uint8Array;
  readonly finalOutcome: Uint8Array;
  readonly outcomesBySku: Int32Array;
  private readonly placeToAnswerUs = newLatencyHistogram();
  private readonly placeToPaidUs = newLatencyHistogram();
  /**
   * Place latencies not yet in the histogram: `pendingCount` of `pendingUs`. A frame's answers
   * arrive together and were mostly sent together, so their latencies repeat; recorded as one
   * run they cost one histogram update, not one each (it was a tenth of the client's CPU).
   */
  private pendingUs = 0;
  private pendingCount = 0;
  readonly placeAnswersPerBucket: Uint32Array;
  readonly counters: Record<string, number> = {};
  placeAnswered = 0;
  placeAnsweredBeforeSoldOut = 0;
  finalTotal = 0;
  firstSendAtMs = 0;
  lastPlaceAnswerAtMs = 0;
  lastAnswerAtMs = 0;
  soldOutFirstAtMs = 0;
  soldOutLastAtMs = 0;

  /** `runMsMax` bounds the throughput series: answers after it land in the last bucket. */
  constructor(options: {
    buyerIdFirst: number;
    buyerCount: number;
    skuCount: number;
    startAtMs: number;
    runMsMax: number;
  }) {
    this.buyerIdFirst = options.buyerIdFirst;
    this.buyerCount = options.buyerCount;
    this.skuCount = options.skuCount;
    this.startAtMs = options.startAtMs;
    this.finalCounts = new Uint8Array(options.buyerCount);
    this.finalOutcome = new Uint8Array(options.buyerCount);
    this.outcomesBySku = new Int32Array(options.skuCount * outcomeKinds);
    this.placeAnswersPerBucket = new Uint32Array(Math.ceil(options.runMsMax / recorderLimits.bucketMs) + 1);
  }

  count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1;
  }

  sent(atMs: number): void {
    if (this.firstSendAtMs === 0) this.firstSendAtMs = atMs;
  }

  /** The answer to a buyer's place attempt arrived (final or not): latency from `sentAtMs` (intended or actual send). */
  placeAnswer(sentAtMs: number, atMs: number): void {
    const us = latencyUs(sentAtMs, atMs);
    if (us === this.pendingUs) this.pendingCount++;
    else {
      this.recordPending();
      this.pendingUs = us;
      this.pendingCount = 1;
    }
    this.placeAnswered++;
    this.lastPlaceAnswerAtMs = atMs;
    this.lastAnswerAtMs = Math.max(this.lastAnswerAtMs, atMs);
    const bucket = Math.floor((atMs - this.startAtMs) / recorderLimits.bucketMs);
    const buckets = this.placeAnswersPerBucket;
    buckets[Math.min(Math.max(bucket, 0), buckets.length - 1)]!++;
  }

  /** A paid push arrived for a buyer whose place was sent at `sentAtMs`. */
  paidAnswer(sentAtMs: number, atMs: number): void {
    this.placeToPaidUs.recordValue(latencyUs(sentAtMs, atMs));
    this.lastAnswerAtMs = Math.max(this.lastAnswerAtMs, atMs);
  }

  /** Buyer `buyerId`'s final answer; returns true when every buyer of this recorder has one. */
  final(buyerId: number, skuIndex: number, outcome: Outcome, atMs: number): boolean {
    const index = buyerId - this.buyerIdFirst;
    if (this.finalCounts[index] !== 255) this.finalCounts[index]!++;
    this.finalOutcome[index] = outcome;
    this.outcomesBySku[skuIndex * outcomeKinds + outcome]!++;
    if (outcome === Outcome.soldOut) {
      if (this.soldOutFirstAtMs === 0) {
        this.soldOutFirstAtMs = atMs;
        this.placeAnsweredBeforeSoldOut = this.placeAnswered - 1;
      }
      this.soldOutLastAtMs = atMs;
    }
    this.finalTotal++;
    return this.finalTotal === this.buyerCount;
  }

  data(): RecordData {
    this.recordPending();
    return {
      buyerIdFirst: this.buyerIdFirst,
      startAtMs: this.startAtMs,
      finalCounts: this.finalCounts,
      finalOutcome: this.finalOutcome,
      outcomesBySku: this.outcomesBySku,
      placeToAnswerUs: hdr.encodeIntoCompressedBase64(this.placeToAnswerUs),
      placeToPaidUs: hdr.encodeIntoCompressedBase64(this.placeToPaidUs),
      placeAnswersPerBucket: this.placeAnswersPerBucket,
      placeAnswered: this.placeAnswered,
      placeAnsweredBeforeSoldOut: this.placeAnsweredBeforeSoldOut,
      firstSendAtMs: this.firstSendAtMs,
      lastPlaceAnswerAtMs: this.lastPlaceAnswerAtMs,
      lastAnswerAtMs: this.lastAnswerAtMs,
      soldOutFirstAtMs: this.soldOutFirstAtMs,
      soldOutLastAtMs: this.soldOutLastAtMs,
      counters: this.counters,
    };
  }

  private recordPending(): void {
    if (this.pendingCount > 0) this.placeToAnswerUs.recordValueWithCount(this.pendingUs, this.pendingCount);
    this.pendingCount = 0;
  }
}

function latencyUs(fromMs: number, toMs: number): number {
  return Math.min(Math.max(1, Math.round((toMs - fromMs) * 1000)), recorderLimits.latencyUsMax);
}

/** Several records (one per worker, each a contiguous buyer range) as one. */
export interface MergedRecord extends RecordFields<hdr.Histogram> {
  buyers: number;
}

const minSet = (a: number, b: number): number => (a === 0 ? b : b === 0 ? a : Math.min(a, b));

export function mergeRecords(records: readonly RecordData[]): MergedRecord {
  const sorted = [...records].sort((a, b) => a.buyerIdFirst - b.buyerIdFirst);
  const buyers = sorted.reduce((n, r) => n + r.finalCounts.length, 0);
  const first = sorted[0];
  if (first === undefined) throw new RangeError('mergeRecords needs at least one record');
  const merged: MergedRecord = {
    buyers,
    startAtMs: first.startAtMs,
    finalCounts: new Uint8Array(buyers),
    finalOutcome: new Uint8Array(buyers),
    outcomesBySku: new Int32Array(first.outcomesBySku.length),
    placeToAnswerUs: newLatencyHistogram(),
    placeToPaidUs: newLatencyHistogram(),
    placeAnswersPerBucket: new Uint32Array(first.placeAnswersPerBucket.length),
    placeAnswered: 0,
    placeAnsweredBeforeSoldOut: 0,
    firstSendAtMs: 0,
    lastPlaceAnswerAtMs: 0,
    lastAnswerAtMs: 0,
    soldOutFirstAtMs: 0,
    soldOutLastAtMs: 0,
    counters: {},
  };
  let at = 0;
  for (const r of sorted) {
    if (r.buyerIdFirst !== first.buyerIdFirst + at)
      throw new RangeError(`records do not tile the buyers: one starts at ${r.buyerIdFirst}`);
    merged.finalCounts.set(r.finalCounts, at);
    merged.finalOutcome.set(r.finalOutcome, at);
    at += r.finalCounts.length;
    for (let i = 0; i < r.outcomesBySku.length; i++) merged.outcomesBySku[i]! += r.outcomesBySku[i]!;
    merged.placeToAnswerUs.add(hdr.decodeFromCompressedBase64(r.placeToAnswerUs));
    merged.placeToPaidUs.add(hdr.decodeFromCompressedBase64(r.placeToPaidUs));
    for (let i = 0; i < r.placeAnswersPerBucket.length; i++)
      merged.placeAnswersPerBucket[i]! += r.placeAnswersPerBucket[i]!;
    merged.placeAnswered += r.placeAnswered;
    merged.placeAnsweredBeforeSoldOut += r.placeAnsweredBeforeSoldOut;
    merged.firstSendAtMs = minSet(merged.firstSendAtMs, r.firstSendAtMs);
    merged.lastPlaceAnswerAtMs = Math.max(merged.lastPlaceAnswerAtMs, r.lastPlaceAnswerAtMs);
    merged.lastAnswerAtMs = Math.max(merged.lastAnswerAtMs, r.lastAnswerAtMs);
    merged.soldOutFirstAtMs = minSet(merged.soldOutFirstAtMs, r.soldOutFirstAtMs);
    merged.soldOutLastAtMs = Math.max(merged.soldOutLastAtMs, r.soldOutLastAtMs);
    for (const [name, n] of Object.entries(r.counters))
      merged.counters[name] = (merged.counters[name] ?? 0) + n;
  }
  return merged;
}

/** Final answers of kind `outcome` over every SKU. */
export function outcomeTotal(outcomesBySku: Int32Array, outcome: Outcome): number {
  let total = 0;
  for (let i = outcome; i < outcomesBySku.length; i += outcomeKinds) total += outcomesBySku[i]!;
  return total;
}
