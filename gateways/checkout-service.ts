/**
 * What the checkout WebSocket means, apart from sockets: a session
 * authenticates, places orders, pays (through the payment provider), cancels,
 * subscribes and pings; every answer is a value, every refusal coded. The
 * transport (checkout-socket.ts) decodes frames into ClientRequests and
 * encodes the ServerOut values this returns.
 *
 * Rules enforced here, at the edge:
 *  - nothing but authenticate and ping before authentication;
 *  - a buyer connection acts for its own buyer only; a service connection
 *    names the buyer on every command and may batch;
 *  - a buyer sees and touches only their own orders;
 *  - rate limits (token buckets): every frame per client address (admitFrame),
 *    every command per buyer;
 *  - sold out at the edge: when every SKU of an order has zero available in
 *    the engine's shared array, and the request is not a retry of an order
 *    or a remembered refusal the read model knows, the answer is soldOut
 *    without the engine;
 *  - a full ring or in-flight window is BUSY with a retry-after, never a drop.
 */
import { isSettledStatus, OrderStatus, ResultCode } from '../engine/codes.ts';
import type { CommandInput } from '../engine/commands.ts';
import type { EmbeddedReadModel, OrderChange } from '../projections/embedded/read-model.ts';
import type {
  DecodedBatchableMessage,
  DecodedClientMessage,
  ServerMessageInput,
} from '../proto/client-codec.ts';
import type { CaughtUp } from './durable-event-feed.ts';
import { type EngineAnswer, EngineAnswerSink, type EngineCommands } from './engine-commands.ts';
import { resultMessage } from './errors.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { SandboxPayments } from './payments-sandbox.ts';

/** A decoded client frame (proto/client-codec.ts narrows and range-checks it). */
export type ClientRequest = DecodedClientMessage | DecodedBatchableMessage;
/** An answer or push, encoded by proto/client-codec.ts in the client's frame kind. */
export type ServerOut = ServerMessageInput;

export interface Session {
  role: 'none' | 'buyer' | 'service';
  buyerId: number;
  ip: string;
  expiresAtMs: number;
  subscriptions: Set<number>;
  /** Sends a push (order update) to this session's client. */
  push: (out: ServerOut) => void;
}

export type TokenCheck =
  | { ok: true; role: 'buyer' | 'service' | 'admin'; buyerId: number; expiresAtMs: number }
  | { ok: false; code: string; message: string };

export interface RateLimiter<Key> {
  take(key: Key, nowMs: number): boolean;
  retryAfterMs(key: Key, nowMs: number): number;
}

export interface CheckoutDeps {
  commands: EngineCommands;
  model: EmbeddedReadModel;
  availability: Int32Array;
  skusMax: number;
  payments: SandboxPayments;
  metrics: GatewayMetrics;
  verifyToken: (token: string, nowMs: number) => TokenCheck;
  /** Keyed by buyer id. */
  buyerLimiter: RateLimiter<number>;
  /** Keyed by client address. */
  ipLimiter: RateLimiter<string>;
  busyRetryAfterMs: number;
  /**
   * Applies the durable events not yet in the read model. The notify ring is
   * published before the durable cursor moves, so once this answers true the
   * model holds every order whose answer a client has received (read your
   * writes); a promise while a gap is filled from the journal (false: not
   * within its bound, answer BUSY).
   */
  catchUp: () => CaughtUp;
  /**
   * catchUp without waiting or allocating, for the sold-out edge (every attempt of a sale's late crowd):
   * false while a gap is being filled.
   */
  catchUpNow: () => boolean;
  /** False while the journal stalls or has failed: availability then includes what may never be durable. */
  journalKeepsUp: (nowMs: number) => boolean;
  now?: () => number;
}

/**
 * The message of a sold-out answer, the most frequent answer of a sale: short,
 * as mayReturn already says that units may come back. The former 55-byte
 * sentence was two thirds of a sold-out answer's bytes, and decoding it about
 * a tenth of the bench client's CPU in a profile of the sold-out phase.
 */
const soldOutMessage = 'sold out';

export const error = (requestId: number, code: string, message: string, retryAfterMs = 0): ServerOut => ({
  kind: 'error',
  requestId,
  code,
  message,
  retryAfterMs,
});

/** pay or subscribe for an order that does not exist or is another buyer's: the same answer, so ids leak nothing. */
const orderNotFound = (request: { requestId: number; orderId: number }): ServerOut =>
  error(request.requestId, 'NOT_FOUND', `no order ${request.orderId} for this buyer`);

function orderOut(
  requestId: number,
  result: number,
  orderId: number,
  status: number,
  expiresAtMs: number,
  totalMinor: number,
  skuId: number,
  message: string,
): ServerOut {
  return {
    kind: 'order',
    requestId,
    result,
    orderId,
    status,
    expiresAtMs,
    totalMinor,
    skuId,
    message,
    mayReturn: result === ResultCode.soldOut || result === ResultCode.insufficientStock,
  };
}

/** What command() returns for a command the engine answers: the answer comes through its PendingAnswers. */
const answeredLater = Symbol('answered later');

/**
 * The answers of one frame (a batch, or a single command) that the engine
 * gives: one sink and at most one promise per frame, resolved when its last
 * engine answer arrives, instead of a promise chain per command.
 */
class PendingAnswers extends EngineAnswerSink {
  readonly answers: ServerOut[];
  /** Engine answers still to come. */
  waiting = 0;
  private readonly requests: readonly { requestId: number }[];
  /** The batch answer holding `answers`, or null for a single command (its answer is answers[0]). */
  private readonly batch: ServerOut | null;
  private settle: ((out: ServerOut) => void) | null = null;

  constructor(requests: readonly { requestId: number }[], batchRequestId: number | null) {
    super();
    this.requests = requests;
    this.answers = new Array<ServerOut>(requests.length);
    this.batch =
      batchRequestId === null ? null : { kind: 'batch', requestId: batchRequestId, answers: this.answers };
  }

  engineAnswered(index: number, a: Readonly<EngineAnswer>): void {
    this.answers[index] = orderOut(
      this.requests[index]!.requestId,
      a.result,
      a.orderId,
      a.status,
      a.expiresAtMs,
      a.totalMinor,
      a.skuId,
      a.result === ResultCode.soldOut ? soldOutMessage : resultMessage(a.result),
    );
    if (--this.waiting === 0) this.settle?.(this.whole());
  }

  /** An answer the gateway gives later (it waits for the read model), at `index`. */
  later(index: number, answer: Promise<ServerOut>): void {
    this.waiting++;
    void answer.then((out) => {
      this.answers[index] = out;
      if (--this.waiting === 0) this.settle?.(this.whole());
    });
  }

  engineUnavailable(index: number): void {
    this.answers[index] = error(
      this.requests[index]!.requestId,
      'JOURNAL_UNAVAILABLE',
      'the journal failed: the outcome is unknown; resend the same request once the node has restarted',
    );
    if (--this.waiting === 0) this.settle?.(this.whole());
  }

  /** The frame's answer now if every command is answered, else a promise of it. */
  settled(): ServerOut | Promise<ServerOut> {
    if (this.waiting === 0) return this.whole();
    return new Promise<ServerOut>((resolve) => {
      this.settle = resolve;
    });
  }

  private whole(): ServerOut {
    return this.batch ?? this.answers[0]!;
  }
}

export class CheckoutService {
  private readonly deps: CheckoutDeps;
  private readonly now: () => number;
  /** Sessions to push a buyer's order changes to. */
  private readonly byBuyer = new Map<number, Set<Session>>();
  /** Sessions subscribed to one order (service connections). */
  private readonly byOrder = new Map<number, Set<Session>>();

  constructor(deps: CheckoutDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
  }

  /** Orders with at least one subscription open (the /metrics gauge stampede_subscribed_orders). */
  get subscribedOrderCount(): number {
    return this.byOrder.size;
  }

  /** Forgets a closed session's registrations. */
  close(session: Session): void {
    if (session.role === 'buyer') this.byBuyer.get(session.buyerId)?.delete(session);
    for (const orderId of session.subscriptions) {
      const set = this.byOrder.get(orderId);
      set?.delete(session);
      if (set?.size === 0) this.byOrder.delete(orderId);
    }
    session.subscriptions.clear();
    // Nothing more for it: an answer that comes after a gap fill registers no subscription for a closed session.
    session.role = 'none';
  }

  /** A durable order change: push it to the buyer's sessions and the order's subscribers. */
  onOrderChange(change: OrderChange): void {
    const buyerSessions = this.byBuyer.get(change.buyerId);
    const orderSessions = this.byOrder.get(change.orderId);
    // Most changes have no listener (a sale's orders outnumber its subscriptions): allocate nothing for them.
    if (buyerSessions === undefined && orderSessions === undefined) return;
    const update: ServerOut = { kind: 'update', ...change, requestId: 0 };
    if (buyerSessions !== undefined) for (const session of buyerSessions) this.pushTo(session, update);
    if (orderSessions === undefined) return;
    // A session both the buyer's and the order's subscriber gets the update once.
    for (const session of orderSessions) if (!buyerSessions?.has(session)) this.pushTo(session, update);
    // Nothing will change any more: end the subscriptions, or a service connection that subscribes to
    // every order it takes payment for would hold them all for as long as it stays connected.
    if (isSettledStatus(change.status)) this.endSubscriptions(change.orderId, orderSessions);
  }

  /** The engine forgot an order (timed out or canceled ones too): its subscriptions end. */
  onOrderForgotten(orderId: number): void {
    const sessions = this.byOrder.get(orderId);
    if (sessions !== undefined) this.endSubscriptions(orderId, sessions);
  }

  private endSubscriptions(orderId: number, sessions: Set<Session>): void {
    for (const session of sessions) session.subscriptions.delete(orderId);
    this.byOrder.delete(orderId);
  }

  private pushTo(session: Session, update: ServerOut): void {
    session.push(update);
    this.deps.metrics.pushesSent++;
  }

  /**
   * Charges one frame to its client address before anything else looks at
   * it, whatever it holds: a command, a ping, an authenticate, bytes that do
   * not decode (request null). Returns the RATE_LIMITED answer, or null when
   * the frame may go on. The exception is a service connection's commands: a
   * trusted backend speaks for many buyers from one address, so each of its
   * commands is charged to its buyer instead (command()), and a ping inside
   * its batch rides on the batch.
   */
  admitFrame(session: Session, request: ClientRequest | null, requestId: number): ServerOut | null {
    if (
      session.role === 'service' &&
      request !== null &&
      request.kind !== 'ping' &&
      request.kind !== 'authenticate'
    )
      return null;
    const nowMs = this.now();
    if (this.deps.ipLimiter.take(session.ip, nowMs)) return null;
    return error(
      requestId,
      'RATE_LIMITED',
      'too many frames from this address',
      this.deps.ipLimiter.retryAfterMs(session.ip, nowMs),
    );
  }

  /**
   * Answers one frame: at once when the gateway can (refusals, pongs, edge
   * sold-out, subscriptions, payments started), as a promise when the engine
   * must answer. A batch is answered when its last command is.
   */
  handle(session: Session, request: ClientRequest): ServerOut | Promise<ServerOut> {
    const nowMs = this.now();
    if (request.kind === 'authenticate') return this.authenticate(session, request, nowMs);
    if (request.kind !== 'ping') {
      if (session.role === 'none') return error(request.requestId, 'AUTH_REQUIRED', 'authenticate first');
      if (nowMs >= session.expiresAtMs)
        return error(request.requestId, 'TOKEN_EXPIRED', 'the token expired: authenticate again');
    }
    if (request.kind !== 'batch') {
      const pending = new PendingAnswers([request], null);
      const answer = this.command(session, request, nowMs, pending, 0);
      return answer === answeredLater ? pending.settled() : answer;
    }
    if (session.role !== 'service')
      return error(request.requestId, 'FORBIDDEN', 'only a service connection may batch');
    const { messages } = request;
    const pending = new PendingAnswers(messages, request.requestId);
    for (let i = 0; i < messages.length; i++) {
      const answer = this.command(session, messages[i]!, nowMs, pending, i);
      if (answer !== answeredLater) pending.answers[i] = answer;
    }
    return pending.settled();
  }

  /**
   * One command of a frame or a batch, from an authenticated session: its
   * answer, or answeredLater when the engine will give it to `pending` (as
   * answer `index`).
   */
  private command(
    session: Session,
    request: DecodedBatchableMessage,
    nowMs: number,
    pending: PendingAnswers,
    index: number,
  ): ServerOut | typeof answeredLater {
    if (request.kind === 'ping') {
      return {
        kind: 'pong',
        requestId: request.requestId,
        clientTimeMs: request.clientTimeMs,
        serverTimeMs: nowMs,
      };
    }
    // Which buyer this command is for.
    let buyerId: number;
    if (session.role === 'buyer') {
      if (request.buyerId !== undefined && request.buyerId !== 0 && request.buyerId !== session.buyerId) {
        return error(request.requestId, 'FORBIDDEN', 'a buyer connection acts for its own buyer only');
      }
      buyerId = session.buyerId;
    } else {
      if (request.buyerId === undefined || request.buyerId < 1) {
        return error(
          request.requestId,
          'BAD_COMMAND',
          'a service connection must name buyer_id on every command',
        );
      }
      buyerId = request.buyerId;
    }
    // Before the per-buyer limit: a sold-out answer never reaches the engine, which that limit protects, and
    // costs less than the limiter's bookkeeping for a buyer never seen before (measured: 40% of the gateway's
    // time per late buyer). Metering them would also fill the limiter's table with the late crowd and evict
    // the buyers whose debts matter.
    if (request.kind === 'placeOrder' && this.deps.journalKeepsUp(nowMs)) {
      const soldOut = this.soldOutAtEdge(request, buyerId);
      if (soldOut !== null) return soldOut;
    }
    if (!this.deps.buyerLimiter.take(buyerId, nowMs)) {
      return error(
        request.requestId,
        'RATE_LIMITED',
        'too many requests for this buyer',
        this.deps.buyerLimiter.retryAfterMs(buyerId, nowMs),
      );
    }
    switch (request.kind) {
      case 'placeOrder':
        return this.place(request, buyerId, nowMs, pending, index);
      case 'pay':
      case 'subscribe':
        return this.afterCatchUp(request, pending, index, () =>
          request.kind === 'pay'
            ? this.pay(session, request, buyerId)
            : this.subscribe(session, request, buyerId),
        );
      case 'cancel':
        return this.toEngine(
          request.requestId,
          { type: 'cancelOrder', buyerId, requestId: request.requestId, orderId: request.orderId },
          nowMs,
          pending,
          index,
        );
      default: {
        const unreachable: never = request;
        return error(0, 'UNKNOWN_MESSAGE', `unknown message ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private authenticate(
    session: Session,
    request: Extract<ClientRequest, { kind: 'authenticate' }>,
    nowMs: number,
  ): ServerOut {
    const check = this.deps.verifyToken(request.token, nowMs);
    if (!check.ok) return error(request.requestId, check.code, check.message);
    if (check.role === 'admin')
      return error(request.requestId, 'TOKEN_WRONG_ROLE', 'admin tokens are for the HTTP admin API');
    if (session.role === 'buyer') this.byBuyer.get(session.buyerId)?.delete(session);
    session.role = check.role;
    session.buyerId = check.role === 'buyer' ? check.buyerId : 0;
    session.expiresAtMs = check.expiresAtMs;
    if (check.role === 'buyer') {
      let set = this.byBuyer.get(check.buyerId);
      if (set === undefined) {
        set = new Set();
        this.byBuyer.set(check.buyerId, set);
      }
      set.add(session);
    }
    return {
      kind: 'authenticated',
      requestId: request.requestId,
      role: check.role,
      buyerId: session.buyerId,
      expiresAtMs: check.expiresAtMs,
    };
  }

  /** The edge's answer to a place for SKUs that are all sold out, or null: the engine must decide. */
  private soldOutAtEdge(
    request: Extract<ClientRequest, { kind: 'placeOrder' }>,
    buyerId: number,
  ): ServerOut | null {
    const { availability, skusMax, model } = this.deps;
    const { lines } = request;
    // A loop, not lines.every(closure): this runs for every attempt of a sale.
    let soldOutEverywhere = lines.length > 0;
    for (let i = 0; i < lines.length && soldOutEverywhere; i++) {
      const skuId = lines[i]!.skuId;
      soldOutEverywhere =
        skuId >= 1 && skuId <= skusMax && availability[skuId]! <= 0 && model.products.has(skuId);
    }
    if (!soldOutEverywhere) return null;
    // A retry of a request already answered must get that answer: the model may not hold the order yet.
    // While the model is filling a gap it cannot tell. The engine could, but each refusal there is a
    // journaled event, and a gap means the gateway is already behind the journal: BUSY, resend shortly.
    if (!this.deps.catchUpNow())
      return error(
        request.requestId,
        'BUSY',
        'the read model is catching up with the journal',
        this.deps.busyRetryAfterMs,
      );
    if (model.orders.orderForRequest(buyerId, request.requestId) !== undefined) return null;
    if (model.refusedRequests.has(buyerId, request.requestId)) return null;
    this.deps.metrics.edgeSoldOut++;
    return {
      kind: 'order',
      requestId: request.requestId,
      result: ResultCode.soldOut,
      orderId: 0,
      status: OrderStatus.none,
      expiresAtMs: 0,
      totalMinor: 0,
      skuId: lines[0]!.skuId,
      message: soldOutMessage,
      mayReturn: true,
    };
  }

  private place(
    request: Extract<ClientRequest, { kind: 'placeOrder' }>,
    buyerId: number,
    nowMs: number,
    pending: PendingAnswers,
    index: number,
  ): ServerOut | typeof answeredLater {
    return this.toEngine(
      request.requestId,
      {
        type: 'placeOrder',
        buyerId,
        requestId: request.requestId,
        totalMinor: request.totalMinor,
        lines: request.lines,
      },
      nowMs,
      pending,
      index,
    );
  }

  private pay(
    session: Session,
    request: Extract<ClientRequest, { kind: 'pay' }>,
    buyerId: number,
  ): ServerOut {
    const slot = this.ownOrderSlot(request.orderId, buyerId);
    if (slot === -1) return orderNotFound(request);
    const orders = this.deps.model.orders;
    const status = orders.status(slot);
    const expiresAtMs = orders.expiresAtMs(slot);
    const totalMinor = orders.totalMinor(slot);
    if (status !== OrderStatus.readyForCheckout) {
      return orderOut(
        request.requestId,
        ResultCode.invalidTransition,
        request.orderId,
        status,
        expiresAtMs,
        totalMinor,
        0,
        'the order is not awaiting payment',
      );
    }
    const started = this.deps.payments.start(request.orderId, totalMinor);
    if (started === 'busy')
      return error(request.requestId, 'BUSY', 'too many payments in flight', this.deps.busyRetryAfterMs);
    // The outcome comes to whoever started the payment: a service connection need not subscribe first.
    this.watch(session, request.orderId);
    const message =
      started === 'started'
        ? 'payment started: the outcome is pushed as an order update'
        : 'a payment for this order is already in flight';
    return orderOut(
      request.requestId,
      ResultCode.ok,
      request.orderId,
      status,
      expiresAtMs,
      totalMinor,
      0,
      message,
    );
  }

  private subscribe(
    session: Session,
    request: Extract<ClientRequest, { kind: 'subscribe' }>,
    buyerId: number,
  ): ServerOut {
    const slot = this.ownOrderSlot(request.orderId, buyerId);
    if (slot === -1) return orderNotFound(request);
    this.watch(session, request.orderId);
    return {
      kind: 'subscribed',
      requestId: request.requestId,
      orderId: request.orderId,
      status: this.deps.model.orders.status(slot),
    };
  }

  /**
   * Answers a command that reads the read model (ownership, status) once the model holds every durable
   * event: at once, or, while a gap is filled from the journal, through `pending` when it is (BUSY if that
   * takes longer than the feed's bound).
   */
  private afterCatchUp(
    request: { requestId: number },
    pending: PendingAnswers,
    index: number,
    answer: () => ServerOut,
  ): ServerOut | typeof answeredLater {
    const caughtUp = this.deps.catchUp();
    if (caughtUp === true) return answer();
    pending.later(
      index,
      caughtUp.then((current) =>
        current
          ? answer()
          : error(
              request.requestId,
              'BUSY',
              'the read model is catching up with the journal',
              this.deps.busyRetryAfterMs,
            ),
      ),
    );
    return answeredLater;
  }

  /** The order's slot in the read model (caught up by the caller); -1 unless it exists and is the buyer's own. */
  private ownOrderSlot(orderId: number, buyerId: number): number {
    const orders = this.deps.model.orders;
    const slot = orders.slotOf(orderId);
    return slot !== -1 && orders.buyerId(slot) === buyerId ? slot : -1;
  }

  /** Pushes every later change of the order to a service session (a buyer session gets its own orders' anyway). */
  private watch(session: Session, orderId: number): void {
    if (session.role !== 'service' || session.subscriptions.has(orderId)) return;
    session.subscriptions.add(orderId);
    let set = this.byOrder.get(orderId);
    if (set === undefined) {
      set = new Set();
      this.byOrder.set(orderId, set);
    }
    set.add(session);
  }

  /** Hands a command to the engine, its answer to come through `pending`; BUSY when the engine is full. */
  private toEngine(
    requestId: number,
    input: CommandInput,
    nowMs: number,
    pending: PendingAnswers,
    index: number,
  ): ServerOut | typeof answeredLater {
    pending.waiting++;
    if (this.deps.commands.submitTo(input, nowMs, pending, index)) return answeredLater;
    pending.waiting--;
    this.deps.metrics.busy++;
    return error(
      requestId,
      'BUSY',
      'the engine is at capacity: retry after the given delay',
      this.deps.busyRetryAfterMs,
    );
  }
}
