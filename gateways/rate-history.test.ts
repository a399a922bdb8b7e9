/** The dashboard's per-second history: complete slots oldest first, old ones forgotten, no timer. */
import t from 'tap';
import { RateHistory } from './rate-history.ts';

t.test('counts land in their second, oldest first, the filling one left out', async (t) => {
  const history = new RateHistory({ slotMs: 1000, slotCount: 3, nowMs: 0 });
  history.record(4, 2, 100);
  history.record(1, 1, 900);
  t.same(history.read(999), { slotMs: 1000, placesPerSecond: [0, 0, 0], ordersPerSecond: [0, 0, 0] });
  history.record(6, 0, 1500);
  t.same(history.read(2000).placesPerSecond, [0, 5, 6]);
  t.same(history.read(2000).ordersPerSecond, [0, 3, 0]);
  t.same(history.read(4999).placesPerSecond, [6, 0, 0], 'the first second has fallen out');
  t.same(history.read(60_000).placesPerSecond, [0, 0, 0], 'a long pause forgets everything');
});

t.test('rates are per second whatever the slot', async (t) => {
  const history = new RateHistory({ slotMs: 250, slotCount: 2, nowMs: 0 });
  history.record(3, 1, 10);
  t.same(history.read(260), { slotMs: 250, placesPerSecond: [0, 12], ordersPerSecond: [0, 4] });
  t.throws(() => new RateHistory({ slotMs: 0, slotCount: 2, nowMs: 0 }), /slotMs must be > 0/);
  t.throws(() => new RateHistory({ slotMs: 1, slotCount: 0, nowMs: 0 }), /slotCount must be an integer >= 1/);
});
