import { randomBytes, randomUUID } from 'node:crypto';
import { gql } from '../../generated/graphql/gateway';
import { useStack } from '../../test/support/stack';
import { login, randomPhone, type Session } from '../../test/support/login';
import { CREATE_PRODUCT_ID } from '../../test/support/operations';
import { useFileDatabase } from '../../test/support/database';

const RENAME_PRODUCT = gql(`mutation RenameProduct($id: ID!, $name: String!) { updateProduct(id: $id, input: { name: $name }) { id name } }`);

describe('an unexpected error in a subgraph', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone });
  let admin: Session;
  const prisma = useFileDatabase({ max: 1 });
  beforeAll(async () => {
    admin = await login(ctx.stack, ctx.telegram, adminPhone);
  });

  const rename = (id: string, name: string) => ctx.stack.gql(RENAME_PRODUCT, { id, name }, { token: admin.accessToken });

  it('reaches the client as INTERNAL_SERVER_ERROR with no SQL, table, driver text or stack', async () => {
    const created = await ctx.stack.gql(
      CREATE_PRODUCT_ID,
      { input: { sku: `BOOM-${randomUUID().slice(0, 8)}`, name: 'Unexpected error lamp', category: 'unexpected-errors', price: { amount: 1000 } } },
      { token: admin.accessToken },
    );
    const id = created.data!.createProduct.id;

    // The damage touches only this product's row: updating it runs a statement on a table that does not exist,
    // a real PostgreSQL error (42P01) that reaches the catalog's resolver through Prisma and its driver.
    const tag = randomBytes(4).toString('hex');
    const missingTable = `vanished_table_${tag}`;
    await prisma.$executeRawUnsafe(
      `CREATE FUNCTION "catalog"."break_${tag}"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM 1 FROM "catalog"."${missingTable}"; RETURN NEW; END $$`,
    );
    let response;
    try {
      await prisma.$executeRawUnsafe(
        `CREATE TRIGGER "break_${tag}" BEFORE UPDATE ON "catalog"."products" FOR EACH ROW WHEN (OLD."id" = '${id}'::uuid) EXECUTE FUNCTION "catalog"."break_${tag}"()`,
      );
      response = await rename(id, 'Renamed while broken');
    } finally {
      await prisma.$executeRawUnsafe(`DROP TRIGGER IF EXISTS "break_${tag}" ON "catalog"."products"`);
      await prisma.$executeRawUnsafe(`DROP FUNCTION IF EXISTS "catalog"."break_${tag}"()`);
    }

    expect(response.status).toBe(200);
    expect(response.data).toBeNull();
    expect(response.errors).toEqual([
      { message: 'Something went wrong on our side; it has been logged.', path: ['updateProduct'], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    ]);
    for (const leak of [missingTable, 'vanished', 'catalog', 'relation', 'does not exist', '42P01', 'PERFORM', 'plpgsql', 'trigger', 'prisma', 'postgres', 'adapter', 'query', 'stacktrace', 'serviceName', ' at ', '.ts:']) {
      expect(response.raw.toLowerCase()).not.toContain(leak.toLowerCase());
    }

    // The control: with the damage undone, the same update goes through, so the error above was the database's.
    expect((await rename(id, 'Renamed once repaired')).data).toEqual({ updateProduct: { id, name: 'Renamed once repaired' } });
  });
});
