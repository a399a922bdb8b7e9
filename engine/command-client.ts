/**
 * The producer side of one inbound ring, for a thread with an event loop (a
 * gateway, the ticker, the admin API): submit a command with a receiver and
 * a token of the caller's (a batch's index), get the reply once its events
 * are durable. A receiver is an object, not a callback, so that a frame of
 * 128 commands needs no closure or promise per command. Bounded: at most one
 * command in flight per reply-ring slot, so the engine never waits on a reply
 * ring; when full, submit() returns false and the caller pushes back (stops
 * reading its socket, or answers `busy`).
 *
 * Each command is published as it is submitted, so the engine and the
 * journal start on a frame's first commands while the gateway is still
 * reading the rest (docs/engine.md, step 4, has the measurements).
 *
 * Replies are consumed in order from the reply ring and released only when
 * control.durableSeq >= durableSeqNeeded: the reply ring itself is the
 * holding queue, so output commit costs no extra memory or copying.
 *
 * When the journal fails, nothing more becomes durable: every command in
 * flight (its reply held, or never applied) and every command submitted
 * afterwards is told so through onUnavailable, instead of never hearing
 * back. Its effect is unknown until the node restarts from snapshot +
 * journal (the effect was never durable, but the node cannot prove it).
 */
import type { ControlBlock } from './control-block.ts';
import { CommandSlot, ReplySlot } from './layout.ts';
import type { RingConsumer, RingProducer } from './ring.ts';

/** Gets each reply of the commands submitted with it; the slot is valid only during the call. */
export interface ReplyReceiver {
  onReply(words: Int32Array, f64: Float64Array, at: number, token: number): void;
  /** The journal failed: this command will get no reply (its effect is unknown). Once per command. */
  onUnavailable(token: number): void;
}
export type CommandWriter = (words: Int32Array, f64: Float64Array, at: number, correlationId: number) => void;

/** One producer's pair of rings into the engine (EngineHost makes them; a CommandClient writes through one). */
export interface ProducerPort {
  /** Write commands here (CommandSlot layout); publish() rings the engine. */
  inbound: RingProducer;
  /** Replies in command order (ReplySlot layout); release each once durableSeq reaches it. */
  replies: RingConsumer;
  inboundRing: SharedArrayBuffer;
  replyRing: SharedArrayBuffer;
}

export class CommandClient {
  private readonly port: ProducerPort;
  private readonly control: ControlBlock;
  /** Per reply-ring slot (correlation id & mask): who gets the reply, and the token to hand back. */
  private readonly receivers: (ReplyReceiver | null)[];
  private readonly tokens: Float64Array;
  private readonly mask: number;
  private correlationNext = 1;
  private inFlight = 0;
  private pumping = false;
  private closed = false;
  /** The journal failed and every command in flight was told so. */
  private failed = false;

  constructor(port: ProducerPort, control: ControlBlock) {
    this.port = port;
    this.control = control;
    const slots = port.replies.slotCount;
    this.receivers = new Array<ReplyReceiver | null>(slots).fill(null);
    this.tokens = new Float64Array(slots);
    this.mask = slots - 1;
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  /** Room for more commands right now. */
  get hasRoom(): boolean {
    return this.inFlight < this.port.replies.slotCount && this.port.inbound.freeSlotCount() > 0;
  }

  /**
   * Writes one command and publishes it. Returns false (nothing written) when
   * the ring or the in-flight window is full.
   */
  submit(write: CommandWriter, receiver: ReplyReceiver, token = 0): boolean {
    if (this.closed) return false;
    if (this.control.journalFailed) {
      // Accepted and answered at once: nothing the engine could do would become durable.
      this.failInFlight();
      receiver.onUnavailable(token);
      return true;
    }
    if (this.inFlight >= this.port.replies.slotCount) return false;
    const at = this.port.inbound.claim();
    if (at < 0) return false;
    const correlationId = this.correlationNext;
    this.correlationNext = (this.correlationNext + 1) | 0;
    write(this.port.inbound.words, this.port.inbound.f64, at, correlationId);
    // Stamped here, after the writer, so no writer can get it wrong.
    this.port.inbound.words[at + CommandSlot.correlationId] = correlationId;
    this.receivers[correlationId & this.mask] = receiver;
    this.tokens[correlationId & this.mask] = token;
    this.inFlight++;
    this.port.inbound.publish();
    if (!this.pumping) void this.pump();
    return true;
  }

  /** Stops accepting; pending replies still arrive. */
  close(): void {
    this.closed = true;
  }

  /** Delivers every reply that is durable now; returns how many. */
  drain(): number {
    if (this.failed) return 0;
    const replies = this.port.replies;
    const available = replies.available(replies.slotCount);
    if (available === 0) return 0;
    const durableSeq = this.control.durableSeq;
    let delivered = 0;
    while (delivered < available) {
      const at = replies.slotOffset(delivered);
      if (replies.f64[(at + ReplySlot.durableSeqNeeded) >> 1]! > durableSeq) break;
      const index = replies.words[at + ReplySlot.correlationId]! & this.mask;
      const receiver = this.receivers[index];
      this.receivers[index] = null;
      this.inFlight--;
      delivered++;
      receiver?.onReply(replies.words, replies.f64, at, this.tokens[index]!);
    }
    if (delivered > 0) replies.release(delivered);
    return delivered;
  }

  /** After a journal failure: delivers what was durable before it, then tells every other command in flight. */
  private failInFlight(): void {
    if (this.failed) return;
    this.drain();
    this.failed = true;
    for (let index = 0; index < this.receivers.length; index++) {
      const receiver = this.receivers[index];
      if (receiver === null || receiver === undefined) continue;
      this.receivers[index] = null;
      this.inFlight--;
      receiver.onUnavailable(this.tokens[index]!);
    }
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.inFlight > 0) {
        const epoch = this.control.durableEpoch;
        if (this.drain() > 0) continue;
        if (this.control.journalFailed) {
          this.failInFlight();
          return;
        }
        // A reply whose events were already durable brings no new epoch: poll at 1 ms as well.
        await this.control.waitDurableEpochChange(epoch, 1);
      }
    } finally {
      this.pumping = false;
    }
  }
}
