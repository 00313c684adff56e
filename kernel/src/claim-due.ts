import { Prisma, type PrismaClient, type Tx } from './prisma';

export interface DueRowsClaim {
  /** `"schema"."table"` (see schemaTable), whose key column is "id". */
  table: string;
  /** Which rows are due. */
  due: Prisma.Sql;
  /** Which due rows go first. */
  orderBy: Prisma.Sql;
  limit: number;
  /** The SET list: the lease (a next-attempt time pushed ahead) and whatever else claiming changes. */
  set: Prisma.Sql;
  /** The RETURNING list. */
  returning: Prisma.Sql;
}

/**
 * Takes up to `limit` due rows for this process and leases them in one statement: rows another
 * process holds are skipped, not waited for, and a claimed row is not due again until its lease
 * (set by `set`) runs out, so several processes can poll one table without doing a row twice.
 */
export function claimDue<T>(db: PrismaClient | Tx, claim: DueRowsClaim): Promise<T[]> {
  const table = Prisma.raw(claim.table);
  // A CTE, not `id IN (subquery)`: the planner may run a subquery more than once, a CTE it runs once.
  // The CTE's column has its own name so that "id" in `set` and `returning` means the table's; `due`
  // is checked again on the locked row, so a change committed since the statement began counts.
  return db.$queryRaw<T[]>`
    WITH due AS (
      SELECT "id" AS claimed_id FROM ${table}
       WHERE ${claim.due}
       ORDER BY ${claim.orderBy}
       LIMIT ${claim.limit}
       FOR UPDATE SKIP LOCKED
    )
    UPDATE ${table} SET ${claim.set}
      FROM due
     WHERE "id" = due.claimed_id AND ${claim.due}
    RETURNING ${claim.returning}`;
}
