import { createHash } from 'node:crypto';
import pg from 'pg';
import { LRUCache } from 'lru-cache';
import { PrismaPg } from '@prisma/adapter-pg';
import { Prisma, PrismaClient } from '../../generated/prisma/client';
import type { Metrics } from './metrics';

export { PrismaClient };
export type * from '../../generated/prisma/client';

/**
 * The one way to open the database: Prisma 7's query compiler over node-postgres (no engine binary).
 * With `role`, every session works as that role from its first statement (a service's own, DATABASE_ROLE).
 * With `metrics`, the pool's connections in use, idle and waited for are read on each scrape, labelled `pool`.
 */
export function createPrisma(
  databaseUrl: string,
  options: { max?: number; role?: string; onQuery?: () => void; metrics?: Metrics; pool?: string; namedStatements?: boolean } = {},
): PrismaClient {
  const named = options.namedStatements ?? true;
  const connectionString = options.role ? withRole(databaseUrl, options.role) : databaseUrl;
  // Our own pool, handed to the adapter (which ends it on $disconnect), so that its counts can be read.
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
  // A session ended by the server (pg_terminate_backend, a failover) while its client is checked out
  // but between queries emits 'error' with nobody listening, which would end the process. The query
  // on it fails on its own and the pool drops the client; nothing else is to be done here.
  pool.on('connect', (client) => client.on('error', () => undefined));
  // The same for an idle client: the pool re-emits its error on itself and drops the client. Prisma's adapter
  // listens only once it has connected, and a pool used raw (the outbox relay's, through poolOf) never does.
  pool.on('error', () => undefined);
  // The adapter's own @types/pg copy differs from ours in types only: at run time both are this one `pg`.
  const adapter = new PrismaPg(pool as unknown as ConstructorParameters<typeof PrismaPg>[0], { disposeExternalPool: true, statementNameGenerator: (query) => (named ? preparedName(query.sql) : '') });
  if (options.metrics) poolMetrics(options.metrics, options.pool ?? 'main', pool);
  if (!options.onQuery) return withPool(new PrismaClient({ adapter }), pool, named);
  const client = new PrismaClient({ adapter, log: [{ emit: 'event', level: 'query' }] });
  client.$on('query', options.onQuery);
  return withPool(client, pool, named);
}

/** What createPrisma made each client with: its pool, and whether statements may be named. */
const made = new WeakMap<object, { pool: pg.Pool; named: boolean }>();

function withPool<T extends object>(client: T, pool: pg.Pool, named: boolean): T {
  made.set(client, { pool, named });
  return client;
}

/**
 * The name to prepare a raw node-postgres statement under on a client made by createPrisma, or
 * undefined (unnamed) when it was made with `namedStatements: false` (DATABASE_NAMED_STATEMENTS=false).
 */
export function statementName(prisma: object, name: string): string | undefined {
  return made.get(prisma)?.named === false ? undefined : name;
}

/**
 * The node-postgres pool under a client made by createPrisma, for the few hot background paths that
 * hold a transaction across another system's call (the outbox relay): a Prisma interactive
 * transaction costs about 4x the CPU of the same statements on a pooled client (docs/benchmarks.md).
 */
export function poolOf(prisma: object): pg.Pool {
  const pool = made.get(prisma)?.pool;
  if (!pool) throw new Error('poolOf: this PrismaClient was not made by createPrisma');
  return pool;
}

/**
 * Starts a raw statement that PostgreSQL should keep prepared on each connection (parsed once, its plan
 * cached by PostgreSQL's rules): `prisma.$queryRaw\`${PREPARED} SELECT ...\``. For hot statements whose text
 * takes few shapes (values are parameters); every other statement stays unnamed, as Prisma sends it.
 */
export const PREPARED = Prisma.raw('/* prepared */');
const PREPARED_MARK = '/* prepared */';
const preparedNames = new LRUCache<string, string>({ max: 1000 });

/** The statement's name for node-postgres (which prepares a named statement once per connection), or '' (unnamed). */
function preparedName(sql: string): string {
  if (!sql.startsWith(PREPARED_MARK)) return '';
  let name = preparedNames.get(sql);
  if (name === undefined) {
    name = `p_${createHash('sha1').update(sql).digest('base64url')}`;
    preparedNames.set(sql, name);
  }
  return name;
}

function poolMetrics(metrics: Metrics, name: string, pool: pg.Pool): void {
  metrics.collected('shop_db_pool_connections', 'PostgreSQL connections of the pool, by state (in_use, idle)', ['pool', 'state'], (set) => {
    set({ pool: name, state: 'in_use' }, pool.totalCount - pool.idleCount);
    set({ pool: name, state: 'idle' }, pool.idleCount);
  });
  metrics.collected('shop_db_pool_waiting', 'Queries waiting for a free PostgreSQL connection of the pool', ['pool'], (set) => set({ pool: name }, pool.waitingCount));
  metrics.collected('shop_db_pool_max', 'Connections the pool may open', ['pool'], (set) => set({ pool: name }, pool.options.max ?? 10));
}

/**
 * The options of every interactive transaction: under load it waits up to 15 s for a pooled
 * connection (or for the embedded PGlite's one session) instead of failing after Prisma's 2 s,
 * and it may run up to 15 s.
 */
export const TRANSACTION_OPTIONS = { maxWait: 15_000, timeout: 15_000 };

/**
 * The URL whose sessions start as `role`: PostgreSQL's `-c role=...` connection option, which is
 * SET ROLE at connect (the user logging in must be the role, a member of it or a superuser). It goes into the URL,
 * beside any `options` already there, because node-postgres lets the URL's options override the pool's.
 */
export function withRole(databaseUrl: string, role: string): string {
  // Only the query is parsed: `new URL` refuses some URLs node-postgres takes (a socket: postgresql://u@/db?host=/run).
  const [address, query = ''] = databaseUrl.split(/\?(.*)/s);
  const params = new URLSearchParams(query);
  params.set('options', [params.get('options'), `-c role=${role}`].filter(Boolean).join(' '));
  return `${address}?${params}`;
}

/** True when the database answers within the timeout. */
export async function databaseReachable(prisma: PrismaClient, timeoutMs = 2000): Promise<boolean> {
  try {
    await Promise.race([
      prisma.$queryRaw`SELECT 1`,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs).unref()),
    ]);
    return true;
  } catch {
    return false;
  }
}

export { Prisma };
import type { Prisma as PrismaTypes } from '../../generated/prisma/client';
/** The client inside `prisma.$transaction(async (tx) => ...)`. */
export type Tx = PrismaTypes.TransactionClient;

/**
 * True for a unique-constraint violation: Prisma's P2002 from model queries, or (from raw SQL through
 * the driver adapter) P2010 whose adapter error is a UniqueConstraintViolation / SQLSTATE 23505.
 */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; meta?: { driverAdapterError?: { cause?: { kind?: string; originalCode?: string } } }; cause?: { code?: string } } | null;
  if (e?.code === 'P2002' || e?.code === '23505' || e?.cause?.code === '23505') return true;
  const cause = e?.meta?.driverAdapterError?.cause;
  return cause?.kind === 'UniqueConstraintViolation' || cause?.originalCode === '23505';
}
