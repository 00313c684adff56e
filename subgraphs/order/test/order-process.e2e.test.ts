import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { firstErrorCode } from '../../../test/support/graphql';
import { useFileDatabase } from '../../../test/support/database';
import type { FakeTelegram } from '../../../test/support/fake-telegram';
import { gql } from '../../../generated/graphql/gateway';
import { CONFIRM_ORDER, FULFILL_ORDER, Shop, UNCAPPED, inventoryTrail, ok } from './order-support';

const UPDATE_PRICE = gql(`mutation OrderProcessUpdatePrice($id: ID!, $amount: Int!) { updateProduct(id: $id, input: { price: { amount: $amount } }) { id } }`);
const DELETE_PRODUCT = gql(`mutation OrderProcessDeleteProduct($id: ID!) { deleteProduct(id: $id) { id } }`);
const MY_ORDERS = gql(`
  query OrderProcessMyOrders($first: Int, $after: String) {
    myOrders(first: $first, after: $after) { totalCount edges { cursor node { id number status } } pageInfo { hasNextPage endCursor } }
  }
`);
const ME_WITH_ORDERS = gql(`query OrderProcessMeWithOrders { me { id orders(first: 5) { totalCount edges { node { id } } } } }`);
const ADMIN_ORDERS = gql(`
  query OrderProcessAdminOrders($status: OrderStatus, $first: Int) { orders(status: $status, first: $first) { totalCount edges { node { id status user { id phone } } } } }
`);
const LINES_WITH_PRODUCTS = gql(`query OrderProcessLinesWithProducts($id: ID!) { order(id: $id) { lines { quantity product { id name price { amount } } } } }`);

describe('the order process: placed, confirmed, fulfilled', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone, ...UNCAPPED });
  let stack: Stack;
  let telegram: FakeTelegram;
  let admin: Session;
  let shop: Shop;
  const prisma = useFileDatabase({ max: 2 });

  beforeAll(async () => {
    ({ stack, telegram } = ctx);
    admin = await login(stack, telegram, adminPhone);
    shop = new Shop(stack, admin);
  });

  it('reserves the stock at placement, commits it on confirmation, and an admin fulfils the order', async () => {
    const customer = await login(stack, telegram);
    const lamp = await shop.product({ name: 'Walnut desk lamp', price: 4999, onHand: 10 });
    const shade = await shop.product({ name: 'Linen shade', price: 1250, onHand: 3 });

    // Given a customer places an order of two lines
    const placed = ok(await shop.place(customer, [{ productId: lamp, quantity: 2 }, { productId: shade, quantity: 3 }])).placeOrder;

    // Then the stock is reserved and the order waits for the customer's confirmation
    expect(placed).toMatchObject({
      number: expect.stringMatching(/^SO-\d{6,}$/),
      status: 'AWAITING_CONFIRMATION',
      cancelReason: null,
      user: { id: customer.userId },
      total: { amount: 2 * 4999 + 3 * 1250, currency: 'USD' },
      lines: [
        { product: { id: lamp }, quantity: 2, unitPrice: { amount: 4999, currency: 'USD' }, lineTotal: { amount: 9998, currency: 'USD' } },
        { product: { id: shade }, quantity: 3, unitPrice: { amount: 1250, currency: 'USD' }, lineTotal: { amount: 3750, currency: 'USD' } },
      ],
    });
    const deadline = Date.parse(placed.confirmationDeadline!);
    expect(deadline - Date.now()).toBeGreaterThan(890_000);
    expect(deadline - Date.now()).toBeLessThanOrEqual(900_000);
    expect(await shop.stock(lamp)).toEqual({ onHand: 10, reserved: 2, available: 8 });
    expect(await shop.stock(shade)).toEqual({ onHand: 3, reserved: 3, available: 0 });

    // And a later price change does not touch the order
    ok(await stack.gql(UPDATE_PRICE, { id: lamp, amount: 9999 }, { token: admin.accessToken }));
    expect((await shop.order(customer, placed.id))!.total).toEqual({ amount: 13748, currency: 'USD' });

    // When the customer confirms
    const confirmed = ok(await stack.gql(CONFIRM_ORDER, { id: placed.id }, { token: customer.accessToken })).confirmOrder;

    // Then the reserved stock leaves on-hand
    expect(confirmed.status).toBe('CONFIRMED');
    expect(await shop.stock(lamp)).toEqual({ onHand: 8, reserved: 0, available: 8 });
    expect(await shop.stock(shade)).toEqual({ onHand: 0, reserved: 0, available: 0 });

    // And an admin marks it shipped
    const fulfilled = ok(await stack.gql(FULFILL_ORDER, { id: placed.id }, { token: admin.accessToken })).fulfillOrder;
    expect(fulfilled.status).toBe('FULFILLED');

    // Every status it went through, oldest first, with who moved it
    expect(fulfilled.statusHistory.map(({ from, to, actor }) => ({ from, to, actor }))).toEqual([
      { from: null, to: 'PENDING', actor: `user:${customer.userId}` },
      { from: 'PENDING', to: 'AWAITING_CONFIRMATION', actor: `user:${customer.userId}` },
      { from: 'AWAITING_CONFIRMATION', to: 'CONFIRMED', actor: `user:${customer.userId}` },
      { from: 'CONFIRMED', to: 'FULFILLED', actor: `user:${admin.userId}` },
    ]);
    const times = fulfilled.statusHistory.map((change) => Date.parse(change.at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    // The inventory moved each line's stock once: reserved, then committed
    const trail = await inventoryTrail(prisma, placed.id);
    expect(trail.reasons).toEqual(['committed', 'committed', 'reserved', 'reserved']);

    // And each milestone is an event in the order's outbox, in order
    const events = await prisma.orderOutboxEvent.findMany({ where: { payload: { path: ['orderId'], equals: placed.id } }, orderBy: { seq: 'asc' } });
    expect(events.map((e) => [e.type, (e.payload as { status: string }).status])).toEqual([
      ['OrderPlaced', 'AWAITING_CONFIRMATION'],
      ['OrderConfirmed', 'CONFIRMED'],
      ['OrderFulfilled', 'FULFILLED'],
    ]);
    expect(events[0]!.payload).toMatchObject({
      orderId: placed.id,
      number: placed.number,
      userId: customer.userId,
      totalAmount: 13748,
      currency: 'USD',
      lines: [
        { productId: lamp, productName: 'Walnut desk lamp', quantity: 2, unitPriceAmount: 4999 },
        { productId: shade, productName: 'Linen shade', quantity: 3, unitPriceAmount: 1250 },
      ],
      reason: null,
      confirmationDeadline: placed.confirmationDeadline,
    });
  });

  it('resolves each line\'s product from the catalog, deleted ones included', async () => {
    const customer = await login(stack, telegram);
    const chair = await shop.product({ name: 'Rattan chair', price: 15000 });
    const placed = ok(await shop.place(customer, [{ productId: chair, quantity: 1 }])).placeOrder;
    ok(await stack.gql(DELETE_PRODUCT, { id: chair }, { token: admin.accessToken }));
    const response = await stack.gql(LINES_WITH_PRODUCTS, { id: placed.id }, { token: customer.accessToken });
    expect(ok(response).order!.lines).toEqual([{ quantity: 1, product: { id: chair, name: 'Rattan chair', price: { amount: 15000 } } }]);
  });

  it('lists the customer\'s own orders newest first, page by page, with a total', async () => {
    const customer = await login(stack, telegram);
    const other = await login(stack, telegram);
    const vase = await shop.product({ onHand: 100 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(ok(await shop.place(customer, [{ productId: vase, quantity: 1 }])).placeOrder.id);
    ok(await shop.place(other, [{ productId: vase, quantity: 1 }]));

    const first = ok(await stack.gql(MY_ORDERS, { first: 2 }, { token: customer.accessToken })).myOrders;
    expect(first.totalCount).toBe(5);
    expect(first.edges.map((e) => e.node.id)).toEqual([ids[4], ids[3]]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = ok(await stack.gql(MY_ORDERS, { first: 10, after: first.pageInfo.endCursor }, { token: customer.accessToken })).myOrders;
    expect(rest.edges.map((e) => e.node.id)).toEqual([ids[2], ids[1], ids[0]]);
    expect(rest.pageInfo).toEqual({ hasNextPage: false, endCursor: rest.edges[2].cursor });

    // The same list as the user's own `orders`, through the auth subgraph's User
    const me = ok(await stack.gql(ME_WITH_ORDERS, {}, { token: customer.accessToken })).me!;
    expect(me.orders.totalCount).toBe(5);
    expect(me.orders.edges.map((e) => e.node.id)).toEqual([...ids].reverse());

    expect(firstErrorCode(await stack.gql(MY_ORDERS, { first: 0 }, { token: customer.accessToken }))).toBe('BAD_USER_INPUT');
    expect(firstErrorCode(await stack.gql(MY_ORDERS, { first: 101 }, { token: customer.accessToken }))).toBe('BAD_USER_INPUT');
    expect((await stack.gql(MY_ORDERS, { after: 'not-a-cursor' }, { token: customer.accessToken })).errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('lets an admin list every order, of one status, with its user', async () => {
    const customer = await login(stack, telegram);
    const stool = await shop.product({ onHand: 5 });
    const placed = ok(await shop.place(customer, [{ productId: stool, quantity: 1 }])).placeOrder;
    ok(await stack.gql(CONFIRM_ORDER, { id: placed.id }, { token: customer.accessToken }));

    const confirmed = ok(await stack.gql(ADMIN_ORDERS, { status: 'CONFIRMED', first: 100 }, { token: admin.accessToken })).orders;
    expect(confirmed.edges.every((e) => e.node.status === 'CONFIRMED')).toBe(true);
    expect(confirmed.edges.find((e) => e.node.id === placed.id)!.node.user).toEqual({ id: customer.userId, phone: customer.phone });
    const all = ok(await stack.gql(ADMIN_ORDERS, { first: 1 }, { token: admin.accessToken })).orders;
    // Every order there is, and every confirmed one: the counts are the database's.
    expect(confirmed.totalCount).toBe(await prisma.order.count({ where: { status: 'CONFIRMED' } }));
    expect(all.totalCount).toBe(await prisma.order.count());
    expect(all.edges).toHaveLength(1);
  });
});
