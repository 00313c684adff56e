// Each service works as its own PostgreSQL role, shop_<schema>, which reaches its own schema and no
// other service's: the database, not good manners, keeps a service out of another's tables.
import pg from 'pg';
import { withRole } from '../kernel/src/prisma';
import { useStack, type Stack } from './support/stack';
import { login, randomPhone, type Session } from './support/login';
import { eventually } from './support/eventually';
import { firstErrorCode, type GraphQLResponse } from './support/graphql';
import { Shop, ok } from '../subgraphs/order/test/order-support';

const SCHEMAS = ['auth', 'catalog', 'inventory', 'order', 'notification'] as const;
type Schema = (typeof SCHEMAS)[number];
const roleOf = (schema: Schema) => `shop_${schema}`;
const INSUFFICIENT_PRIVILEGE = '42501';

/** A session as the migrating superuser, or (like the services') one that works as `role`. */
async function connect(role?: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: role ? withRole(process.env.DATABASE_URL!, role) : process.env.DATABASE_URL! });
  await client.connect();
  return client;
}

const quoted = (schema: string, name: string) => `"${schema}"."${name}"`;

describe('each service role reaches its own schema and nothing of the others', () => {
  let admin: pg.Client;
  const tables = {} as Record<Schema, string[]>;
  const sequences = {} as Record<Schema, string[]>;

  beforeAll(async () => {
    admin = await connect();
    for (const schema of SCHEMAS) {
      const { rows } = await admin.query<{ name: string; kind: string }>(
        `SELECT c.relname AS name, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'S') ORDER BY c.relname`,
        [schema],
      );
      tables[schema] = rows.filter((r) => r.kind === 'r').map((r) => r.name);
      sequences[schema] = rows.filter((r) => r.kind === 'S').map((r) => r.name);
    }
  });
  afterAll(() => admin?.end());

  it('has a role per service that cannot log in by itself', async () => {
    const { rows } = await admin.query<{ rolname: string; rolcanlogin: boolean; rolsuper: boolean }>(
      'SELECT rolname, rolcanlogin, rolsuper FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname',
      [SCHEMAS.map(roleOf)],
    );
    expect(rows).toEqual(SCHEMAS.map(roleOf).sort().map((rolname) => ({ rolname, rolcanlogin: false, rolsuper: false })));
    // Something to check below: every schema has tables.
    for (const schema of SCHEMAS) expect(tables[schema].length).toBeGreaterThan(0);
  });

  describe.each(SCHEMAS)('shop_%s', (schema) => {
    let session: pg.Client;
    beforeAll(async () => {
      session = await connect(roleOf(schema));
    });
    afterAll(() => session?.end());

    it('works as its role from the first statement', async () => {
      expect((await session.query('SELECT current_user AS role')).rows).toEqual([{ role: roleOf(schema) }]);
    });

    it('reads, writes and deletes rows of every table of its own schema, and uses its sequences', async () => {
      for (const table of tables[schema]) {
        await expect(session.query(`SELECT count(*) FROM ${quoted(schema, table)}`)).resolves.toBeDefined();
        const { rows } = await session.query(
          `SELECT has_table_privilege($1, 'INSERT') AS insert, has_table_privilege($1, 'UPDATE') AS update, has_table_privilege($1, 'DELETE') AS delete`,
          [quoted(schema, table)],
        );
        expect({ table, ...rows[0] }).toEqual({ table, insert: true, update: true, delete: true });
      }
      for (const sequence of sequences[schema]) {
        const { rows } = await session.query(`SELECT has_sequence_privilege($1, 'USAGE') AS usage`, [quoted(schema, sequence)]);
        expect({ sequence, ...rows[0] }).toEqual({ sequence, usage: true });
      }
    });

    it("is refused every other service's tables, and the migrations' own", async () => {
      const foreign = [
        ...SCHEMAS.filter((other) => other !== schema).flatMap((other) => tables[other].map((table) => quoted(other, table))),
        quoted('public', '_prisma_migrations'),
      ];
      for (const table of foreign) {
        const refusal = await session.query(`SELECT 1 FROM ${table} LIMIT 1`).then(
          () => undefined,
          (error: { code?: string }) => error.code,
        );
        expect({ table, refusal }).toEqual({ table, refusal: INSUFFICIENT_PRIVILEGE });
      }
    });

    it('cannot change the shape of its own schema: only migrations do', async () => {
      await expect(session.query(`CREATE TABLE ${quoted(schema, 'intruder')} (id int)`)).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE });
    });
  });
});

describe('the running services work as their roles', () => {
  const adminPhone = randomPhone();
  // Every read must reach its service's tables: none served from the gateway's response cache.
  const ctx = useStack({ ADMIN_PHONES: adminPhone, GATEWAY_RESPONSE_CACHE: 'false' });
  let stack: Stack;
  let shop: Shop;
  let customer: Session;
  let superuser: pg.Client;
  let productId: string;
  let orderId: string;

  beforeAll(async () => {
    stack = ctx.stack;
    shop = new Shop(stack, await login(stack, ctx.telegram, adminPhone));
    customer = await login(stack, ctx.telegram);
    superuser = await connect();
  });
  afterAll(() => superuser?.end());

  it('with only their own schemas, carry an order from the product to the notifications', async () => {
    // Catalog and inventory write the product and its stock; the catalog projects it in stock from the inventory's event
    productId = await shop.product({ name: 'Role-bound lamp', price: 2500, onHand: 5 });
    await eventually(
      async () => ok(await stack.gql(`query($id: ID!) { product(id: $id) { inStock } }`, { id: productId })).product,
      (product) => product?.inStock === true,
    );

    // The order service places it and the inventory reserves the stock
    const placed = ok(await shop.place(customer, [{ productId, quantity: 2 }])).placeOrder;
    orderId = placed.id;
    expect(placed.status).toBe('AWAITING_CONFIRMATION');
    expect(await shop.stock(productId)).toEqual({ onHand: 5, reserved: 2, available: 3 });

    // And the notification service, reading the order's events, asks the customer to confirm
    await eventually(
      async () => ok(await stack.gql(`query { myNotifications { totalCount } }`, {}, { token: customer.accessToken })).myNotifications.totalCount as number,
      (count) => count > 0,
    );
  });

  /** A read that only `schema`'s service answers, from its own tables. */
  const reads: Record<Schema, () => Promise<GraphQLResponse>> = {
    auth: () => stack.gql(`query { me { id } }`, {}, { token: customer.accessToken }),
    catalog: () => stack.gql(`query($id: ID!) { product(id: $id) { name } }`, { id: productId }),
    inventory: () => stack.gql(`query($id: ID!) { inventoryItem(productId: $id) { onHand } }`, { id: productId }),
    order: () => stack.gql(`query($id: ID!) { order(id: $id) { status } }`, { id: orderId }, { token: customer.accessToken }),
    notification: () => stack.gql(`query { myNotifications { totalCount } }`, {}, { token: customer.accessToken }),
  };

  it.each(SCHEMAS)("the %s service loses its own data when its role's rights are taken away, and only then", async (schema) => {
    const read = reads[schema];
    expect((await read()).errors).toBeUndefined();

    // Take the role's way into its schema away: a superuser session would not notice, the service's do
    await superuser.query(`REVOKE USAGE ON SCHEMA "${schema}" FROM ${roleOf(schema)}`);
    try {
      const refused = await read();
      expect(firstErrorCode(refused)).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await superuser.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${roleOf(schema)}`);
    }
    expect((await read()).errors).toBeUndefined();
  });
});
