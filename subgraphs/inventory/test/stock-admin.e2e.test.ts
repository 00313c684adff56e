import { randomUUID } from 'node:crypto';
import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { firstErrorCode, type GraphQLResponse, type Operation } from '../../../test/support/graphql';
import type { FakeTelegram } from '../../../test/support/fake-telegram';
import { gql } from '../../../generated/graphql/gateway';
import type { InventoryAdminMovementsQuery } from '../../../generated/graphql/gateway/graphql';

const CREATE = gql(`
  mutation InventoryAdminCreate($input: CreateInventoryItemInput!) { createInventoryItem(input: $input) { productId onHand reserved available lowStockThreshold updatedAt } }
`);
const UPDATE = gql(`
  mutation InventoryAdminUpdate($id: ID!, $input: UpdateInventoryItemInput!) { updateInventoryItem(productId: $id, input: $input) { lowStockThreshold } }
`);
const ADJUST = gql(`
  mutation InventoryAdminAdjust($id: ID!, $delta: Int!, $reason: String!) { adjustStock(productId: $id, delta: $delta, reason: $reason) { onHand reserved available } }
`);
const DELETE = gql(`mutation InventoryAdminDelete($id: ID!) { deleteInventoryItem(productId: $id) }`);
const ITEM = gql(`query InventoryAdminItem($id: ID!) { inventoryItem(productId: $id) { onHand available lowStockThreshold } }`);
const MOVEMENTS = gql(`
  query InventoryAdminMovements($id: ID!, $first: Int, $after: String) {
    stockMovements(productId: $id, first: $first, after: $after) {
      edges { node { deltaOnHand deltaReserved reason actor createdAt } } pageInfo { hasNextPage endCursor }
    }
  }
`);

describe('stock administration', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone });
  let stack: Stack;
  let telegram: FakeTelegram;
  let admin: Session;
  let customer: Session;

  beforeAll(async () => {
    ({ stack, telegram } = ctx);
    [admin, customer] = await Promise.all([login(stack, telegram, adminPhone), login(stack, telegram)]);
  });
  const asAdmin = <T, V>(query: Operation<T, V>, variables: V) => stack.gql(query, variables, { token: admin.accessToken });

  it('creates, adjusts, re-thresholds and deletes an item, leaving an audit trail of who, when, delta and why', async () => {
    const productId = randomUUID();
    const created = await asAdmin(CREATE, { input: { productId, onHand: 10, lowStockThreshold: 3 } });
    expect(created.data!.createInventoryItem).toMatchObject({ productId, onHand: 10, reserved: 0, available: 10, lowStockThreshold: 3 });

    expect((await asAdmin(ADJUST, { id: productId, delta: 5, reason: 'delivery from supplier' })).data!.adjustStock).toEqual({ onHand: 15, reserved: 0, available: 15 });
    expect((await asAdmin(ADJUST, { id: productId, delta: -2, reason: 'damaged in storage' })).data!.adjustStock.onHand).toBe(13);
    expect((await asAdmin(UPDATE, { id: productId, input: { lowStockThreshold: 7 } })).data!.updateInventoryItem.lowStockThreshold).toBe(7);

    const trail = (await asAdmin(MOVEMENTS, { id: productId, first: 10 })).data!.stockMovements.edges.map((e) => e.node);
    expect(trail.map((m) => [m.deltaOnHand, m.reason])).toEqual([
      [0, 'low-stock threshold set to 7'],
      [-2, 'damaged in storage'],
      [5, 'delivery from supplier'],
      [10, 'item created'],
    ]);
    expect(new Set(trail.map((m) => m.actor))).toEqual(new Set([`user:${admin.userId}`]));

    expect((await asAdmin(DELETE, { id: productId })).data).toEqual({ deleteInventoryItem: true });
    expect((await stack.gql(ITEM, { id: productId })).data!.inventoryItem).toBeNull();
  });

  it('pages through the audit trail', async () => {
    const productId = randomUUID();
    await asAdmin(CREATE, { input: { productId, onHand: 1 } });
    for (let i = 1; i <= 4; i++) await asAdmin(ADJUST, { id: productId, delta: 1, reason: `restock ${i}` });
    const reasons: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: InventoryAdminMovementsQuery['stockMovements'] = (await asAdmin(MOVEMENTS, { id: productId, first: 2, after })).data!.stockMovements;
      reasons.push(...page.edges.map((e) => e.node.reason));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(reasons).toEqual(['restock 4', 'restock 3', 'restock 2', 'restock 1', 'item created']);
  });

  it('never takes on-hand below what is reserved, even with concurrent removals', async () => {
    const productId = randomUUID();
    await asAdmin(CREATE, { input: { productId, onHand: 10 } });
    const removals = await Promise.all(Array.from({ length: 15 }, () => asAdmin(ADJUST, { id: productId, delta: -1, reason: 'shrinkage' })));
    expect(removals.filter((r) => !r.errors)).toHaveLength(10);
    expect(new Set(removals.filter((r) => r.errors).map(firstErrorCode))).toEqual(new Set(['OUT_OF_STOCK']));
    expect((await stack.gql(ITEM, { id: productId })).data!.inventoryItem).toMatchObject({ onHand: 0, available: 0 });
  });

  it('refuses everyone but admins', async () => {
    const productId = randomUUID();
    const input = { productId, onHand: 1 };
    expect(firstErrorCode(await stack.gql(CREATE, { input }, { token: customer.accessToken }))).toBe('FORBIDDEN');
    expect(firstErrorCode(await stack.gql(CREATE, { input }))).toBe('UNAUTHENTICATED');
    await asAdmin(CREATE, { input });
    expect(firstErrorCode(await stack.gql(ADJUST, { id: productId, delta: 1, reason: 'x' }, { token: customer.accessToken }))).toBe('FORBIDDEN');
    expect(firstErrorCode(await stack.gql(DELETE, { id: productId }, { token: customer.accessToken }))).toBe('FORBIDDEN');
    expect(firstErrorCode(await stack.gql(MOVEMENTS, { id: productId }, { token: customer.accessToken }))).toBe('FORBIDDEN');
  });

  it('refuses bad input with a code and the field', async () => {
    const productId = randomUUID();
    await asAdmin(CREATE, { input: { productId, onHand: 1 } });
    // Each case is sent when its turn comes, one after another.
    const cases: Array<[() => Promise<GraphQLResponse<unknown>>, string, string]> = [
      [() => asAdmin(CREATE, { input: { productId, onHand: 1 } }), 'CONFLICT', ''],
      [() => asAdmin(CREATE, { input: { productId: randomUUID(), onHand: -1 } }), 'BAD_USER_INPUT', 'input.onHand'],
      [() => asAdmin(CREATE, { input: { productId: 'nope', onHand: 1 } }), 'BAD_USER_INPUT', 'input.productId'],
      [() => asAdmin(ADJUST, { id: productId, delta: 0, reason: 'x' }), 'BAD_USER_INPUT', 'delta'],
      [() => asAdmin(ADJUST, { id: productId, delta: 1, reason: '  ' }), 'BAD_USER_INPUT', 'reason'],
      [() => asAdmin(ADJUST, { id: randomUUID(), delta: 1, reason: 'x' }), 'NOT_FOUND', ''],
      [() => asAdmin(UPDATE, { id: productId, input: {} }), 'BAD_USER_INPUT', 'input'],
      [() => asAdmin(UPDATE, { id: productId, input: { lowStockThreshold: -5 } }), 'BAD_USER_INPUT', 'input.lowStockThreshold'],
      [() => asAdmin(DELETE, { id: randomUUID() }), 'NOT_FOUND', ''],
    ];
    for (const [send, code, field] of cases) {
      const response = await send();
      expect([firstErrorCode(response), response.errors?.[0]?.extensions?.field ?? '']).toEqual([code, field]);
    }
  });
});
