/**
 * The built-in sandbox payment provider, for demos and benchmarks: a payment
 * started for an order answers after `delayMs` with success (the order's
 * exact total), decline, or nothing at all (the order then times out), drawn
 * at the configured rates from a seeded generator. Its answers enter the
 * engine as `paymentResult` commands, like a real provider's webhook would.
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

export type PaymentSettle = (orderId: number, outcome: 'succeeded' | 'declined', amountMinor: number) => void;

export class SandboxPayments {
  private readonly options: Required<SandboxOptions>;
  private readonly random: SeededRandom;
  private readonly settle: PaymentSettle;
  private readonly inFlight = new Map<number, NodeJS.Timeout>();
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
    const roll = this.random.next();
    this.started++;
    const timer = setTimeout(() => {
      this.inFlight.delete(orderId);
      if (roll < this.options.successRate) {
        this.succeeded++;
        this.settle(orderId, 'succeeded', amountMinor);
      } else if (roll < this.options.successRate + this.options.declineRate) {
        this.declined++;
        this.settle(orderId, 'declined', amountMinor);
      } else {
        this.unanswered++; // the provider never answers: the order's timer decides
      }
    }, this.options.delayMs);
    this.inFlight.set(orderId, timer);
    return 'started';
  }

  /** Cancels what is in flight (shutdown). */
  close(): void {
    for (const timer of this.inFlight.values()) clearTimeout(timer);
    this.inFlight.clear();
  }
}
