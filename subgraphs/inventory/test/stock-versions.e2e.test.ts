import { randomUUID } from 'node:crypto';
import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { graphql, type Operation } from '../../../test/support/graphql';
import { gql } from '../../../generated/graphql/gateway';
import type { PrismaClient } from '../../../kernel/src/prisma';
import { useFileDatabase } from '../../../test/support/database';
import type { StockChanged } from '../../../kernel/src/events/envelope';

const CREATE = gql(`mutation InventoryVersionsCreate($input: CreateInventoryItemInput!) { createInventoryItem(input: $input) { productId } }`);
const ADJUST = gql(`mutation InventoryVersionsAdjust($id: ID!, $delta: Int!) { adjustStock(productId: $id, delta: $delta, reason: "versions test") { onHand } }`);
const UPDATE = gql(`mutation InventoryVersionsUpdate($id: ID!, $threshold: Int!) { updateInventoryItem(productId: $id, input: { lowStockThreshold: $threshold }) { lowStockThreshold } }`);
const DELETE = gql(`mutation InventoryVersionsDelete($id: ID!) { deleteInventoryItem(productId: $id) }`);
// The order service's and the catalog's calls: not in the public API, sent straight at the inventory subgraph.
const RESERVE = /* GraphQL */ `mutation($orderId: ID!, $lines: [ReservationLineInput!]!) { reserveStock(orderId: $orderId, lines: $lines) { status } }`;
const RELEASE = /* GraphQL */ `mutation($orderId: ID!) { releaseStock(orderId: $orderId) { status } }`;
const ITEMS = /* GraphQL */ `query($after: ID) { inventoryItems(first: 1000, after: $after) { productId version } }`;

/** The version carried by every StockChanged of a product, in the order they were written. */
async function eventVersions(prisma: PrismaClient, productId: string): Promise<Array<StockChanged & { version: number }>> {
  const events = await prisma.inventoryOutboxEvent.findMany({ where: { type: 'StockChanged', payload: { path: ['productId'], equals: productId } }, orderBy: { seq: 'asc' } });
  return events.map((e) => e.payload as unknown as StockChanged);
}

const increasing = (values: number[]) => values.every((v, i) => i === 0 || v > values[i - 1]!);

describe('the versions of a product\'s stock', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone });
  let stack: Stack;
  let admin: Session;
  const prisma = useFileDatabase();

  beforeAll(async () => {
    stack = ctx.stack;
    admin = await login(stack, ctx.telegram, adminPhone);
  });

  const asAdmin = async <T, V>(query: Operation<T, V>, variables: V) => {
    const response = await stack.gql(query, variables, { token: admin.accessToken });
    expect(response.errors).toBeUndefined();
    return response.data!;
  };
  const asService = async (query: string, variables: Record<string, unknown>) => {
    const response = await graphql(stack.urls.inventory, query, variables, { token: await stack.serviceToken('order') });
    expect(response.errors).toBeUndefined();
    return response.data!;
  };

  /** The item as `inventoryItems` lists it, paging the way the catalog's resync does. */
  async function listedItem(productId: string): Promise<{ productId: string; version: string } | undefined> {
    let after: string | null = null;
    for (;;) {
      const page = (await asService(ITEMS, { after })).inventoryItems as Array<{ productId: string; version: string }>;
      const found = page.find((item) => item.productId === productId);
      if (found || page.length < 1000) return found;
      after = page.at(-1)!.productId;
    }
  }

  it('keep increasing through every kind of change, across a delete and recreate, and inventoryItems reports the latest', async () => {
    const productId = randomUUID();
    const orderId = randomUUID();
    await asAdmin(CREATE, { input: { productId, onHand: 10 } });
    await asAdmin(ADJUST, { id: productId, delta: 5 });
    await asAdmin(UPDATE, { id: productId, threshold: 2 });
    await asService(RESERVE, { orderId, lines: [{ productId, quantity: 3 }] });
    await asService(RELEASE, { orderId });
    await asAdmin(DELETE, { id: productId });
    await asAdmin(CREATE, { input: { productId, onHand: 1 } });
    await asAdmin(ADJUST, { id: productId, delta: 1 });

    const events = await eventVersions(prisma, productId);
    expect(events.map((e) => e.onHand)).toEqual([10, 15, 15, 15, 15, 0, 1, 2]);
    expect(increasing(events.map((e) => e.version))).toBe(true);

    // What the catalog's resync reads: the same latest version, a 64-bit integer in decimal.
    expect(await listedItem(productId)).toEqual({ productId, version: String(events.at(-1)!.version) });
  });

  it('increase in commit order: a change that waited for the row takes its version after the holder committed', async () => {
    const productId = randomUUID();
    await asAdmin(CREATE, { input: { productId, onHand: 10 } });
    const waiters = 4;
    let adjusts: Promise<unknown> | undefined;

    const holderVersion = await prisma.$transaction(
      async (tx) => {
        await tx.$queryRaw`SELECT 1 FROM "inventory"."inventory_items" WHERE "product_id" = ${productId}::uuid FOR UPDATE`;
        adjusts = Promise.all(Array.from({ length: waiters }, () => asAdmin(ADJUST, { id: productId, delta: 1 })));
        // Every adjustment has run its UPDATE (and evaluated its SET once) and now waits for the row.
        for (let waiting = 0; waiting < waiters; ) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          [{ waiting }] = await prisma.$queryRaw<Array<{ waiting: number }>>`
            SELECT count(*)::int AS "waiting" FROM pg_stat_activity
            WHERE "datname" = current_database() AND "wait_event_type" = 'Lock' AND "query" LIKE '%"on_hand" = "on_hand" +%'`;
        }
        // Another writer holding the row changes it with a later version, and commits first.
        const [row] = await tx.$queryRaw<Array<{ version: bigint }>>`
          UPDATE "inventory"."inventory_items" SET "on_hand" = "on_hand" + 100, "version" = nextval('"inventory".inventory_items_version_seq')
          WHERE "product_id" = ${productId}::uuid RETURNING "version"`;
        return Number(row!.version);
      },
      { timeout: 20_000 },
    );
    await adjusts;

    const events = (await eventVersions(prisma, productId)).filter((e) => e.onHand > 10).sort((a, b) => a.onHand - b.onHand);
    expect(events.map((e) => e.onHand)).toEqual([111, 112, 113, 114]);
    expect(events[0]!.version).toBeGreaterThan(holderVersion);
    expect(increasing(events.map((e) => e.version))).toBe(true);
  });
});
