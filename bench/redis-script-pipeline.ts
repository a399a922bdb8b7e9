/**
 * The redis-lua baseline's load path: EVALSHA of one script, pipelined on
 * one plain TCP connection, each command written straight into the next
 * write's buffer and each reply read in place (RESP2). Everything else the
 * baseline does (loading the script, the stock keys, reading the store for
 * the audit) goes through ioredis.
 *
 * Why not ioredis for the attempts: measured on the 2-core development
 * machine (200,000 calls of the buy script, 256 in flight, auto-pipelined),
 * ioredis took 8 µs of client CPU per call and topped out at ~110k calls/s,
 * while Redis ran the same script at 250–370k/s for a client that costs it
 * nothing (redis-benchmark, and this pipeline at ~1.3 µs per call). On two
 * shared cores the baseline measured its client library, not Redis. Stampede's
 * load generator has its own codec for the same reason (flash-sale-wire.ts).
 *
 * Writes are gathered per turn of the event loop (one socket write per
 * setImmediate), like ioredis's auto-pipelining. Replies come back in
 * command order on one connection, so calls are answered first in, first
 * out. A reply other than an integer, "+OK" or an error, or a connection
 * that ends with calls outstanding, fails every outstanding call: a broken
 * store is a failed run, not a guess.
 */
import { connect, type Socket } from 'node:net';

/** An error reply of Redis (`-NOSCRIPT ...`): `code` is its first word. */
export class RedisReplyError extends Error {
  readonly code: string;
  constructor(line: string) {
    super(`Redis answered: ${line}`);
    this.code = line.split(' ', 1)[0] ?? 'ERR';
  }
}

type Reply = number | string;
interface Pending {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

const crlf = '\r\n';
const bulk = (value: string): string => `$${Buffer.byteLength(value)}${crlf}${value}${crlf}`;
const command = (args: readonly string[]): string => `*${args.length}${crlf}${args.map(bulk).join('')}`;
const writeBytesInitial = 64 * 1024;
/** `$16\r\n` and 16 digits and CRLF: a safe integer's bulk string at most. */
const integerBulkBytesMax = 24;

function digitCount(n: number): number {
  let digits = 1;
  for (let power = 10; power <= n; power *= 10) digits++; // powers of ten up to 1e16 are exact doubles
  return digits;
}

/** Writes the decimal digits of a non-negative safe integer and CRLF; returns the next offset. */
function writeDigits(out: Buffer, at: number, n: number): number {
  const end = at + digitCount(n);
  for (let i = end - 1; i >= at; i--) {
    out[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  out[end] = 0x0d;
  out[end + 1] = 0x0a;
  return end + 2;
}

/** Writes a RESP header line: its kind byte, a count and CRLF; returns the next offset. */
const writeLine = (out: Buffer, at: number, kind: number, count: number): number => {
  out[at] = kind;
  return writeDigits(out, at + 1, count);
};

/** Answered calls dropped from the front of the queue at once. */
const pendingCompactAt = 4096;

/** Cuts the bytes of a connection into reply lines, whatever the reads split. */
export class ReplyLines {
  /** A line split across reads: its first part. */
  private partial: Buffer | null = null;

  /**
   * Hands each complete line of what has arrived to onLine: its first byte (the reply's kind) and the
   * rest without the CRLF. Stops when onLine returns false.
   */
  feed(chunk: Buffer, onLine: (kind: number, line: string) => boolean): void {
    const bytes = this.partial === null ? chunk : Buffer.concat([this.partial, chunk]);
    this.partial = null;
    let at = 0;
    for (;;) {
      const end = bytes.indexOf(10, at); // a line ends with \r\n
      if (end < 0) break;
      const kind = bytes[at]!;
      const line = bytes.toString('latin1', at + 1, end - 1);
      at = end + 1;
      if (!onLine(kind, line)) return;
    }
    if (at < bytes.length) this.partial = bytes.subarray(at);
  }
}

export class RedisScriptPipeline {
  private readonly socket: Socket;
  private readonly sha: string;
  /** Per key list: EVALSHA, the sha, the key count and the keys, as bytes. */
  private readonly heads = new WeakMap<readonly string[], Buffer>();
  /** Outstanding calls in command order; `pendingHead` is the oldest. */
  private pending: Pending[] = [];
  private pendingHead = 0;
  private out = Buffer.allocUnsafe(writeBytesInitial);
  private outBytes = 0;
  private flushQueued = false;
  private readonly lines = new ReplyLines();
  private failure: Error | null = null;

  private constructor(socket: Socket, sha: string) {
    this.socket = socket;
    this.sha = sha;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(new Error(`redis-lua pipeline: ${error.message}`)));
    socket.on('close', () => this.fail(new Error('redis-lua pipeline: the connection to Redis closed')));
  }

  /**
   * Connects to `url` (redis://[[user]:password@]host[:port][/db]), authenticates, selects the db and
   * names the connection `name` (CLIENT SETNAME: an operator's CLIENT LIST shows whose it is).
   */
  static async connect(url: string, sha: string, name: string): Promise<RedisScriptPipeline> {
    const parsed = new URL(url);
    if (parsed.protocol !== 'redis:') {
      throw new Error(`the redis-lua pipeline speaks plain TCP (redis://), not ${parsed.protocol}//`);
    }
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    const port = Number(parsed.port || 6379);
    const socket = connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', (error) =>
        reject(new Error(`redis-lua pipeline: cannot connect to ${host}:${port}: ${error.message}`)),
      );
    });
    const pipeline = new RedisScriptPipeline(socket, sha);
    try {
      const password = decodeURIComponent(parsed.password);
      if (password !== '') {
        const user = decodeURIComponent(parsed.username);
        await pipeline.send(user === '' ? ['AUTH', password] : ['AUTH', user, password]);
      }
      const db = parsed.pathname.slice(1);
      if (db !== '' && db !== '0') await pipeline.send(['SELECT', db]);
      await pipeline.send(['CLIENT', 'SETNAME', name]);
    } catch (error) {
      pipeline.close(); // a refused AUTH or SELECT must not leave the socket holding the process open
      throw error;
    }
    return pipeline;
  }

  /**
   * EVALSHA sha keys.length ...keys ...args: the script's integer reply. Args are non-negative safe
   * integers, written digit by digit; pass the same `keys` array for the same keys (its bytes are kept).
   */
  call(keys: readonly string[], args: readonly number[]): Promise<number> {
    let head = this.heads.get(keys);
    if (head === undefined) {
      head = Buffer.from(['EVALSHA', this.sha, String(keys.length), ...keys].map(bulk).join(''));
      this.heads.set(keys, head);
    }
    this.reserve(head.length + 8 + args.length * integerBulkBytesMax);
    const out = this.out;
    let at = this.outBytes;
    at = writeLine(out, at, 0x2a /* * */, 3 + keys.length + args.length);
    at += head.copy(out, at);
    for (const arg of args) {
      if (!(Number.isSafeInteger(arg) && arg >= 0))
        throw new RangeError(`script args are integers >= 0, got ${arg}`);
      at = writeLine(out, at, 0x24 /* $ */, digitCount(arg));
      at = writeDigits(out, at, arg);
    }
    this.outBytes = at;
    return this.expect() as Promise<number>;
  }

  /** Ends the connection (outstanding calls fail). */
  close(): void {
    this.socket.destroy();
  }

  private send(args: readonly string[]): Promise<Reply> {
    const bytes = command(args);
    this.reserve(Buffer.byteLength(bytes));
    this.outBytes += this.out.write(bytes, this.outBytes);
    return this.expect();
  }

  private expect(): Promise<Reply> {
    if (this.failure !== null) {
      this.outBytes = 0; // nothing more goes out on a failed connection
      return Promise.reject(this.failure);
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    }
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  private reserve(bytes: number): void {
    if (this.outBytes + bytes <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.outBytes + bytes));
    this.out.copy(grown, 0, 0, this.outBytes);
    this.out = grown;
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.outBytes === 0 || this.failure !== null) return;
    // The socket keeps what it is given until sent: hand it a copy and reuse the buffer.
    this.socket.write(Buffer.from(this.out.subarray(0, this.outBytes)));
    this.outBytes = 0;
  }

  private onData(chunk: Buffer): void {
    this.lines.feed(chunk, this.onLine);
    if (this.pendingHead >= pendingCompactAt) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
  }

  private readonly onLine = (kind: number, line: string): boolean => {
    const call = this.pending[this.pendingHead];
    if (call === undefined) {
      this.fail(new Error(`redis-lua pipeline: a reply nobody asked for: ${line}`));
      return false;
    }
    if (kind !== 0x3a /* : */ && kind !== 0x2b /* + */ && kind !== 0x2d /* - */) {
      // This call fails with the rest: fail() rejects from pendingHead on.
      this.fail(new Error(`redis-lua pipeline: an unexpected reply: ${String.fromCharCode(kind)}${line}`));
      return false;
    }
    this.pendingHead++;
    if (kind === 0x3a) call.resolve(Number(line));
    else if (kind === 0x2b) call.resolve(line);
    else call.reject(new RedisReplyError(line));
    return true;
  };

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    const outstanding = this.pending.slice(this.pendingHead);
    this.pending = [];
    this.pendingHead = 0;
    for (const call of outstanding) call.reject(error);
    this.socket.destroy();
  }
}
