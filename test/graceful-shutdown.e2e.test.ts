// SIGTERM, as Kubernetes or `docker stop` sends it, to the gateway and to a subgraph running as processes of their own.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { freePort, testEnv } from './support/stack';
import { graphql } from './support/graphql';
import { eventually } from './support/eventually';
import { PRODUCT_TOTAL } from './support/operations';
import { rawSocket, stockProbe } from './support/subscriptions';

const ROOT = path.resolve(__dirname, '..');
const SHUTDOWN_TIMEOUT_MS = 8_000;
const SHUTDOWN_DELAY_MS = 1_000;

/** One service as `node --import tsx <entry>`, its output kept line by line. */
class ServiceProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;

  constructor(entry: string, env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop()!;
        this.lines.push(...parts);
      });
    }
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  }

  /** Log lines at warn level or above, and anything that is not a JSON log line (a stack trace, say). */
  get complaints(): string[] {
    return this.lines.filter((line) => {
      try {
        return (JSON.parse(line) as { level: number }).level >= 40;
      } catch {
        return true;
      }
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** GET `url`: its status, or the connection error's code (ECONNREFUSED once the port is closed). */
async function probe(url: string): Promise<number | string> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).status;
  } catch (error) {
    return ((error as { cause?: { code?: string } }).cause?.code ?? String(error));
  }
}

/** A catalog that holds each request until the test releases it: a slow subgraph, the request in flight for as long as the test needs. */
async function startHeldCatalog() {
  const held: Array<() => void> = [];
  let received: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => (received = resolve));
  const server = http.createServer((req, res) => {
    // The gateway's readiness check: answered at once.
    if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}');
    req.resume();
    req.on('end', () => {
      held.push(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { products: { totalCount: 7 } } })));
      received();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    arrived,
    release: () => held.splice(0).forEach((answer) => answer()),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('a process sent SIGTERM', () => {
  const processes: ServiceProcess[] = [];
  const start = (entry: string, env: NodeJS.ProcessEnv) => {
    const service = new ServiceProcess(entry, { PATH: process.env.PATH, HOME: process.env.HOME, ...env, LOG_LEVEL: 'info', LOG_FILE: undefined });
    processes.push(service);
    return service;
  };
  afterAll(() => processes.forEach((service) => service.kill()));

  it('gateway: turns unready, closes websockets with 1001 and ends event streams, refuses new connections, answers the request in flight, exits 0', async () => {
    const catalog = await startHeldCatalog();
    try {
      const port = await freePort();
      const env = testEnv({
        GATEWAY_PORT: String(port),
        CATALOG_URL: catalog.url,
        GATEWAY_RESPONSE_CACHE: 'false',
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
        SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
      });
      const gateway = start('gateway/src/main.ts', env);
      const base = `http://127.0.0.1:${port}`;
      await eventually(() => probe(`${base}/health`), (status) => status === 200, 60_000, 250);

      // Given a live websocket subscription, an open event stream and a query waiting on a slow subgraph,
      const productId = randomUUID();
      const socket = rawSocket(`${base}/graphql`);
      await socket.init();
      socket.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { stockUpdated { productId available } }' } });
      await socket.untilLive('1', env.REDIS_KEY_PREFIX!, stockProbe(productId));
      const stream = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: 'subscription { stockUpdated { productId } }' }),
      });
      expect(stream.status).toBe(200);
      const streamEnded = stream.text().then(() => Date.now());
      const inFlight = graphql(`${base}/graphql`, PRODUCT_TOTAL);
      await catalog.arrived;

      // When it is sent SIGTERM,
      const signalledAt = Date.now();
      gateway.child.kill('SIGTERM');

      // then /ready fails first, while the port still takes connections,
      expect(await eventually(() => probe(`${base}/ready`), (status) => status === 503, SHUTDOWN_DELAY_MS)).toBe(503);
      // the websocket is closed with "going away" and the event stream ends,
      expect((await socket.closed).code).toBe(1001);
      expect(await streamEnded).toBeGreaterThanOrEqual(signalledAt);
      // new connections are refused,
      expect(await eventually(() => probe(`${base}/health`), (status) => status === 'ECONNREFUSED', 5_000, 50)).toBe('ECONNREFUSED');
      // and the request in flight still gets its answer,
      expect(gateway.child.exitCode).toBeNull();
      catalog.release();
      const answer = await inFlight;
      expect(answer.errors).toBeUndefined();
      expect(answer.data).toEqual({ products: { totalCount: 7 } });
      // before the process exits cleanly, within the bound.
      const exit = await gateway.exited;
      expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
      expect(exit.at - signalledAt).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
      expect(gateway.complaints).toEqual([]);
    } finally {
      await catalog.close();
    }
  }, 90_000);

  it('gateway: exits within SHUTDOWN_TIMEOUT_MS even when a request in flight never gets its answer', async () => {
    const catalog = await startHeldCatalog();
    try {
      const port = await freePort();
      const gateway = start('gateway/src/main.ts', testEnv({ GATEWAY_PORT: String(port), CATALOG_URL: catalog.url, GATEWAY_RESPONSE_CACHE: 'false', SHUTDOWN_TIMEOUT_MS: '4000' }));
      const base = `http://127.0.0.1:${port}`;
      await eventually(() => probe(`${base}/health`), (status) => status === 200, 60_000, 250);
      const inFlight = graphql(`${base}/graphql`, PRODUCT_TOTAL).catch((error: unknown) => error);
      await catalog.arrived;

      const signalledAt = Date.now();
      gateway.child.kill('SIGTERM');
      const exit = await gateway.exited;
      // Cut off at the end of the drain grace (the bound less 2 s for the rest), not held up for the subgraph's 10 s timeout.
      expect(exit.code).toBe(0);
      expect(exit.at - signalledAt).toBeLessThan(4_000);
      // Its connection was cut: no answer at all.
      expect(await inFlight).toMatchObject({ message: 'fetch failed' });
    } finally {
      await catalog.close();
    }
  }, 90_000);

  it('order subgraph: turns unready, refuses new connections, stops its saga worker and outbox relay, exits 0 within the bound', async () => {
    const port = await freePort();
    const order = start(
      'subgraphs/order/src/main.ts',
      testEnv({
        ORDER_PORT: String(port),
        // A worker round every 50 ms: one is likely running when the signal comes.
        ORDER_WORKER_INTERVAL_MS: '50',
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
        SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
      }),
    );
    const base = `http://127.0.0.1:${port}`;
    await eventually(() => probe(`${base}/ready`), (status) => status === 200, 60_000, 250);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const signalledAt = Date.now();
    order.child.kill('SIGTERM');
    expect(await eventually(() => probe(`${base}/ready`), (status) => status === 503, SHUTDOWN_DELAY_MS)).toBe(503);
    expect(await eventually(() => probe(`${base}/ready`), (status) => status === 'ECONNREFUSED', 5_000, 50)).toBe('ECONNREFUSED');
    const exit = await order.exited;
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    expect(exit.at - signalledAt).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(order.complaints).toEqual([]);
  }, 90_000);
});
