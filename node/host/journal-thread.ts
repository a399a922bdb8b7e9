/**
 * The journal thread (a worker): drains the engine's event ring, appends each
 * event to the journal, makes each batch durable with one group commit, then
 * advances the durable cursor that replies wait for. Slots are released as
 * soon as their bytes are copied into the batch, so the engine keeps going
 * while the commit runs.
 *
 * Two loops over the same steps (EventPipe holds what they share):
 * - the file journal (the default): synchronous, one write and one fdatasync
 *   per batch, spinning then parking on the doorbell (Atomics.wait);
 * - any JournalWriter (Kafka): asynchronous, `await commit()` (one send,
 *   acknowledged by every in-sync replica), parking with Atomics.waitAsync
 *   so the event loop that delivers the acknowledgements keeps running.
 *
 * On an error it marks the journal failed (the engine stops taking
 * commands) and exits: after a failed fsync the file's state is unknown, and
 * after a failed send the partition's, so the only safe continuation is a
 * restart from snapshot + journal.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ControlBlock } from '../../engine/control-block.ts';
import { EventSlot } from '../../engine/layout.ts';
import { Doorbell, IdleStrategy, RingConsumer, RingProducer } from '../../engine/ring.ts';
import { FileJournal, type JournalFs } from '../../journal/file-journal.ts';
import type { JournalWriter } from '../../journal/journal-backend.ts';
import { journalDir } from '../../journal/journal-backend.ts';
import {
  fileJournalSelection,
  type JournalBackendOptions,
  type JournalSelection,
  journalBackendFor,
} from '../../journal/journal-selection.ts';

export interface JournalThreadConfig {
  dataDir: string;
  /** Which journal to write (default: the file journal in dataDir). */
  journal?: JournalSelection;
  eventRing: SharedArrayBuffer;
  journalDoorbell: SharedArrayBuffer;
  control: SharedArrayBuffer;
  batchEventsMax: number;
  spinCountMax: number;
  parkTimeoutMs: number;
  /** File journal only. */
  segmentBytesMax?: number;
  batchBytesMax?: number;
  /**
   * Optional ring of durable events for the gateways (pushes, embedded read
   * models): each event is copied in as it is appended and published after
   * the commit, so readers only ever see durable events. The journal never
   * waits for it: when full, events are counted in control.notifyDroppedCount,
   * and the gateway's feed sees the gap in the sequence and reads them from the
   * journal (gateways/durable-event-feed.ts).
   */
  notifyRing?: SharedArrayBuffer;
}

export type JournalThreadMessage =
  | { type: 'ready'; durableSeq: number }
  | { type: 'log'; message: string }
  | { type: 'stopped'; durableSeq: number }
  | { type: 'failed'; code: string; message: string };

/** What both loops append to: FileJournal itself, or any JournalWriter. */
type Appender = Pick<JournalWriter, 'append'>;

/** The rings and cursors both loops drive: events in, durable events out to the notify ring and the cursor. */
class EventPipe {
  readonly control: ControlBlock;
  readonly ring: RingConsumer;
  private readonly bytes: Uint8Array;
  private readonly notify: RingProducer | null;
  private notifyDropped = 0;

  constructor(config: JournalThreadConfig) {
    this.control = new ControlBlock(config.control);
    this.ring = new RingConsumer(config.eventRing);
    const words = this.ring.words;
    this.bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
    this.notify = config.notifyRing === undefined ? null : new RingProducer(config.notifyRing);
  }

  /**
   * Appends the available events from index `from` up to `count` (the last available() result) and copies
   * each into the notify ring (claimed, published only after the commit). Returns the index of the first
   * event the batch had no room for: `count` when all fit; otherwise commit, then continue from there.
   */
  append(journal: Appender, from: number, count: number): number {
    const ring = this.ring;
    const words = ring.words;
    const f64 = ring.f64;
    const bytes = this.bytes;
    const notify = this.notify;
    for (let i = from; i < count; i++) {
      const at = ring.slotOffset(i);
      const payloadBytes = words[at + EventSlot.payloadWords]! * 4;
      const appended = journal.append(
        f64[(at + EventSlot.seq) >> 1]!,
        words[at + EventSlot.type]!,
        f64[(at + EventSlot.atMs) >> 1]!,
        bytes,
        (at + EventSlot.payload) * 4,
        payloadBytes,
      );
      if (!appended) return i;
      if (notify !== null) {
        const n = notify.claim();
        if (n < 0) this.notifyDropped++;
        else {
          const slotWords = EventSlot.payload + (payloadBytes >> 2);
          for (let w = 0; w < slotWords; w++) notify.words[n + w] = words[at + w]!;
        }
      }
    }
    return count;
  }

  /**
   * After a group commit of `records` records: make it visible. The notify ring is published after the
   * commit (readers only see durable events) and before the durable cursor moves, so a gateway woken by
   * the cursor finds the events already there.
   */
  committed(records: number, micros: number, durableSeq: number): void {
    this.notify?.publish();
    this.control.addJournalCommit(records, micros);
    this.control.setDurableSeq(durableSeq);
    if (this.notifyDropped > 0) {
      this.control.addNotifyDropped(this.notifyDropped);
      this.notifyDropped = 0;
    }
  }
}

const microsSince = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1000;

type Post = (message: JournalThreadMessage) => void;

/** The file journal's sizes and fs seam, and the backend's log lines sent to the host. */
function backendOptions(
  config: JournalThreadConfig,
  post: Post,
  fs: JournalFs | undefined,
): JournalBackendOptions {
  return {
    ...(config.segmentBytesMax === undefined ? {} : { segmentBytesMax: config.segmentBytesMax }),
    ...(config.batchBytesMax === undefined ? {} : { batchBytesMax: config.batchBytesMax }),
    ...(fs === undefined ? {} : { fs }),
    log: (message) => post({ type: 'log', message }),
  };
}

/** The selection's fsModule (tests), loaded: a function cannot cross into a worker, a module name can. */
async function journalFsOf(selection: JournalSelection): Promise<JournalFs | undefined> {
  if (selection.kind !== 'file' || selection.fsModule === undefined) return undefined;
  const loaded = (await import(selection.fsModule)) as { journalFs: JournalFs };
  return loaded.journalFs;
}

/** The file journal's loop: synchronous, so the hot path has no promise or event-loop turn in it. */
function runFileLoop(
  config: JournalThreadConfig,
  pipe: EventPipe,
  post: Post,
  fs: JournalFs | undefined,
): void {
  const { control, ring } = pipe;
  const journal = FileJournal.open(journalDir(config.dataDir), backendOptions(config, post, fs));
  const commit = (): void => {
    const pending = journal.pendingRecordCount;
    if (pending === 0) return;
    const started = process.hrtime.bigint();
    const durableSeq = journal.commit();
    pipe.committed(pending, microsSince(started), durableSeq);
  };
  control.setDurableSeq(journal.durableSeq);
  const idle = new IdleStrategy(
    new Doorbell(config.journalDoorbell),
    { spinCountMax: config.spinCountMax, parkTimeoutMs: config.parkTimeoutMs },
    () => ring.available(1) > 0 || control.journalStopRequested,
  );
  control.setJournalRunning(true);
  post({ type: 'ready', durableSeq: journal.durableSeq });
  for (;;) {
    const count = ring.available(config.batchEventsMax);
    if (count > 0) {
      let next = pipe.append(journal, 0, count);
      while (next < count) {
        commit(); // the batch buffer is full: commit it and go on
        next = pipe.append(journal, next, count);
      }
      ring.release(count);
      commit();
    } else if (control.journalStopRequested) {
      break;
    }
    idle.idle(count);
  }
  journal.close();
  control.setJournalRunning(false);
  post({ type: 'stopped', durableSeq: journal.durableSeq });
}

/**
 * The loop over any JournalWriter: drain, append, release, `await commit()`, publish. While a commit is
 * awaited the engine keeps filling the ring, so the next batch is everything that arrived meanwhile (group
 * commit by batching). Parks without blocking the event loop.
 */
async function runWriterLoop(
  config: JournalThreadConfig,
  selection: JournalSelection,
  pipe: EventPipe,
  post: Post,
  fs: JournalFs | undefined,
): Promise<void> {
  const { control, ring } = pipe;
  const backend = await journalBackendFor(selection, config.dataDir, backendOptions(config, post, fs));
  const writer = await backend.openWriter();
  const doorbell = new Doorbell(config.journalDoorbell);
  const hasWork = (): boolean => ring.available(1) > 0 || control.journalStopRequested;
  try {
    control.setDurableSeq(writer.durableSeq);
    control.setJournalRunning(true);
    post({ type: 'ready', durableSeq: writer.durableSeq });
    for (;;) {
      const count = ring.available(config.batchEventsMax);
      if (count > 0) {
        // Stops early when the batch is full: those slots are released, the rest wait for the next round.
        ring.release(pipe.append(writer, 0, count));
        const pending = writer.pendingRecordCount;
        const started = process.hrtime.bigint();
        const durableSeq = await writer.commit();
        pipe.committed(pending, microsSince(started), durableSeq);
      } else if (control.journalStopRequested) {
        break;
      } else {
        await doorbell.parkAsync(hasWork, config.parkTimeoutMs);
      }
    }
  } catch (error) {
    // Release the backend's connections so the thread can exit; the error is what gets reported.
    await writer.close().catch(() => {});
    throw error;
  }
  await writer.close();
  control.setJournalRunning(false);
  post({ type: 'stopped', durableSeq: writer.durableSeq });
}

async function main(config: JournalThreadConfig): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('journal-thread must run as a worker');
  const post: Post = (message) => port.postMessage(message);
  const pipe = new EventPipe(config);
  const selection = config.journal ?? fileJournalSelection;
  const fs = await journalFsOf(selection);
  if (selection.kind === 'file' && selection.asyncLoop !== true) runFileLoop(config, pipe, post, fs);
  else await runWriterLoop(config, selection, pipe, post, fs);
}

main(workerData as JournalThreadConfig).catch((error: unknown) => {
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
});
