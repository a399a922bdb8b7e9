/**
 * Listening on the node's HTTP port, alone. uWebSockets.js listens with
 * SO_REUSEPORT by default, so a second node started on a port in use would
 * share it and the kernel would spread connections over two nodes with two
 * different stores. This listens with LIBUS_LISTEN_EXCLUSIVE_PORT, and when
 * uWS refuses (it says only "false") asks the kernel why with a plain Node
 * listen on the same address, so a port in use is the coded `PORT_IN_USE`.
 */

import type uWS from 'uWebSockets.js';
import { createServer } from 'node:net';

/** uSockets' LIBUS_LISTEN_EXCLUSIVE_PORT: no SO_REUSEPORT, so a port in use is refused. */
const listenExclusivePort = 1;

export class ListenError extends Error {
  readonly code: 'PORT_IN_USE' | 'LISTEN_FAILED';
  constructor(code: ListenError['code'], message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/** Why the kernel refuses host:port, by listening there with Node (exclusively) and closing at once. */
function listenRefusal(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(null)));
  });
}

export async function listenExclusive(
  app: uWS.TemplatedApp,
  host: string,
  port: number,
): Promise<uWS.us_listen_socket> {
  // The typings lack the (host, port, options, cb) overload that the native module has.
  const listen = app.listen as unknown as (
    host: string,
    port: number,
    options: number,
    cb: (socket: uWS.us_listen_socket | false) => void,
  ) => void;
  const socket = await new Promise<uWS.us_listen_socket | false>((resolve) =>
    listen.call(app, host, port, listenExclusivePort, resolve),
  );
  if (socket !== false) return socket;
  const refusal = await listenRefusal(host, port);
  if (refusal === 'EADDRINUSE') {
    throw new ListenError(
      'PORT_IN_USE',
      `${host}:${port} is in use (another node, or another program); stop it or choose another port (--port, STAMPEDE_HTTP_PORT)`,
    );
  }
  throw new ListenError(
    'LISTEN_FAILED',
    `cannot listen on ${host}:${port} (${refusal ?? 'no reason given'})`,
  );
}
