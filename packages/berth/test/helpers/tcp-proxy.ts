/**
 * TCP helpers for `berth wait` / `--wait` tests: a port where nothing listens (connection refused),
 * and a proxy that starts listening only after a delay, as a database that is still booting does.
 */
import net from 'node:net';

export interface DelayedProxyOptions {
  /** Default `127.0.0.1`. */
  readonly targetHost?: string;
  readonly targetPort: number;
  /** Port to listen on (127.0.0.1). Default: `reserveClosedPort()`. */
  readonly port?: number;
  /** Connections are refused until this many ms after the call. 0 = listen at once. */
  readonly delayMs: number;
}

export interface DelayedProxy {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Resolves once the proxy accepts connections; rejects if it could not listen (e.g. port taken). */
  readonly listening: Promise<void>;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Stops listening (or cancels the pending start) and destroys open connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * A port on 127.0.0.1 that nothing listens on: it was bound and released, so connecting is refused.
 * Another process could take it in between, which is unlikely within one test.
 */
export async function reserveClosedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startDelayedProxy(options: DelayedProxyOptions): Promise<DelayedProxy> {
  const port = options.port ?? (await reserveClosedPort());
  const targetHost = options.targetHost ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let closed = false;

  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect({ host: targetHost, port: options.targetPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      // A reset on one side ends the pair; the test sees it as the client would.
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });

  let timer: NodeJS.Timeout | undefined;
  let cancelStart: (() => void) | undefined;
  const listening = new Promise<void>((resolve, reject) => {
    cancelStart = () => reject(new Error('proxy closed before it started listening'));
    timer = setTimeout(() => {
      cancelStart = undefined;
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    }, options.delayMs);
  });
  // A test that never awaits `listening` must not get an unhandled rejection from close().
  listening.catch(() => undefined);

  return {
    host: '127.0.0.1',
    port,
    listening,
    get connections() {
      return connections;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      cancelStart?.();
      for (const socket of sockets) socket.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
