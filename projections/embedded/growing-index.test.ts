/**
 * GrowingIndex against a Map, on a seeded stream of sets, overwrites, reads,
 * deletes and growths with moves of random step sizes in between: every read
 * must give the Map's answer whether the key's entry was moved yet or not,
 * and a key set during a move must keep its new value when the move reaches
 * its old one.
 */
import t from 'tap';
import { SeededRandom, seedFromEnv } from '../../lib/seeded-random.ts';
import { GrowingIndex } from './growing-index.ts';

const keyOf = (k0: number, k1: number, k2: number): string => `${k0},${k1},${k2}`;

t.test('reads agree with a Map through growths, moves and deletes (seeded)', async (t) => {
  const seed = seedFromEnv();
  t.comment(`SEED=${seed} (replay: SEED=${seed} npx tap projections/embedded/growing-index.test.ts)`);
  const random = new SeededRandom(seed);
  let entriesMax = 4;
  const index = new GrowingIndex(entriesMax);
  const model = new Map<string, number>();
  const keys: [number, number, number][] = [];
  let mismatches = 0;
  let movesSeen = 0;
  const check = (k0: number, k1: number, k2: number, at: string): void => {
    const want = model.get(keyOf(k0, k1, k2)) ?? -1;
    const got = index.get(k0, k1, k2);
    if (got !== want && mismatches++ < 5)
      t.fail(`SEED=${seed} ${at}: get(${k0},${k1},${k2}) = ${got}, want ${want}`);
  };
  for (let op = 0; op < 20_000; op++) {
    if (index.moving) movesSeen++;
    const pick = random.int(0, 9);
    if (pick <= 3 && model.size < entriesMax) {
      // A new key, or (half the time) an existing one again: the newer value must win over an unmoved entry.
      const reuse = keys.length > 0 && random.int(0, 1) === 0;
      const key = reuse
        ? keys[random.int(0, keys.length - 1)]!
        : ([random.int(-5, 2 ** 31 - 1), random.int(-3, 3), random.int(0, 2)] as [number, number, number]);
      const value = random.int(0, 2 ** 31 - 2);
      index.set(...key, value);
      if (!model.has(keyOf(...key))) keys.push(key);
      model.set(keyOf(...key), value);
    } else if (pick <= 5 && keys.length > 0) {
      const key = keys[random.int(0, keys.length - 1)]!;
      check(...key, `op ${op}`);
    } else if (pick === 6 && keys.length > 0 && (!index.moving || random.int(0, 9) === 0)) {
      // Mostly between moves, as the order table deletes; now and then during one (delete finishes it).
      const at = random.int(0, keys.length - 1);
      const key = keys[at]!;
      const had = model.delete(keyOf(...key));
      keys.splice(at, 1);
      if (index.delete(...key) !== had && mismatches++ < 5)
        t.fail(`SEED=${seed} op ${op}: delete said otherwise`);
    } else if (pick === 7 && model.size === entriesMax) {
      // Full: grow, as the order table does.
      entriesMax *= 2;
      index.grow(entriesMax);
    } else index.step(random.int(0, 3));
  }
  for (const key of keys) check(...key, 'at the end');
  index.finish();
  for (const key of keys) check(...key, 'after finish');
  t.ok(movesSeen > 300, `reads and writes happened during moves (${movesSeen} ops)`);
  t.equal(mismatches, 0, 'every read as the Map says');
});

t.test('a key set during a move keeps its new value, and delete finishes the move', async (t) => {
  const index = new GrowingIndex(2);
  index.set(1, 0, 0, 10);
  index.set(2, 0, 0, 20);
  index.grow(4);
  t.ok(index.moving);
  index.set(1, 0, 0, 11);
  t.equal(index.get(2, 0, 0), 20, 'an unmoved entry is read from the old table');
  index.step(1_000);
  t.notOk(index.moving, 'the move ends after the last bucket');
  t.equal(index.get(1, 0, 0), 11, 'the move did not bring back the old value');
  t.equal(index.get(2, 0, 0), 20);
  index.grow(8);
  t.ok(index.delete(2, 0, 0));
  t.notOk(index.moving, 'delete finished the move first');
  t.equal(index.get(2, 0, 0), -1);
  t.equal(index.get(1, 0, 0), 11);
});
