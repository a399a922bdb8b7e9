/**
 * A finished flash sale's journal on disk: the FlashSaleStream's commands
 * run through the real processor and every event appended to a real file
 * journal, as the journal thread would (group commits when the batch buffer
 * fills). The replay and projection benchmarks read it back.
 */
import { CommandSlot, EventSlot } from '../engine/layout.ts';
import type { EngineLimits } from '../engine/limits.ts';
import { Processor } from '../engine/processor.ts';
import { SlotBuffer } from '../engine/slot-buffer.ts';
import { EngineState } from '../engine/state.ts';
import { FileJournal } from '../journal/file-journal.ts';
import { journalDir } from '../journal/journal-backend.ts';
import { FlashSaleStream } from './flash-sale-commands.ts';

/** Writes the sale into DATA_DIR/journal; returns how many events it holds. */
export function writeFlashSaleJournal(
  dataDir: string,
  limits: EngineLimits,
  shape: { buyers: number; stock: number; startMs: number },
): { eventCount: number } {
  const sale = new FlashSaleStream(shape);
  const command = new SlotBuffer(CommandSlot.words, 1);
  const commandAt = command.claim();
  const journal = FileJournal.open(journalDir(dataDir));
  const events = new SlotBuffer(EventSlot.words, 8192);
  const processor = new Processor(new EngineState(limits), events);
  const bytes = new Uint8Array(events.words.buffer);
  let eventCount = 0;
  while (sale.next(command.words, command.f64, commandAt)) {
    events.reset();
    processor.apply(command.words, command.f64, commandAt, null);
    for (let e = 0; e < events.count; e++) {
      const at = events.slotOffset(e);
      const seq = events.f64[(at + EventSlot.seq) >> 1]!;
      const type = events.words[at + EventSlot.type]!;
      const atMs = events.f64[(at + EventSlot.atMs) >> 1]!;
      const payloadOffset = (at + EventSlot.payload) * 4;
      const payloadBytes = events.words[at + EventSlot.payloadWords]! * 4;
      if (!journal.append(seq, type, atMs, bytes, payloadOffset, payloadBytes)) {
        journal.commit();
        journal.append(seq, type, atMs, bytes, payloadOffset, payloadBytes);
      }
      eventCount++;
    }
  }
  journal.commit();
  journal.close();
  return { eventCount };
}
