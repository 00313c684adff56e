/**
 * npm start: the whole supergraph on this machine, from a fresh clone.
 * Embedded PostgreSQL when DATABASE_URL is unset, migrations, the five subgraphs and the gateway
 * as child processes, one URL printed. Ctrl-C stops every process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import dotenv from 'dotenv';
import Redis from 'ioredis';
import { applyMigrations } from './db/schema-engine';
import { startEmbeddedPostgres } from './db/embedded-postgres';
import { seedDemoData } from './seed';
import { JwtService, jwtConfigShape } from '../kernel/src/jwt';
import { loadConfig } from '../kernel/src/config';

const ROOT = path.resolve(__dirname, '..');
const DATA_DIR = path.join(ROOT, '.data');

const SERVICES = [
  { name: 'auth', entry: 'subgraphs/auth/src/main.ts', portVar: 'AUTH_PORT', port: 4001 },
  { name: 'catalog', entry: 'subgraphs/catalog/src/main.ts', portVar: 'CATALOG_PORT', port: 4002 },
  { name: 'inventory', entry: 'subgraphs/inventory/src/main.ts', portVar: 'INVENTORY_PORT', port: 4003 },
  { name: 'order', entry: 'subgraphs/order/src/main.ts', portVar: 'ORDER_PORT', port: 4004 },
  { name: 'notification', entry: 'subgraphs/notification/src/main.ts', portVar: 'NOTIFICATION_PORT', port: 4005 },
] as const;
const GATEWAY = { name: 'gateway', entry: 'gateway/src/main.ts', portVar: 'GATEWAY_PORT', port: 4000 };

/** The services started so far. */
const children = new Map<string, ChildProcess>();

const say = (line: string) => console.log(`[start] ${line}`);
const fail = (line: string): never => {
  console.error(`[start] ${line}`);
  // They are detached: without this, a start that fails half way leaves the services it started running.
  for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  process.exit(1);
};

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** Child output, one readable line per JSON log line. */
function pipeOutput(name: string, child: ChildProcess): void {
  const label = `[${name}]`.padEnd(14);
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    readline.createInterface({ input: stream }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { level: number; msg: string; url?: string; err?: { message?: string } };
        const extra = entry.url ? ` ${entry.url}` : entry.err?.message ? ` (${entry.err.message})` : '';
        console.log(`${label} ${LEVELS[entry.level] ?? entry.level}: ${entry.msg}${extra}`);
      } catch {
        console.log(`${label} ${line}`);
      }
    });
  }
}

async function waitReady(name: string, port: number, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) fail(`${name} exited with code ${child.exitCode} while starting; see its output above.`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  fail(`${name} was not ready on port ${port} after ${timeoutMs / 1000} s.`);
}

/** A development JWT secret, kept in .data so tokens survive restarts. */
function devJwtSecret(): string {
  const file = path.join(DATA_DIR, 'jwt-secret');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(DATA_DIR, { recursive: true });
    fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  return fs.readFileSync(file, 'utf8').trim();
}

async function redisReachable(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function main(): Promise<void> {
  const envFile = path.join(ROOT, '.env');
  if (fs.existsSync(envFile)) dotenv.config({ path: envFile, quiet: true });
  const env: NodeJS.ProcessEnv = { ...process.env };
  const production = env.NODE_ENV === 'production';

  if (!env.JWT_SECRET && !env.JWT_PRIVATE_KEY) {
    if (production) fail('JWT_SECRET is required in production (see .env.example).');
    env.JWT_SECRET = devJwtSecret();
    say('JWT_SECRET is not set: using a development secret kept in .data/jwt-secret.');
  }

  let embedded: { url: string; stop(): Promise<void> } | undefined;
  if (!env.DATABASE_URL) {
    const port = Number(env.EMBEDDED_POSTGRES_PORT ?? 5433);
    say(`DATABASE_URL is not set: starting an embedded PostgreSQL (PGlite) on 127.0.0.1:${port}, data in .data/pglite.`);
    embedded = await startEmbeddedPostgres({ dataDir: path.join(DATA_DIR, 'pglite'), port });
    env.DATABASE_URL = embedded.url;
    // PGlite serves one query at a time: small pools keep five services from queueing on it.
    env.DATABASE_POOL_SIZE ??= '2';
    // Its one session is shared by every connection: a statement named on one would already exist on the next.
    env.DATABASE_NAMED_STATEMENTS = 'false';
    // PGlite runs one session for every connection: it ignores a connection's role, and a SET ROLE
    // would switch all five services at once. The embedded database does not enforce ownership.
    env.DATABASE_ROLE = 'none';
  }

  env.REDIS_URL ??= 'redis://127.0.0.1:6379';
  if (!(await redisReachable(env.REDIS_URL))) {
    await embedded?.stop();
    fail(`Redis is not reachable at ${env.REDIS_URL}: start one with \`redis-server --port 6379 --save "" --daemonize yes\`, or set REDIS_URL.`);
  }

  // Each service is found at its own port unless its *_URL says otherwise: setting the ports is enough.
  for (const service of SERVICES) {
    const urlVar = `${service.name.toUpperCase()}_URL`;
    if (!env[urlVar]) env[urlVar] = `http://127.0.0.1:${Number(env[service.portVar] || service.port)}/graphql`;
  }

  const applied = await applyMigrations(env.DATABASE_URL);
  say(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database schema is up to date.');

  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('Stopping...');
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    await embedded?.stop();
    say('Stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  const launch = (service: { name: string; entry: string; portVar: string; port: number }) => {
    const port = Number(env[service.portVar] || service.port);
    // detached: Ctrl-C reaches only this process, which then stops the children in order.
    // node --import tsx, not the tsx CLI: the CLI is a second process between us and the service.
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, service.entry)], {
      cwd: ROOT,
      env: { ...env, [service.portVar]: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    children.set(service.name, child);
    pipeOutput(service.name, child);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      say(`${service.name} exited (${signal ?? `code ${code}`}); stopping everything.`);
      void stopAll(1);
    });
    return waitReady(service.name, port, child);
  };

  await Promise.all(SERVICES.map(launch));
  await launch(GATEWAY);
  const gatewayPort = Number(env.GATEWAY_PORT || GATEWAY.port);
  if (env.SEED_DEMO_DATA !== 'false') {
    const jwt = await JwtService.create(loadConfig(jwtConfigShape, env));
    const created = await seedDemoData(`http://127.0.0.1:${gatewayPort}/graphql`, jwt);
    if (created) say(`Seeded ${created} demo products with stock (SEED_DEMO_DATA=false to skip).`);
  }
  say(`Supergraph ready: http://127.0.0.1:${gatewayPort}/graphql  (Apollo Sandbox in a browser; Ctrl-C stops everything)`);
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
