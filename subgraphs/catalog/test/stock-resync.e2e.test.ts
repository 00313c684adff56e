import { randomUUID } from 'node:crypto';
import { useStack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { PRODUCT_IN_STOCK, createStockedProduct } from '../../../test/support/operations';
import { useFileDatabase } from '../../../test/support/database';

/** Polls `read` until it returns `expected`, and fails with the last value read after `timeoutMs`. */
async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (JSON.stringify(last) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    last = await read();
  }
  expect(last).toEqual(expected);
}

describe('the periodic stock resync (CATALOG_STOCK_RESYNC_SECONDS)', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone, CATALOG_STOCK_RESYNC_SECONDS: '1' });
  let admin: Session;
  const prisma = useFileDatabase({ max: 1 });
  beforeAll(async () => {
    admin = await login(ctx.stack, ctx.telegram, adminPhone);
  });

  const inStock = (id: string) => ctx.stack.gql(PRODUCT_IN_STOCK, { id }).then((r) => r.data?.product?.inStock);

  it('repairs a change whose event was lost, while the catalog keeps running', async () => {
    // Given: a product in stock, as the catalog learnt from the inventory's events.
    const token = admin.accessToken;
    const id = await createStockedProduct(ctx.stack, token, {
      skuPrefix: 'RESYNC', name: 'Resync test teapot', category: `resync-${randomUUID().slice(0, 6)}`, price: { amount: 1900 }, onHand: 2,
    });
    await eventually(() => inStock(id), true, 10_000);

    // When: the stock runs out with no event at all (written as the inventory would, its version from the sequence).
    const [item] = await prisma.$queryRaw<Array<{ version: bigint }>>`
      UPDATE "inventory"."inventory_items" SET "on_hand" = 0, "version" = nextval('"inventory".inventory_items_version_seq')
      WHERE "product_id" = ${id}::uuid RETURNING "version"`;

    // Then: within a few resync periods, with nothing restarted, the catalog shows it and holds that version.
    await eventually(() => inStock(id), false, 10_000);
    const product = await prisma.product.findUniqueOrThrow({ where: { id }, select: { stockVersion: true } });
    expect(product.stockVersion).toBe(item!.version);
  });
});
