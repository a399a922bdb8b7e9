/**
 * The built-in sandbox payment provider, for demos and benchmarks: a payment
 * started for an order answers after `delayMs` with success (the order's
 * exact total) or decline, drawn at the configured rates from a seeded
 * generator. Rates that sum below 1 leave the rest with no answer at all (the
 * order then times out): an option for exercising timeouts, off by default
 * (gateways/config.ts). Its answers enter the engine as `paymentResult`
 * commands, like a real provider's webhook would, with the reference
 * `sandbox_<orderId>` (one payment per order, so the engine's idempotency on
 * references makes a repeated answer harmless).
 *
 * One payment per order at a time: a second start for an order already in
 * flight is answered `alreadyPending` and changes nothing.
 */
import { SeededRandom } from '../lib/seeded-random.ts';

export interface SandboxOptions {
  delayMs: number;
  successRate: number;
  declineRate: number;
  seed?: number;
  /** Payments in flight at most (bounded like everything else). */
  inFlightMax?: number;
}

export type PaymentSettle = (
  orderId: number,
  outcome: 'succeeded' | 'declined',
  amountMinor: number,
  reference: string,
) => void;

/** The provider reference of the sandbox's payment for an order. */
export const sandboxReference = (orderId: number): string => `sandbox_${orderId}`;

const timerGranularityMs = 1;

/**
 * Payments in flight, in the order they started: with one delay for all,
 * that is the order they are due in, so one timer (for the oldest) serves
 * them all and a tick settles every payment due by then in one task. A timer
 * per payment made a Timeout object each, and settled each in a task of its
 * own: one engine command, one doorbell wake-up and one publish per payment.
 */
export class SandboxPayments {
  private readonly options: Required<SandboxOptions>;
  private readonly random: SeededRandom;
  private readonly settle: PaymentSettle;
  /** Order ids in flight (for alreadyPending and the bound). */
  private readonly inFlight = new Set<number>();
  /** The FIFO of payments in flight, from `head` on: order, amount, when due (performance.now() ms), the draw. */
  private readonly orderIds: number[] = [];
  private readonly amountsMinor: number[] = [];
  private readonly dueAtMs: number[] = [];
  private readonly rolls: number[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly onTimer = (): void => this.settleDue();
  started = 0;
  succeeded = 0;
  declined = 0;
  unanswered = 0;

  constructor(options: SandboxOptions, settle: PaymentSettle) {
    if (!(options.delayMs >= 0)) throw new RangeError(`sandbox delayMs must be >= 0, got ${options.delayMs}`);
    const rates = options.successRate + options.declineRate;
    if (!(options.successRate >= 0 && options.declineRate >= 0 && rates <= 1)) {
      throw new RangeError('sandbox successRate and declineRate must be >= 0 and sum to at most 1');
    }
    this.options = { seed: Date.now() >>> 0, inFlightMax: 100_000, ...options };
    this.random = new SeededRandom(this.options.seed);
    this.settle = settle;
  }

  /** Starts paying `amountMinor` for an order. */
  start(orderId: number, amountMinor: number): 'started' | 'alreadyPending' | 'busy' {
    if (this.inFlight.has(orderId)) return 'alreadyPending';
    if (this.inFlight.size >= this.options.inFlightMax) return 'busy';
    this.started++;
    this.inFlight.add(orderId);
    this.orderIds.push(orderId);
    this.amountsMinor.push(amountMinor);
    this.dueAtMs.push(performance.now() + this.options.delayMs);
    this.rolls.push(this.random.next());
    this.timer ??= setTimeout(this.onTimer, this.options.delayMs);
    return 'started';
  }

  /** Cancels what is in flight (shutdown). */
  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.inFlight.clear();
    this.head = 0;
    this.orderIds.length = 0;
    this.amountsMinor.length = 0;
    this.dueAtMs.length = 0;
    this.rolls.length = 0;
  }

  /** Answers every payment due by now (within the timers' millisecond), oldest first, then waits for the next. */
  private settleDue(): void {
    this.timer = null;
    // A timer may fire a fraction of a millisecond before performance.now() says its payment is due.
    const nowMs = performance.now() + timerGranularityMs;
    const { successRate, declineRate } = this.options;
    while (this.head < this.orderIds.length && this.dueAtMs[this.head]! <= nowMs) {
      const orderId = this.orderIds[this.head]!;
      const amountMinor = this.amountsMinor[this.head]!;
      const roll = this.rolls[this.head]!;
      this.head++;
      this.inFlight.delete(orderId);
      if (roll < successRate) {
        this.succeeded++;
        this.settle(orderId, 'succeeded', amountMinor, sandboxReference(orderId));
      } else if (roll < successRate + declineRate) {
        this.declined++;
        this.settle(orderId, 'declined', amountMinor, sandboxReference(orderId));
      } else {
        this.unanswered++; // the provider never answers: the order's timer decides
      }
    }
    if (this.head === this.orderIds.length) {
      this.head = 0;
      this.orderIds.length = 0;
      this.amountsMinor.length = 0;
      this.dueAtMs.length = 0;
      this.rolls.length = 0;
      return;
    }
    if (this.head >= 4096 && this.head * 2 >= this.orderIds.length) {
      // Under steady load the queue never empties: drop the settled front now and then.
      this.orderIds.splice(0, this.head);
      this.amountsMinor.splice(0, this.head);
      this.dueAtMs.splice(0, this.head);
      this.rolls.splice(0, this.head);
      this.head = 0;
    }
    this.timer = setTimeout(this.onTimer, Math.max(0, this.dueAtMs[this.head]! - performance.now()));
  }
}
