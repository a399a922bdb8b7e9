/**
 * The journal thread (a worker): drains the engine's event ring, appends each
 * event to the file journal, and per batch does one write and one fdatasync
 * (group commit), then advances the durable cursor that replies wait for.
 * Slots are released as soon as their bytes are copied into the batch
 * buffer, so the engine keeps going while the fsync runs.
 *
 * On an I/O error it marks the journal failed (the engine stops taking
 * commands) and exits: after a failed fsync the file's state is unknown, so
 * the only safe continuation is a restart from snapshot + journal.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ControlBlock } from '../engine/control-block.ts';
import { EventSlot } from '../engine/layout.ts';
import { Doorbell, IdleStrategy, RingConsumer, RingProducer } from '../engine/ring.ts';
import { FileJournal } from './file-journal.ts';
import { journalDir } from './recovery.ts';

export interface JournalThreadConfig {
  dataDir: string;
  eventRing: SharedArrayBuffer;
  journalDoorbell: SharedArrayBuffer;
  control: SharedArrayBuffer;
  batchEventsMax: number;
  spinCountMax: number;
  parkTimeoutMs: number;
  segmentBytesMax?: number;
  batchBytesMax?: number;
  /**
   * Optional ring of durable events for the gateways (pushes, embedded read
   * models): each event is copied in as it is appended and published after
   * the commit, so readers only ever see durable events. The journal never
   * waits for it: when full, events are counted in control.notifyDroppedCount.
   */
  notifyRing?: SharedArrayBuffer;
}

export type JournalThreadMessage =
  | { type: 'ready'; durableSeq: number }
  | { type: 'log'; message: string }
  | { type: 'stopped'; durableSeq: number }
  | { type: 'failed'; code: string; message: string };

function run(config: JournalThreadConfig): void {
  const port = parentPort;
  if (port === null) throw new Error('journal-thread must run as a worker');
  const control = new ControlBlock(config.control);
  const journal = FileJournal.open(journalDir(config.dataDir), {
    ...(config.segmentBytesMax === undefined ? {} : { segmentBytesMax: config.segmentBytesMax }),
    ...(config.batchBytesMax === undefined ? {} : { batchBytesMax: config.batchBytesMax }),
    log: (message) => port.postMessage({ type: 'log', message } satisfies JournalThreadMessage),
  });
  control.setDurableSeq(journal.durableSeq);
  const ring = new RingConsumer(config.eventRing);
  const bytes = new Uint8Array(ring.words.buffer, ring.words.byteOffset, ring.words.byteLength);
  const doorbell = new Doorbell(config.journalDoorbell);
  const idle = new IdleStrategy(
    doorbell,
    { spinCountMax: config.spinCountMax, parkTimeoutMs: config.parkTimeoutMs },
    () => ring.available(1) > 0 || control.journalStopRequested,
  );
  control.setJournalRunning(true);
  port.postMessage({ type: 'ready', durableSeq: journal.durableSeq } satisfies JournalThreadMessage);

  const words = ring.words;
  const f64 = ring.f64;
  const notify = config.notifyRing === undefined ? null : new RingProducer(config.notifyRing);
  let notifyDropped = 0;
  for (;;) {
    const count = ring.available(config.batchEventsMax);
    if (count > 0) {
      for (let i = 0; i < count; i++) {
        const at = ring.slotOffset(i);
        const seq = f64[(at + EventSlot.seq) >> 1]!;
        const type = words[at + EventSlot.type]!;
        const atMs = f64[(at + EventSlot.atMs) >> 1]!;
        const payloadBytes = words[at + EventSlot.payloadWords]! * 4;
        const payloadOffset = (at + EventSlot.payload) * 4;
        if (!journal.append(seq, type, atMs, bytes, payloadOffset, payloadBytes)) {
          commit(journal, control, notify); // the batch buffer is full: commit it and go on
          journal.append(seq, type, atMs, bytes, payloadOffset, payloadBytes);
        }
        if (notify !== null) {
          const n = notify.claim();
          if (n < 0) notifyDropped++;
          else {
            const slotWords = EventSlot.payload + (payloadBytes >> 2);
            for (let w = 0; w < slotWords; w++) notify.words[n + w] = words[at + w]!;
          }
        }
      }
      ring.release(count);
      commit(journal, control, notify);
      if (notifyDropped > 0) {
        control.addNotifyDropped(notifyDropped);
        notifyDropped = 0;
      }
    } else if (control.journalStopRequested) {
      break;
    }
    idle.idle(count);
  }
  journal.close();
  control.setJournalRunning(false);
  port.postMessage({ type: 'stopped', durableSeq: journal.durableSeq } satisfies JournalThreadMessage);
}

/**
 * Group commit, then make it visible: the notify ring is published after the
 * fsync (readers only see durable events) and before the durable cursor moves,
 * so a gateway woken by the cursor finds the events already there.
 */
function commit(journal: FileJournal, control: ControlBlock, notify: RingProducer | null): void {
  const pending = journal.pendingRecordCount;
  if (pending === 0) return;
  const started = process.hrtime.bigint();
  const durableSeq = journal.commit();
  const micros = Number(process.hrtime.bigint() - started) / 1000;
  notify?.publish();
  control.addJournalCommit(pending, micros);
  control.setDurableSeq(durableSeq);
}

try {
  run(workerData as JournalThreadConfig);
} catch (error) {
  new ControlBlock((workerData as JournalThreadConfig).control).setJournalFailed();
  const code =
    typeof (error as { code?: unknown }).code === 'string'
      ? (error as { code: string }).code
      : 'JOURNAL_FAILED';
  parentPort?.postMessage({
    type: 'failed',
    code,
    message: error instanceof Error ? error.message : String(error),
  } satisfies JournalThreadMessage);
}
