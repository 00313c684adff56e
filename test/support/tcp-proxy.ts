import net from 'node:net';

/**
 * A TCP proxy to a real server (Redis by default) that a test can cut off: block() drops every
 * open connection and resets new ones, as if the server were down; unblock() lets them through.
 */
export interface TcpProxy {
  port: number;
  /** `redis://127.0.0.1:<port>` */
  url: string;
  block(): void;
  unblock(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number } = { host: '127.0.0.1', port: 6379 }): Promise<TcpProxy> {
  let blocked = false;
  const open = new Set<net.Socket>();

  const server = net.createServer((client) => {
    // Reset rather than stop listening, so the port stays ours for unblock().
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
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;

  const block = () => {
    blocked = true;
    for (const socket of open) socket.destroy();
    open.clear();
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    block,
    unblock() {
      blocked = false;
    },
    close() {
      block();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
