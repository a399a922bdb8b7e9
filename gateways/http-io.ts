/**
 * Small, careful plumbing for uWebSockets.js HTTP handlers: read a request
 * body up to a limit, answer JSON (or text) once, and never touch a response
 * after the client aborted it (uWS frees it; touching it crashes the process).
 * Everything from the request object must be read synchronously in the
 * handler: uWS reuses it after the handler returns.
 */
import type { HttpResponse } from 'uWebSockets.js';

const statusText: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  202: '202 Accepted',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  402: '402 Payment Required',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  422: '422 Unprocessable Entity',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

/** Tracks whether a response may still be written. */
export class Reply {
  readonly res: HttpResponse;
  aborted = false;
  done = false;

  constructor(res: HttpResponse) {
    this.res = res;
    res.onAborted(() => {
      this.aborted = true;
    });
  }

  send(status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
    if (this.aborted || this.done) return;
    this.done = true;
    this.res.cork(() => {
      this.res.writeStatus(statusText[status] ?? String(status));
      this.res.writeHeader('content-type', contentType);
      for (const [name, value] of Object.entries(headers)) this.res.writeHeader(name, value);
      this.res.end(body);
    });
  }

  json(status: number, value: unknown, headers: Record<string, string> = {}): void {
    this.send(status, JSON.stringify(value), 'application/json', headers);
  }
}

/**
 * Reads the whole body (at most bytesMax). Resolves null when the client
 * aborted; rejects with `tooLarge` when over the limit (the caller answers 413).
 */
export function readBody(reply: Reply, bytesMax: number): Promise<Buffer | null | 'tooLarge'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let over = false;
    reply.res.onData((chunk, isLast) => {
      if (!over) {
        length += chunk.byteLength;
        if (length > bytesMax) over = true;
        // uWS reuses the chunk's memory after this callback: copy it.
        else chunks.push(Buffer.from(new Uint8Array(chunk)));
      }
      if (isLast) resolve(over ? 'tooLarge' : Buffer.concat(chunks));
    });
    reply.res.onAborted(() => {
      reply.aborted = true;
      resolve(null);
    });
  });
}
