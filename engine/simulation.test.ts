/**
 * Seeded simulation: random command streams applied to the engine and to a
 * deliberately naive reference model, answers and stock compared and
 * invariants checked after every command. Along the way the engine "crashes"
 * at random points and is recovered from its last snapshot plus the events
 * after it; the recovered state must hash the same, and the run continues on
 * it. (node/host/crash-simulation.test.ts does the same over the real file
 * journal, losing what was not yet fsynced.)
 *
 * Several seeds run by default; SEED=n replays one; SIM_COMMANDS=n lengthens runs.
 */
import t from 'tap';
import { SeededRandom, seedFromEnv } from '../lib/seeded-random.ts';
import { EventApplier } from './event-applier.ts';
import { checkInvariants } from './invariants.ts';
import { decodeSnapshot, encodeSnapshot, snapshotLastSeq } from './snapshot.ts';
import { EngineState } from './state.ts';
import { stateHash } from './state-hash.ts';
import { EngineHarness } from './testing/harness.ts';
import { ReferenceModel } from './testing/reference-model.ts';
import {
  simulationLimits as limits,
  RandomCommands,
  simulationCatalog,
  simulationStartMs,
  stepBoth,
} from './testing/sale-simulator.ts';

const commandsPerSeed = Number(process.env.SIM_COMMANDS ?? 4000);
const seeds = process.env.SEED
  ? [seedFromEnv()]
  : [seedFromEnv(), seedFromEnv(), seedFromEnv(), seedFromEnv()];

function replayAll(events: EngineHarness['journal'], from: EngineState, afterSeq: number): EngineState {
  const applier = new EventApplier(from);
  for (const e of events)
    if (e.seq > afterSeq) applier.apply(e.seq, e.type, e.atMs, e.payload, 0, e.payload.length);
  return applier.state;
}

for (const seed of seeds) {
  t.test(`simulation seed ${seed}`, async (t) => {
    const random = new SeededRandom(seed);
    const engine = new EngineHarness(limits);
    const model = new ReferenceModel(limits);
    const commands = new RandomCommands(random, simulationStartMs);
    let snapshot = encodeSnapshot(engine.state);
    let crashes = 0;
    const paths = new Map<string, number>();

    const catalog = simulationCatalog(commands.nowMs);
    for (let i = 1 - catalog.length; i <= commandsPerSeed; i++) {
      const input = i <= 0 ? catalog[i + catalog.length - 1]! : commands.next(model);
      const { problem, path } = stepBoth(engine, model, commands.nowMs, input);
      paths.set(path, (paths.get(path) ?? 0) + 1);
      if (problem !== null) {
        t.fail(`${problem} (SEED=${seed}, command ${i})`);
        return;
      }
      if (random.chance(0.004)) snapshot = encodeSnapshot(engine.state);
      if (random.chance(0.003)) {
        // Crash: all that survives is the last snapshot and the journal.
        const liveHash = stateHash(engine.state);
        const recovered = replayAll(engine.journal, decodeSnapshot(snapshot), snapshotLastSeq(snapshot));
        t.equal(stateHash(recovered), liveHash, `recovered state hash (SEED=${seed}, command ${i})`);
        t.same(checkInvariants(recovered), [], `invariants after recovery (SEED=${seed}, command ${i})`);
        engine.restart(recovered);
        crashes++;
      }
    }

    // Replaying the whole journal from nothing reaches the same state.
    const fromScratch = replayAll(engine.journal, new EngineState(limits), 0);
    t.equal(stateHash(fromScratch), stateHash(engine.state), `full replay hash (SEED=${seed})`);
    t.comment(`seed ${seed}: ${engine.journal.length} events, ${crashes} crashes`);
    // The run must have exercised the interesting paths, or it proves little.
    for (const path of [
      'placeOrder:ok',
      'placeOrder:soldOut',
      'paymentResult:ok',
      'cancelOrder:ok',
      'placeOrder:priceChanged',
    ]) {
      t.ok((paths.get(path) ?? 0) > 0, `exercised ${path} (SEED=${seed})`);
    }
  });
}
