/**
 * The journal on Kafka (kafkajs): the engine's events in one partition of one topic, one partition per
 * engine shard, every message keyed by the shard. Same contract as the file journal (journal-backend.ts,
 * tested by journal-contract.ts against both).
 *
 * Writing: an idempotent producer (no duplicates or reordering on retries), `acks: -1` (a send resolves once
 * every in-sync replica has the batch), at most one request in flight, and group commit by batching: one
 * `send` carries every record appended since the last commit. durableSeq advances only when that send is
 * acknowledged, and replies wait for durableSeq exactly as they do with fsync (output commit).
 *
 * Positions: the journal position is the Kafka offset, seq = offset + 1 (seqs start at 1, offsets at 0).
 * That holds because nothing else writes to the partition (one writer per shard, as with a data directory),
 * the producer is not transactional (transaction markers take offsets), and the topic is not compacted.
 * Every message value is a record frame (record-frame.ts: magic, version, type, length, CRC32C, seq,
 * timestamp, payload), so readers check each record end to end and check seq === offset + 1: a second writer
 * or a compacted topic is reported as JOURNAL_CORRUPT naming topic, partition and offset, never skipped.
 *
 * Reading: up to the high watermark only (what every in-sync replica has: durable), in order, through a
 * consumer with a private group id that seeks to the offset asked for and never commits offsets (the
 * reader's position belongs to its caller: a projector keeps it in its store with its data).
 *
 * Failure: a send that is not acknowledged within commitTimeoutMs fails the journal (JOURNAL_IO, unusable);
 * the producer is disconnected so no retry of that batch can land later from this process, and the node
 * restarts from snapshot + journal, reading the partition's end as it is then. A batch that did land without
 * an acknowledgement is then part of the journal: events the engine decided and never promised to anyone.
 *
 * The network is behind a narrow port (KafkaPartitionLog) so the writer and reader logic runs in tests
 * against an in-memory log (MemoryPartitionLog) on machines without a broker; journal-contract.test.ts runs
 * the same contract against a real broker when KAFKA_BROKERS is set.
 *
 * Threads: a writer belongs to the journal thread; readers run on any thread. Never used by the engine.
 */
import { randomUUID } from 'node:crypto';
import kafkajs, {
  type Admin,
  type Consumer,
  type logCreator,
  type Producer,
  type ProducerConfig,
} from 'kafkajs';
import { JournalError, JournalErrorCode } from './errors.ts';
import type {
  JournalBackend,
  JournalReader,
  JournalScanOptions,
  JournalWriter,
  OnRecord,
} from './journal-backend.ts';
import { type JournalIdentity, kafkaJournalId } from './journal-identity.ts';
import { journalLimitsDefault } from './limits.ts';
import {
  checkFrame,
  FrameCheck,
  frameBytes,
  frameSeq,
  RecordFrame,
  recordSeqMax,
  writeFrame,
} from './record-frame.ts';

const { Kafka, logLevel, Partitioners } = kafkajs;

/**
 * The journal's producer. Idempotent: the broker drops a retried batch it already has and refuses one out
 * of order, so kafkajs's retries can neither duplicate nor reorder records. One request in flight keeps
 * order simple. Every record names its partition, so the partitioner never chooses one; naming it anyway
 * keeps kafkajs from warning, at every start, that its default partitioner changed in v2.
 */
export const kafkaJournalProducerConfig: Readonly<ProducerConfig> = Object.freeze({
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  createPartitioner: Partitioners.DefaultPartitioner,
});

// ──────────────────────────────────────────────────── limits ────────────────────────────────────────────────────

export interface KafkaJournalLimits {
  /**
   * Bytes of frames one send carries at most. A send is one record batch, and brokers refuse batches over
   * message.max.bytes (1 MiB by default): keep this below it, with room for Kafka's own record headers.
   */
  batchBytesMax: number;
  /** Records one send carries at most. */
  batchRecordsMax: number;
  /** A send not acknowledged by then fails the journal (JOURNAL_IO). */
  commitTimeoutMs: number;
  /** Records a reader takes from its consumer per fetch. */
  fetchRecordsMax: number;
  /** How long a reader waits for records it knows exist (below the high watermark) before giving up. */
  fetchStallMsMax: number;
  /** Records a reader's consumer buffers before it pauses the partition (bounded: no queue grows). */
  readBufferRecordsMax: number;
}

export const kafkaJournalLimitsDefault: Readonly<KafkaJournalLimits> = Object.freeze({
  batchBytesMax: 900 * 1024,
  batchRecordsMax: 8192,
  commitTimeoutMs: 30_000,
  fetchRecordsMax: 8192,
  fetchStallMsMax: 30_000,
  readBufferRecordsMax: 65_536,
});

export function validateKafkaJournalLimits(limits: KafkaJournalLimits): KafkaJournalLimits {
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`kafka journal limit ${key} must be a positive integer, got ${value}`);
    }
  }
  // append() answers "full, commit first"; an empty batch must take the largest record or that repeats.
  const recordFrameBytesMax = frameBytes(journalLimitsDefault.recordPayloadBytesMax);
  if (limits.batchBytesMax < recordFrameBytesMax) {
    throw new RangeError(
      `batchBytesMax (${limits.batchBytesMax}) must hold the largest record frame (${recordFrameBytesMax} bytes)`,
    );
  }
  // The consumer buffer must hold a whole fetch, or a reader could wait on records the buffer refuses.
  if (limits.readBufferRecordsMax < limits.fetchRecordsMax) {
    throw new RangeError(
      `readBufferRecordsMax (${limits.readBufferRecordsMax}) must be at least fetchRecordsMax (${limits.fetchRecordsMax})`,
    );
  }
  return limits;
}

// ───────────────────────────────────────────────────── port ─────────────────────────────────────────────────────

export interface KafkaLogRecord {
  offset: number;
  value: Uint8Array;
}

/** One partition of one topic: what the journal needs from Kafka, and all it needs. */
export interface KafkaPartitionLog {
  /** For messages: brokers, topic and partition. */
  readonly location: string;
  /** Appends in order, one request; resolves once every in-sync replica has all of them (acks -1). */
  append(values: readonly Uint8Array[], timestampsMs: readonly number[]): Promise<void>;
  /** [low, high): the first retained offset and the high watermark (next offset to be written). */
  offsets(): Promise<{ low: number; high: number }>;
  /** The partition's JournalIdentity id: the cluster's id (admin describeCluster), topic and partition. */
  journalId(): Promise<string>;
  /** Records from fromOffset on, contiguous, at most recordsMax; waits up to waitMs when none is there yet. */
  fetch(fromOffset: number, recordsMax: number, waitMs: number): Promise<KafkaLogRecord[]>;
  /** Stops every connection; an append in flight rejects. */
  close(): Promise<void>;
}

function causeText(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

// ──────────────────────────────────────────────────── writer ────────────────────────────────────────────────────

const WriterState = { open: 0, failed: 1, closed: 2 } as const;
type WriterState = (typeof WriterState)[keyof typeof WriterState];

export class KafkaJournalWriter implements JournalWriter {
  private readonly log: KafkaPartitionLog;
  private readonly limits: KafkaJournalLimits;
  private lastDurableSeq: number;
  private readonly pendingFrames: Uint8Array[] = [];
  private readonly pendingTimestampsMs: number[] = [];
  private pendingBytes = 0;
  private state: WriterState = WriterState.open;
  private failure: JournalError | null = null;
  private inFlight: Promise<number> | null = null;

  private constructor(log: KafkaPartitionLog, limits: KafkaJournalLimits, durableSeq: number) {
    this.log = log;
    this.limits = limits;
    this.lastDurableSeq = durableSeq;
  }

  /**
   * Positions after the partition's last record: its high watermark, after checking that the last record
   * carries seq = high watermark (the offset mapping holds, so this partition is a journal, ours). The check
   * reads through `verifyLog`, a log of its own that is closed afterwards (a reader's consumer should not
   * live as long as the writer).
   */
  static async open(
    log: KafkaPartitionLog,
    limits: KafkaJournalLimits,
    verifyLog: KafkaPartitionLog,
  ): Promise<KafkaJournalWriter> {
    let high: number;
    try {
      high = (await log.offsets()).high;
      if (high > 0) {
        const reader = new KafkaJournalReader(verifyLog, limits);
        await reader.scan(high, () => {}, { toSeq: high });
      }
    } catch (error) {
      await log.close().catch(() => {});
      throw error;
    } finally {
      await verifyLog.close().catch(() => {});
    }
    return new KafkaJournalWriter(log, limits, high);
  }

  get nextSeq(): number {
    return this.lastDurableSeq + this.pendingFrames.length + 1;
  }
  get durableSeq(): number {
    return this.lastDurableSeq;
  }
  get pendingRecordCount(): number {
    return this.pendingFrames.length;
  }

  private assertUsable(): void {
    if (this.state === WriterState.open) return;
    throw new JournalError(
      JournalErrorCode.unusable,
      this.state === WriterState.closed
        ? `journal ${this.log.location} is closed`
        : `journal ${this.log.location} failed earlier`,
      this.failure === null ? {} : { cause: this.failure },
    );
  }

  append(
    seq: number,
    type: number,
    timestampMs: number,
    payload: Uint8Array,
    payloadOffset: number,
    payloadLength: number,
  ): boolean {
    this.assertUsable();
    const expected = this.nextSeq;
    if (seq !== expected || seq > recordSeqMax) {
      throw new JournalError(
        JournalErrorCode.sequence,
        `append of seq ${seq}, but the next seq is ${expected}`,
      );
    }
    if (payloadLength > journalLimitsDefault.recordPayloadBytesMax) {
      throw new JournalError(
        JournalErrorCode.recordTooLarge,
        `seq ${seq}: payload of ${payloadLength} bytes, the limit is ${journalLimitsDefault.recordPayloadBytesMax}`,
      );
    }
    const size = frameBytes(payloadLength);
    if (
      this.pendingFrames.length >= this.limits.batchRecordsMax ||
      (this.pendingFrames.length > 0 && this.pendingBytes + size > this.limits.batchBytesMax)
    ) {
      return false;
    }
    // The Kafka path allocates per record anyway (kafkajs encodes every message); one frame each is fine.
    const frame = new Uint8Array(size);
    writeFrame(
      frame,
      new DataView(frame.buffer),
      0,
      seq,
      type,
      timestampMs,
      payload,
      payloadOffset,
      payloadLength,
    );
    this.pendingFrames.push(frame);
    this.pendingTimestampsMs.push(timestampMs);
    this.pendingBytes += size;
    return true;
  }

  /**
   * Group commit: one send of every record appended so far. Records appended while a send is in flight go
   * into the next one; a commit called meanwhile waits for the send in flight, then sends the rest (one
   * send at a time, in order).
   */
  commit(): Promise<number> {
    const previous = this.inFlight;
    const next = (async () => {
      if (previous !== null) await previous;
      return this.send();
    })();
    this.inFlight = next;
    const clear = (): void => {
      if (this.inFlight === next) this.inFlight = null;
    };
    next.then(clear, clear);
    return next;
  }

  private async send(): Promise<number> {
    this.assertUsable();
    const count = this.pendingFrames.length;
    if (count === 0) return this.lastDurableSeq;
    const frames = this.pendingFrames.slice(0, count);
    const timestampsMs = this.pendingTimestampsMs.slice(0, count);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.log.append(frames, timestampsMs),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`not acknowledged within ${this.limits.commitTimeoutMs} ms`)),
            this.limits.commitTimeoutMs,
          );
        }),
      ]);
    } catch (cause) {
      const error = new JournalError(
        JournalErrorCode.io,
        `send of seqs ${this.lastDurableSeq + 1}..${this.lastDurableSeq + count} to ${this.log.location} failed: ${causeText(cause)}`,
        { cause },
      );
      this.state = WriterState.failed;
      this.failure = error;
      // Stop kafkajs retrying this batch behind our back: the node restarts from what the partition holds.
      await this.log.close().catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
    this.lastDurableSeq += count;
    this.pendingFrames.splice(0, count);
    this.pendingTimestampsMs.splice(0, count);
    for (const frame of frames) this.pendingBytes -= frame.byteLength;
    return this.lastDurableSeq;
  }

  async close(): Promise<void> {
    if (this.state === WriterState.closed) return;
    this.state = WriterState.closed;
    this.pendingFrames.length = 0;
    this.pendingTimestampsMs.length = 0;
    this.pendingBytes = 0;
    await this.log.close();
  }
}

// ──────────────────────────────────────────────────── reader ────────────────────────────────────────────────────

export class KafkaJournalReader implements JournalReader {
  private readonly log: KafkaPartitionLog;
  private readonly limits: KafkaJournalLimits;

  constructor(log: KafkaPartitionLog, limits: KafkaJournalLimits) {
    this.log = log;
    this.limits = limits;
  }

  async scan(fromSeq: number, onRecord: OnRecord, options: JournalScanOptions = {}): Promise<number> {
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 1) {
      throw new RangeError(`fromSeq must be an integer from 1 to 2^53-1, got ${fromSeq}`);
    }
    const { low, high } = await this.talk(() => this.log.offsets());
    const location = this.log.location;
    // seq = offset + 1: the partition holds seqs low+1 .. high.
    if (fromSeq < low + 1) {
      throw new JournalError(
        JournalErrorCode.gap,
        `asked for records from seq ${fromSeq}, but the first retained one in ${location} is seq ${low + 1} ` +
          '(earlier ones were deleted by retention)',
      );
    }
    if (fromSeq > high + 1) {
      throw new JournalError(
        JournalErrorCode.gap,
        `asked for records from seq ${fromSeq}, but the journal in ${location} ends at seq ${high}`,
      );
    }
    const lastSeq = Math.min(options.toSeq ?? high, high);
    let delivered = fromSeq - 1;
    let stalledSinceMs = 0;
    while (delivered < lastSeq) {
      const records = await this.talk(() =>
        this.log.fetch(
          delivered, // the offset of seq delivered + 1
          Math.min(this.limits.fetchRecordsMax, lastSeq - delivered),
          Math.min(1000, this.limits.fetchStallMsMax),
        ),
      );
      if (records.length === 0) {
        // The high watermark said these records exist: a slow broker, or one that went away.
        const nowMs = Date.now();
        if (stalledSinceMs === 0) stalledSinceMs = nowMs;
        else if (nowMs - stalledSinceMs > this.limits.fetchStallMsMax) {
          throw new JournalError(
            JournalErrorCode.io,
            `${location}: no record at offset ${delivered} for ${nowMs - stalledSinceMs} ms, below the high watermark ${high} ` +
              '(broker slow or gone, or a hole in the offsets: compacted topic?)',
            { retriable: true },
          );
        }
        continue;
      }
      stalledSinceMs = 0;
      for (const record of records) {
        if (delivered >= lastSeq) break;
        const seq = delivered + 1;
        this.check(record, seq);
        const view = new DataView(record.value.buffer, record.value.byteOffset, record.value.byteLength);
        onRecord(
          seq,
          view.getUint16(RecordFrame.type, true),
          view.getFloat64(RecordFrame.timestampMs, true),
          record.value,
          RecordFrame.payload,
          view.getUint32(RecordFrame.payloadLength, true),
        );
        delivered = seq;
      }
    }
    return delivered;
  }

  /**
   * A failure to talk to Kafka is JOURNAL_IO and retriable for a reader (kafkajs gives up after its own
   * retries with a non-retriable error): a projector whose broker is away waits for it, it does not halt.
   */
  private async talk<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (cause) {
      if (cause instanceof JournalError) throw cause;
      throw new JournalError(JournalErrorCode.io, `reading ${this.log.location}: ${causeText(cause)}`, {
        cause,
        retriable: true,
      });
    }
  }

  /** A valid frame, at the offset asked for, carrying seq = offset + 1. */
  private check(record: KafkaLogRecord, seq: number): void {
    const at = `${this.log.location} at offset ${record.offset}`;
    if (record.offset !== seq - 1) {
      throw new JournalError(
        record.offset > seq - 1 ? JournalErrorCode.gap : JournalErrorCode.corrupt,
        `${at}: expected offset ${seq - 1} (seq ${seq}); offsets are not contiguous (compacted topic?)`,
      );
    }
    const bytes = record.value;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const check = checkFrame(bytes, view, 0, bytes.byteLength, journalLimitsDefault.recordPayloadBytesMax);
    if (
      check !== FrameCheck.ok ||
      frameBytes(view.getUint32(RecordFrame.payloadLength, true)) !== bytes.byteLength
    ) {
      throw new JournalError(
        JournalErrorCode.corrupt,
        `${at}: not a journal record (${check === FrameCheck.ok ? 'trailing bytes' : `frame check ${check}`})`,
      );
    }
    const recordSeq = frameSeq(view, 0);
    if (recordSeq !== seq) {
      throw new JournalError(
        JournalErrorCode.corrupt,
        `${at}: a valid record with seq ${recordSeq} where seq ${seq} belongs (a second writer on the partition?)`,
      );
    }
  }

  async lastSeq(): Promise<number> {
    return (await this.talk(() => this.log.offsets())).high;
  }

  async firstSeq(): Promise<number> {
    return (await this.talk(() => this.log.offsets())).low + 1;
  }

  async mayHaveRecordsAfter(seq: number): Promise<boolean> {
    return (await this.talk(() => this.log.offsets())).high > seq;
  }

  async identity(): Promise<JournalIdentity> {
    const id = await this.talk(() => this.log.journalId());
    return { backend: 'kafka', id, location: this.log.location, firstSeq: await this.firstSeq() };
  }

  close(): Promise<void> {
    return this.log.close();
  }
}

// ────────────────────────────────────────────── in-memory partition ──────────────────────────────────────────────

/**
 * A partition in memory, for tests and dry runs: appends are acknowledged at once unless a test arms
 * `failAppends`. Several writers and readers may share one (as they share a broker) to test reopening.
 */
export class MemoryPartitionLog implements KafkaPartitionLog {
  readonly location: string;
  readonly values: Uint8Array[] = [];
  /** Stands for the cluster id: handles onto one memory partition are one journal, two partitions are two. */
  private readonly clusterId = randomUUID();
  /** Offsets below this were deleted (retention). */
  low = 0;
  /** Appends (and offset queries) reject with these while set (a broker that went away). */
  failAppends: Error | null = null;
  failOffsets: Error | null = null;
  appendCount = 0;

  constructor(location = 'memory/journal/0') {
    this.location = location;
  }

  /** A handle onto the same records with its own life (close() of one does not affect the others). */
  handle(): KafkaPartitionLog {
    return {
      location: this.location,
      append: (values, timestampsMs) => this.append(values, timestampsMs),
      offsets: () => this.offsets(),
      journalId: () => this.journalId(),
      fetch: (fromOffset, recordsMax, waitMs) => this.fetch(fromOffset, recordsMax, waitMs),
      close: () => Promise.resolve(),
    };
  }

  /** While set, appends are stored at once but acknowledged only when it resolves (a slow broker). */
  ackGate: Promise<void> | null = null;

  append(values: readonly Uint8Array[], _timestampsMs: readonly number[]): Promise<void> {
    if (this.failAppends !== null) return Promise.reject(this.failAppends);
    for (const value of values) this.values.push(value.slice());
    this.appendCount++;
    return this.ackGate ?? Promise.resolve();
  }

  /** A memory partition is its own cluster: one journal per MemoryPartitionLog. */
  journalId(): Promise<string> {
    return Promise.resolve(kafkaJournalId(`memory-${this.clusterId}`, this.location, 0));
  }

  offsets(): Promise<{ low: number; high: number }> {
    if (this.failOffsets !== null) return Promise.reject(this.failOffsets);
    return Promise.resolve({ low: this.low, high: this.values.length });
  }

  fetch(fromOffset: number, recordsMax: number, _waitMs: number): Promise<KafkaLogRecord[]> {
    const records: KafkaLogRecord[] = [];
    for (let offset = Math.max(fromOffset, this.low); offset < this.values.length; offset++) {
      if (records.length === recordsMax) break;
      records.push({ offset, value: this.values[offset]! });
    }
    return Promise.resolve(records);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

// ─────────────────────────────────────────────── kafkajs partition ───────────────────────────────────────────────

export interface KafkaJournalConfig {
  brokers: string[];
  /** Default 'stampede.journal'. */
  topic?: string;
  /** The engine shard: its partition, and every message's key. Default 0. */
  partition?: number;
  clientId?: string;
  /**
   * Create the topic when it is missing (default true), with partition + 1 partitions and this replication
   * factor (default -1: the broker's default.replication.factor). Production topics should be created by
   * their operators: replication 3, min.insync.replicas 2, cleanup.policy delete (never compact).
   */
  createTopic?: boolean;
  replicationFactor?: number;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  limits?: Partial<KafkaJournalLimits>;
  /** kafkajs's warnings and errors go here (default stderr), unless logCreator is given. */
  log?: (message: string) => void;
  /** kafkajs's own logger, every level (node/log.ts kafkaLogCreator routes it into the node's logger). */
  logCreator?: logCreator;
}

/**
 * FOR TESTS: the broker the Kafka tests run against, from the test-only variables KAFKA_BROKERS
 * (comma-separated host:port), KAFKA_JOURNAL_TOPIC, KAFKA_JOURNAL_PARTITION; null without brokers (the tests
 * are then skipped). The commands read the node's configuration instead (STAMPEDE_JOURNAL, STAMPEDE_KAFKA_*).
 */
export function kafkaJournalConfigFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaJournalConfig | null {
  const brokers = (env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  if (brokers.length === 0) return null;
  const config: KafkaJournalConfig = { brokers };
  if (env.KAFKA_JOURNAL_TOPIC) config.topic = env.KAFKA_JOURNAL_TOPIC;
  if (env.KAFKA_JOURNAL_PARTITION) {
    const partition = Number(env.KAFKA_JOURNAL_PARTITION);
    if (!Number.isSafeInteger(partition) || partition < 0) {
      throw new RangeError(
        `KAFKA_JOURNAL_PARTITION must be a partition number, got '${env.KAFKA_JOURNAL_PARTITION}'`,
      );
    }
    config.partition = partition;
  }
  return config;
}

interface BufferedRecord {
  offset: number;
  value: Uint8Array;
}

class KafkajsPartitionLog implements KafkaPartitionLog {
  readonly location: string;
  private readonly kafka: InstanceType<typeof Kafka>;
  private readonly topic: string;
  private readonly partition: number;
  private readonly key: string;
  private readonly config: KafkaJournalConfig;
  private readonly limits: KafkaJournalLimits;
  private producer: Producer | null = null;
  private admin: Admin | null = null;
  private topicReady: Promise<void> | null = null;
  private consumer: Consumer | null = null;
  private consumerStarted: Promise<void> | null = null;
  /** Records the consumer delivered, contiguous from buffer[0].offset; bufferNextOffset is the next one. */
  private buffer: BufferedRecord[] = [];
  private bufferNextOffset = 0;
  private resumeConsumer: (() => void) | null = null;
  private wakeReader: (() => void) | null = null;
  private closed = false;

  constructor(config: KafkaJournalConfig, limits: KafkaJournalLimits) {
    this.config = config;
    this.limits = limits;
    this.topic = config.topic ?? 'stampede.journal';
    this.partition = config.partition ?? 0;
    this.key = String(this.partition);
    this.location = `kafka://${config.brokers.join(',')}/${this.topic}/${this.partition}`;
    const log = config.log ?? ((message: string) => process.stderr.write(`${message}\n`));
    this.kafka = new Kafka({
      clientId: config.clientId ?? 'stampede',
      brokers: config.brokers,
      connectionTimeout: config.connectionTimeoutMs ?? 3000,
      requestTimeout: config.requestTimeoutMs ?? 30_000,
      logLevel: logLevel.WARN,
      logCreator:
        config.logCreator ??
        (() =>
          ({ level, log: entry }) => {
            if (level <= logLevel.WARN) log(`kafka journal ${this.location}: ${entry.message}`);
          }),
    });
  }

  private async ensureTopic(): Promise<Admin> {
    if (this.admin === null) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    const admin = this.admin;
    if (this.topicReady === null) {
      this.topicReady = (async () => {
        if (this.config.createTopic === false) return;
        const topics = await admin.listTopics();
        if (topics.includes(this.topic)) return;
        await admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic: this.topic,
              numPartitions: this.partition + 1,
              // Unset: kafkajs sends -1, the broker's default.replication.factor.
              ...(this.config.replicationFactor === undefined
                ? {}
                : { replicationFactor: this.config.replicationFactor }),
              configEntries: [{ name: 'cleanup.policy', value: 'delete' }],
            },
          ],
        });
      })();
      this.topicReady.catch(() => {
        this.topicReady = null;
      });
    }
    await this.topicReady;
    return admin;
  }

  async append(values: readonly Uint8Array[], timestampsMs: readonly number[]): Promise<void> {
    await this.ensureTopic();
    if (this.producer === null) {
      const producer = this.kafka.producer(kafkaJournalProducerConfig);
      await producer.connect();
      this.producer = producer;
    }
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: values.map((value, index) => ({
        key: this.key,
        value: Buffer.from(value.buffer, value.byteOffset, value.byteLength),
        partition: this.partition,
        timestamp: String(timestampsMs[index] ?? Date.now()),
      })),
    });
  }

  async journalId(): Promise<string> {
    const admin = await this.ensureTopic();
    const { clusterId } = await admin.describeCluster();
    return kafkaJournalId(clusterId, this.topic, this.partition);
  }

  async offsets(): Promise<{ low: number; high: number }> {
    const admin = await this.ensureTopic();
    const partitions = await admin.fetchTopicOffsets(this.topic);
    const entry = partitions.find((p) => p.partition === this.partition);
    if (entry === undefined) {
      throw new JournalError(
        JournalErrorCode.gap,
        `${this.location}: the topic has no partition ${this.partition}`,
      );
    }
    return { low: Number(entry.low), high: Number(entry.high) };
  }

  /**
   * A consumer with a private group (nothing committed) runs from the first fetch on; eachBatch appends to a
   * bounded buffer and pauses the partition when it is full. A fetch elsewhere than where the buffer
   * continues seeks, dropping what was buffered.
   */
  private startConsumer(fromOffset: number): Promise<void> {
    if (this.consumerStarted !== null) return this.consumerStarted;
    const started = (async () => {
      await this.ensureTopic();
      const consumer = this.kafka.consumer({
        groupId: `${this.config.clientId ?? 'stampede'}-journal-reader-${randomUUID()}`,
        allowAutoTopicCreation: false,
        maxWaitTimeInMs: 500,
      });
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
        this.buffer = [];
        this.bufferNextOffset = fromOffset;
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: true,
          eachBatch: async ({ batch, pause }) => {
            if (batch.partition !== this.partition) return;
            for (const message of batch.messages) {
              // Only records that continue the buffer: anything else is left over from before a seek (in
              // either direction). A real hole in the offsets (a compacted topic) therefore stalls the
              // reader, which reports it after fetchStallMsMax.
              if (Number(message.offset) !== this.bufferNextOffset) continue;
              this.buffer.push({ offset: this.bufferNextOffset, value: message.value ?? new Uint8Array(0) });
              this.bufferNextOffset++;
            }
            if (this.buffer.length >= this.limits.readBufferRecordsMax && this.resumeConsumer === null) {
              this.resumeConsumer = pause();
            }
            this.wakeReader?.();
          },
        });
        consumer.seek({ topic: this.topic, partition: this.partition, offset: String(fromOffset) });
        this.consumer = consumer;
      } catch (error) {
        await consumer.disconnect().catch(() => {});
        throw error;
      }
    })();
    this.consumerStarted = started;
    started.catch(() => {
      if (this.consumerStarted === started) this.consumerStarted = null;
    });
    return started;
  }

  async fetch(fromOffset: number, recordsMax: number, waitMs: number): Promise<KafkaLogRecord[]> {
    if (this.closed) throw new JournalError(JournalErrorCode.unusable, `${this.location}: reader closed`);
    if (this.consumerStarted === null) {
      await this.startConsumer(fromOffset);
    } else {
      await this.consumerStarted;
      const bufferedFrom = this.buffer[0]?.offset ?? this.bufferNextOffset;
      if (fromOffset !== bufferedFrom && this.consumer !== null) {
        // Not where the buffer continues: drop it and seek; eachBatch ignores what was in flight.
        this.buffer = [];
        this.bufferNextOffset = fromOffset;
        this.consumer.seek({ topic: this.topic, partition: this.partition, offset: String(fromOffset) });
        this.resume();
      }
    }
    if (this.buffer.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.wakeReader = done;
      });
      this.wakeReader = null;
    }
    const taken = this.buffer.splice(0, recordsMax);
    if (this.buffer.length < this.limits.readBufferRecordsMax / 2) this.resume();
    return taken;
  }

  private resume(): void {
    const resume = this.resumeConsumer;
    this.resumeConsumer = null;
    resume?.();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeReader?.();
    const steps: Promise<void>[] = [];
    if (this.producer !== null) steps.push(this.producer.disconnect());
    if (this.consumer !== null) steps.push(this.consumer.disconnect());
    if (this.admin !== null) steps.push(this.admin.disconnect());
    await Promise.allSettled(steps);
  }
}

// ──────────────────────────────────────────────────── factory ────────────────────────────────────────────────────

/** A JournalBackend over any partition log: `openLog` is called once per writer and once per reader. */
export function kafkaJournalBackendOver(
  openLog: () => KafkaPartitionLog,
  location: string,
  limits: Partial<KafkaJournalLimits> = {},
): JournalBackend {
  const resolved = validateKafkaJournalLimits({ ...kafkaJournalLimitsDefault, ...limits });
  return {
    kind: 'kafka',
    location,
    openWriter: () => KafkaJournalWriter.open(openLog(), resolved, openLog()),
    openReader: () => new KafkaJournalReader(openLog(), resolved),
  };
}

/**
 * The Kafka journal backend the node's configuration selects (journal kafka, kafka.*: journalSelectionOf in
 * gateways/config.ts). Every writer and reader it opens has its own connections.
 */
export function kafkaJournalBackend(config: KafkaJournalConfig): JournalBackend {
  if (config.brokers.length === 0)
    throw new RangeError('kafka journal: brokers must name at least one broker');
  const partition = config.partition ?? 0;
  if (!Number.isSafeInteger(partition) || partition < 0) {
    throw new RangeError(`kafka journal: partition must be a partition number, got ${partition}`);
  }
  const limits = validateKafkaJournalLimits({ ...kafkaJournalLimitsDefault, ...config.limits });
  const location = `kafka://${config.brokers.join(',')}/${config.topic ?? 'stampede.journal'}/${partition}`;
  return kafkaJournalBackendOver(() => new KafkajsPartitionLog(config, limits), location, limits);
}
