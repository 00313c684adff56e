// A PostgreSQL session ended by the server (pg_terminate_backend, a failover) must cost a query at most,
// never the process: the soak found the inventory dying when its outbox relay's idle connection was ended.
import { createPrisma, poolOf } from '../src/prisma';
import { useFileDatabase } from '../../test/support/database';

describe('a pool whose sessions the server ends', () => {
  const admin = useFileDatabase({ max: 1 });

  it('survives an idle session ended, when the pool is used raw (as the outbox relay uses it), and connects again', async () => {
    const prisma = createPrisma(process.env.DATABASE_URL!, { max: 2 });
    try {
      const pool = poolOf(prisma);
      const client = await pool.connect();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      client.release();
      expect(pool.idleCount).toBe(1);

      await admin.$queryRaw`SELECT pg_terminate_backend(${rows[0]!.pid}::int)`;
      // The idle client hears of it and the pool drops it; unheard, that 'error' would be thrown out of the
      // event loop (an uncaught exception: this test fails, a service's process ends).
      for (let i = 0; i < 50 && pool.totalCount > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(pool.totalCount).toBe(0);

      const again = await pool.query<{ one: number }>('SELECT 1 AS one');
      expect(again.rows).toEqual([{ one: 1 }]);
    } finally {
      await prisma.$disconnect();
    }
  });
});
