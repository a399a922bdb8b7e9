/**
 * The small shared block through which the host, the engine thread and the
 * journal thread coordinate: flags, the durable cursor, and counters for
 * metrics. Described once here; nothing else uses offsets into it.
 *
 *   Int32 words                          BigInt64 / Float64 (byte offset)
 *   0 engineRunning (1 while looping)    64  durableSeq   (BigInt64, journal stores)
 *   1 stopRequested (host sets)          72  engineLastSeq (BigInt64, engine stores per batch)
 *   2 snapshotRequests (host adds)       80  commandCount (Float64, engine)
 *   3 durableEpoch (journal adds+notify) 88  engineBatchCount (Float64, engine)
 *   4 journalRunning                     96  fsyncCount (Float64, journal)
 *   5 journalFailed                      104 fsyncMicrosTotal (Float64, journal)
 *   6 journalStopRequested               112 fsyncMicrosMax (Float64, journal)
 *                                        120 journalRecordCount (Float64, journal)
 *                                        128 notifyDroppedCount (Float64, journal)
 *
 * durableEpoch lets a thread with an event loop `Atomics.waitAsync` for the
 * next commit instead of polling durableSeq (a BigInt64 cannot be waited on
 * portably). Float64 counters are written by one thread and read loosely: a
 * metric read may be one batch stale, never torn in a way that matters.
 */
export const controlBlockBytes = 192;

/**
 * A pending waitAsync holds no event-loop handle (Node would exit under it). One timer per thread keeps the
 * loop alive, ref'd only while a waitDurableEpochChange is pending; its period only has to exist.
 */
const keepAlive = { waiters: 0, timer: null as NodeJS.Timeout | null, periodMs: 2 ** 30 };

const I = {
  engineRunning: 0,
  stopRequested: 1,
  snapshotRequests: 2,
  durableEpoch: 3,
  journalRunning: 4,
  journalFailed: 5,
  journalStopRequested: 6,
} as const;
const B = { durableSeq: 8, engineLastSeq: 9 } as const; // BigInt64 indices (byte / 8)
const F = {
  commandCount: 10,
  engineBatchCount: 11,
  fsyncCount: 12,
  fsyncMicrosTotal: 13,
  fsyncMicrosMax: 14,
  journalRecordCount: 15,
  notifyDroppedCount: 16,
} as const; // Float64 indices (byte / 8)

export class ControlBlock {
  readonly buffer: SharedArrayBuffer;
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  private readonly f64: Float64Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(controlBlockBytes)) {
    if (buffer.byteLength < controlBlockBytes) throw new RangeError('control block buffer too small');
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer);
    this.i64 = new BigInt64Array(buffer);
    this.f64 = new Float64Array(buffer);
  }

  // Flags.
  get engineRunning(): boolean {
    return Atomics.load(this.i32, I.engineRunning) === 1;
  }
  setEngineRunning(running: boolean): void {
    Atomics.store(this.i32, I.engineRunning, running ? 1 : 0);
  }
  get stopRequested(): boolean {
    return Atomics.load(this.i32, I.stopRequested) === 1;
  }
  requestStop(): void {
    Atomics.store(this.i32, I.stopRequested, 1);
  }
  get journalStopRequested(): boolean {
    return Atomics.load(this.i32, I.journalStopRequested) === 1;
  }
  requestJournalStop(): void {
    Atomics.store(this.i32, I.journalStopRequested, 1);
  }
  get journalRunning(): boolean {
    return Atomics.load(this.i32, I.journalRunning) === 1;
  }
  setJournalRunning(running: boolean): void {
    Atomics.store(this.i32, I.journalRunning, running ? 1 : 0);
  }
  get journalFailed(): boolean {
    return Atomics.load(this.i32, I.journalFailed) === 1;
  }
  setJournalFailed(): void {
    Atomics.store(this.i32, I.journalFailed, 1);
    this.bumpDurableEpoch(); // wake waiters so they see the failure
  }
  /** Host side: ask for a snapshot; the engine takes one per increment it sees. */
  requestSnapshot(): number {
    return Atomics.add(this.i32, I.snapshotRequests, 1) + 1;
  }
  get snapshotRequests(): number {
    return Atomics.load(this.i32, I.snapshotRequests);
  }

  // The durable cursor.
  get durableSeq(): number {
    return Number(Atomics.load(this.i64, B.durableSeq));
  }
  /** Journal thread: publish a new durable sequence and wake waiters. */
  setDurableSeq(seq: number): void {
    Atomics.store(this.i64, B.durableSeq, BigInt(seq));
    this.bumpDurableEpoch();
  }
  get durableEpoch(): number {
    return Atomics.load(this.i32, I.durableEpoch);
  }
  private bumpDurableEpoch(): void {
    Atomics.add(this.i32, I.durableEpoch, 1);
    Atomics.notify(this.i32, I.durableEpoch);
  }
  /** Resolves when the durable epoch moves past `epoch` (or after timeoutMs). */
  async waitDurableEpochChange(epoch: number, timeoutMs: number): Promise<void> {
    const waited = Atomics.waitAsync(this.i32, I.durableEpoch, epoch, timeoutMs);
    if (!waited.async) return;
    // The thread's keep-alive timer, not one per wait: a timer and a Promise.race per wait cost a gateway
    // thread ~6% of its CPU in a sale (profiled), the timer queue's inserts and removals most.
    if (keepAlive.waiters++ === 0) {
      keepAlive.timer ??= setInterval(() => {}, keepAlive.periodMs);
      keepAlive.timer.ref();
    }
    try {
      await waited.value;
    } finally {
      if (--keepAlive.waiters === 0) keepAlive.timer?.unref();
    }
  }
  /** Blocking variant for worker threads. */
  waitDurableEpochChangeSync(epoch: number, timeoutMs: number): void {
    Atomics.wait(this.i32, I.durableEpoch, epoch, timeoutMs);
  }

  get engineLastSeq(): number {
    return Number(Atomics.load(this.i64, B.engineLastSeq));
  }
  setEngineLastSeq(seq: number): void {
    Atomics.store(this.i64, B.engineLastSeq, BigInt(seq));
  }

  // Counters (single writer each).
  get commandCount(): number {
    return this.f64[F.commandCount]!;
  }
  get engineBatchCount(): number {
    return this.f64[F.engineBatchCount]!;
  }
  addEngineBatch(commands: number): void {
    this.f64[F.commandCount] = this.f64[F.commandCount]! + commands;
    this.f64[F.engineBatchCount] = this.f64[F.engineBatchCount]! + 1;
  }
  get fsyncCount(): number {
    return this.f64[F.fsyncCount]!;
  }
  get fsyncMicrosTotal(): number {
    return this.f64[F.fsyncMicrosTotal]!;
  }
  get fsyncMicrosMax(): number {
    return this.f64[F.fsyncMicrosMax]!;
  }
  get journalRecordCount(): number {
    return this.f64[F.journalRecordCount]!;
  }
  /** Durable events the gateways' notify ring had no room for (the gateway's feed reads them from the journal). */
  get notifyDroppedCount(): number {
    return this.f64[F.notifyDroppedCount]!;
  }
  addNotifyDropped(count: number): void {
    this.f64[F.notifyDroppedCount] = this.f64[F.notifyDroppedCount]! + count;
  }
  addJournalCommit(records: number, micros: number): void {
    this.f64[F.fsyncCount] = this.f64[F.fsyncCount]! + 1;
    this.f64[F.fsyncMicrosTotal] = this.f64[F.fsyncMicrosTotal]! + micros;
    if (micros > this.f64[F.fsyncMicrosMax]!) this.f64[F.fsyncMicrosMax] = micros;
    this.f64[F.journalRecordCount] = this.f64[F.journalRecordCount]! + records;
  }
}
