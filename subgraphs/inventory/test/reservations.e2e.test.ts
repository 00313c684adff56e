import { randomUUID } from 'node:crypto';
import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { firstErrorCode, graphql, type GraphQLResponse } from '../../../test/support/graphql';
import type { PrismaClient } from '../../../kernel/src/prisma';
import { useFileDatabase } from '../../../test/support/database';
import { eventually } from '../../../test/support/eventually';
import { gql } from '../../../generated/graphql/gateway';

const CREATE_ITEM = gql(`
  mutation InventoryReservationsCreateItem($input: CreateInventoryItemInput!) { createInventoryItem(input: $input) { productId onHand reserved available } }
`);
const ITEM = gql(`query InventoryReservationsItem($id: ID!) { inventoryItem(productId: $id) { onHand reserved available } }`);
// The order service's calls: not in the public API, sent straight at the inventory subgraph.
const RESERVE = /* GraphQL */ `
  mutation($orderId: ID!, $lines: [ReservationLineInput!]!) {
    reserveStock(orderId: $orderId, lines: $lines) { orderId status expiresAt lines { productId quantity status } }
  }
`;
const RELEASE = /* GraphQL */ `mutation($orderId: ID!) { releaseStock(orderId: $orderId) { status lines { status } } }`;
const COMMIT = /* GraphQL */ `mutation($orderId: ID!) { commitStock(orderId: $orderId) { status lines { status } } }`;

/** A stack with an admin and the order service's token; items are made through the gateway. */
function reservationHarness(env: Record<string, string>) {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone, ...env });
  const h = {} as {
    stack: Stack;
    admin: Session;
    service: string;
    prisma: PrismaClient;
    asService(query: string, variables: Record<string, unknown>): Promise<GraphQLResponse>;
    newItem(onHand: number): Promise<string>;
    item(productId: string): Promise<{ onHand: number; reserved: number; available: number }>;
  };
  const prisma = useFileDatabase();
  beforeAll(async () => {
    h.stack = ctx.stack;
    h.admin = await login(ctx.stack, ctx.telegram, adminPhone);
    h.service = await ctx.stack.serviceToken('order');
    h.prisma = prisma;
    // Straight at the inventory subgraph, as the order service calls it.
    h.asService = (query, variables) => graphql(ctx.stack.urls.inventory, query, variables, { token: h.service });
    h.newItem = async (onHand) => {
      const productId = randomUUID();
      const created = await ctx.stack.gql(CREATE_ITEM, { input: { productId, onHand } }, { token: h.admin.accessToken });
      expect(created.errors).toBeUndefined();
      return productId;
    };
    // From the inventory itself: what a reservation did, not what the gateway's response cache last saw
    // (the calls here bypass the gateway, as the order service's do; its cache follows by the stock events).
    h.item = async (productId) => (await graphql(ctx.stack.urls.inventory, ITEM, { id: productId }, { token: h.service })).data!.inventoryItem!;
  });
  return h;
}

describe('reservations for the order saga', () => {
  const h = reservationHarness({});
  let stack: Stack;
  let admin: Session;
  let prisma: PrismaClient;
  const asService = (query: string, variables: Record<string, unknown>) => h.asService(query, variables);
  const newItem = (onHand: number) => h.newItem(onHand);
  const item = (productId: string) => h.item(productId);
  beforeAll(() => ({ stack, admin, prisma } = h));

  it('never oversells: 200 concurrent reservations of 1 against 50 available, exactly 50 succeed', async () => {
    const productId = await newItem(50);
    const results = await Promise.all(
      Array.from({ length: 200 }, () => asService(RESERVE, { orderId: randomUUID(), lines: [{ productId, quantity: 1 }] })),
    );
    const succeeded = results.filter((r) => !r.errors);
    const codes = results.filter((r) => r.errors).map(firstErrorCode);
    expect(succeeded).toHaveLength(50);
    expect(codes).toHaveLength(150);
    expect(new Set(codes)).toEqual(new Set(['OUT_OF_STOCK']));
    expect(results.find((r) => r.errors)!.errors![0]!.extensions!.productId).toBe(productId);
    expect(await item(productId)).toEqual({ onHand: 50, reserved: 50, available: 0 });
  });

  it('reserves all lines or none: a short line leaves nothing reserved on the others', async () => {
    const plenty = await newItem(10);
    const scarce = await newItem(1);
    const response = await asService(RESERVE, { orderId: randomUUID(), lines: [{ productId: plenty, quantity: 3 }, { productId: scarce, quantity: 2 }] });
    expect(firstErrorCode(response)).toBe('OUT_OF_STOCK');
    expect(response.errors![0]!.message).toContain(scarce);
    expect(response.errors![0]!.extensions).toMatchObject({ productId: scarce, requested: 2, available: 1 });
    expect(await item(plenty)).toEqual({ onHand: 10, reserved: 0, available: 10 });
    expect(await item(scarce)).toEqual({ onHand: 1, reserved: 0, available: 1 });
  });

  it('is idempotent per order: repeating reserve, release and commit changes nothing', async () => {
    const productId = await newItem(10);
    const orderId = randomUUID();
    const lines = [{ productId, quantity: 4 }];
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => asService(RESERVE, { orderId, lines })));
    expect(concurrent.every((r) => !r.errors && r.data!.reserveStock.status === 'RESERVED')).toBe(true);
    expect(await item(productId)).toEqual({ onHand: 10, reserved: 4, available: 6 });

    // A repeat with other lines still returns the order's reservation, unchanged.
    const repeat = await asService(RESERVE, { orderId, lines: [{ productId, quantity: 9 }] });
    expect(repeat.data!.reserveStock.lines).toEqual([{ productId, quantity: 4, status: 'RESERVED' }]);

    const commits = await Promise.all(Array.from({ length: 5 }, () => asService(COMMIT, { orderId })));
    expect(commits.map((r) => r.data?.commitStock.status)).toEqual(Array(5).fill('COMMITTED'));
    expect(await item(productId)).toEqual({ onHand: 6, reserved: 0, available: 6 });

    // Releasing a committed order gives nothing back.
    expect((await asService(RELEASE, { orderId })).data!.releaseStock.status).toBe('COMMITTED');
    expect(await item(productId)).toEqual({ onHand: 6, reserved: 0, available: 6 });
  });

  it('releases once, and a released reservation cannot be committed', async () => {
    const productId = await newItem(5);
    const orderId = randomUUID();
    await asService(RESERVE, { orderId, lines: [{ productId, quantity: 5 }] });
    const releases = await Promise.all([asService(RELEASE, { orderId }), asService(RELEASE, { orderId }), asService(RELEASE, { orderId })]);
    expect(releases.map((r) => r.data!.releaseStock.status)).toEqual(['RELEASED', 'RELEASED', 'RELEASED']);
    expect(await item(productId)).toEqual({ onHand: 5, reserved: 0, available: 5 });
    expect(firstErrorCode(await asService(COMMIT, { orderId }))).toBe('RESERVATION_EXPIRED');
    // Releasing an order that never reserved anything is fine (the saga's compensation may run blind).
    expect((await asService(RELEASE, { orderId: randomUUID() })).data!.releaseStock).toEqual({ status: 'RELEASED', lines: [] });
  });

  it('lets only platform services reserve', async () => {
    const productId = await newItem(5);
    const variables = { orderId: randomUUID(), lines: [{ productId, quantity: 1 }] };
    // Through the gateway the field does not exist at all.
    const viaGateway = await stack.gql(RESERVE, variables, { token: admin.accessToken });
    expect(firstErrorCode(viaGateway)).toBe('GRAPHQL_VALIDATION_FAILED');
    // Straight at the subgraph: a customer's token is refused, so is no token.
    expect(firstErrorCode(await graphql(stack.urls.inventory, RESERVE, variables, { token: admin.accessToken }))).toBe('FORBIDDEN');
    expect(firstErrorCode(await graphql(stack.urls.inventory, RESERVE, variables))).toBe('UNAUTHENTICATED');
    expect(await item(productId)).toEqual({ onHand: 5, reserved: 0, available: 5 });
  });

  it.each([
    [{ lines: [] }, 'lines'],
    [{ lines: [{ productId: 'x', quantity: 1 }] }, 'lines[0].productId'],
    [{ lines: [{ productId: randomUUID(), quantity: 0 }] }, 'lines[0].quantity'],
    // Refused by GraphQL's Int coercion, before our validation: no field of ours.
    [{ lines: [{ productId: randomUUID(), quantity: 1.5 }] }, undefined],
    [{ orderId: 'not-an-id', lines: [{ productId: randomUUID(), quantity: 1 }] }, 'orderId'],
  ])('refuses bad input %j', async (input, field) => {
    const response = await asService(RESERVE, { orderId: randomUUID(), ...input });
    expect(firstErrorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.errors![0]!.extensions!.field).toBe(field);
  });

  it('names the product when it has no stock item at all', async () => {
    const missing = randomUUID();
    const response = await asService(RESERVE, { orderId: randomUUID(), lines: [{ productId: missing, quantity: 1 }] });
    expect(firstErrorCode(response)).toBe('OUT_OF_STOCK');
    expect(response.errors![0]!.extensions!.productId).toBe(missing);
  });

  it('is guarded by the database too: a write that would oversell is refused by a CHECK constraint', async () => {
    const productId = await newItem(2);
    await expect(
      prisma.$executeRaw`UPDATE "inventory"."inventory_items" SET "reserved" = "on_hand" + 1 WHERE "product_id" = ${productId}::uuid`,
    ).rejects.toThrow(/inventory_items_stock_check/);
    await expect(
      prisma.$executeRaw`UPDATE "inventory"."inventory_items" SET "on_hand" = -1 WHERE "product_id" = ${productId}::uuid`,
    ).rejects.toThrow(/inventory_items_stock_check/);
  });
});

describe('reservation expiry', () => {
  // Long enough for the reserve and the look at the item before it expires, even on a busy machine.
  const TTL_SECONDS = 5;
  const h = reservationHarness({ RESERVATION_TTL_SECONDS: String(TTL_SECONDS), RESERVATION_SWEEP_INTERVAL_MS: '200' });

  it('releases a reservation by itself once it expires', async () => {
    const productId = await h.newItem(3);
    const orderId = randomUUID();
    const asked = Date.now();
    const reserved = await h.asService(RESERVE, { orderId, lines: [{ productId, quantity: 2 }] });
    const expiresAt = Date.parse(reserved.data!.reserveStock.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(asked + TTL_SECONDS * 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + TTL_SECONDS * 1000);
    expect(await h.item(productId)).toEqual({ onHand: 3, reserved: 2, available: 1 });

    const released = await eventually(() => h.item(productId), (item) => item.reserved === 0, TTL_SECONDS * 1000 + 15_000, 200);
    expect(released).toEqual({ onHand: 3, reserved: 0, available: 3 });
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    const movement = await h.prisma.stockMovement.findFirst({ where: { orderId }, orderBy: { createdAt: 'desc' } });
    expect(movement).toMatchObject({ deltaReserved: -2, reason: 'reservation expired', actor: 'system' });
    expect(firstErrorCode(await h.asService(COMMIT, { orderId }))).toBe('RESERVATION_EXPIRED');
  });
});
