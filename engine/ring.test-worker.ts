/**
 * Worker side of engine/ring.test.ts (not a test itself): a producer that writes checkable sequence records
 * into a ring, and a consumer that drains and verifies them, each on its own thread as in the engine.
 * Runs only when started as a worker with a `RingTestWorkerData` (importing it elsewhere runs nothing).
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { seededRandom } from '../lib/seeded-random.ts';
import { Doorbell, IdleStrategy, RingConsumer, RingProducer } from './ring.ts';

export { seededRandom };

/** Notices when a counter stops moving for too long; reads the clock only when asked (on idle rounds). */
class StallWatch {
  readonly stallMsMax: number;
  #count = -1;
  #sinceMs = 0;
  constructor(stallMsMax: number) {
    this.stallMsMax = stallMsMax;
  }
  /** True when `count` has not changed for more than stallMsMax across calls. */
  stalled(count: number): boolean {
    const nowMs = performance.now();
    if (count !== this.#count) {
      this.#count = count;
      this.#sinceMs = nowMs;
      return false;
    }
    return nowMs - this.#sinceMs > this.stallMsMax;
  }
}

/** Integer in [min, max]. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** Record layout the test writes into an 8-word slot. */
export const TestRecord = {
  sequenceWord: 0,
  sequenceHashWord: 1,
  /** Even word offset: a float64 lives at words 2..3. */
  sequenceF64Word: 2,
  /** Words 4..slotWords-1 hold sequence ^ fillSalt(word). */
  fillFirstWord: 4,
  slotWords: 8,
} as const;

export function sequenceHash(sequence: number): number {
  return Math.imul(sequence, 0x9e3779b1);
}

export function fillWord(sequence: number, word: number): number {
  return (sequence ^ Math.imul(word, 0x01000193)) | 0;
}

export function writeTestRecord(producer: RingProducer, offset: number, sequence: number): void {
  const words = producer.words;
  words[offset + TestRecord.sequenceWord] = sequence;
  words[offset + TestRecord.sequenceHashWord] = sequenceHash(sequence);
  producer.f64[(offset + TestRecord.sequenceF64Word) >> 1] = sequence + 0.25;
  for (let word = TestRecord.fillFirstWord; word < producer.slotWords; word++) {
    words[offset + word] = fillWord(sequence, word);
  }
}

/** Empty string when the record at offset is sequence `expected`, intact; otherwise what is wrong. */
export function checkTestRecord(consumer: RingConsumer, offset: number, expected: number): string {
  const words = consumer.words;
  const sequence = words[offset + TestRecord.sequenceWord];
  if (sequence !== expected) return `expected sequence ${expected}, got ${sequence}`;
  if (words[offset + TestRecord.sequenceHashWord] !== sequenceHash(expected)) {
    return `sequence ${expected}: hash word corrupt`;
  }
  if (consumer.f64[(offset + TestRecord.sequenceF64Word) >> 1] !== expected + 0.25) {
    return `sequence ${expected}: float64 field corrupt`;
  }
  for (let word = TestRecord.fillFirstWord; word < consumer.slotWords; word++) {
    if (words[offset + word] !== fillWord(expected, word))
      return `sequence ${expected}: word ${word} corrupt`;
  }
  return '';
}

export interface ProducerWorkerData {
  readonly kind: 'ring.test.producer';
  readonly ring: SharedArrayBuffer;
  readonly doorbell: SharedArrayBuffer;
  readonly seed: number;
  readonly messageCount: number;
  readonly batchMax: number;
  /**
   * 'stream': publish random batches as fast as the ring allows.
   * 'pingPong': publish a batch, wait (spinning) until the consumer has released everything, pause a random
   * while, repeat; a consumer asleep with work in the ring then shows as a drain that never finishes.
   */
  readonly mode: 'stream' | 'pingPong';
  /** pingPong: a drain slower than this is reported as a lost wake-up. */
  readonly drainMsMax: number;
  /** A ring that stays full this long ends the run with an error (so a broken consumer cannot hang the test). */
  readonly stallMsMax: number;
}

export interface ConsumerWorkerData {
  readonly kind: 'ring.test.consumer';
  readonly ring: SharedArrayBuffer;
  readonly doorbell: SharedArrayBuffer;
  readonly seed: number;
  readonly messageCount: number;
  readonly spinCountMax: number;
  readonly parkTimeoutMs: number;
  /** No record for this long ends the run with an error (so a broken producer cannot hang the test). */
  readonly stallMsMax: number;
}

export interface ProducerResult {
  readonly kind: 'producer';
  readonly published: number;
  readonly fullCount: number;
  readonly drainMsMaxSeen: number;
  readonly error: string;
}

export interface ConsumerResult {
  readonly kind: 'consumer';
  readonly received: number;
  readonly error: string;
  /** performance.timeOrigin + performance.now() when the first record arrived (wake-up latency test). */
  readonly firstReceivedAtMs: number;
}

function runProducer(data: ProducerWorkerData): ProducerResult {
  const producer = new RingProducer(data.ring, new Doorbell(data.doorbell));
  const random = seededRandom(data.seed);
  let sequence = 0;
  let fullCount = 0;
  let drainMsMaxSeen = 0;
  const stallWatch = new StallWatch(data.stallMsMax);
  while (sequence < data.messageCount) {
    const batch = Math.min(randomInt(random, 1, data.batchMax), data.messageCount - sequence);
    let claimed = 0;
    while (claimed < batch) {
      const offset = producer.claim();
      if (offset < 0) break;
      writeTestRecord(producer, offset, sequence + claimed);
      claimed++;
    }
    if (claimed === 0) {
      fullCount++;
      if (stallWatch.stalled(sequence)) {
        const error = `ring full for ${data.stallMsMax} ms at sequence ${sequence}: consumer stalled`;
        return { kind: 'producer', published: sequence, fullCount, drainMsMaxSeen, error };
      }
    }
    producer.publish();
    sequence += claimed;
    if (data.mode === 'pingPong') {
      const drainStartMs = performance.now();
      while (producer.freeSlotCount() !== producer.slotCount) {
        if (performance.now() - drainStartMs > data.drainMsMax) {
          return {
            kind: 'producer',
            published: sequence,
            fullCount,
            drainMsMaxSeen,
            error: `consumer did not drain within ${data.drainMsMax} ms after sequence ${sequence - 1}: lost wake-up`,
          };
        }
      }
      drainMsMaxSeen = Math.max(drainMsMaxSeen, performance.now() - drainStartMs);
      // A random pause shifts where the next publish lands in the consumer's spin -> park sequence.
      const pauseSpinCount = randomInt(random, 0, 2000);
      for (let spin = 0; spin < pauseSpinCount; spin++) random();
    }
  }
  return { kind: 'producer', published: sequence, fullCount, drainMsMaxSeen, error: '' };
}

function runConsumer(data: ConsumerWorkerData): ConsumerResult {
  const consumer = new RingConsumer(data.ring);
  const random = seededRandom(data.seed);
  const idle = new IdleStrategy(
    new Doorbell(data.doorbell),
    { spinCountMax: data.spinCountMax, parkTimeoutMs: data.parkTimeoutMs },
    () => consumer.available(1) > 0,
  );
  let expected = 0;
  let firstReceivedAtMs = 0;
  const stallWatch = new StallWatch(data.stallMsMax);
  while (expected < data.messageCount) {
    const available = consumer.available(randomInt(random, 1, consumer.slotCount));
    // Process (and release) only part of what is available sometimes: release(count) frees a prefix.
    const processCount = random() < 0.25 ? randomInt(random, 0, available) : available;
    for (let i = 0; i < processCount; i++) {
      const problem = checkTestRecord(consumer, consumer.slotOffset(i), expected);
      if (problem !== '') return { kind: 'consumer', received: expected, error: problem, firstReceivedAtMs };
      if (expected === 0) firstReceivedAtMs = performance.timeOrigin + performance.now();
      expected++;
    }
    consumer.release(processCount);
    if (processCount === 0 && stallWatch.stalled(expected)) {
      const error = `no record for ${data.stallMsMax} ms after ${expected} records: producer stalled`;
      return { kind: 'consumer', received: expected, error, firstReceivedAtMs };
    }
    idle.idle(processCount);
  }
  const extra = consumer.depth();
  const error = extra === 0 ? '' : `${extra} records arrived after the last expected sequence`;
  return { kind: 'consumer', received: expected, error, firstReceivedAtMs };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

if (!isMainThread && parentPort !== null) {
  const data: unknown = workerData;
  // ring.test.ts built these objects; the kind tag is all the decoding a test fixture needs.
  if (isRecord(data) && data.kind === 'ring.test.producer') {
    parentPort.postMessage(runProducer(data as unknown as ProducerWorkerData));
  } else if (isRecord(data) && data.kind === 'ring.test.consumer') {
    parentPort.postMessage(runConsumer(data as unknown as ConsumerWorkerData));
  }
}
