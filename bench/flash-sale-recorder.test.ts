/**
 * The sale recorder's latency histogram: place latencies are held back as
 * runs of equal values (a frame's answers share one) and must come out of
 * data() exactly as if each had been recorded alone.
 */
import * as hdr from 'hdr-histogram-js';
import t from 'tap';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import { newLatencyHistogram, SaleRecorder } from './flash-sale-recorder.ts';

t.test('place latencies recorded in runs are every latency, each counted once (seeded)', async (t) => {
  const seed = seedFromEnv();
  t.comment(`SEED=${seed} (replay: SEED=${seed} npx tap bench/flash-sale-recorder.test.ts)`);
  const random = new SeededRandom(seed);
  const recorder = new SaleRecorder({
    buyerIdFirst: 1,
    buyerCount: 10,
    skuCount: 1,
    startAtMs: 0,
    runMsMax: 1000,
  });
  const expected = newLatencyHistogram();
  let answers = 0;
  for (let frame = 0; frame < 300; frame++) {
    const sentAtMs = random.int(0, 500);
    const atMs = sentAtMs + random.int(0, 20) / 4; // whole microseconds, often repeated
    for (let i = random.int(1, 12); i > 0; i--) {
      // A retried place keeps its earlier send time: a different latency inside the frame's run.
      const placedAtMs = random.int(0, 9) === 0 ? sentAtMs - random.int(1, 50) : sentAtMs;
      recorder.placeAnswer(placedAtMs, atMs);
      expected.recordValue(Math.max(1, Math.round((atMs - placedAtMs) * 1000)));
      answers++;
    }
  }
  const got = hdr.decodeFromCompressedBase64(recorder.data().placeToAnswerUs);
  t.equal(got.totalCount, answers, `SEED=${seed}: every answer counted`);
  t.equal(recorder.placeAnswered, answers);
  for (const percentile of [0, 10, 50, 90, 99, 100])
    t.equal(
      got.getValueAtPercentile(percentile),
      expected.getValueAtPercentile(percentile),
      `SEED=${seed}: p${percentile}`,
    );
  t.equal(got.mean, expected.mean, `SEED=${seed}: the same values`);
  // data() drains the held-back run once: asking again counts nothing twice.
  t.equal(hdr.decodeFromCompressedBase64(recorder.data().placeToAnswerUs).totalCount, answers);
});
