/** What both benchmark scripts need: child services, ports, the database driver config, the docs file. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { applyMigrations, dropDatabase, ensureDatabase, parseDatabaseUrl, withDatabase } from '../db/schema-engine';

export const ROOT = path.resolve(__dirname, '../..');
const DOC_FILE = path.join(ROOT, 'docs/benchmarks.md');

export const say = (line: string) => console.log(`[bench] ${line}`);

export function pgConfig(databaseUrl: string): pg.PoolConfig {
  const { schema: _schema, ...config } = parseDatabaseUrl(databaseUrl);
  return config;
}

export async function postgresVersion(databaseUrl: string): Promise<string> {
  const client = new pg.Client(pgConfig(databaseUrl));
  await client.connect();
  try {
    return ((await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?').split(' ')[0]!;
  } finally {
    await client.end();
  }
}

export const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * For a load generator whose people all come from 127.0.0.1, where a shop's come from many: at 3,000 a minute the
 * gateway's per-address mutation limit would refuse the crowd as one client (and cap bench:orders near 80 orders/s).
 * Each person's own limit (600 a minute) still applies, and both limits still run their Redis scripts on every mutation.
 */
export const CROWD_FROM_ONE_ADDRESS = { MUTATION_RATE_PER_ADDRESS_PER_MINUTE: '1000000' } as const;

/**
 * What every service of a bench run gets: production mode, quiet logs, the scratch database, one fresh
 * JWT secret, its own Redis prefix, and for each of `ports` (name -> port) `<NAME>_PORT` and `<NAME>_URL`.
 */
export function serviceEnv(databaseUrl: string, ports: Record<string, number>): { env: Record<string, string>; urls: Record<string, string> } {
  const urls = Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, `http://127.0.0.1:${port}/graphql`]));
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    JWT_SECRET: randomBytes(32).toString('hex'),
    REDIS_KEY_PREFIX: `bench:${randomBytes(4).toString('hex')}:`,
    ...Object.fromEntries(Object.entries(ports).flatMap(([name, port]) => [[`${name.toUpperCase()}_PORT`, String(port)], [`${name.toUpperCase()}_URL`, urls[name]!]])),
  };
  return { env, urls };
}

export interface Service {
  name: string;
  child: ChildProcess;
  url: string;
}

/**
 * Starts `entry` with `node --import tsx`; `onLine` sees each line it prints on stdout (the rest goes to this terminal).
 * `nodeArgs` go before the entry (e.g. --cpu-prof, which NODE_OPTIONS does not take).
 */
export function startService(name: string, entry: string, env: Record<string, string>, port: number, readyPath: string, onLine?: (line: string) => void, nodeArgs: string[] = []): Promise<Service> {
  const ready = async () => (await fetch(`http://127.0.0.1:${port}${readyPath}`, { signal: AbortSignal.timeout(1000) })).ok;
  return startProcess(name, [...nodeArgs, '--import', 'tsx', path.join(ROOT, entry)], env, port, ready, onLine);
}

/** Starts `node <args>` and waits until `ready` resolves true (a throw counts as "not listening yet"). */
export async function startProcess(name: string, args: string[], env: Record<string, string>, port: number, ready: () => Promise<boolean>, onLine?: (line: string) => void): Promise<Service> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', onLine ? 'pipe' : 'inherit', 'inherit'],
  });
  if (onLine && child.stdout) readline.createInterface({ input: child.stdout }).on('line', onLine);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} while starting`);
    try {
      if (await ready()) return { name, child, url: `http://127.0.0.1:${port}/graphql` };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  child.kill('SIGTERM');
  throw new Error(`${name} was not ready on port ${port} after 60 s`);
}

export function stopService(service: Service): Promise<void> {
  return new Promise((resolve) => {
    if (service.child.exitCode !== null) return resolve();
    const timer = setTimeout(() => service.child.kill('SIGKILL'), 10_000);
    service.child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    service.child.kill('SIGTERM');
  });
}

/** Rewrites the `<!-- bench:<name>:start/end -->` section of docs/benchmarks.md, keeping the rest. */
export function writeSection(name: string, section: string): void {
  const startMarker = `<!-- bench:${name}:start -->`;
  const endMarker = `<!-- bench:${name}:end -->`;
  const block = `${startMarker}\n${section}\n${endMarker}`;
  const current = fs.existsSync(DOC_FILE)
    ? fs.readFileSync(DOC_FILE, 'utf8')
    : '# Benchmarks\n\nMeasured on one machine, load generator included: numbers to compare runs with each other, not capacity promises.\nEach section is rewritten by its script.\n';
  const start = current.indexOf(startMarker);
  const end = current.indexOf(endMarker);
  const next = start >= 0 && end > start ? current.slice(0, start) + block + current.slice(end + endMarker.length) : `${current.trimEnd()}\n\n${block}\n`;
  fs.mkdirSync(path.dirname(DOC_FILE), { recursive: true });
  fs.writeFileSync(DOC_FILE, next);
}

/**
 * Runs `body` against a fresh, migrated `<prefix>_*` database (shop_bench_ unless told) on TEST_DATABASE_SERVER_URL's server.
 * Afterwards (or on Ctrl-C) it stops the services `body` registered, newest first, and drops the
 * database unless `keep` is set.
 */
export async function withBenchDatabase(keep: boolean, body: (databaseUrl: string, services: Service[]) => Promise<void>, prefix = 'shop_bench'): Promise<void> {
  const serverUrl = process.env.TEST_DATABASE_SERVER_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const databaseUrl = withDatabase(serverUrl, `${prefix}_${Date.now()}_${randomBytes(4).toString('hex')}`);
  const services: Service[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      // The gateway first: it may still be forwarding a request the load tool gave up on.
      for (const service of [...services].reverse()) await stopService(service);
      if (keep) return say(`database kept: ${databaseUrl}`);
      await dropDatabase(databaseUrl);
      say('database dropped');
    })());
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
  try {
    say(`database ${new URL(databaseUrl).pathname.slice(1)}`);
    await ensureDatabase(databaseUrl);
    await applyMigrations(databaseUrl);
    await body(databaseUrl, services);
  } finally {
    await cleanUp();
  }
}

// ---------- CPU accounting ----------

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** utime + stime of a process in ms, from /proc (0 once it is gone); with `reaped`, its ended children's too. */
function processCpuMs(pid: number, reaped = false): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const children = reaped ? Number(fields[13]) + Number(fields[14]) : 0;
    return (Number(fields[11]) + Number(fields[12]) + children) * TICK_MS;
  } catch {
    return 0;
  }
}

/**
 * CPU ms of every process whose command name is `comm`, and of the children they have reaped: a PostgreSQL
 * backend that ends hands its time to the postmaster's count, so the sum only grows.
 */
function commandCpuMs(comm: string): number {
  let total = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) total += processCpuMs(Number(entry), true);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** The whole machine's busy ms (all cores), from /proc/stat. */
function machineBusyMs(): number {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return (cpu.reduce((sum, value) => sum + value, 0) - idle) * TICK_MS;
}

export type CpuSnapshot = Map<string, number>;

/** CPU ms so far of each service, PostgreSQL, Redis, this load generator and the machine as a whole. */
export function cpuSnapshot(services: Service[]): CpuSnapshot {
  const own = process.cpuUsage();
  const snapshot: CpuSnapshot = new Map(services.map((service) => [service.name, service.child.pid ? processCpuMs(service.child.pid) : 0]));
  snapshot.set('postgres', commandCpuMs('postgres'));
  snapshot.set('redis', commandCpuMs('redis-server'));
  snapshot.set('load generator', (own.user + own.system) / 1000);
  snapshot.set('machine', machineBusyMs());
  return snapshot;
}

/** "gateway 9.1, order 12.0, ... | all of them 40.2 of the machine's 44.0 ms" per `unit` between two snapshots. */
export function cpuPerUnit(before: CpuSnapshot, after: CpuSnapshot, units: number): string {
  const per = (name: string) => ((after.get(name) ?? 0) - (before.get(name) ?? 0)) / Math.max(1, units);
  const names = [...after.keys()].filter((name) => name !== 'machine');
  const parts = names.map((name) => `${name} ${per(name).toFixed(1)}`);
  const ours = names.reduce((sum, name) => sum + per(name), 0);
  return `${parts.join(', ')} | all of these ${ours.toFixed(1)} of the machine's ${per('machine').toFixed(1)} ms`;
}
