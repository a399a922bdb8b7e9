/**
 * The feed against a real file journal and a notify ring that lost events in
 * the middle (3 and 4) and at the tail (8 and 9), as a full ring makes the
 * journal thread do: the model must not take 5 after 2, a reader is answered
 * only once the hole is filled, and then every order is there, each pushed
 * once, in seq order.
 */
import t, { type Test } from 'tap';
import { EventType } from '../engine/codes.ts';
import { ControlBlock } from '../engine/control-block.ts';
import { EventSlot, OrderCreated, ProductAdded, packCurrency } from '../engine/layout.ts';
import { createRing, RingConsumer, RingProducer } from '../engine/ring.ts';
import { FileJournal } from '../journal/file-journal.ts';
import { fileJournalBackend, type JournalReader } from '../journal/journal-backend.ts';
import { tempDataDir } from '../lib/temp-data-dir.ts';
import { EmbeddedReadModel } from '../projections/embedded/read-model.ts';
import { DurableEventFeed } from './durable-event-feed.ts';

const atMs = 1.8e12;
const lastSeq = 9;

/** Event `seq` as a slot: seq 1 adds SKU 1, every later one creates order seq-1 for buyer 10 × (seq-1). */
function eventSlot(seq: number): Int32Array {
  const words = new Int32Array(EventSlot.words);
  const f64 = new Float64Array(words.buffer);
  const p = EventSlot.payload;
  f64[EventSlot.seq >> 1] = seq;
  f64[EventSlot.atMs >> 1] = atMs + seq;
  if (seq === 1) {
    words[EventSlot.type] = EventType.productAdded;
    words[EventSlot.payloadWords] = ProductAdded.words;
    words[p + ProductAdded.skuId] = 1;
    words[p + ProductAdded.priceMinor] = 1000;
    words[p + ProductAdded.currency] = packCurrency('USD');
    words[p + ProductAdded.stock] = 100;
    return words;
  }
  const orderId = seq - 1;
  words[EventSlot.type] = EventType.orderCreated;
  words[EventSlot.payloadWords] = OrderCreated.wordsFor(1);
  words[p + OrderCreated.buyerId] = orderId * 10;
  words[p + OrderCreated.lineCount] = 1;
  f64[(p + OrderCreated.orderId) >> 1] = orderId;
  f64[(p + OrderCreated.requestId) >> 1] = orderId;
  f64[(p + OrderCreated.totalMinor) >> 1] = 1000;
  f64[(p + OrderCreated.expiresAtMs) >> 1] = atMs + 60_000;
  const line = p + OrderCreated.lines;
  words[line + OrderCreated.lineSkuId] = 1;
  words[line + OrderCreated.lineQuantity] = 1;
  words[line + OrderCreated.lineUnitPriceMinor] = 1000;
  return words;
}

/** A journal of events 1..lastSeq in `dir`, durable; and a notify ring that lost 3, 4 and the tail 8, 9. */
function journalAndRing(dir: string): { control: ControlBlock; ring: SharedArrayBuffer } {
  const journal = FileJournal.open(dir);
  for (let seq = 1; seq <= lastSeq; seq++) {
    const slot = eventSlot(seq);
    const bytes = new Uint8Array(slot.buffer);
    journal.append(
      seq,
      slot[EventSlot.type]!,
      atMs + seq,
      bytes,
      EventSlot.payload * 4,
      slot[EventSlot.payloadWords]! * 4,
    );
  }
  journal.commit();
  journal.close();
  const control = new ControlBlock();
  control.setDurableSeq(lastSeq);
  const ring = createRing(8, EventSlot.words);
  const producer = new RingProducer(ring);
  for (const seq of [1, 2, 5, 6, 7]) producer.words.set(eventSlot(seq), producer.claim());
  producer.publish();
  return { control, ring };
}

function feedOver(
  t: Test,
  dir: string,
  openReader: () => JournalReader,
): { feed: DurableEventFeed; model: EmbeddedReadModel; pushedSeqs: number[] } {
  const { control, ring } = journalAndRing(dir);
  const model = new EmbeddedReadModel(100);
  const pushedSeqs: number[] = [];
  const feed = new DurableEventFeed({
    notify: new RingConsumer(ring),
    control,
    model,
    openReader,
    onChange: (change) => pushedSeqs.push(change.seq),
    onForgotten: () => {},
    log: (message) => t.comment(message),
  });
  return { feed, model, pushedSeqs };
}

t.test('a gap in the notify ring is filled from the journal before the model answers', async (t) => {
  const dir = tempDataDir(t, 'feed');
  const { feed, model, pushedSeqs } = feedOver(t, dir, () => fileJournalBackend(dir).openReader());
  // The file reader scans synchronously, so the fill may be done by the time caughtUp() answers; a
  // reader from a broker would get the promise. Either way the answer comes once the gap is filled.
  const answer = feed.caughtUp();
  t.equal(answer === true ? answer : await answer, true, 'current once the gap is filled');
  t.equal(model.lastSeq, lastSeq);
  for (let orderId = 1; orderId < lastSeq; orderId++) {
    const order = model.orders.find(orderId);
    t.equal(order?.buyerId, orderId * 10, `order ${orderId} is there, its buyer's`);
  }
  t.same(pushedSeqs, [2, 3, 4, 5, 6, 7, 8, 9], 'each order pushed once, in seq order');
  t.equal(feed.caughtUp(), true, "the ring's events the fill covered are skipped");
  t.same(pushedSeqs, [2, 3, 4, 5, 6, 7, 8, 9], 'and not pushed again');
  t.equal(feed.gapsFilled, 1, 'one fill, from 3 to the durable cursor');
  await feed.stop();
});

t.test(
  'while a slow journal read fills the gap, readers wait and the model takes nothing past it',
  async (t) => {
    const dir = tempDataDir(t, 'feed');
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The real file reader behind a delay, as a broker's fetch would be.
    const slowReader = (): JournalReader => {
      const reader = fileJournalBackend(dir).openReader();
      return {
        scan: async (fromSeq, onRecord, options) => {
          await gate;
          return reader.scan(fromSeq, onRecord, options);
        },
        lastSeq: () => reader.lastSeq(),
        firstSeq: () => reader.firstSeq(),
        mayHaveRecordsAfter: (seq) => reader.mayHaveRecordsAfter(seq),
        identity: () => reader.identity(),
        close: () => reader.close(),
      };
    };
    const { feed, model, pushedSeqs } = feedOver(t, dir, slowReader);
    const answer = feed.caughtUp();
    t.ok(answer !== true, 'with a gap being filled the model does not claim to be current');
    t.equal(feed.drain(), 0, 'nothing is taken from the ring while the fill runs');
    t.equal(feed.catchUpNow(), false, 'the edge is told the model is not current');
    t.equal(model.lastSeq, 2, 'the model stopped before the gap');
    t.equal(model.orders.find(4), undefined);
    t.same(pushedSeqs, [2]);
    release();
    t.equal(await answer, true, 'the reader is answered once the gap is filled');
    t.same(pushedSeqs, [2, 3, 4, 5, 6, 7, 8, 9], 'each order pushed once, in seq order');
    await feed.stop();
  },
);

t.test('the model refuses an event past its next seq (a gap nobody filled)', async (t) => {
  const model = new EmbeddedReadModel(100);
  const slot = eventSlot(2);
  const f64 = new Float64Array(slot.buffer);
  model.apply(EventType.orderCreated, 2, atMs, slot, f64, EventSlot.payload);
  const later = eventSlot(4);
  t.throws(
    () =>
      model.apply(EventType.orderCreated, 4, atMs, later, new Float64Array(later.buffer), EventSlot.payload),
    /seq 4 after 2/,
  );
});
