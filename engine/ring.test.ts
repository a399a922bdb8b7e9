import { randomInt as cryptoRandomInt } from 'node:crypto';
import { PerformanceObserver } from 'node:perf_hooks';
import t, { type Test } from 'tap';
import { startWorker } from '../lib/start-worker.ts';
import {
  type ConsumerResult,
  type ConsumerWorkerData,
  checkTestRecord,
  type ProducerResult,
  type ProducerWorkerData,
  randomInt,
  seededRandom,
  TestRecord,
  writeTestRecord,
} from './ring.test-worker.ts';
import {
  createDoorbell,
  createRing,
  Doorbell,
  IdleStrategy,
  RingConsumer,
  RingProducer,
  ringBytes,
  ringLimits,
} from './ring.ts';

// Randomised tests derive their seeds from SEED (default: random) and put the replay command in every
// assertion message, so a failure says how to reproduce it.
const seed = process.env.SEED === undefined ? cryptoRandomInt(2 ** 31) : Number(process.env.SEED);
const replay = `replay: SEED=${seed} npx tap engine/ring.test.ts`;
const int32Max = 2 ** 31 - 1;

t.test('ringBytes: header of five cache lines, then slotCount × slotWords words', async (t) => {
  t.equal(ringBytes(1, 2), 320 + 8);
  t.equal(ringBytes(64, 8), 320 + 64 * 8 * 4);
  const sab = createRing(64, 8);
  t.ok(sab instanceof SharedArrayBuffer);
  t.equal(sab.byteLength, ringBytes(64, 8));
});

t.test('options are validated with exact messages', async (t) => {
  const slotCountMessage = (got: string) =>
    `slotCount must be a power of two from 1 to ${ringLimits.slotCountMax}, got ${got}`;
  const slotWordsMessage = (got: string) =>
    `slotWords must be an even integer from 2 to ${ringLimits.slotWordsMax}, got ${got}`;
  for (const bad of [0, 3, 6, -4, 1.5, 2 ** 31, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(() => createRing(bad, 8), new RangeError(slotCountMessage(String(bad))), `slotCount ${bad}`);
  }
  t.throws(() => createRing('64' as unknown as number, 8), new TypeError(slotCountMessage('"64"')));
  for (const bad of [0, 1, 3, -2, 2.5, 1026]) {
    t.throws(() => createRing(64, bad), new RangeError(slotWordsMessage(String(bad))), `slotWords ${bad}`);
  }
  t.throws(() => ringBytes(2 ** 20, 1024), {
    name: 'RangeError',
    message: `a ring of 1048576 slots of 1024 words needs ${320 + 2 ** 32} bytes, more than ringBytesMax ${ringLimits.ringBytesMax}`,
  });
  const cursorStartMessage = (got: string) =>
    `options.cursorStart must be an integer from -2147483648 to 2147483647, got ${got}`;
  t.throws(
    () => createRing(4, 2, { cursorStart: 2 ** 31 }),
    new RangeError(cursorStartMessage('2147483648')),
  );
  t.throws(() => createRing(4, 2, { cursorStart: 0.5 }), new RangeError(cursorStartMessage('0.5')));

  const doorbell = new Doorbell(createDoorbell());
  const hasWork = () => false;
  t.throws(
    () => new IdleStrategy(doorbell, { spinCountMax: -1, parkTimeoutMs: 1 }, hasWork),
    new RangeError('options.spinCountMax must be an integer from 0 to 1000000000, got -1'),
  );
  t.throws(
    () => new IdleStrategy(doorbell, { spinCountMax: 1, parkTimeoutMs: 0 }, hasWork),
    new RangeError('options.parkTimeoutMs must be a number above 0 and at most 60000, got 0'),
  );
  t.throws(
    () => new IdleStrategy(doorbell, { spinCountMax: 1, parkTimeoutMs: 60_001 }, hasWork),
    new RangeError('options.parkTimeoutMs must be a number above 0 and at most 60000, got 60001'),
  );

  t.throws(() => new RingConsumer(new SharedArrayBuffer(64)), /ring is smaller than a ring header/);
  t.throws(() => new RingConsumer(createDoorbell()), /ring is smaller than a ring header/);
  t.throws(() => new Doorbell(createRing(4, 2)), /doorbell must be a SharedArrayBuffer from createDoorbell/);
});

t.test('full ring: claim returns -1 until the consumer releases', async (t) => {
  const sab = createRing(4, 2);
  const producer = new RingProducer(sab);
  const consumer = new RingConsumer(sab);
  t.equal(producer.slotCount, 4);
  t.equal(consumer.slotWords, 2);
  t.equal(producer.freeSlotCount(), 4);
  t.same([producer.claim(), producer.claim(), producer.claim(), producer.claim()], [0, 2, 4, 6]);
  t.equal(producer.claim(), -1, 'full before publish: claimed slots count as used');
  t.equal(producer.freeSlotCount(), 0);
  producer.publish();
  t.equal(producer.claim(), -1, 'still full after publish');
  t.equal(consumer.available(10), 4);
  consumer.release(1);
  t.equal(producer.freeSlotCount(), 1);
  t.equal(producer.claim(), 0, 'the released slot comes back, wrapped to slot 0');
  t.equal(producer.claim(), -1);
  producer.publish();
  t.equal(consumer.depth(), 4);
  consumer.release(consumer.available(4));
  t.equal(consumer.depth(), 0);
  t.equal(producer.freeSlotCount(), 4);
});

t.test('claimed slots are invisible until publish; publish shows them all at once', async (t) => {
  const sab = createRing(8, 4);
  const producer = new RingProducer(sab);
  const consumer = new RingConsumer(sab);
  for (let sequence = 0; sequence < 3; sequence++) {
    const offset = producer.claim();
    producer.words[offset] = 100 + sequence;
  }
  t.equal(consumer.available(8), 0, 'nothing visible before publish');
  t.equal(consumer.depth(), 0);
  producer.publish();
  t.equal(consumer.available(8), 3);
  t.equal(consumer.available(2), 2, 'available() is capped at max');
  t.same(
    [0, 1, 2].map((i) => consumer.words[consumer.slotOffset(i)]),
    [100, 101, 102],
  );
  t.throws(() => consumer.slotOffset(3), /slotOffset past the published slots/);
  t.throws(() => consumer.release(4), /release of more slots than are available/);
  consumer.release(2);
  t.equal(consumer.available(8), 1);
  t.equal(consumer.words[consumer.slotOffset(0)], 102, 'release frees a prefix; the rest stays');
  producer.publish(); // nothing claimed: a no-op
  t.equal(consumer.depth(), 1);
});

t.test('f64 view: 8-byte aligned, aliases the words of the same slot', async (t) => {
  const sab = createRing(4, 6);
  const producer = new RingProducer(sab);
  const consumer = new RingConsumer(sab);
  t.equal(producer.words.byteOffset % 64, 0, 'slot area offset is a whole number of cache lines');
  t.equal(producer.f64.byteOffset, producer.words.byteOffset);
  t.equal(producer.f64.length * 2, producer.words.length);
  for (let slot = 0; slot < 4; slot++) {
    const offset = producer.claim();
    t.equal(offset % 2, 0, 'slot offsets are even');
    producer.words[offset] = slot;
    producer.f64[(offset + 2) >> 1] = slot + 0.1;
    producer.f64[(offset + 4) >> 1] = -slot * 1e300;
  }
  producer.publish();
  t.equal(consumer.available(4), 4);
  for (let i = 0; i < 4; i++) {
    const offset = consumer.slotOffset(i);
    t.equal(consumer.words[offset], i);
    t.equal(consumer.f64[(offset + 2) >> 1], i + 0.1);
    t.equal(consumer.f64[(offset + 4) >> 1], -i * 1e300);
  }
});

t.test('cursors wrap through 2^31 and through 0 (single thread, verified records)', async (t) => {
  for (const cursorStart of [int32Max - 37, -41]) {
    const sab = createRing(4, TestRecord.slotWords, { cursorStart });
    const producer = new RingProducer(sab);
    const consumer = new RingConsumer(sab);
    let published = 0;
    let received = 0;
    let problem = '';
    while (received < 1000 && problem === '') {
      for (let batch = 0; batch < 3; batch++) {
        const offset = producer.claim();
        if (offset < 0) break;
        writeTestRecord(producer, offset, published++);
      }
      producer.publish();
      const available = consumer.available(2);
      for (let i = 0; i < available && problem === ''; i++) {
        problem = checkTestRecord(consumer, consumer.slotOffset(i), received++);
      }
      consumer.release(available);
      const depth = consumer.depth();
      const free = producer.freeSlotCount();
      if (depth < 0 || depth > 4 || depth + free !== 4)
        problem = `depth ${depth}, free ${free} at record ${received}`;
    }
    t.equal(problem, '', `records intact, depth + free = slotCount throughout (cursorStart ${cursorStart})`);
    t.equal(received, 1000);
  }
});

t.test('random operations against a naive reference model, across the wrap', async (t) => {
  const random = seededRandom(seed ^ 0x5eed0001);
  for (let round = 0; round < 20; round++) {
    const slotCount = 2 ** randomInt(random, 0, 5);
    const cursorStart = int32Max - randomInt(random, 0, 300);
    const sab = createRing(slotCount, TestRecord.slotWords, { cursorStart });
    const producer = new RingProducer(sab);
    const consumer = new RingConsumer(sab);
    // The model counts in plain (unbounded) numbers; the ring must agree through the int32 wrap.
    let claimedCount = 0;
    let publishedCount = 0;
    let releasedCount = 0;
    let lastAvailable = 0;
    const context = `round ${round}, slotCount ${slotCount}, cursorStart ${cursorStart}; ${replay}`;
    for (let step = 0; step < 600; step++) {
      const action = randomInt(random, 0, 3);
      if (action === 0) {
        const offset = producer.claim();
        if (claimedCount - releasedCount === slotCount) {
          if (offset !== -1) return t.fail(`claim on a full ring returned ${offset}; ${context}`);
        } else {
          const expectedOffset = ((cursorStart + claimedCount) & (slotCount - 1)) * TestRecord.slotWords;
          if (offset !== expectedOffset)
            return t.fail(`claim offset ${offset} != ${expectedOffset}; ${context}`);
          writeTestRecord(producer, offset, claimedCount++);
        }
      } else if (action === 1) {
        producer.publish();
        publishedCount = claimedCount;
      } else if (action === 2) {
        const max = randomInt(random, 1, slotCount + 1);
        lastAvailable = consumer.available(max);
        const expected = Math.min(max, publishedCount - releasedCount);
        if (lastAvailable !== expected)
          return t.fail(`available ${lastAvailable} != ${expected}; ${context}`);
        for (let i = 0; i < lastAvailable; i++) {
          const problem = checkTestRecord(consumer, consumer.slotOffset(i), releasedCount + i);
          if (problem !== '') return t.fail(`${problem}; ${context}`);
        }
      } else {
        const count = randomInt(random, 0, lastAvailable);
        consumer.release(count);
        releasedCount += count;
        lastAvailable -= count;
      }
      if (producer.freeSlotCount() !== slotCount - (claimedCount - releasedCount)) {
        return t.fail(`freeSlotCount disagrees with the model; ${context}`);
      }
      if (consumer.depth() !== publishedCount - releasedCount) {
        return t.fail(`depth disagrees with the model; ${context}`);
      }
    }
  }
  return t.pass(`20 rounds of 600 random operations agree with the model; ${replay}`);
});

t.test(
  'no allocation per message: a million messages through the wrap cause no garbage collection',
  async (t) => {
    // Cursors start near 2^31, beyond V8's small-integer range, and cross the wrap during the measured run.
    const sab = createRing(64, 8, { cursorStart: int32Max - 500_000 });
    const producer = new RingProducer(sab, new Doorbell(createDoorbell()));
    const consumer = new RingConsumer(sab);
    const cycle = (messageCount: number) => {
      // Int32 accumulators only: a float64 local that changes every message is itself boxed by V8 in
      // unoptimised code, which would make this loop (not the ring) allocate.
      let checksum = 0;
      let f64Mismatches = 0;
      for (let sent = 0; sent < messageCount; ) {
        for (let batch = 0; batch < 16; batch++) {
          const offset = producer.claim();
          if (offset < 0) break;
          producer.words[offset] = sent;
          producer.f64[(offset + 2) >> 1] = sent + 0.5;
          sent++;
        }
        producer.publish();
        const available = consumer.available(64);
        for (let i = 0; i < available; i++) {
          const offset = consumer.slotOffset(i);
          const word = consumer.words[offset]!;
          checksum = (checksum + word) | 0;
          if (consumer.f64[(offset + 2) >> 1] !== word + 0.5) f64Mismatches++;
        }
        consumer.release(available);
      }
      return checksum + f64Mismatches;
    };
    cycle(200_000); // warm up: let the JIT settle before counting
    const gcEntries: { startMs: number; durationMs: number }[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries())
        gcEntries.push({ startMs: entry.startTime, durationMs: entry.duration });
    });
    observer.observe({ entryTypes: ['gc'] });
    const startMs = performance.now();
    const result = cycle(1_000_000);
    const endMs = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 50)); // gc entries are delivered asynchronously
    observer.disconnect();
    t.equal(
      result,
      (999_999 * 500_000) | 0,
      'every record read back (checksum of 0..999,999, no f64 mismatch)',
    );
    // One allocated object per message (even 16 bytes) fills the young generation several times over.
    const during = gcEntries.filter((entry) => entry.startMs >= startMs && entry.startMs <= endMs);
    t.same(during, [], `garbage collections during 1,000,000 messages (${(endMs - startMs).toFixed(0)} ms)`);
  },
);

t.test(
  'doorbell: ring() is a no-op unless the consumer is parked; park() skips the wait when there is work',
  async (t) => {
    const doorbell = new Doorbell(createDoorbell());
    doorbell.ring();
    t.equal(doorbell.notifyCount(), 0);
    const startMs = performance.now();
    let hasWorkCalls = 0;
    doorbell.park(() => {
      hasWorkCalls++;
      return true;
    }, 10_000);
    t.equal(hasWorkCalls, 1, 'park re-checks for work once after announcing sleep');
    t.ok(performance.now() - startMs < 1000, 'no wait when the re-check finds work');
    t.equal(doorbell.parkCount(), 0);
    doorbell.ring();
    t.equal(doorbell.notifyCount(), 0, 'awake again after park returned');
    doorbell.park(() => false, 1);
    t.equal(doorbell.parkCount(), 1);
    t.equal(doorbell.timeoutCount(), 1);
  },
);

t.test('doorbell: parkAsync waits with the event loop running; a ring() wakes it', async (t) => {
  const doorbell = new Doorbell(createDoorbell());
  let work = false;
  const parked = doorbell.parkAsync(() => work, 60_000);
  t.equal(doorbell.parkCount(), 1, 'no work: it parks');
  await new Promise((resolve) => setImmediate(resolve));
  t.pass('callbacks run while it waits');
  work = true;
  doorbell.ring();
  await parked;
  t.equal(doorbell.notifyCount(), 1, 'the ring found it parked and notified');
  t.equal(doorbell.timeoutCount(), 0, 'woken by the ring, not by the timeout');
  await doorbell.parkAsync(() => false, 1);
  t.equal(doorbell.timeoutCount(), 1, 'with nothing to wake it, the timeout ends the wait');
  await doorbell.parkAsync(() => true, 60_000);
  t.equal(doorbell.parkCount(), 2, 'the re-check after announcing sleep finds work: no wait');
});

t.test('idle strategy: spins spinCountMax empty rounds, then parks; work resets it', async (t) => {
  const doorbell = new Doorbell(createDoorbell());
  const idle = new IdleStrategy(doorbell, { spinCountMax: 3, parkTimeoutMs: 1 }, () => false);
  idle.idle(0);
  idle.idle(0);
  idle.idle(0);
  t.equal(doorbell.parkCount(), 0, 'three empty rounds spin');
  idle.idle(0);
  t.equal(doorbell.parkCount(), 1, 'the fourth parks');
  idle.idle(0);
  t.equal(doorbell.parkCount(), 2, 'once parked, an empty round parks again');
  idle.idle(5);
  idle.idle(0);
  t.equal(doorbell.parkCount(), 2, 'work resets the spin phase');
});

function runWorker<Result>(data: ProducerWorkerData | ConsumerWorkerData): Promise<Result> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(import.meta.url, './ring.test-worker', { workerData: data });
    let settled = false;
    worker.once('message', (result: Result) => {
      settled = true;
      resolve(result);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`ring test worker ${data.kind} exited with code ${code} and no result`));
    });
  });
}

interface StressCase {
  readonly name: string;
  readonly messageCount: number;
  readonly slotCount: number;
  readonly batchMax: number;
  readonly mode: 'stream' | 'pingPong';
  readonly spinCountMax: number;
  readonly parkTimeoutMs: number;
  readonly cursorStart: number;
}

async function runStress(t: Test, stress: StressCase, caseSeed: number) {
  const ring = createRing(stress.slotCount, TestRecord.slotWords, { cursorStart: stress.cursorStart });
  const doorbellSab = createDoorbell();
  const startMs = performance.now();
  const [producerResult, consumerResult] = await Promise.all([
    runWorker<ProducerResult>({
      kind: 'ring.test.producer',
      ring,
      doorbell: doorbellSab,
      seed: caseSeed,
      messageCount: stress.messageCount,
      batchMax: stress.batchMax,
      mode: stress.mode,
      drainMsMax: 1000,
      stallMsMax: 3000,
    }),
    runWorker<ConsumerResult>({
      kind: 'ring.test.consumer',
      ring,
      doorbell: doorbellSab,
      seed: caseSeed ^ 0x7fff,
      messageCount: stress.messageCount,
      spinCountMax: stress.spinCountMax,
      parkTimeoutMs: stress.parkTimeoutMs,
      stallMsMax: 3000,
    }),
  ]);
  const elapsedMs = performance.now() - startMs;
  const doorbell = new Doorbell(doorbellSab);
  const context = `${stress.name}, cursorStart ${stress.cursorStart}; ${replay}`;
  t.equal(producerResult.error, '', `producer: ${context}`);
  t.equal(consumerResult.error, '', `consumer: ${context}`);
  t.equal(producerResult.published, stress.messageCount, `all published; ${context}`);
  t.equal(consumerResult.received, stress.messageCount, `each sequence received once, in order; ${context}`);
  t.comment(
    `${stress.name}: ${stress.messageCount} messages in ${elapsedMs.toFixed(0)} ms (with worker start-up); ` +
      `ring full ${producerResult.fullCount}×; parks ${doorbell.parkCount()}, notifies ${doorbell.notifyCount()}, ` +
      `timeouts ${doorbell.timeoutCount()}; slowest drain ${producerResult.drainMsMaxSeen.toFixed(2)} ms`,
  );
  return doorbell;
}

t.test('stress: producer and consumer workers move 2,000,000 records through 64 slots', async (t) => {
  // Starts a random distance below 2^31 so the run crosses the int32 wrap somewhere in the middle.
  const random = seededRandom(seed ^ 0x5eed0002);
  await runStress(
    t,
    {
      name: 'stream',
      messageCount: 2_000_000,
      slotCount: 64,
      batchMax: 48,
      mode: 'stream',
      spinCountMax: 2000,
      parkTimeoutMs: 100,
      cursorStart: int32Max - randomInt(random, 0, 1_500_000),
    },
    seed ^ 0x5eed0003,
  );
});

t.test('lost wake-up: a consumer that parks on every empty round is always woken', async (t) => {
  // The producer publishes, then waits for a full drain before the next batch: a consumer that slept
  // through a publish would leave the ring undrained past drainMsMax (1 s) and the producer reports it.
  // parkTimeoutMs is far above the drain limit so a timeout cannot hide a lost wake-up.
  const doorbell = await runStress(
    t,
    {
      name: 'pingPong',
      messageCount: 20_000,
      slotCount: 16,
      batchMax: 8,
      mode: 'pingPong',
      spinCountMax: 0,
      parkTimeoutMs: 4000,
      cursorStart: 0,
    },
    seed ^ 0x5eed0004,
  );
  t.ok(doorbell.parkCount() > 0, 'the consumer did park');
  t.equal(doorbell.timeoutCount(), 0, `no park ended by timeout; ${replay}`);
});

t.test('a parked consumer wakes when a message arrives after a delay', async (t) => {
  const ring = createRing(8, TestRecord.slotWords);
  const doorbellSab = createDoorbell();
  const doorbell = new Doorbell(doorbellSab);
  const consumerDone = runWorker<ConsumerResult>({
    kind: 'ring.test.consumer',
    ring,
    doorbell: doorbellSab,
    seed: 1,
    messageCount: 1,
    spinCountMax: 0,
    parkTimeoutMs: 30_000,
    stallMsMax: 30_000,
  });
  const waitStartMs = performance.now();
  while (doorbell.parkCount() === 0) {
    if (performance.now() - waitStartMs > 10_000) throw new Error('consumer worker never parked');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await new Promise((resolve) => setTimeout(resolve, 100)); // it is asleep in Atomics.wait by now
  t.equal(doorbell.parkCount(), 1, 'still in its first park: nothing woke it');
  const producer = new RingProducer(ring, doorbell);
  writeTestRecord(producer, producer.claim(), 0);
  const publishedAtMs = performance.timeOrigin + performance.now();
  producer.publish();
  const result = await consumerDone;
  t.equal(result.error, '');
  t.equal(result.received, 1);
  t.equal(doorbell.notifyCount(), 1, 'publish rang the doorbell once');
  t.equal(doorbell.timeoutCount(), 0, 'woken by the doorbell, not by the 30 s timeout');
  const wakeMs = result.firstReceivedAtMs - publishedAtMs;
  t.ok(wakeMs < 1000, `woke ${wakeMs.toFixed(3)} ms after publish`);
  t.comment(`parked consumer received the record ${(wakeMs * 1000).toFixed(0)} µs after publish`);
});
