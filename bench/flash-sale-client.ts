/**
 * One client worker of `stampede bench flash-sale` (a worker_thread): a
 * trusted checkout backend on one WebSocket with a service token, sending
 * binary protobuf Batch frames for a contiguous range of buyers.
 *
 * Two load models:
 *   closed  at most `windowMessages` commands in flight on the connection;
 *           each batch answer frees its slots and they are refilled at once
 *           (payments first, then BUSY retries, then new buyers). Latency
 *           counts from the actual send.
 *   open    buyer i of this worker arrives at startAtMs + i / ratePerSec,
 *           whatever the server's answers; a pacer wakes at least every
 *           millisecond and sends everyone due in one frame (answers send
 *           payments and retries, never arrivals). Latency counts from the
 *           intended arrival, so time spent queued (here or in the server)
 *           is counted.
 *
 *   buyer b ─ placeOrder ─┬─ READY_FOR_CHECKOUT ─┬─ pays: pay ─► outcome pushed to the payer: paid | released
 *                         │                      └─ abandons: final "holding" (the TTL returns the unit)
 *                         └─ a refusal (SOLD_OUT, ...): final
 *
 * Frames are written and answers read by the bench's own codec
 * (flash-sale-wire.ts), so the load generator takes as little of the
 * machine's CPU from the server as it can.
 *
 * Every buyer's final answer is recorded once (SaleRecorder); BUSY and
 * RATE_LIMITED are not answers: the same request (same request id, so the
 * engine's idempotency holds) is resent after the delay the server gave.
 * Never blocks; every buffer is bounded by the buyer range or the window.
 */
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { OrderStatus, ResultCode } from '../engine/codes.ts';
import { stampede } from '../proto/generated/stampede.js';
import { BuyerPlan, type BuyerShares } from './flash-sale-buyers.ts';
import { Outcome, type RecordData, SaleRecorder } from './flash-sale-recorder.ts';
import { BatchFrameWriter, ServerKind, ServerMessageReader } from './flash-sale-wire.ts';

export type ClientLoad = { model: 'closed'; windowMessages: number } | { model: 'open'; ratePerSec: number };

/** One sale a worker drives: its buyers, the SKUs they want, and how hard to push. */
export interface ClientSale {
  skuIdFirst: number;
  skuCount: number;
  buyerIdFirst: number;
  buyerCount: number;
  load: ClientLoad;
  /** Who wants which SKU and who pays. */
  seed: number;
  /** Place request ids are base + buyerId: a new base per run keeps a reused server's idempotency out of the way. */
  placeRequestIdBase: number;
}

export interface ClientWorkerData {
  flashSaleClient: true;
  url: string;
  token: string;
  priceMinor: number;
  batchMessagesMax: number;
  shares: BuyerShares;
  /** Sold on the same connection before `ready`, unmeasured, so the JIT of both sides is warm (null: none). */
  warmup: ClientSale | null;
  sale: ClientSale;
  /** A sale fails if not every buyer has a final answer by then. */
  runMsMax: number;
}

export type SalePhase = 'warm-up' | 'sale';

/** Connecting and authenticating one client's socket, at most (a node that accepts and never answers). */
export const clientConnectMsMax = 30_000;

/** Messages from the main thread. */
export type ToClient = { type: 'go'; startAtMs: number };
/** Messages to the main thread. */
export type FromClient =
  | { type: 'ready'; warmupPlaceAnswered: number }
  | { type: 'progress'; phase: SalePhase; placeAnswered: number; finalTotal: number }
  | { type: 'done'; record: RecordData; framesSent: number; error?: string }
  | { type: 'failed'; error: string };

const Kind = { place: 0, pay: 1 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];
/** A command waiting to be sent again (a BUSY retry) or for the first time (a payment). */
interface Queued {
  kind: Kind;
  buyerId: number;
  orderId: number;
}

/**
 * The commands of one frame in flight, in order, as columns: the client sends
 * hundreds of thousands of commands, and an object per command was most of
 * its garbage. Answered frames are reused (framesFree): a sale needs a
 * window's worth.
 */
class SentFrame {
  count = 0;
  readonly kinds: Uint8Array;
  readonly buyerIds: Float64Array;
  readonly orderIds: Float64Array;

  constructor(commandsMax: number) {
    this.kinds = new Uint8Array(commandsMax);
    this.buyerIds = new Float64Array(commandsMax);
    this.orderIds = new Float64Array(commandsMax);
  }

  push(kind: Kind, buyerId: number, orderId: number): void {
    this.kinds[this.count] = kind;
    this.buyerIds[this.count] = buyerId;
    this.orderIds[this.count] = orderId;
    this.count++;
  }
}

const nowMs = (): number => performance.timeOrigin + performance.now();
/** Request ids of frames and payments live above any place request id (below 2^40). */
const batchRequestIdFirst = 2 ** 40;
const payRequestIdBase = 2 ** 42;
/** The pacer's wake-up when nothing is due sooner. */
const openLoopTickMsMax = 1;

async function run(
  data: ClientWorkerData,
  post: (m: FromClient) => void,
  go: Promise<number>,
): Promise<void> {
  const ws = new WebSocket(data.url, { perMessageDeflate: false, handshakeTimeout: clientConnectMsMax });
  const connecting = setTimeout(() => ws.terminate(), clientConnectMsMax);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('close', () => reject(new Error(`${data.url}: no connection within ${clientConnectMsMax} ms`)));
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('message', (bytes: Buffer) => {
        const answer = stampede.v1.ServerMessage.decode(new Uint8Array(bytes));
        if (answer.authenticated) resolve();
        else reject(new Error(`authentication refused: ${JSON.stringify(answer.error)}`));
      });
      ws.once('close', () =>
        reject(new Error(`${data.url}: no answer to authenticate within ${clientConnectMsMax} ms`)),
      );
      ws.send(
        stampede.v1.ClientMessage.encode({ requestId: 1, authenticate: { token: data.token } }).finish(),
      );
    });
  } finally {
    clearTimeout(connecting);
  }
  const frames = { nextRequestId: batchRequestIdFirst };
  let warmupPlaceAnswered = 0;
  if (data.warmup !== null) {
    const warm = await new SaleDriver(ws, data, data.warmup, 'warm-up', nowMs(), frames, post).start();
    if (warm.error !== undefined) throw new Error(`warm-up: ${warm.error}`);
    warmupPlaceAnswered = warm.record.placeAnswered;
  }
  post({ type: 'ready', warmupPlaceAnswered });
  const startAtMs = await go;
  const result = await new SaleDriver(ws, data, data.sale, 'sale', startAtMs, frames, post).start();
  ws.close();
  post({ type: 'done', ...result });
}

type SaleResult = { record: RecordData; framesSent: number; error?: string };

/**
 * Drives one sale on an authenticated connection: start() resolves once every
 * buyer has a final answer (or on failure).
 *
 * A class, not a function of closures: the warm-up and the sale are two
 * instances, and a method's optimized code serves both. Closures made anew
 * per sale were optimized for the warm-up's instance only and ran the sale's
 * first ~100 ms in baseline code while TurboFan compiled them again (traced:
 * Sparkplug builtins on the client thread, compiler jobs on V8's helper
 * threads; late-buyers-only sale, see docs/flash-sale-bench.md).
 */
class SaleDriver {
  private readonly ws: WebSocket;
  private readonly data: ClientWorkerData;
  private readonly sale: ClientSale;
  private readonly phase: SalePhase;
  private readonly startAtMs: number;
  /** The connection's frame request ids, shared by its sales. */
  private readonly frames: { nextRequestId: number };
  private readonly post: (m: FromClient) => void;

  private readonly buyerIdFirst: number;
  private readonly buyerCount: number;
  private readonly load: ClientLoad;
  private readonly plan: BuyerPlan;
  /** When each buyer's place was sent (closed) or due (open): the start of its latencies. */
  private readonly placedAtMs: Float64Array;
  private readonly recorder: SaleRecorder;
  private readonly batches = new Map<number, SentFrame>();
  /** Frames answered, for the next ones: at most a window's worth exist. */
  private readonly framesFree: SentFrame[] = [];
  /** Frames before this one were an earlier sale's (the warm-up) on this connection. */
  private readonly frameRequestIdFirst: number;
  private nextBuyerIndex = 0;
  private inFlight = 0;
  private framesSent = 0;
  /** Orders whose payment outcome is awaited (pushed): order id -> buyer id; bounded by the stock. */
  private readonly paying = new Map<number, number>();
  private readonly payQueue: Queued[] = [];
  private readonly retryQueue: Queued[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private pacer: NodeJS.Timeout | null = null;
  private progress: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private finished = false;
  private resolveSale: (result: SaleResult) => void = () => {};
  private readonly frame = new BatchFrameWriter();
  private readonly reader = new ServerMessageReader();
  private readonly onMessageBound = this.onMessage.bind(this);
  private readonly onCloseBound = this.onClose.bind(this);

  constructor(
    ws: WebSocket,
    data: ClientWorkerData,
    sale: ClientSale,
    phase: SalePhase,
    startAtMs: number,
    frames: { nextRequestId: number },
    post: (m: FromClient) => void,
  ) {
    this.ws = ws;
    this.data = data;
    this.sale = sale;
    this.phase = phase;
    this.startAtMs = startAtMs;
    this.frames = frames;
    this.post = post;
    this.buyerIdFirst = sale.buyerIdFirst;
    this.buyerCount = sale.buyerCount;
    this.load = sale.load;
    this.plan = new BuyerPlan(sale.seed, sale.skuCount, data.shares);
    this.placedAtMs = new Float64Array(sale.buyerCount);
    this.recorder = new SaleRecorder({
      buyerIdFirst: sale.buyerIdFirst,
      buyerCount: sale.buyerCount,
      skuCount: sale.skuCount,
      startAtMs,
      runMsMax: data.runMsMax,
    });
    this.frameRequestIdFirst = frames.nextRequestId;
  }

  start(): Promise<SaleResult> {
    const done = new Promise<SaleResult>((resolve) => {
      this.resolveSale = resolve;
    });
    const { recorder } = this;
    this.progress = setInterval(
      () =>
        this.post({
          type: 'progress',
          phase: this.phase,
          placeAnswered: recorder.placeAnswered,
          finalTotal: recorder.finalTotal,
        }),
      250,
    );
    this.watchdog = setTimeout(
      () =>
        this.finish(
          `timed out after ${this.data.runMsMax} ms with ${this.buyerCount - recorder.finalTotal} buyers unanswered`,
        ),
      Math.max(0, this.startAtMs + this.data.runMsMax - nowMs()),
    );
    this.ws.on('message', this.onMessageBound);
    this.ws.on('close', this.onCloseBound);
    if (this.load.model === 'open') this.pace();
    else this.pump();
    return done;
  }

  private finish(error?: string): void {
    if (this.finished) return;
    this.finished = true;
    if (this.progress) clearInterval(this.progress);
    if (this.watchdog) clearTimeout(this.watchdog);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pacer) clearTimeout(this.pacer);
    this.ws.off('message', this.onMessageBound);
    this.ws.off('close', this.onCloseBound);
    this.resolveSale({
      record: this.recorder.data(),
      framesSent: this.framesSent,
      ...(error === undefined ? {} : { error }),
    });
  }

  private final(buyerId: number, outcome: Outcome, atMs: number): void {
    if (this.recorder.final(buyerId, this.plan.skuIndexOf(buyerId), outcome, atMs)) this.finish();
  }

  private place(buyerId: number): void {
    const { sale } = this;
    this.frame.place(
      sale.placeRequestIdBase + buyerId, // the idempotency key: a BUSY retry resends the same one
      buyerId,
      sale.skuIdFirst + this.plan.skuIndexOf(buyerId),
      1,
      this.data.priceMinor,
    );
  }

  /** How many more messages the closed loop's window lets go out now (open loop: no bound). */
  private roomFor(): number {
    const { load } = this;
    return load.model === 'closed' ? load.windowMessages - this.inFlight : Number.POSITIVE_INFINITY;
  }

  /** Sends payments and retries, then (closed loop) new buyers, or (open loop) the buyers due by `dueAtMs`. */
  private pump(dueAtMs = 0): void {
    const { frame, payQueue, retryQueue, load, placedAtMs } = this;
    for (;;) {
      const room = Math.min(this.data.batchMessagesMax, this.roomFor());
      if (room <= 0) return;
      const sent = this.framesFree.pop() ?? new SentFrame(this.data.batchMessagesMax);
      sent.count = 0;
      const requestId = this.frames.nextRequestId;
      frame.begin(requestId);
      // Payments first (the pay subscribes this connection to the order's outcome).
      while (payQueue.length > 0 && sent.count < room) {
        const p = payQueue.shift()!;
        frame.pay(payRequestIdBase + p.buyerId, p.orderId, p.buyerId);
        sent.push(Kind.pay, p.buyerId, p.orderId);
      }
      while (this.retryTimer === null && retryQueue.length > 0 && sent.count < room) {
        const r = retryQueue.shift()!;
        if (r.kind === Kind.pay) payQueue.push(r);
        else {
          this.place(r.buyerId);
          sent.push(r.kind, r.buyerId, r.orderId);
        }
      }
      const sendAtMs = nowMs();
      while (this.nextBuyerIndex < this.buyerCount && sent.count < room) {
        if (load.model === 'open') {
          const intendedAtMs = this.startAtMs + (this.nextBuyerIndex * 1000) / load.ratePerSec;
          if (intendedAtMs > dueAtMs) break;
          placedAtMs[this.nextBuyerIndex] = intendedAtMs;
        } else placedAtMs[this.nextBuyerIndex] = sendAtMs;
        const buyerId = this.buyerIdFirst + this.nextBuyerIndex;
        this.nextBuyerIndex++;
        this.place(buyerId);
        sent.push(Kind.place, buyerId, 0);
      }
      if (sent.count === 0) {
        this.framesFree.push(sent);
        return;
      }
      this.frames.nextRequestId++;
      this.batches.set(requestId, sent);
      this.inFlight += sent.count;
      this.recorder.sent(sendAtMs);
      this.ws.send(frame.finish());
      this.framesSent++;
    }
  }

  /** Open loop: send what is due, then sleep until the next arrival (at most openLoopTickMsMax). */
  private pace(): void {
    this.pacer = null;
    const now = nowMs();
    this.pump(now);
    const { load } = this;
    if (this.nextBuyerIndex >= this.buyerCount || load.model !== 'open') return;
    const nextDueAtMs = this.startAtMs + (this.nextBuyerIndex * 1000) / load.ratePerSec;
    this.pacer = setTimeout(() => this.pace(), Math.min(openLoopTickMsMax, Math.max(0, nextDueAtMs - now)));
  }

  private retryLater(kind: Kind, buyerId: number, orderId: number, afterMs: number): void {
    this.retryQueue.push({ kind, buyerId, orderId });
    this.retryTimer ??= setTimeout(
      () => {
        this.retryTimer = null;
        this.pump(nowMs());
      },
      Math.max(1, afterMs),
    );
  }

  /** One answer of a batch, as `answer` holds it, to the command of `kind` for `buyerId` (and `orderId`). */
  private onAnswer(
    kind: Kind,
    buyerId: number,
    orderId: number,
    answer: ServerMessageReader,
    atMs: number,
  ): void {
    const { recorder } = this;
    if (answer.kind === ServerKind.error) {
      const code = answer.errorCode;
      if (code === 'BUSY' || code === 'RATE_LIMITED') {
        recorder.count(`retry:${code}`);
        this.retryLater(kind, buyerId, orderId, answer.retryAfterMs);
        return;
      }
      recorder.count(`error:${code}`);
      if (kind === Kind.place) recorder.placeAnswer(this.placedAtMs[buyerId - this.buyerIdFirst]!, atMs);
      else this.paying.delete(orderId);
      this.final(buyerId, Outcome.failed, atMs);
      return;
    }
    if (answer.kind !== ServerKind.order)
      throw new Error(`unexpected answer of kind ${answer.kind} to request ${answer.requestId}`);
    const result = answer.result;
    if (kind === Kind.pay) {
      if (result !== ResultCode.ok) {
        this.paying.delete(orderId);
        recorder.count(`payRefused:${result}`);
        this.final(buyerId, Outcome.failed, atMs);
      }
      return; // started: the outcome is pushed
    }
    recorder.placeAnswer(this.placedAtMs[buyerId - this.buyerIdFirst]!, atMs);
    if (result === ResultCode.ok && answer.status === OrderStatus.readyForCheckout) {
      if (this.plan.pays(buyerId)) {
        this.paying.set(answer.orderId, buyerId);
        this.payQueue.push({ kind: Kind.pay, buyerId, orderId: answer.orderId });
      } else this.final(buyerId, Outcome.holding, atMs);
    } else if (result === ResultCode.soldOut || result === ResultCode.insufficientStock)
      this.final(buyerId, Outcome.soldOut, atMs);
    else {
      recorder.count(`refused:${result}`);
      this.final(buyerId, Outcome.refused, atMs);
    }
  }

  private onMessage(bytes: Buffer): void {
    const atMs = nowMs();
    const { reader } = this;
    reader.read(bytes);
    if (reader.kind === ServerKind.update) {
      const { status, orderId } = reader;
      const buyerId = this.paying.get(orderId);
      // Pushes of the statuses before payment (and of orders not paid here) are not answers.
      if (buyerId === undefined || status < OrderStatus.checkoutSuccess) return;
      this.paying.delete(orderId);
      if (status === OrderStatus.checkoutSuccess) {
        this.recorder.paidAnswer(this.placedAtMs[buyerId - this.buyerIdFirst]!, atMs);
        this.final(buyerId, Outcome.paid, atMs);
      } else {
        this.recorder.count(`payOutcome:${stampede.v1.OrderStatus[status]}`);
        this.final(buyerId, Outcome.released, atMs);
      }
      return;
    }
    const requestId = reader.requestId;
    const sent = this.batches.get(requestId);
    if (sent === undefined) {
      if (requestId >= batchRequestIdFirst && requestId < this.frameRequestIdFirst) return; // a late warm-up answer
      this.finish(`answer of kind ${reader.kind} to unknown request ${requestId}`);
      return;
    }
    this.batches.delete(requestId);
    this.inFlight -= sent.count;
    if (reader.kind !== ServerKind.batch) {
      // The whole frame was refused: a bug in this client, not load.
      this.finish(
        reader.kind === ServerKind.error
          ? `batch refused: ${reader.errorCode}: ${reader.errorMessage}`
          : `batch answered with a message of kind ${reader.kind}`,
      );
      return;
    }
    // Refill the window first, then read the answers: the server works on the next frame while this
    // thread records these (payments they start go out with the next refill, one round trip later).
    // Open loop: arrivals go out on the pacer's tick only, not on every answer: sending what was due at
    // each answer made frames of one to three places (~40 µs of the node's CPU each) and, measured, tripled
    // both sides' CPU and raised the p99 (the pacer's wait of at most a tick is counted in the latency).
    this.pump();
    let answered = 0;
    while (!this.finished && reader.nextAnswer()) {
      if (answered < sent.count)
        this.onAnswer(
          sent.kinds[answered] as Kind,
          sent.buyerIds[answered]!,
          sent.orderIds[answered]!,
          reader,
          atMs,
        );
      answered++;
    }
    this.framesFree.push(sent);
    if (this.finished) return;
    if (answered !== sent.count) this.finish(`batch of ${sent.count} answered with ${answered} answers`);
    else this.pump();
  }

  private onClose(code: number): void {
    if (this.recorder.finalTotal < this.buyerCount)
      this.finish(
        `connection closed (${code}) with ${this.buyerCount - this.recorder.finalTotal} buyers unanswered`,
      );
  }
}

if (parentPort !== null && (workerData as { flashSaleClient?: boolean } | null)?.flashSaleClient === true) {
  const port = parentPort;
  let start: (startAtMs: number) => void = () => {};
  const go = new Promise<number>((resolve) => {
    start = resolve;
  });
  port.on('message', (m: ToClient) => {
    if (m.type === 'go') start(m.startAtMs);
  });
  run(workerData as ClientWorkerData, (m) => port.postMessage(m), go).catch((error: unknown) => {
    port.postMessage({
      type: 'failed',
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  });
}
