import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import Redis from 'ioredis';
import { startAuthService } from '../../subgraphs/auth/src/app';
import { loadAuthConfig } from '../../subgraphs/auth/src/config';
import { startCatalogService } from '../../subgraphs/catalog/src/app';
import { loadCatalogConfig } from '../../subgraphs/catalog/src/config';
import { startInventoryService } from '../../subgraphs/inventory/src/app';
import { loadInventoryConfig } from '../../subgraphs/inventory/src/config';
import { startOrderService } from '../../subgraphs/order/src/app';
import { loadOrderConfig } from '../../subgraphs/order/src/config';
import { startNotificationService } from '../../subgraphs/notification/src/app';
import { loadNotificationConfig } from '../../subgraphs/notification/src/config';
import { startGateway } from '../../gateway/src/app';
import { loadGatewayConfig } from '../../gateway/src/config';
import type { RunningServer } from '../../kernel/src/server';
import { JwtService } from '../../kernel/src/jwt';
import { graphql, type GraphQLResponse, type Operation, type RequestOptions } from './graphql';
import { ENTRIES, SUBGRAPHS, type SubgraphName } from '../../scripts/lib/processes';
import { FakeTelegram } from './fake-telegram';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

/** The environment every service of a test stack reads: the run's database, a Redis prefix of its own, quiet logs. */
export function testEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL is not set: run the tests through jest (globalSetup creates the database)');
  return {
    NODE_ENV: 'test',
    // Errors of this file's services go to its log file (printed when one of its tests fails).
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? (process.env.LOG_FILE ? 'error' : 'silent'),
    LOG_FILE: process.env.LOG_FILE,
    DATABASE_URL: process.env.DATABASE_URL,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: `test:${randomBytes(4).toString('hex')}:`,
    JWT_SECRET: TEST_JWT_SECRET,
    AUTH_PORT: '0',
    CATALOG_PORT: '0',
    INVENTORY_PORT: '0',
    ORDER_PORT: '0',
    NOTIFICATION_PORT: '0',
    GATEWAY_PORT: '0',
    ...overrides,
  };
}

export type { SubgraphName };

export interface Stack {
  env: NodeJS.ProcessEnv;
  gatewayUrl: string;
  urls: Record<SubgraphName, string>;
  servers: Record<SubgraphName, RunningServer>;
  /** Where each process serves GET /metrics (its own port, or METRICS_PORT's). */
  metricsUrls: Record<SubgraphName | 'gateway', string>;
  /** A token as a platform service (the order saga, say) sends it to a subgraph. */
  serviceToken(service?: string): Promise<string>;
  /** POST to the gateway's /graphql. */
  gql<T = Record<string, any>, V = Record<string, unknown>>(query: Operation<T, V>, variables?: V, options?: RequestOptions): Promise<GraphQLResponse<T>>;
  stop(): Promise<void>;
}

export interface StackOptions {
  telegram?: FakeTelegram;
  /** For every service. */
  env?: Record<string, string | undefined>;
  /** For one service only, e.g. `{ inventory: { REDIS_URL: proxy.url } }`. */
  serviceEnv?: Partial<Record<SubgraphName | 'gateway', Record<string, string | undefined>>>;
}

/** A port nothing listens on right now (services call each other, so each needs its address before it starts). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const isAddressInUse = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';

/**
 * The whole supergraph in this process, on free ports: five subgraphs and the gateway in front of them.
 * Services call each other, so their ports are picked before they start; another process may take
 * one meanwhile (several jest workers run at once), and then the stack starts again on new ports.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startStackOnce(options);
    } catch (error) {
      if (!isAddressInUse(error) || attempt >= 5) throw error;
    }
  }
}

/** Free ports for the five subgraphs, and the environment with which each service finds the others there. */
async function stackEnvironment(options: StackOptions): Promise<{ env: NodeJS.ProcessEnv; urls: Record<SubgraphName, string> }> {
  const ports = Object.fromEntries(await Promise.all(SUBGRAPHS.map(async (name) => [name, await freePort()] as const))) as Record<SubgraphName, number>;
  const urls = Object.fromEntries(SUBGRAPHS.map((name) => [name, `http://127.0.0.1:${ports[name]}/graphql`])) as Record<SubgraphName, string>;
  const env = testEnv({
    ...(options.telegram ? { TELEGRAM_BOT_TOKEN: options.telegram.token, TELEGRAM_API_BASE_URL: options.telegram.apiRoot } : {}),
    AUTH_PORT: String(ports.auth),
    CATALOG_PORT: String(ports.catalog),
    INVENTORY_PORT: String(ports.inventory),
    ORDER_PORT: String(ports.order),
    NOTIFICATION_PORT: String(ports.notification),
    AUTH_URL: urls.auth,
    CATALOG_URL: urls.catalog,
    INVENTORY_URL: urls.inventory,
    ORDER_URL: urls.order,
    NOTIFICATION_URL: urls.notification,
    ...options.env,
  });
  return { env, urls };
}

async function startStackOnce(options: StackOptions): Promise<Stack> {
  const { env } = await stackEnvironment(options);
  const envFor = (name: SubgraphName | 'gateway') => ({ ...env, ...options.serviceEnv?.[name] });
  const servers: RunningServer[] = [];
  const started = <T extends RunningServer>(server: T): T => {
    servers.push(server);
    return server;
  };
  try {
    const [auth, catalog, inventory, order, notification] = await Promise.all([
      startAuthService(loadAuthConfig(envFor('auth'))).then(started),
      startCatalogService(loadCatalogConfig(envFor('catalog'))).then(started),
      startInventoryService(loadInventoryConfig(envFor('inventory'))).then(started),
      startOrderService(loadOrderConfig(envFor('order'))).then(started),
      startNotificationService(loadNotificationConfig(envFor('notification'))).then(started),
    ]);
    const gateway = started(await startGateway(loadGatewayConfig(envFor('gateway'))));
    const jwt = await JwtService.create(loadGatewayConfig(env));
    return {
      env,
      gatewayUrl: gateway.url,
      urls: { auth: auth.url, catalog: catalog.url, inventory: inventory.url, order: order.url, notification: notification.url },
      servers: { auth, catalog, inventory, order, notification },
      metricsUrls: {
        gateway: gateway.metricsUrl,
        auth: auth.metricsUrl,
        catalog: catalog.metricsUrl,
        inventory: inventory.metricsUrl,
        order: order.metricsUrl,
        notification: notification.metricsUrl,
      },
      serviceToken: (service = 'order') => jwt.signService(service),
      gql: (query, variables, requestOptions) => graphql(gateway.url, query, variables, requestOptions),
      stop: async () => {
        await Promise.all(servers.reverse().map((s) => s.stop()));
        await deleteRedisKeys(env.REDIS_URL!, env.REDIS_KEY_PREFIX!);
      },
    };
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    throw error;
  }
}

/** Removes every key under the stack's prefix (streams, limits, code hashes), so runs leave Redis as they found it. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * For a describe block: a fake Telegram Bot API and a stack pointed at it, started before its
 * tests and stopped after. Read `.stack` and `.telegram` inside the tests.
 */
export function useStack(
  env: Record<string, string | undefined> = {},
  options: Omit<StackOptions, 'telegram' | 'env'> = {},
): { stack: Stack; telegram: FakeTelegram } {
  const holder = {} as { stack: Stack; telegram: FakeTelegram };
  beforeAll(async () => {
    holder.telegram = await FakeTelegram.start();
    holder.stack = await startStack({ ...options, telegram: holder.telegram, env });
  });
  afterAll(async () => {
    await holder.stack?.stop();
    await holder.telegram?.close();
  });
  return holder;
}

/** A supergraph whose services run as processes of their own (startProcessStack). */
export type ProcessStack = Omit<Stack, 'servers' | 'metricsUrls'>;

const ROOT = path.resolve(__dirname, '../..');
/** How long a cold start (tsx compiling, Prisma, Redis) may take on a busy machine. */
const PROCESS_START_TIMEOUT_MS = 60_000;

/** One service as `npm start` runs it: `node --import tsx <its main.ts>`, ready once its /ready answers. */
async function startServiceProcess(name: SubgraphName | 'gateway', env: NodeJS.ProcessEnv, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, ENTRIES[name])], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + PROCESS_START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited while starting (${child.exitCode ?? child.signalCode})`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(1000) })).ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} was not ready within ${PROCESS_START_TIMEOUT_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The supergraph as `npm start` runs it: each service its own process, started through its main.ts
 * (so with its own OpenTelemetry SDK and service name, when OTEL_EXPORTER_OTLP_ENDPOINT is set).
 * Slower to start than startStack: for what only separate processes show.
 */
export async function startProcessStack(options: StackOptions = {}): Promise<ProcessStack> {
  const { env: base, urls } = await stackEnvironment(options);
  const gatewayPort = await freePort();
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...base, GATEWAY_PORT: String(gatewayPort) };
  const envFor = (name: SubgraphName | 'gateway') => ({ ...env, ...options.serviceEnv?.[name] });
  const children: ChildProcess[] = [];
  const started = (child: ChildProcess) => {
    children.push(child);
    return child;
  };
  const stopAll = () => Promise.all(children.map(stopProcess));
  try {
    await Promise.all(SUBGRAPHS.map((name) => startServiceProcess(name, envFor(name), Number(new URL(urls[name]).port)).then(started)));
    started(await startServiceProcess('gateway', envFor('gateway'), gatewayPort));
  } catch (error) {
    await stopAll();
    throw error;
  }
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}/graphql`;
  const jwt = await JwtService.create(loadGatewayConfig(env));
  return {
    env,
    gatewayUrl,
    urls,
    serviceToken: (service = 'order') => jwt.signService(service),
    gql: (query, variables, requestOptions) => graphql(gatewayUrl, query, variables, requestOptions),
    stop: async () => {
      await stopAll();
      await deleteRedisKeys(env.REDIS_URL!, env.REDIS_KEY_PREFIX!);
    },
  };
}
