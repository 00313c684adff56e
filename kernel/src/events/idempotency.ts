import { TRANSACTION_OPTIONS, type Prisma, type PrismaClient } from '../prisma';
import { schemaTable } from './sql';

/**
 * Applies an event at most once per consumer: the `"<schema>".processed_events` row and the
 * change commit together. A concurrent duplicate waits on the row's key and then skips; if
 * `apply` throws, nothing is recorded and a redelivery applies it. Resolves to whether it applied.
 */
export function processOnce(
  prisma: PrismaClient,
  schema: string,
  consumer: string,
  eventId: string,
  apply: (tx: Prisma.TransactionClient) => Promise<void>,
): Promise<boolean> {
  const table = schemaTable(schema, 'processed_events');
  return prisma.$transaction(async (tx) => {
    const inserted = await tx.$executeRawUnsafe(
      `INSERT INTO ${table} (consumer, event_id) VALUES ($1, $2::uuid) ON CONFLICT DO NOTHING`,
      consumer,
      eventId,
    );
    if (inserted === 0) return false;
    await apply(tx);
    return true;
  }, TRANSACTION_OPTIONS);
}
