/**
 * PayloadScratch: a journal record's bytes, at any offset, read through the
 * event-view accessors as on the live path, and an older, shorter record
 * reads zero in the fields added since, not the previous record's words.
 */
import t from 'tap';
import { OrderStatus } from './codes.ts';
import {
  orderStatusChangedCode,
  orderStatusChangedOrderId,
  orderStatusChangedSkuId,
  orderStatusChangedStatus,
  PayloadScratch,
} from './event-view.ts';
import { eventPayloadWordsMax, OrderStatusChanged } from './layout.ts';

/** A status change's payload as a journal stores it (little-endian words), `skew` bytes into a buffer. */
function statusChangedBytes(words: number, skuId: number, skew: number): Uint8Array {
  const bytes = new Uint8Array(skew + words * 4);
  const view = new DataView(bytes.buffer, skew);
  view.setInt32(OrderStatusChanged.status * 4, OrderStatus.failCheckout, true);
  view.setInt32(OrderStatusChanged.code * 4, 42, true);
  view.setFloat64(OrderStatusChanged.orderId * 4, 2 ** 40 + 3, true);
  if (words > OrderStatusChanged.skuId) view.setInt32(OrderStatusChanged.skuId * 4, skuId, true);
  return bytes;
}

t.test('reads a record at an unaligned offset through the accessors', async (t) => {
  const scratch = new PayloadScratch();
  const bytes = statusChangedBytes(OrderStatusChanged.words, 7, 3);
  scratch.load(bytes, 3, OrderStatusChanged.words * 4);
  t.equal(orderStatusChangedStatus(scratch.words, 0), OrderStatus.failCheckout);
  t.equal(orderStatusChangedCode(scratch.words, 0), 42);
  t.equal(orderStatusChangedOrderId(scratch.f64, 0), 2 ** 40 + 3);
  t.equal(orderStatusChangedSkuId(scratch.words, 0), 7);
});

t.test('a shorter, older record after a longer one reads zero past its end', async (t) => {
  const scratch = new PayloadScratch();
  scratch.load(statusChangedBytes(OrderStatusChanged.words, 7, 0), 0, OrderStatusChanged.words * 4);
  const older = statusChangedBytes(OrderStatusChanged.wordsWithoutSkuId, 0, 1);
  scratch.load(older, 1, OrderStatusChanged.wordsWithoutSkuId * 4);
  t.equal(orderStatusChangedStatus(scratch.words, 0), OrderStatus.failCheckout);
  t.equal(orderStatusChangedSkuId(scratch.words, 0), 0, 'not the previous record’s skuId');
});

t.test('fits only whole words up to the slot payload', async (t) => {
  const scratch = new PayloadScratch();
  t.ok(scratch.fits(0));
  t.ok(scratch.fits(eventPayloadWordsMax * 4));
  t.notOk(scratch.fits(eventPayloadWordsMax * 4 + 4));
  t.notOk(scratch.fits(6));
});
