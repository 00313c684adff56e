import net from 'node:net';

/** A server that accepts connections and never answers: a service stuck in a long GC pause or a dead lock. */
export async function startHungServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    close: async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A hung server for the whole test file. Call it before `useStack`, whose services can then be
 * pointed at it through a getter (`get CATALOG_URL() { return hung.url; }`): its URL exists only
 * once the file's tests start.
 */
export function useHungServer(): { readonly url: string } {
  let hung: Awaited<ReturnType<typeof startHungServer>> | undefined;
  beforeAll(async () => {
    hung = await startHungServer();
  });
  afterAll(() => hung?.close());
  return {
    get url() {
      if (!hung) throw new Error('the hung server starts in beforeAll: read its url from there on');
      return hung.url;
    },
  };
}
