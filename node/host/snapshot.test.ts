/**
 * Snapshot encoding (engine/snapshot.ts): a snapshot's size follows the state
 * in use, not the capacities; decoding gives back every array byte for byte
 * (so the state hash too) for seeded random states; corrupt and unknown
 * snapshots are refused; version 1 snapshots (every array whole) still read.
 *
 * SEED=n replays one seed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ResultCode } from '../../engine/codes.ts';
import { packCurrency } from '../../engine/layout.ts';
import { type EngineLimits, engineLimits } from '../../engine/limits.ts';
import { decodeSnapshot, encodeSnapshot, SnapshotFormatError, snapshotMagic } from '../../engine/snapshot.ts';
import { EngineState, Scalar, stateArrays } from '../../engine/state.ts';
import { stateHash } from '../../engine/state-hash.ts';
import { EngineHarness } from '../../engine/testing/harness.ts';
import { ReferenceModel } from '../../engine/testing/reference-model.ts';
import {
  RandomCommands,
  simulationCatalog,
  simulationLimits,
  simulationStartMs,
  stepBoth,
} from '../../engine/testing/sale-simulator.ts';
import { FileJournal } from '../../journal/file-journal.ts';
import { fileJournalIdentity, journalDir } from '../../journal/journal-backend.ts';
import type { JournalIdentity } from '../../journal/journal-identity.ts';
import { readNewestSnapshot, snapshotsDir, writeSnapshot } from '../../journal/snapshot-store.ts';
import { SeededRandom, seedFromEnv } from '../../lib/seeded-random.ts';
import { recoverState } from './recovery.ts';

const align8 = (n: number): number => (n + 7) & ~7;

/** What version 1 wrote for this state: every array whole. */
function encodeVersion1(state: EngineState): Uint8Array {
  const arrays = stateArrays(state);
  const header = {
    limits: state.limits,
    lastSeq: state.scalars[Scalar.lastSeq]!,
    arrays: arrays.map(({ name, array }) => ({ name, bytes: array.byteLength })),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  let total = align8(16 + json.length);
  for (const { array } of arrays) total += align8(array.byteLength);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, snapshotMagic, true);
  view.setUint32(4, 1, true);
  view.setUint32(8, json.length, true);
  out.set(json, 16);
  let at = align8(16 + json.length);
  for (const { array } of arrays) {
    out.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), at);
    at += align8(array.byteLength);
  }
  return out;
}

/** The bytes of every array, equal or the name of the first that differs. */
function firstDifference(a: EngineState, b: EngineState): string | null {
  const left = stateArrays(a);
  const right = stateArrays(b);
  for (let i = 0; i < left.length; i++) {
    const x = new Uint8Array(left[i]!.array.buffer, left[i]!.array.byteOffset, left[i]!.array.byteLength);
    const y = new Uint8Array(right[i]!.array.buffer, right[i]!.array.byteOffset, right[i]!.array.byteLength);
    if (x.length !== y.length) return `${left[i]!.name} length`;
    for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) return `${left[i]!.name} byte ${k}`;
  }
  return null;
}

const usd = packCurrency('USD');

/** A store with one product and `orders` placed orders, each by its own buyer. */
function storeWithOrders(limits: EngineLimits, orders: number): EngineHarness {
  const engine = new EngineHarness(limits);
  const nowMs = simulationStartMs;
  engine.run(nowMs, { type: 'addProduct', skuId: 1, priceMinor: 500, currency: usd, stock: 1_000_000 });
  for (let i = 1; i <= orders; i++) {
    const reply = engine.run(nowMs, {
      type: 'placeOrder',
      buyerId: i,
      requestId: i,
      totalMinor: 500,
      lines: [{ skuId: 1, quantity: 1, unitPriceMinor: 500 }],
    });
    if (reply.result !== ResultCode.ok) throw new Error(`order ${i} refused: ${reply.result}`);
  }
  return engine;
}

t.test('a snapshot holds the state in use, not the capacities', async (t) => {
  const limits = engineLimits(); // the defaults a node runs with: 366 MiB of arrays
  const capacityBytes = stateArrays(new EngineState(limits)).reduce((n, a) => n + a.array.byteLength, 0);
  const empty = encodeSnapshot(new EngineState(limits));
  const tenOrders = encodeSnapshot(storeWithOrders(limits, 10).state);
  const thousandOrders = encodeSnapshot(storeWithOrders(limits, 1000).state);
  t.comment(
    `capacity ${capacityBytes} B; snapshot: empty ${empty.length} B, 10 orders ${tenOrders.length} B, 1000 orders ${thousandOrders.length} B`,
  );
  // The availability array (400 KiB at the default skusMax) is written whole; everything else by what is used.
  t.ok(empty.length < 1024 * 1024, `empty store: ${empty.length} B is under 1 MiB`);
  t.ok(
    tenOrders.length < capacityBytes / 100,
    `10 orders: ${tenOrders.length} B, far below ${capacityBytes} B`,
  );
  t.ok(tenOrders.length > empty.length, 'orders make the snapshot larger');
  const perOrderBytes = (thousandOrders.length - tenOrders.length) / 990;
  t.ok(
    perOrderBytes > 50 && perOrderBytes < 1024,
    `grows with the orders: ${perOrderBytes.toFixed(0)} B per order`,
  );
});

t.test('a fresh state is all baseline: only the whole arrays are written', async (t) => {
  const bytes = encodeSnapshot(new EngineState(simulationLimits));
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(16, 16 + new DataView(bytes.buffer).getUint32(8, true))),
  ) as { arrays: { name: string; runs: number }[] };
  const whole = new Set(stateArrays(new EngineState(simulationLimits)).filter((a) => a.baseline === 'whole'));
  const wholeNames = new Set([...whole].map((a) => a.name));
  for (const { name, runs } of header.arrays) {
    if (!wholeNames.has(name)) t.equal(runs, 0, `${name}: a fresh state's array matches its baseline`);
  }
});

for (const seed of process.env.SEED ? [seedFromEnv()] : [seedFromEnv(), seedFromEnv(), seedFromEnv()]) {
  t.test(`random states round-trip byte for byte (SEED=${seed})`, async (t) => {
    // The simulation's small limits: the order slots, request window and buyers fill, so hash
    // indexes see deletions (backward shifts leave stale key words), slots are reused, the
    // timer wheel holds expiries and retentions.
    const random = new SeededRandom(seed);
    const engine = new EngineHarness(simulationLimits);
    const model = new ReferenceModel(simulationLimits);
    const commands = new RandomCommands(random, simulationStartMs);
    const catalog = simulationCatalog(commands.nowMs);
    let checked = 0;
    let checkedWithTimers = 0;
    for (let i = 1 - catalog.length; i <= 3000; i++) {
      const input = i <= 0 ? catalog[i + catalog.length - 1]! : commands.next(model);
      const { problem } = stepBoth(engine, model, commands.nowMs, input);
      if (problem !== null) {
        t.fail(`${problem} (SEED=${seed}, command ${i})`);
        return;
      }
      if (i > 0 && random.chance(0.02)) {
        const state = engine.state;
        const decoded = decodeSnapshot(encodeSnapshot(state));
        const difference = firstDifference(decoded, state);
        if (difference !== null) {
          t.fail(`decoded state differs in ${difference} (SEED=${seed}, command ${i})`);
          return;
        }
        if (stateHash(decoded) !== stateHash(state)) {
          t.fail(`decoded state hash differs (SEED=${seed}, command ${i})`);
          return;
        }
        // Version 1 of the same state reads to the same state.
        if (firstDifference(decodeSnapshot(encodeVersion1(state)), state) !== null) {
          t.fail(`version 1 snapshot read differently (SEED=${seed}, command ${i})`);
          return;
        }
        checked++;
        if (state.timerHead.some((head) => head >= 0)) checkedWithTimers++;
      }
    }
    const s = engine.state;
    t.ok(checked > 20, `${checked} snapshots checked`);
    // The run reached the states worth checking, or it proves little.
    t.ok(
      s.scalars[Scalar.requestCount] === simulationLimits.requestIdsMax,
      'request window wrapped (deletions)',
    );
    t.ok(s.scalars[Scalar.orderSerialNext]! > simulationLimits.ordersMax, 'order slots were reused');
    t.ok(s.buyerIndex.size > 1, 'buyers tracked');
    t.ok(checkedWithTimers > 0, `${checkedWithTimers} snapshots checked with timers scheduled`);
  });
}

t.test('corrupt, truncated and unknown snapshots are refused with SNAPSHOT_INVALID', async (t) => {
  const state = storeWithOrders(simulationLimits, 5).state;
  const good = encodeSnapshot(state);
  const refused = (bytes: Uint8Array, pattern: RegExp, what: string): void => {
    t.throws(() => decodeSnapshot(bytes), { constructor: SnapshotFormatError, message: pattern }, what);
    try {
      decodeSnapshot(bytes);
    } catch (error) {
      t.equal((error as SnapshotFormatError).code, 'SNAPSHOT_INVALID', `${what}: coded`);
    }
  };
  refused(good.subarray(0, good.length - 8), /truncated/, 'truncated');
  refused(new Uint8Array([...good, 0, 0, 0, 0, 0, 0, 0, 0]), /after its last array/, 'trailing bytes');
  const version = good.slice();
  new DataView(version.buffer).setUint32(4, 3, true);
  refused(version, /version 3 is not one this engine reads/, 'unknown version');
  const magic = good.slice();
  magic[0] = 0;
  refused(magic, /bad magic/, 'bad magic');
  // A run past its array: find the first run (the scalars, start word 0) and move it out of place.
  const jsonBytes = new DataView(good.buffer).getUint32(8, true);
  const firstRun = align8(16 + jsonBytes);
  const misplaced = good.slice();
  new DataView(misplaced.buffer).setUint32(firstRun, 1_000_000, true);
  refused(misplaced, /out of place/, 'run outside its array');
  const header = good.slice();
  header[20] = 0x7b; // '{' inside the JSON
  refused(header, /not JSON|lacks/, 'damaged header');
});

/** The identity of the file journal in `dataDir` (opened first), which every snapshot records. */
function journalOf(dataDir: string): JournalIdentity {
  const identity = fileJournalIdentity(journalDir(dataDir));
  if (identity === null) throw new Error(`no file journal in ${dataDir}`);
  return identity;
}

t.test('the snapshot store still refuses a snapshot whose checksum fails', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-snapshot-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const state = storeWithOrders(simulationLimits, 5).state;
  FileJournal.open(journalDir(dataDir)).close();
  writeSnapshot(dataDir, state.scalars[Scalar.lastSeq]!, encodeSnapshot(state), journalOf(dataDir));
  const file = join(snapshotsDir(dataDir), readdirSync(snapshotsDir(dataDir))[0]!);
  const bytes = readFileSync(file);
  bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
  writeFileSync(file, bytes);
  const logged: string[] = [];
  t.equal(
    readNewestSnapshot(dataDir, (m) => logged.push(m)),
    null,
    'not used',
  );
  t.match(logged.join('\n'), /checksum mismatch/, 'and said why');
});

t.test('recovery refuses a snapshot it cannot read, naming the file and the way on', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stampede-snapshot-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const bytes = encodeSnapshot(new EngineState(simulationLimits));
  new DataView(bytes.buffer).setUint32(4, 9, true); // a version from the future, checksummed as written
  FileJournal.open(journalDir(dataDir)).close();
  writeSnapshot(dataDir, 0, bytes, journalOf(dataDir));
  t.throws(() => recoverState(dataDir, simulationLimits), {
    code: 'SNAPSHOT_INVALID',
    message:
      /^SNAPSHOT_INVALID: snapshot snapshot-0{16}\.snap cannot be read \(snapshot version 9 .*move it out of/,
  });
});
