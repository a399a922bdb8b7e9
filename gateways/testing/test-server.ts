/**
 * A real node (StampedeNode, every module) for tests: a temporary data directory, port 0,
 * a known token secret, small limits, and a JSON WebSocket client that
 * collects answers by request id and pushes in arrival order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { engineLimits } from '../../engine/limits.ts';
import { silentLogger } from '../../node/log.ts';
import type { NodeStartOptions } from '../../node/node.ts';
import { serverMessageJson } from '../../proto/client-codec.ts';
import { stampede } from '../../proto/generated/stampede.js';
import { closeCodeOf, httpStatusOf } from '../errors.ts';
import { tokenVerifier } from '../serve.ts';
import { type ServerOptions, StampedeServer } from '../server.ts';
import { integerKeySlots, TokenBucketLimiter } from '../token-bucket.ts';
import { issueToken, type TokenSubject } from '../tokens.ts';

export const testWebhookSecret = 'webhook-secret-webhook-secret-webhook-secret';
export const testSecret = 'test-secret-test-secret-test-secret-0123456789';

export function token(subject: TokenSubject, ttlMs = 3_600_000): string {
  return issueToken(testSecret, subject, { nowMs: Date.now(), ttlMs });
}

export const verify = tokenVerifier(testSecret);

export async function startTestServer(
  overrides: Partial<ServerOptions> = {},
  start: NodeStartOptions = {},
): Promise<{ server: StampedeServer; dataDir: string; stop: () => Promise<void> }> {
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), 'stampede-gw-'));
  const server = await StampedeServer.start(
    {
      dataDir,
      host: '127.0.0.1',
      httpPort: 0,
      limits: engineLimits({
        skusMax: 100,
        ordersMax: 20_000,
        buyersMax: 20_000,
        requestIdsMax: 50_000,
        orderTtlMs: 60_000,
      }),
      notifyRingSlots: 16_384,
      verifyToken: verify,
      buyerLimiter: new TokenBucketLimiter<number>({
        ratePerSecond: 1000,
        burst: 1000,
        keysMax: 10_000,
        keySlots: integerKeySlots,
      }),
      ipLimiter: new TokenBucketLimiter({ ratePerSecond: 100_000, burst: 100_000, keysMax: 1000 }),
      httpStatusOf,
      closeCodeOf,
      wsPayloadBytesMax: 65_536,
      linesPerOrderMax: 8,
      wsBackpressureBytesMax: 1 << 20,
      wsIdleTimeoutSeconds: 60,
      connectionsMax: 1000,
      batchMessagesMax: 256,
      busyRetryAfterMs: 20,
      httpBodyBytesMax: 16_384,
      pageSizeMax: 500,
      readModelOrdersMax: 100_000,
      payments: { delayMs: 5, successRate: 1, declineRate: 0, seed: 1 },
      demoCatalog: false,
      webhookSecret: testWebhookSecret,
      logger: silentLogger(),
      ...overrides,
    },
    start,
  );
  let stopped = false;
  return {
    server,
    dataDir,
    stop: async () => {
      if (!stopped) await server.stop();
      stopped = true;
      if (overrides.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type Json = Record<string, unknown> & { requestId?: number };

/** Longer than any answer or push a test waits for (order TTLs and payment delays in tests are ~1 s). */
const testClientWaitMsMax = 30_000;

/** A JSON-frame checkout client. */
export class TestClient {
  readonly ws: WebSocket;
  readonly pushes: Json[] = [];
  private readonly waiting = new Map<number, (message: Json) => void>();
  private readonly pushWaiters: { test: (m: Json) => boolean; resolve: (m: Json) => void }[] = [];
  closed: { code: number; reason: string } | null = null;
  /** Messages received so far (answers and pushes). */
  received = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      // Binary answers are protobuf; decode them to the same JSON shape text answers have.
      const message = (
        isBinary
          ? serverMessageJson(stampede.v1.ServerMessage.decode(new Uint8Array(data as Buffer)))
          : JSON.parse(data.toString())
      ) as Json;
      this.received++;
      const requestId = Number(message.requestId ?? 0);
      if ('update' in message) {
        this.pushes.push(message);
        for (const w of [...this.pushWaiters]) {
          if (w.test(message)) {
            this.pushWaiters.splice(this.pushWaiters.indexOf(w), 1);
            w.resolve(message);
          }
        }
        return;
      }
      const resolve = this.waiting.get(requestId);
      this.waiting.delete(requestId);
      resolve?.(message);
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
  }

  static async connect(port: number): Promise<TestClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/checkout`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new TestClient(ws);
  }

  /** Sends a JSON message and resolves with the answer carrying its requestId. */
  request(message: Json): Promise<Json> {
    const requestId = Number(message.requestId ?? 0);
    return this.within(
      new Promise((resolve) => {
        this.waiting.set(requestId, resolve);
        this.ws.send(JSON.stringify(message));
      }),
      `the answer to request ${requestId}`,
    );
  }

  /** Sends raw text or bytes; resolves with the next answer to request id 0 (errors about unreadable frames). */
  raw(data: string | Buffer): Promise<Json> {
    return this.within(
      new Promise((resolve) => {
        this.waiting.set(0, resolve);
        this.ws.send(data);
      }),
      'the answer to a raw frame',
    );
  }

  /** Resolves with the first push (already received or coming) that passes the test. */
  push(test: (m: Json) => boolean): Promise<Json> {
    const seen = this.pushes.find(test);
    if (seen) return Promise.resolve(seen);
    return this.within(
      new Promise((resolve) => this.pushWaiters.push({ test, resolve })),
      'a push that passes the test',
    );
  }

  /**
   * A test that waits for what never comes fails here, naming it, instead of
   * hanging until the runner's file timeout (minutes, and no reason given).
   */
  private within(waiting: Promise<Json>, what: string): Promise<Json> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const last = this.pushes.slice(-3).map((m) => JSON.stringify(m));
        reject(
          new Error(
            `${what}: none within ${testClientWaitMsMax} ms (${this.received} messages received; last pushes: ${last.join(' ') || 'none'})`,
          ),
        );
      }, testClientWaitMsMax);
    });
    return Promise.race([waiting, expired]).finally(() => clearTimeout(timer));
  }

  close(): void {
    this.ws.close();
  }
}

/** An HTTP request against the server; returns status and parsed JSON (or text). */
export async function http(
  port: number,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: Json; text: string; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers,
    ...(options.body === undefined
      ? {}
      : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
  });
  const text = await response.text();
  let body: Json = {};
  try {
    body = JSON.parse(text) as Json;
  } catch {
    // metrics and other text answers
  }
  return { status: response.status, body, text, headers: response.headers };
}
