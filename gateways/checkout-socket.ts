/**
 * The checkout WebSocket on uWebSockets.js (`/v1/checkout`): frames in,
 * CheckoutService answers out, in the frame kind the client used (binary
 * protobuf or JSON text). Every frame is charged to the client address's
 * rate limit first (CheckoutService.admitFrame). Every malformed frame gets a
 * coded error and the connection stays up; an oversized frame, a slow reader
 * past the buffered limit, a failed authentication, or a flood that ignores
 * RATE_LIMITED closes it with a coded reason. What uWS fails itself before JS
 * sees it (a frame past frameBytesCeiling, a text frame that is not UTF-8,
 * RFC 6455 violations) ends without a close frame and is only counted.
 *
 * Place→answer latency is measured here, from the frame's arrival to its
 * answer handed to the socket, for the dashboard (metrics.countPlaces).
 */
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { ResultCode, resultName } from '../engine/codes.ts';
import { type ClientFrameLimits, decodeClientFrame, encodeServerMessage } from '../proto/client-codec.ts';
import type { CheckoutService, ClientRequest, ServerOut, Session } from './checkout-service.ts';
import type { GatewayMetrics } from './metrics.ts';

export interface CheckoutSocketOptions {
  payloadBytesMax: number;
  backpressureBytesMax: number;
  idleTimeoutSeconds: number;
  connectionsMax: number;
  /** WebSocket close code and reason per edge error code (the catalogue). */
  closeCodeOf: (code: string) => number | null;
  /** What a frame may hold (decoded here, before anything else looks at it). */
  frameLimits: Readonly<ClientFrameLimits>;
}

/**
 * The largest frame uWS reads into memory for the message handler (its
 * maxPayloadLength): the larger of 4x payloadBytesMax and
 * backpressureBytesMax. Every frame up to it is answered FRAME_TOO_LARGE with
 * close 4009 by the gateway. A larger one uWS refuses as soon as its header
 * announces the length (WebSocketProtocol.h consumeMessage: refusePayloadLength,
 * then forceClose, which is us_socket_close: the file descriptor is closed
 * before the close handler runs, so no close frame can be sent). Raising the
 * ceiling without bound is no way out: uWS reserves a buffer of the announced
 * length up front. This one is at most what a connection may already hold of
 * unread answers, so a frame in flight costs no more memory than a slow reader.
 */
export function frameBytesCeiling(
  options: Pick<CheckoutSocketOptions, 'payloadBytesMax' | 'backpressureBytesMax'>,
): number {
  return Math.max(options.payloadBytesMax * 4, options.backpressureBytesMax);
}

/** The reasons uWS gives the close handler when it fails a connection for a frame (WebSocketProtocol.h). */
const uwsTooBigReason = 'Received too big message';
const uwsInvalidTextReason = 'Received invalid UTF-8';

/**
 * RATE_LIMITED answers one connection may draw in a second before it is closed
 * with POLICY_VIOLATION. A client that honours retryAfterMs draws a few (those
 * it had in flight when the first came back); one that keeps sending at
 * thousands of frames a second would otherwise cost the gateway a decode and
 * an answer per frame, for ever.
 */
const rateLimitedFramesPerSecondMax = 100;

interface SocketData extends Session {
  /** The last frame kind the client used: answers and pushes follow it. */
  binary: boolean;
  /** Answers and pushes waiting for the end of the task (sent together, one write). */
  outPending: ServerOut[];
  /** When the current second of RATE_LIMITED answers began (performance.now() ms), and how many it holds. */
  rateLimitedSinceMs: number;
  rateLimitedCount: number;
  /** This connection's socket while it is open; null once it closed or is closing (nothing more is sent). */
  socket: WebSocket<SocketData> | null;
}

export class CheckoutSocket {
  private readonly service: CheckoutService;
  private readonly metrics: GatewayMetrics;
  private readonly options: CheckoutSocketOptions;
  private readonly sockets = new Set<WebSocket<SocketData>>();
  private readonly socketsWithOutPending: SocketData[] = [];
  private readonly flushOutPending = (): void => this.sendOutPending();
  private accepting = true;

  constructor(service: CheckoutService, metrics: GatewayMetrics, options: CheckoutSocketOptions) {
    this.service = service;
    this.metrics = metrics;
    this.options = options;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  register(app: TemplatedApp): void {
    app.ws<SocketData>('/v1/checkout', {
      // Above the decoder's limit, so that an oversized frame reaches the message handler and gets a
      // coded FRAME_TOO_LARGE and close 4009. Past this ceiling uWS refuses the frame at its header and
      // closes the TCP connection itself, before JS runs and without a close frame (the client sees
      // 1006): see frameBytesCeiling.
      maxPayloadLength: frameBytesCeiling(this.options),
      // Off: send() enforces backpressureBytesMax itself and ends the connection with SLOW_READER.
      // uWS's own limit would drop that close frame too (its send returns DROPPED past maxBackpressure,
      // close frames included), and the client would see a bare TCP close (1006) instead of 4010.
      maxBackpressure: 0,
      closeOnBackpressureLimit: 0,
      idleTimeout: this.options.idleTimeoutSeconds,
      upgrade: (res, req, context) => {
        const key = req.getHeader('sec-websocket-key');
        const protocol = req.getHeader('sec-websocket-protocol');
        const extensions = req.getHeader('sec-websocket-extensions');
        if (!this.accepting || this.sockets.size >= this.options.connectionsMax) {
          // The HTTP API's error shape, so that a client reads one kind of refusal everywhere.
          const error = this.accepting
            ? {
                code: 'CONNECTIONS_FULL',
                message: `the node holds its limit of ${this.options.connectionsMax} connections: retry later`,
              }
            : { code: 'SHUTTING_DOWN', message: 'the node is stopping: reconnect to another node or later' };
          res
            .writeStatus('503 Service Unavailable')
            .writeHeader('content-type', 'application/json')
            .end(JSON.stringify({ error }));
          return;
        }
        const ip = Buffer.from(res.getRemoteAddressAsText()).toString();
        const data: SocketData = {
          role: 'none',
          buyerId: 0,
          ip,
          expiresAtMs: 0,
          subscriptions: new Set(),
          push: () => {},
          binary: true,
          outPending: [],
          rateLimitedSinceMs: 0,
          rateLimitedCount: 0,
          socket: null,
        };
        res.upgrade(data, key, protocol, extensions, context);
      },
      open: (ws) => {
        const data = ws.getUserData();
        data.socket = ws;
        data.push = (out) => this.queueOut(data, out);
        this.sockets.add(ws);
        this.metrics.connectionsOpened++;
      },
      message: (ws, message, isBinary) => {
        const receivedAtMs = performance.now();
        const data = ws.getUserData();
        data.binary = isBinary;
        // uWS reuses the message buffer after this callback: decode now (the codec copies what it keeps).
        const decoded = decodeClientFrame(message, isBinary, this.options.frameLimits);
        const refused = this.service.admitFrame(
          data,
          decoded.ok ? decoded.message : null,
          decoded.ok ? decoded.message.requestId : decoded.requestId,
        );
        if (refused !== null) {
          this.sendRateLimited(ws, refused, receivedAtMs);
          return;
        }
        if (!decoded.ok) {
          this.metrics.framesRejected++;
          this.send(ws, {
            kind: 'error',
            requestId: decoded.requestId,
            code: decoded.code,
            message: decoded.message,
            retryAfterMs: 0,
          });
          return;
        }
        if (!this.accepting) {
          this.send(ws, {
            kind: 'error',
            requestId: decoded.message.requestId,
            code: 'SHUTTING_DOWN',
            message: 'the server is stopping',
            retryAfterMs: 1000,
          });
          return;
        }
        const request = decoded.message;
        try {
          const out = this.service.handle(data, request);
          if (out instanceof Promise)
            out.then(
              (late) => {
                this.queueOut(data, late);
                this.countPlaces(request, late, receivedAtMs);
              },
              (error: unknown) => this.answerFailed(data, request, error),
            );
          else {
            // uWS corks what a message handler sends. A buyer's own limit counts towards a flood like
            // its address's; a service connection's refusals are its buyers', not its own.
            if (data.role === 'buyer' && out.kind === 'error' && out.code === 'RATE_LIMITED')
              this.sendRateLimited(ws, out, receivedAtMs);
            else this.send(ws, out);
            this.countPlaces(request, out, receivedAtMs);
          }
        } catch (error) {
          this.answerFailed(data, request, error);
        }
      },
      ping: (ws) => this.controlFrame(ws),
      pong: (ws) => this.controlFrame(ws),
      drain: () => {},
      close: (ws, code, message) => {
        // uWS fails a connection itself, before JS sees the frame, for a frame past frameBytesCeiling
        // and for a text frame that is not UTF-8: no answer or close frame can go out (its socket is
        // already closed), but the frame is counted with the refused ones.
        if (code === 1006 && message.byteLength > 0) {
          const reason = Buffer.from(message).toString();
          if (reason === uwsTooBigReason || reason === uwsInvalidTextReason) this.metrics.framesRejected++;
        }
        const data = ws.getUserData();
        data.socket = null;
        this.sockets.delete(ws);
        this.service.close(data);
        this.metrics.connectionsClosed++;
      },
    });
  }

  /**
   * Sends a RATE_LIMITED answer, or, past rateLimitedFramesPerSecondMax of
   * them in a second, POLICY_VIOLATION, which closes the connection (4008).
   */
  private sendRateLimited(ws: WebSocket<SocketData>, out: ServerOut, nowMs: number): void {
    const data = ws.getUserData();
    if (nowMs - data.rateLimitedSinceMs >= 1000) {
      data.rateLimitedSinceMs = nowMs;
      data.rateLimitedCount = 0;
    }
    if (++data.rateLimitedCount <= rateLimitedFramesPerSecondMax) {
      this.send(ws, out);
      return;
    }
    this.send(ws, {
      kind: 'error',
      requestId: out.requestId,
      code: 'POLICY_VIOLATION',
      message: `more than ${rateLimitedFramesPerSecondMax} frames refused RATE_LIMITED within a second: retryAfterMs was ignored`,
      retryAfterMs: 0,
    });
  }

  /** A bug, not bad input (that is answered with its own code): the client learns it as INTERNAL. */
  private answerFailed(data: SocketData, request: ClientRequest, error: unknown): void {
    this.queueOut(data, {
      kind: 'error',
      requestId: request.requestId,
      code: 'INTERNAL',
      message: error instanceof Error ? error.message : 'internal error',
      retryAfterMs: 0,
    });
  }

  /** Counts the place requests a frame held and their answer's latency; allocates nothing. */
  private countPlaces(request: ClientRequest, out: ServerOut, receivedAtMs: number): void {
    let places = 0;
    let orders = 0;
    if (request.kind === 'placeOrder') {
      places = 1;
      if (out.kind === 'order' && out.result === ResultCode.ok) orders = 1;
    } else if (request.kind === 'batch') {
      for (let i = 0; i < request.messages.length; i++) {
        if (request.messages[i]!.kind !== 'placeOrder') continue;
        places++;
        // A refused batch (out is an error) answered its places without an order.
        const answer = out.kind === 'batch' ? out.answers[i] : undefined;
        if (answer?.kind === 'order' && answer.result === ResultCode.ok) orders++;
      }
    }
    if (places === 0) return;
    const nowMs = performance.now();
    this.metrics.countPlaces(places, orders, nowMs - receivedAtMs, nowMs);
  }

  private countAnswer(out: ServerOut): void {
    if (out.kind === 'error') this.metrics.countAnswer(out.code);
    else if (out.kind === 'order') this.metrics.countAnswer(resultName(out.result));
    else if (out.kind === 'batch')
      for (let i = 0; i < out.answers.length; i++) this.countAnswer(out.answers[i]!);
  }

  /**
   * What goes out from outside a uWS handler comes in bursts: pushes (one per
   * durable commit, many orders at once) and the engine's answers (every
   * reply a commit released). They are queued and sent when the current task
   * ends, each socket's corked into one write. Measured: a write per push cost
   * about 10 µs of the gateway thread, the largest single cost of a reservation.
   */
  private queueOut(data: SocketData, out: ServerOut): void {
    if (data.socket === null) return;
    if (data.outPending.length === 0) {
      if (this.socketsWithOutPending.length === 0) queueMicrotask(this.flushOutPending);
      this.socketsWithOutPending.push(data);
    }
    data.outPending.push(out);
  }

  private sendOutPending(): void {
    for (const data of this.socketsWithOutPending) {
      const outs = data.outPending;
      data.outPending = [];
      const ws = data.socket;
      if (ws === null) continue;
      ws.cork(() => {
        // A send may close the socket (slow reader): the rest of its queue is dropped with it.
        for (const out of outs) if (data.socket !== null) this.send(ws, out);
      });
    }
    this.socketsWithOutPending.length = 0;
  }

  private closeSlowReader(ws: WebSocket<SocketData>, data: SocketData): void {
    this.metrics.slowReadersClosed++;
    data.socket = null;
    ws.end(this.options.closeCodeOf('SLOW_READER') ?? 4010, 'SLOW_READER: not reading its answers');
  }

  /**
   * A ping or pong control frame, a frame like any other: charged to the
   * address (a refusal carries request id 0). uWS has already answered a ping
   * with a pong, outside send(), so the slow-reader limit is checked here too:
   * with uWS's own limit off, a client that pings and never reads would
   * otherwise pile up pongs without bound.
   */
  private controlFrame(ws: WebSocket<SocketData>): void {
    const data = ws.getUserData();
    if (data.socket === null) return;
    if (ws.getBufferedAmount() > this.options.backpressureBytesMax) {
      this.closeSlowReader(ws, data);
      return;
    }
    const refused = this.service.admitFrame(data, null, 0);
    if (refused !== null) this.sendRateLimited(ws, refused, performance.now());
  }

  /** Sends one answer or push; closes a client that stopped reading. */
  private send(ws: WebSocket<SocketData>, out: ServerOut): void {
    const data = ws.getUserData();
    if (data.socket === null) return;
    this.countAnswer(out);
    if (ws.getBufferedAmount() > this.options.backpressureBytesMax) {
      this.closeSlowReader(ws, data);
      return;
    }
    const frame = encodeServerMessage(out, data.binary);
    ws.send(frame, typeof frame !== 'string');
    if (out.kind === 'error') {
      const closeCode = this.options.closeCodeOf(out.code);
      if (closeCode !== null) {
        data.socket = null;
        ws.end(closeCode, `${out.code}: ${out.message}`.slice(0, 120));
      }
    }
  }

  /** Refuses new connections and new commands (answers in flight still go out). */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Closes every connection with a coded reason. */
  closeAll(reason: string): void {
    for (const ws of [...this.sockets]) {
      const data = ws.getUserData();
      if (data.socket === null) continue;
      data.socket = null;
      ws.end(this.options.closeCodeOf('SHUTTING_DOWN') ?? 1001, reason);
    }
  }
}
