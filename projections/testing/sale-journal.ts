/**
 * Realistic journals for projection tests: the seeded sale simulator (engine/testing/sale-simulator.ts)
 * drives the real engine processor, and every event goes into a real FileJournal in a data directory,
 * committed in random group commits, as the journal thread would. Times start at Date.now(), so Redis TTL
 * rules in reconcile see recent orders. SEED reproduces a run.
 */
import { join } from 'node:path';
import { EngineHarness } from '../../engine/testing/harness.ts';
import { ReferenceModel } from '../../engine/testing/reference-model.ts';
import {
  RandomCommands,
  simulationCatalog,
  simulationLimits,
  stepBoth,
} from '../../engine/testing/sale-simulator.ts';
import { FileJournal, scanJournal } from '../../journal/file-journal.ts';
import { journalDir } from '../../journal/journal-backend.ts';
import { SeededRandom } from '../../lib/seeded-random.ts';
import { decodeEvent } from '../events.ts';
import { JournalModel } from '../journal-model.ts';

/** Small batches so a few thousand events cross many batch boundaries (an order's events are split). */
export const smallBatchLimits = Object.freeze({
  batchEventsMax: 97,
  readRecordsMax: 500,
  pollIntervalMs: 10,
  retryDelayMsMin: 10,
  retryDelayMsMax: 100,
});

/** What the data directory's journal says every store must hold (journal-model.ts). */
export function journalModelOf(dataDir: string): JournalModel {
  const model = new JournalModel();
  scanJournal(journalDir(dataDir), 1, (seq, type, atMs, bytes, offset, length) =>
    model.apply(decodeEvent(seq, type, atMs, bytes, offset, length)),
  );
  return model;
}

export class SaleJournalWriter {
  readonly engine = new EngineHarness(simulationLimits);
  private readonly model = new ReferenceModel(simulationLimits);
  private readonly random: SeededRandom;
  private readonly commands: RandomCommands;
  private readonly journal: FileJournal;
  private catalogSent = false;
  private appended = 0;

  /** startMs: the sale's clock at its first command (default now). */
  constructor(dataDir: string, seed: number, startMs = Date.now()) {
    this.random = new SeededRandom(seed);
    this.commands = new RandomCommands(this.random, startMs);
    this.journal = FileJournal.open(join(dataDir, 'journal'), {
      segmentBytesMax: 64 * 1024,
      batchBytesMax: 16 * 1024,
      log: () => {},
    });
  }

  /** Last durable seq. */
  get durableSeq(): number {
    return this.journal.durableSeq;
  }

  /** Runs `commandCount` more commands (the catalog first, once) and commits; returns the durable seq. */
  run(commandCount: number): number {
    const inputs = this.catalogSent ? [] : simulationCatalog(this.commands.nowMs);
    this.catalogSent = true;
    for (const input of inputs) this.step(input);
    for (let i = 0; i < commandCount; i++) this.step(this.commands.next(this.model));
    return this.journal.commit();
  }

  private step(input: Parameters<ReferenceModel['apply']>[1]): void {
    const { problem } = stepBoth(this.engine, this.model, this.commands.nowMs, input);
    if (problem !== null) throw new Error(`sale simulator: ${problem}`);
    for (; this.appended < this.engine.journal.length; this.appended++) {
      const e = this.engine.journal[this.appended]!;
      if (!this.journal.append(e.seq, e.type, e.atMs, e.payload, 0, e.payload.length)) {
        this.journal.commit();
        this.journal.append(e.seq, e.type, e.atMs, e.payload, 0, e.payload.length);
      }
    }
    if (this.random.chance(0.2)) this.journal.commit();
  }

  close(): void {
    this.journal.commit();
    this.journal.close();
  }
}

/** A finished sale of `commandCount` commands in `dataDir`; returns the journal's last seq. */
export function writeSaleJournal(
  dataDir: string,
  seed: number,
  commandCount: number,
  startMs = Date.now(),
): { lastSeq: number; writer: SaleJournalWriter } {
  const writer = new SaleJournalWriter(dataDir, seed, startMs);
  const lastSeq = writer.run(commandCount);
  writer.close();
  return { lastSeq, writer };
}

/** Commands chosen by a test, one at a time, into a FileJournal (committed when the test says). */
export class ScriptedJournal {
  readonly engine = new EngineHarness(simulationLimits);
  private readonly journal: FileJournal;
  private appended = 0;
  nowMs = Date.now();

  constructor(dataDir: string) {
    this.journal = FileJournal.open(join(dataDir, 'journal'), { log: () => {} });
  }

  run(input: Parameters<ReferenceModel['apply']>[1]): ReturnType<EngineHarness['run']> {
    this.nowMs += 10;
    const reply = this.engine.run(this.nowMs, input);
    for (; this.appended < this.engine.journal.length; this.appended++) {
      const e = this.engine.journal[this.appended]!;
      this.journal.append(e.seq, e.type, e.atMs, e.payload, 0, e.payload.length);
    }
    return reply;
  }

  /** Makes everything run so far durable; returns the durable seq. */
  commit(): number {
    return this.journal.commit();
  }

  close(): void {
    this.journal.commit();
    this.journal.close();
  }
}
