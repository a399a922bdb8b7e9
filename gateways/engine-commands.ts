/**
 * The gateway thread's way into the engine: a command in, a promise of its
 * answer out, resolved only once the answer is durable (CommandClient does
 * the output commit). Null instead of a promise means the ring or the
 * in-flight window is full: the caller answers BUSY with a retry-after.
 */
import type { CommandClient } from '../engine/command-client.ts';
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

export class EngineCommands {
  private readonly client: CommandClient;

  constructor(client: CommandClient) {
    this.client = client;
  }

  get inFlight(): number {
    return this.client.inFlightCount;
  }

  submit(input: CommandInput, nowMs = Date.now()): Promise<EngineAnswer> | null {
    let resolveAnswer!: (answer: EngineAnswer) => void;
    const answer = new Promise<EngineAnswer>((resolve) => {
      resolveAnswer = resolve;
    });
    const accepted = this.client.submit(
      (w, f, at, correlationId) => writeCommand(w, f, at, correlationId, nowMs, input),
      (w, f, at) =>
        resolveAnswer({
          result: w[at + ReplySlot.result]!,
          orderId: f[(at + ReplySlot.orderId) >> 1]!,
          status: w[at + ReplySlot.status]!,
          skuId: w[at + ReplySlot.skuId]!,
          expiresAtMs: f[(at + ReplySlot.expiresAtMs) >> 1]!,
          totalMinor: f[(at + ReplySlot.totalMinor) >> 1]!,
          durableSeqNeeded: f[(at + ReplySlot.durableSeqNeeded) >> 1]!,
        }),
    );
    return accepted ? answer : null;
  }
}
