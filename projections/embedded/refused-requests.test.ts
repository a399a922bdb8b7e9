/**
 * The read model's memory of refused place requests: what the engine
 * remembers (not stock refusals), per buyer, bounded with the oldest
 * forgotten first.
 */
import t from 'tap';
import { ResultCode } from '../../engine/codes.ts';
import { RefusedRequests } from './refused-requests.ts';

t.test('remembers what the engine remembers, per buyer, the oldest forgotten first', async (t) => {
  const refused = new RefusedRequests(2);
  refused.refused(7, 1, ResultCode.soldOut);
  refused.refused(7, 2, ResultCode.insufficientStock);
  t.equal(refused.size, 0, 'stock refusals are judged afresh by the engine: not remembered');
  refused.refused(7, 2 ** 40 + 3, ResultCode.saleNotOpen);
  refused.refused(4_000_000_000, 3, ResultCode.currencyMismatch);
  t.ok(refused.has(7, 2 ** 40 + 3), 'a large request id');
  t.ok(refused.has(4_000_000_000, 3), 'a buyer id above 2^31');
  t.notOk(refused.has(8, 2 ** 40 + 3), 'request ids are per buyer');
  refused.refused(7, 2 ** 40 + 3, ResultCode.saleNotOpen);
  t.equal(refused.size, 2, 'the same request twice is one entry');
  refused.refused(9, 5, ResultCode.linesInvalid);
  t.notOk(refused.has(7, 2 ** 40 + 3), 'past the bound the oldest is forgotten');
  t.ok(refused.has(4_000_000_000, 3) && refused.has(9, 5));
  t.throws(() => new RefusedRequests(0), RangeError);
});
