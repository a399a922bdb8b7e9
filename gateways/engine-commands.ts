/**
 * The gateway thread's way into the engine: a command in, its answer out once
 * the answer is durable (CommandClient does the output commit). Two ways to
 * wait: `submit` gives a promise (admin API, webhooks, start-up), `submitTo`
 * hands the answer to a sink with the caller's token (the checkout path: a
 * frame of 128 commands, no promise or closure per command). Both say "full"
 * (null, false) when the ring or the in-flight window is: the caller answers
 * BUSY with a retry-after. After a journal failure a command gets no answer
 * but JOURNAL_UNAVAILABLE: `submit`'s promise rejects with a
 * JournalUnavailableError, a sink's engineUnavailable is called.
 */
import type { CommandClient, ReplyReceiver } from '../engine/command-client.ts';
import { type CommandInput, writeCommand } from '../engine/commands.ts';
import { ReplySlot } from '../engine/layout.ts';

export interface EngineAnswer {
  result: number;
  orderId: number;
  status: number;
  skuId: number;
  expiresAtMs: number;
  totalMinor: number;
  /** The journal sequence this answer depended on (durable when it was released). */
  durableSeqNeeded: number;
}

/** The answer being delivered: one object, refilled for each reply. */
const delivered: EngineAnswer = {
  result: 0,
  orderId: 0,
  status: 0,
  skuId: 0,
  expiresAtMs: 0,
  totalMinor: 0,
  durableSeqNeeded: 0,
};

/** What `submit`'s promise rejects with once the journal has failed: the command's outcome is unknown. */
export class JournalUnavailableError extends Error {
  override readonly name = 'JournalUnavailableError';
  readonly code = 'JOURNAL_UNAVAILABLE';

  constructor() {
    super('JOURNAL_UNAVAILABLE: the journal failed; the outcome is unknown until the node restarts');
  }
}

/** Gets the answers of commands submitted with submitTo; `answer` is valid during the call only. */
export abstract class EngineAnswerSink implements ReplyReceiver {
  abstract engineAnswered(token: number, answer: Readonly<EngineAnswer>): void;
  /** The journal failed: the command's outcome is unknown (answer JOURNAL_UNAVAILABLE). */
  abstract engineUnavailable(token: number): void;

  onUnavailable(token: number): void {
    this.engineUnavailable(token);
  }

  onReply(w: Int32Array, f: Float64Array, at: number, token: number): void {
    delivered.result = w[at + ReplySlot.result]!;
    delivered.orderId = f[(at + ReplySlot.orderId) >> 1]!;
    delivered.status = w[at + ReplySlot.status]!;
    delivered.skuId = w[at + ReplySlot.skuId]!;
    delivered.expiresAtMs = f[(at + ReplySlot.expiresAtMs) >> 1]!;
    delivered.totalMinor = f[(at + ReplySlot.totalMinor) >> 1]!;
    delivered.durableSeqNeeded = f[(at + ReplySlot.durableSeqNeeded) >> 1]!;
    this.engineAnswered(token, delivered);
  }
}

class PromisedAnswer extends EngineAnswerSink {
  resolve: (answer: EngineAnswer) => void = () => {};
  reject: (error: JournalUnavailableError) => void = () => {};
  engineAnswered(_token: number, answer: Readonly<EngineAnswer>): void {
    this.resolve({ ...answer });
  }
  engineUnavailable(): void {
    this.reject(new JournalUnavailableError());
  }
}

export class EngineCommands {
  private readonly client: CommandClient;

  constructor(client: CommandClient) {
    this.client = client;
  }

  get inFlight(): number {
    return this.client.inFlightCount;
  }

  submit(input: CommandInput, nowMs = Date.now()): Promise<EngineAnswer> | null {
    const sink = new PromisedAnswer();
    const answer = new Promise<EngineAnswer>((resolve, reject) => {
      sink.resolve = resolve;
      sink.reject = reject;
    });
    return this.submitTo(input, nowMs, sink, 0) ? answer : null;
  }

  /** Submits a command whose answer goes to `sink` with `token`; false when full (nothing submitted). */
  submitTo(input: CommandInput, nowMs: number, sink: EngineAnswerSink, token: number): boolean {
    return this.client.submit(
      (w, f, at, correlationId) => writeCommand(w, f, at, correlationId, nowMs, input),
      sink,
      token,
    );
  }
}
