// `npm start` as a person runs it: scripts/start.ts as a child process, on a fresh database of its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Redis from 'ioredis';
import { dropDatabase, ensureDatabase, MIGRATIONS_DIR } from '../scripts/db/schema-engine';
import { newTestDatabaseUrl } from './support/global-setup';
import { gql } from '../generated/graphql/gateway';
import { graphql } from './support/graphql';
import { TEST_JWT_SECRET } from './support/stack';

const ROOT = path.resolve(__dirname, '..');
const PORT_VARS = ['GATEWAY_PORT', 'AUTH_PORT', 'CATALOG_PORT', 'INVENTORY_PORT', 'ORDER_PORT', 'NOTIFICATION_PORT'] as const;
const ENTRIES = ['gateway', 'auth', 'catalog', 'inventory', 'order', 'notification'].map((name) => (name === 'gateway' ? 'gateway/src/main.ts' : `subgraphs/${name}/src/main.ts`));
const MIGRATIONS = readdirSync(MIGRATIONS_DIR, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
const DEMO_PRODUCTS = 8; // scripts/seed.ts
const PRODUCTS = gql(`query FirstHundredSkus { products(first: 100) { totalCount edges { node { sku } } } }`);

/** Six distinct ports, free right now: start.ts polls each service's port, so it needs them chosen up front. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => resolve(s)); })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Every process whose environment holds `marker` (start.ts and what it started, orphans included), with its command line, read from /proc. */
function processesWith(marker: string): Array<{ pid: number; cmdline: string }> {
  const found: Array<{ pid: number; cmdline: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(marker)) continue;
      found.push({ pid: Number(entry), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** One run of `node --import tsx scripts/start.ts`, its output collected line by line. */
class StartRun {
  readonly child: ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: Array<() => void> = [];

  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/start.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const [stream, lines] of [[this.child.stdout!, this.stdout], [this.child.stderr!, this.stderr]] as const) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop()!;
        lines.push(...parts);
        for (const wake of this.waiters.splice(0)) wake();
      });
      stream.on('end', () => {
        if (partial) lines.push(partial);
        partial = '';
      });
    }
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => this.waiters.splice(0).forEach((wake) => wake()));
  }

  get output(): string {
    return [...this.stdout, ...this.stderr].join('\n');
  }

  /** The first stdout line matching `pattern`; fails on timeout or if the process exits first, with what it printed. */
  async line(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.stdout) {
        const match = pattern.exec(line);
        if (match) return match;
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`start.ts exited before printing ${pattern}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`start.ts printed no ${pattern} within ${timeoutMs} ms:\n${this.output}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async exit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`start.ts did not exit within ${timeoutMs} ms:\n${this.output}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** After a failed test: Ctrl-C, then SIGKILL for whatever of this run is still there. */
  async cleanUp(marker: string): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGINT');
      await this.exit(15_000).catch(() => this.child.kill('SIGKILL'));
    }
    for (const { pid } of processesWith(marker)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

describe('npm start on a fresh directory', () => {
  const databaseUrl = newTestDatabaseUrl();
  const keyPrefix = `test:start:${randomBytes(4).toString('hex')}:`;
  // Marks every process of these runs, so none can outlive the test unseen.
  const marker = `REDIS_KEY_PREFIX=${keyPrefix}`;
  const runs: StartRun[] = [];
  let env: NodeJS.ProcessEnv;
  let gatewayPort: number;

  beforeAll(async () => {
    await ensureDatabase(databaseUrl);
    const ports = await freePorts(PORT_VARS.length);
    gatewayPort = ports[0]!;
    // Only the ports: start.ts derives each service's *_URL from them. JWT_SECRET is set, so it writes no .data/jwt-secret into the project.
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: keyPrefix,
      JWT_SECRET: TEST_JWT_SECRET,
      ...Object.fromEntries(PORT_VARS.map((name, i) => [name, String(ports[i])])),
    };
  });

  afterAll(async () => {
    await Promise.all(runs.map((run) => run.cleanUp(marker)));
    await dropDatabase(databaseUrl);
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      const keys: string[] = [];
      const stream = redis.scanStream({ match: `${keyPrefix}*`, count: 500 });
      for await (const batch of stream) keys.push(...(batch as string[]));
      if (keys.length) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  });

  const start = (overrides: NodeJS.ProcessEnv = {}) => {
    const run = new StartRun({ ...env, ...overrides });
    runs.push(run);
    return run;
  };

  /** Starts, waits for the URL, checks the catalog through it, and stops with Ctrl-C: every process it started exits. */
  async function startServeAndStop(): Promise<{ run: StartRun; skus: string[] }> {
    const run = start();
    const [, url] = await run.line(/^\[start\] Supergraph ready: (\S+)/, 150_000);
    expect(url).toBe(`http://127.0.0.1:${gatewayPort}/graphql`);
    const products = await graphql(url!, PRODUCTS);
    expect(products.errors).toBeUndefined();
    const skus = products.data!.products.edges.map((e) => e.node.sku).sort();
    expect(products.data!.products.totalCount).toBe(skus.length);

    const services = processesWith(marker).filter((p) => ENTRIES.some((entry) => p.cmdline.includes(entry)));
    expect(services.map((p) => ENTRIES.find((entry) => p.cmdline.includes(entry))).sort()).toEqual([...ENTRIES].sort());

    // LOG_LEVEL is warn: a service's line here is a warning, an error, or output that is no log line at all. A healthy start has none.
    expect(run.stdout.filter((line) => !line.startsWith('[start] '))).toEqual([]);

    run.child.kill('SIGINT');
    expect(await run.exit(30_000)).toEqual({ code: 0, signal: null });
    expect(run.stdout.at(-1)).toBe('[start] Stopped.');
    // Nor does a clean stop.
    expect(run.stdout.filter((line) => !line.startsWith('[start] '))).toEqual([]);
    expect(run.stderr).toEqual([]);
    // start.ts waits for its six services before it exits; their helpers (tsx's esbuild) follow within moments.
    expect(services.filter((p) => alive(p.pid))).toEqual([]);
    const deadline = Date.now() + 10_000;
    while (processesWith(marker).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(processesWith(marker)).toEqual([]);
    return { run, skus };
  }

  it('migrates and seeds the first time, then neither again; Ctrl-C stops every process', async () => {
    const first = await startServeAndStop();
    expect(first.run.stdout).toContain(`[start] Applied migrations: ${MIGRATIONS.join(', ')}`);
    expect(first.run.stdout).toContain(`[start] Seeded ${DEMO_PRODUCTS} demo products with stock (SEED_DEMO_DATA=false to skip).`);
    expect(first.skus).toHaveLength(DEMO_PRODUCTS);
    expect(first.skus.every((sku) => sku.startsWith('DEMO-'))).toBe(true);

    const second = await startServeAndStop();
    expect(second.run.stdout).toContain('[start] Database schema is up to date.');
    expect(second.run.stdout.filter((line) => line.includes('Seeded'))).toEqual([]);
    expect(second.skus).toEqual(first.skus);
  }, 400_000);

  it('stops with one line saying how to start Redis when it cannot reach one', async () => {
    const run = start({ REDIS_URL: 'redis://127.0.0.1:1' });
    const { code } = await run.exit(60_000);
    expect(code).not.toBe(0);
    expect(run.stdout).toEqual([]);
    expect(run.stderr).toHaveLength(1);
    expect(run.stderr[0]).toMatch(/^\[start\] Redis is not reachable at redis:\/\/127\.0\.0\.1:1: start one with `redis-server .*`/);
  }, 90_000);
});
