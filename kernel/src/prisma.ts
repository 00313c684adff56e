import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../../generated/prisma/client';

export { PrismaClient };
export type * from '../../generated/prisma/client';

/** The one way to open the database: Prisma 7's query compiler over node-postgres (no engine binary). */
export function createPrisma(databaseUrl: string, options: { max?: number; onQuery?: () => void } = {}): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: options.max ?? 10 });
  if (!options.onQuery) return new PrismaClient({ adapter });
  const client = new PrismaClient({ adapter, log: [{ emit: 'event', level: 'query' }] });
  client.$on('query', options.onQuery);
  return client;
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

export { Prisma } from '../../generated/prisma/client';
import type { Prisma as PrismaTypes } from '../../generated/prisma/client';
/** The client inside `prisma.$transaction(async (tx) => ...)`. */
export type Tx = PrismaTypes.TransactionClient;

/** True for a unique-constraint violation (Prisma P2002, or PostgreSQL 23505 from raw SQL). */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; meta?: { code?: string }; cause?: { code?: string } } | null;
  return e?.code === 'P2002' || e?.code === '23505' || e?.meta?.code === '23505' || e?.cause?.code === '23505';
}
