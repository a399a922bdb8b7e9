/**
 * The simulator over the real file journal: every command's events are
 * appended to a FileJournal and committed (write + fdatasync) in random group
 * commits; a reply counts as acknowledged only once the journal is durable
 * past it. At random points the node crashes: the uncommitted batch is lost,
 * sometimes with a torn half-record left on disk, and it recovers from its
 * newest snapshot file plus the journal. The recovered state must hash the
 * same as the live engine did at the last durable point, so every acknowledged
 * effect survived and nothing unacknowledged appeared; the reference model is
 * rolled back to that point too, and the run continues on the recovered state.
 *
 * SEED=n replays one seed; SIM_COMMANDS=n lengthens runs.
 */
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { checkInvariants } from '../../engine/invariants.ts';
import { encodeSnapshot } from '../../engine/snapshot.ts';
import { Scalar } from '../../engine/state.ts';
import { stateHash } from '../../engine/state-hash.ts';
import { EngineHarness } from '../../engine/testing/harness.ts';
import { ReferenceModel } from '../../engine/testing/reference-model.ts';
import {
  simulationLimits as limits,
  RandomCommands,
  simulationCatalog,
  simulationStartMs,
  stepBoth,
} from '../../engine/testing/sale-simulator.ts';
import { FileJournal } from '../../journal/file-journal.ts';
import { fileJournalIdentity, journalDir } from '../../journal/journal-backend.ts';
import { writeSnapshot } from '../../journal/snapshot-store.ts';
import { SeededRandom, seedFromEnv } from '../../lib/seeded-random.ts';
import { recoverState } from './recovery.ts';

const commandsPerSeed = Number(process.env.SIM_COMMANDS ?? 2500);
const seeds = process.env.SEED ? [seedFromEnv()] : [seedFromEnv(), seedFromEnv(), seedFromEnv()];

/** A deep copy of the model, to roll back to at a crash (Maps of plain objects). */
function cloneModel(model: ReferenceModel): ReferenceModel {
  const copy = new ReferenceModel(limits);
  const clone = structuredClone({
    products: model.products,
    orders: model.orders,
    buyers: model.buyers,
    held: model.held,
    requests: model.requests,
    payments: model.payments,
  });
  for (const key of ['products', 'orders', 'buyers', 'held', 'requests', 'payments'] as const) {
    for (const [k, v] of clone[key] as Map<unknown, unknown>) (copy[key] as Map<unknown, unknown>).set(k, v);
  }
  copy.nextOrderId = model.nextOrderId;
  copy.nowMs = model.nowMs;
  return copy;
}

for (const seed of seeds) {
  t.test(`crash simulation over the file journal, seed ${seed}`, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'stampede-crash-'));
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
    const random = new SeededRandom(seed);
    const engine = new EngineHarness(limits);
    let model = new ReferenceModel(limits);
    const commands = new RandomCommands(random, simulationStartMs);
    let journal = FileJournal.open(journalDir(dataDir), {
      segmentBytesMax: 16_384,
      batchBytesMax: 8192,
      log: () => {},
    });
    let appended = 0; // engine.journal entries handed to the file journal
    // What the node looked like at its last durable point.
    let durable = { seq: 0, hash: stateHash(engine.state), model: cloneModel(model), nowMs: commands.nowMs };
    let acknowledged = 0;
    let pending = 0;
    let crashes = 0;
    let torn = 0;

    const commit = (): void => {
      const seq = journal.commit();
      t.equal(seq, engine.state.scalars[Scalar.lastSeq], 'the journal is durable up to the engine');
      acknowledged += pending;
      pending = 0;
      durable = { seq, hash: stateHash(engine.state), model: cloneModel(model), nowMs: commands.nowMs };
      if (random.chance(0.1)) {
        writeSnapshot(dataDir, seq, encodeSnapshot(engine.state), fileJournalIdentity(journalDir(dataDir))!);
      }
    };

    const catalog = simulationCatalog(commands.nowMs);
    for (let i = 1 - catalog.length; i <= commandsPerSeed; i++) {
      const input = i <= 0 ? catalog[i + catalog.length - 1]! : commands.next(model);
      const { problem } = stepBoth(engine, model, commands.nowMs, input);
      if (problem !== null) {
        t.fail(`${problem} (SEED=${seed}, command ${i})`);
        return;
      }
      for (; appended < engine.journal.length; appended++) {
        const e = engine.journal[appended]!;
        if (!journal.append(e.seq, e.type, e.atMs, e.payload, 0, e.payload.length)) {
          commit();
          journal.append(e.seq, e.type, e.atMs, e.payload, 0, e.payload.length);
        }
      }
      pending++;
      if (random.chance(0.15)) commit();

      if (i > 0 && random.chance(0.01)) {
        // Crash: the batch in memory is gone; sometimes half of a record reached the disk.
        journal.close();
        if (random.chance(0.5)) {
          const last = readdirSync(journalDir(dataDir))
            .filter((f) => f.endsWith('.seg'))
            .sort()
            .pop()!;
          const garbage = Buffer.alloc(random.int(4, 60), random.int(0, 255));
          garbage.writeUInt32LE(0x314a5453, 0); // starts like a record frame: magic 'STJ1'
          appendFileSync(join(journalDir(dataDir), last), garbage);
          torn++;
        }
        journal = FileJournal.open(journalDir(dataDir), {
          segmentBytesMax: 16_384,
          batchBytesMax: 8192,
          log: () => {},
        });
        t.equal(
          journal.durableSeq,
          durable.seq,
          `nothing past the last fsync survives (SEED=${seed}, command ${i})`,
        );
        const recovered = recoverState(dataDir, limits).state;
        t.equal(
          stateHash(recovered),
          durable.hash,
          `recovered = state at the last durable point (SEED=${seed}, command ${i})`,
        );
        t.same(checkInvariants(recovered), [], `invariants after recovery (SEED=${seed}, command ${i})`);
        engine.restart(recovered);
        engine.journal.length = durable.seq; // the lost events never happened
        appended = durable.seq;
        model = cloneModel(durable.model);
        commands.nowMs = Math.max(commands.nowMs, durable.nowMs);
        pending = 0;
        crashes++;
      }
    }
    commit();
    journal.close();
    t.comment(
      `seed ${seed}: ${crashes} crashes (${torn} torn tails), ${acknowledged} acknowledged replies, durable seq ${durable.seq}`,
    );
    t.ok(crashes > 0, 'the run crashed at least once');
  });
}
