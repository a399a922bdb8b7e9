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

/** Messages from the main thread. */
export type ToClient = { type: 'go'; startAtMs: number };
/** Messages to the main thread. */
export type FromClient =
  | { type: 'ready' }
  | { type: 'progress'; placeAnswered: number; finalTotal: number }
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
  const ws = new WebSocket(data.url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('message', (bytes: Buffer) => {
      const answer = stampede.v1.ServerMessage.decode(new Uint8Array(bytes));
      if (answer.authenticated) resolve();
      else reject(new Error(`authentication refused: ${JSON.stringify(answer.error)}`));
    });
    ws.send(stampede.v1.ClientMessage.encode({ requestId: 1, authenticate: { token: data.token } }).finish());
  });
  const frames = { nextRequestId: batchRequestIdFirst };
  if (data.warmup !== null) {
    const warm = await sell(ws, data, data.warmup, nowMs(), frames, () => {});
    if (warm.error !== undefined) throw new Error(`warm-up: ${warm.error}`);
  }
  post({ type: 'ready' });
  const startAtMs = await go;
  const result = await sell(ws, data, data.sale, startAtMs, frames, post);
  ws.close();
  post({ type: 'done', ...result });
}

/** Drives one sale on an authenticated connection; resolves once every buyer has a final answer (or on failure). */
function sell(
  ws: WebSocket,
  data: ClientWorkerData,
  sale: ClientSale,
  startAtMs: number,
  frames: { nextRequestId: number },
  post: (m: FromClient) => void,
): Promise<{ record: RecordData; framesSent: number; error?: string }> {
  const { buyerIdFirst, buyerCount, load } = sale;
  const plan = new BuyerPlan(sale.seed, sale.skuCount, data.shares);
  /** When each buyer's place was sent (closed) or due (open): the start of its latencies. */
  const placedAtMs = new Float64Array(buyerCount);
  const recorder = new SaleRecorder({
    buyerIdFirst,
    buyerCount,
    skuCount: sale.skuCount,
    startAtMs,
    runMsMax: data.runMsMax,
  });
  let resolveSale: (result: { record: RecordData; framesSent: number; error?: string }) => void = () => {};
  const done = new Promise<{ record: RecordData; framesSent: number; error?: string }>((resolve) => {
    resolveSale = resolve;
  });

  const batches = new Map<number, SentFrame>();
  /** Frames answered, for the next ones: at most a window's worth exist. */
  const framesFree: SentFrame[] = [];
  /** Frames before this one were an earlier sale's (the warm-up) on this connection. */
  const frameRequestIdFirst = frames.nextRequestId;
  let nextBuyerIndex = 0;
  let inFlight = 0;
  let framesSent = 0;
  /** Orders whose payment outcome is awaited (pushed): order id -> buyer id; bounded by the stock. */
  const paying = new Map<number, number>();
  const payQueue: Queued[] = [];
  const retryQueue: Queued[] = [];
  let retryTimer: NodeJS.Timeout | null = null;
  let pacer: NodeJS.Timeout | null = null;

  let finished = false;
  const finish = (error?: string): void => {
    if (finished) return;
    finished = true;
    clearInterval(progress);
    clearTimeout(watchdog);
    if (retryTimer) clearTimeout(retryTimer);
    if (pacer) clearTimeout(pacer);
    ws.off('message', onMessage);
    ws.off('close', onClose);
    resolveSale({ record: recorder.data(), framesSent, ...(error === undefined ? {} : { error }) });
  };
  const progress = setInterval(
    () => post({ type: 'progress', placeAnswered: recorder.placeAnswered, finalTotal: recorder.finalTotal }),
    250,
  );
  const watchdog = setTimeout(
    () =>
      finish(
        `timed out after ${data.runMsMax} ms with ${buyerCount - recorder.finalTotal} buyers unanswered`,
      ),
    Math.max(0, startAtMs + data.runMsMax - nowMs()),
  );

  const skuIndexOf = (buyerId: number): number => plan.skuIndexOf(buyerId);
  const final = (buyerId: number, outcome: Outcome, atMs: number): void => {
    if (recorder.final(buyerId, skuIndexOf(buyerId), outcome, atMs)) finish();
  };
  const frame = new BatchFrameWriter();
  const reader = new ServerMessageReader();
  const place = (buyerId: number): void =>
    frame.place(
      sale.placeRequestIdBase + buyerId, // the idempotency key: a BUSY retry resends the same one
      buyerId,
      sale.skuIdFirst + skuIndexOf(buyerId),
      1,
      data.priceMinor,
    );

  /** Whether the closed loop's window (or, open loop, nothing) keeps a message from going out now. */
  const roomFor = (): number =>
    load.model === 'closed' ? load.windowMessages - inFlight : Number.POSITIVE_INFINITY;

  /** Sends payments and retries, then (closed loop) new buyers, or (open loop) the buyers due by `dueAtMs`. */
  const pump = (dueAtMs = 0): void => {
    for (;;) {
      const room = Math.min(data.batchMessagesMax, roomFor());
      if (room <= 0) return;
      const sent = framesFree.pop() ?? new SentFrame(data.batchMessagesMax);
      sent.count = 0;
      const requestId = frames.nextRequestId;
      frame.begin(requestId);
      // Payments first (the pay subscribes this connection to the order's outcome).
      while (payQueue.length > 0 && sent.count < room) {
        const p = payQueue.shift()!;
        frame.pay(payRequestIdBase + p.buyerId, p.orderId, p.buyerId);
        sent.push(Kind.pay, p.buyerId, p.orderId);
      }
      while (retryTimer === null && retryQueue.length > 0 && sent.count < room) {
        const r = retryQueue.shift()!;
        if (r.kind === Kind.pay) payQueue.push(r);
        else {
          place(r.buyerId);
          sent.push(r.kind, r.buyerId, r.orderId);
        }
      }
      const sendAtMs = nowMs();
      while (nextBuyerIndex < buyerCount && sent.count < room) {
        if (load.model === 'open') {
          const intendedAtMs = startAtMs + (nextBuyerIndex * 1000) / load.ratePerSec;
          if (intendedAtMs > dueAtMs) break;
          placedAtMs[nextBuyerIndex] = intendedAtMs;
        } else placedAtMs[nextBuyerIndex] = sendAtMs;
        const buyerId = buyerIdFirst + nextBuyerIndex;
        nextBuyerIndex++;
        place(buyerId);
        sent.push(Kind.place, buyerId, 0);
      }
      if (sent.count === 0) {
        framesFree.push(sent);
        return;
      }
      frames.nextRequestId++;
      batches.set(requestId, sent);
      inFlight += sent.count;
      recorder.sent(sendAtMs);
      ws.send(frame.finish());
      framesSent++;
    }
  };

  /** Open loop: send what is due, then sleep until the next arrival (at most openLoopTickMsMax). */
  const pace = (): void => {
    pacer = null;
    const now = nowMs();
    pump(now);
    if (nextBuyerIndex >= buyerCount || load.model !== 'open') return;
    const nextDueAtMs = startAtMs + (nextBuyerIndex * 1000) / load.ratePerSec;
    pacer = setTimeout(pace, Math.min(openLoopTickMsMax, Math.max(0, nextDueAtMs - now)));
  };

  const retryLater = (kind: Kind, buyerId: number, orderId: number, afterMs: number): void => {
    retryQueue.push({ kind, buyerId, orderId });
    retryTimer ??= setTimeout(
      () => {
        retryTimer = null;
        pump(nowMs());
      },
      Math.max(1, afterMs),
    );
  };

  /** One answer of a batch, as `reader` holds it, to the command of `kind` for `buyerId` (and `orderId`). */
  const onAnswer = (
    kind: Kind,
    buyerId: number,
    orderId: number,
    answer: ServerMessageReader,
    atMs: number,
  ): void => {
    if (answer.kind === ServerKind.error) {
      const code = answer.errorCode;
      if (code === 'BUSY' || code === 'RATE_LIMITED') {
        recorder.count(`retry:${code}`);
        retryLater(kind, buyerId, orderId, answer.retryAfterMs);
        return;
      }
      recorder.count(`error:${code}`);
      if (kind === Kind.place) {
        recorder.placeAnswer(placedAtMs[buyerId - buyerIdFirst]!, atMs);
        final(buyerId, Outcome.failed, atMs);
      } else {
        paying.delete(orderId);
        final(buyerId, Outcome.failed, atMs);
      }
      return;
    }
    if (answer.kind !== ServerKind.order)
      throw new Error(`unexpected answer of kind ${answer.kind} to request ${answer.requestId}`);
    const result = answer.result;
    if (kind === Kind.pay) {
      if (result !== ResultCode.ok) {
        paying.delete(orderId);
        recorder.count(`payRefused:${result}`);
        final(buyerId, Outcome.failed, atMs);
      }
      return; // started: the outcome is pushed
    }
    recorder.placeAnswer(placedAtMs[buyerId - buyerIdFirst]!, atMs);
    if (result === ResultCode.ok && answer.status === OrderStatus.readyForCheckout) {
      if (plan.pays(buyerId)) {
        paying.set(answer.orderId, buyerId);
        payQueue.push({ kind: Kind.pay, buyerId, orderId: answer.orderId });
      } else final(buyerId, Outcome.holding, atMs);
    } else if (result === ResultCode.soldOut || result === ResultCode.insufficientStock)
      final(buyerId, Outcome.soldOut, atMs);
    else {
      recorder.count(`refused:${result}`);
      final(buyerId, Outcome.refused, atMs);
    }
  };

  const onMessage = (bytes: Buffer): void => {
    const atMs = nowMs();
    reader.read(bytes);
    if (reader.kind === ServerKind.update) {
      const { status, orderId } = reader;
      const buyerId = paying.get(orderId);
      // Pushes of the statuses before payment (and of orders not paid here) are not answers.
      if (buyerId === undefined || status < OrderStatus.checkoutSuccess) return;
      paying.delete(orderId);
      if (status === OrderStatus.checkoutSuccess) {
        recorder.paidAnswer(placedAtMs[buyerId - buyerIdFirst]!, atMs);
        final(buyerId, Outcome.paid, atMs);
      } else {
        recorder.count(`payOutcome:${stampede.v1.OrderStatus[status]}`);
        final(buyerId, Outcome.released, atMs);
      }
      return;
    }
    const requestId = reader.requestId;
    const sent = batches.get(requestId);
    if (sent === undefined) {
      if (requestId >= batchRequestIdFirst && requestId < frameRequestIdFirst) return; // a late warm-up answer
      finish(`answer of kind ${reader.kind} to unknown request ${requestId}`);
      return;
    }
    batches.delete(requestId);
    inFlight -= sent.count;
    if (reader.kind !== ServerKind.batch) {
      // The whole frame was refused: a bug in this client, not load.
      finish(
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
    pump();
    let answered = 0;
    while (!finished && reader.nextAnswer()) {
      if (answered < sent.count)
        onAnswer(
          sent.kinds[answered] as Kind,
          sent.buyerIds[answered]!,
          sent.orderIds[answered]!,
          reader,
          atMs,
        );
      answered++;
    }
    framesFree.push(sent);
    if (finished) return;
    if (answered !== sent.count) finish(`batch of ${sent.count} answered with ${answered} answers`);
    else pump();
  };
  const onClose = (code: number): void => {
    if (recorder.finalTotal < buyerCount)
      finish(`connection closed (${code}) with ${buyerCount - recorder.finalTotal} buyers unanswered`);
  };
  ws.on('message', onMessage);
  ws.on('close', onClose);
  if (load.model === 'open') pace();
  else pump();
  return done;
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
