import net from 'node:net';

/**
 * A TCP proxy to a real server (Redis by default) that a test can cut off: block() drops every
 * open connection and stops listening, so new ones are refused as if the server were down;
 * unblock() listens on the same port again.
 */
export interface TcpProxy {
  port: number;
  /** `redis://127.0.0.1:<port>` */
  url: string;
  block(): void;
  /** Keeps every connection open but forwards nothing more either way, as a server that hangs (or a network that drops packets). */
  hold(): void;
  /** Resolves once the port accepts connections again. */
  unblock(): Promise<void>;
  close(): Promise<void>;
}

/** How long unblock() keeps trying when an outgoing connection took the port meanwhile (it is released when that ends). */
const RELISTEN_TIMEOUT_MS = 10_000;

export async function startTcpProxy(target: { host: string; port: number } = { host: '127.0.0.1', port: 6379 }): Promise<TcpProxy> {
  let blocked = false;
  let held = false;
  const open = new Set<net.Socket>();

  const server = net.createServer((client) => {
    // Accepted just before block() closed the listener.
    if (blocked) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (chunk: Buffer) => held || upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => held || client.write(chunk));
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const { port } = server.address() as net.AddressInfo;

  async function relisten(): Promise<void> {
    const deadline = Date.now() + RELISTEN_TIMEOUT_MS;
    while (!blocked && !server.listening) {
      try {
        await listen(port);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    // block() came while we were listening again.
    if (blocked && server.listening) server.close();
  }

  // A refused connection, not an accepted one that is then reset: a client such as ioredis treats
  // "connected, then dropped" differently (it keeps the command in flight waiting, never failing it).
  const block = () => {
    blocked = true;
    if (server.listening) server.close();
    for (const socket of open) socket.destroy();
    open.clear();
  };
  let unblocking = Promise.resolve();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    block,
    hold() {
      held = true;
    },
    unblock() {
      blocked = false;
      unblocking = unblocking.catch(() => undefined).then(relisten);
      return unblocking;
    },
    async close() {
      await unblocking.catch(() => undefined);
      const closed = server.listening ? new Promise((resolve) => server.once('close', resolve)) : undefined;
      block();
      await closed;
    },
  };
}
