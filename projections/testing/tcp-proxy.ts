/**
 * A TCP proxy on 127.0.0.1 in front of a store, that a test can cut (every open connection is reset and
 * new ones are reset as they arrive: the store looks down) and restore. Loopback only.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private cutNow = false;
  /** Connections accepted while restored. */
  connectionCount = 0;

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | null = null;
    const server = createServer((client) => proxy!.accept(client, targetHost, targetPort));
    proxy = new TcpProxy(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy not listening');
    return address.port;
  }

  private accept(client: Socket, host: string, port: number): void {
    if (this.cutNow) {
      client.resetAndDestroy();
      return;
    }
    this.connectionCount++;
    const upstream = connect(port, host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = (): void => {
      this.sockets.delete(client);
      this.sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** The store goes away: open connections are reset, new ones too, until restore(). */
  cut(): void {
    this.cutNow = true;
    for (const socket of this.sockets) {
      if (!socket.destroyed) socket.resetAndDestroy();
    }
    this.sockets.clear();
  }

  restore(): void {
    this.cutNow = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
