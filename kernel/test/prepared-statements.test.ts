// The hot statements are prepared under a name on each connection; DATABASE_NAMED_STATEMENTS=false (a pooler
// that cannot keep them, the embedded PGlite's one shared session) sends every statement unnamed.
import { PREPARED, createPrisma, statementName } from '../src/prisma';
import { useFileDatabase } from '../../test/support/database';

describe('statements prepared under a name', () => {
  useFileDatabase({ max: 1 });

  /** Runs a PREPARED statement twice on a one-connection client; resolves to the session's named statements. */
  async function preparedAfterTwoRuns(namedStatements: boolean): Promise<string[]> {
    const prisma = createPrisma(process.env.DATABASE_URL!, { max: 1, namedStatements });
    try {
      for (const n of [1, 2]) expect(await prisma.$queryRaw`${PREPARED} SELECT ${n}::int AS n`).toEqual([{ n }]);
      const rows = await prisma.$queryRaw<Array<{ name: string }>>`SELECT name FROM pg_prepared_statements`;
      return rows.map((row) => row.name);
    } finally {
      await prisma.$disconnect();
    }
  }

  it('prepares a PREPARED statement once per connection under a name', async () => {
    const names = await preparedAfterTwoRuns(true);
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^p_/);
  });

  it('names nothing with namedStatements: false, for raw pg statements too', async () => {
    expect(await preparedAfterTwoRuns(false)).toEqual([]);
    const unnamed = createPrisma(process.env.DATABASE_URL!, { max: 1, namedStatements: false });
    const named = createPrisma(process.env.DATABASE_URL!, { max: 1 });
    try {
      expect(statementName(unnamed, 'outbox_relay_order')).toBeUndefined();
      expect(statementName(named, 'outbox_relay_order')).toBe('outbox_relay_order');
    } finally {
      await Promise.all([unnamed.$disconnect(), named.$disconnect()]);
    }
  });
});
