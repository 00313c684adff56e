import { randomUUID } from 'node:crypto';
import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { firstErrorCode, graphql } from '../../../test/support/graphql';
import { gql } from '../../../generated/graphql/gateway';
import { CANCEL_ORDER, CONFIRM_ORDER, FULFILL_ORDER, ORDER, Shop, UNCAPPED, newKey, ok, type OrderCommand } from './order-support';

/** Not in the public API: the order subgraph's own field for the Telegram buttons. */
const RESPOND = /* GraphQL */ `mutation($id: ID!, $userId: ID!, $confirm: Boolean!) { respondToOrder(id: $id, userId: $userId, confirm: $confirm) { id status } }`;
const USER_ORDERS = gql(`query OrderRefusalsUserOrders($id: ID!) { order(id: $id) { user { id orders(first: 1) { totalCount edges { node { id } } } } } }`);
const MY_NEWEST_ORDER = gql(`query OrderRefusalsMyNewestOrder { me { orders(first: 1) { totalCount edges { node { id } } } } }`);
const DELETE_PRODUCT = gql(`mutation OrderRefusalsDeleteProduct($id: ID!) { deleteProduct(id: $id) { id } }`);

describe('what the order service refuses', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone, ...UNCAPPED });
  let stack: Stack;
  let shop: Shop;
  let admin: Session;
  let customer: Session;
  let stranger: Session;
  let product: string;

  beforeAll(async () => {
    stack = ctx.stack;
    admin = await login(stack, ctx.telegram, adminPhone);
    shop = new Shop(stack, admin);
    [customer, stranger] = [await login(stack, ctx.telegram), await login(stack, ctx.telegram)];
    product = await shop.product({ name: 'Oak board', price: 2500, onHand: 1000 });
  });

  const placeAwaiting = async () => ok(await shop.place(customer, [{ productId: product, quantity: 1 }])).placeOrder;

  it('needs a logged-in user for every order operation', async () => {
    const placed = await placeAwaiting();
    expect(firstErrorCode(await stack.gql(`mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }`, { input: { lines: [{ productId: product, quantity: 1 }], idempotencyKey: newKey() } }))).toBe('UNAUTHENTICATED');
    expect(firstErrorCode(await stack.gql(CONFIRM_ORDER, { id: placed.id }))).toBe('UNAUTHENTICATED');
    expect(firstErrorCode(await stack.gql(CANCEL_ORDER, { id: placed.id }))).toBe('UNAUTHENTICATED');
    expect(firstErrorCode(await stack.gql(`query { myOrders { totalCount } }`))).toBe('UNAUTHENTICATED');
    expect(firstErrorCode(await stack.gql(`query { orders { totalCount } }`))).toBe('UNAUTHENTICATED');
    expect(ok(await stack.gql(ORDER, { id: placed.id })).order).toBeNull();
  });

  it('hides another user\'s order and refuses them its commands', async () => {
    const placed = await placeAwaiting();
    expect(await shop.order(stranger, placed.id)).toBeNull();
    expect(await shop.order(admin, placed.id)).toMatchObject({ id: placed.id });
    expect(await shop.order(customer, randomUUID())).toBeNull();
    expect(await shop.order(customer, 'not-an-id')).toBeNull();

    const ownerCommands: OrderCommand[] = [CONFIRM_ORDER, CANCEL_ORDER];
    for (const mutation of ownerCommands) {
      // To a stranger it does not exist: the very answer an id that never existed gets, nothing more (no number, no owner)
      const refused = await stack.gql(mutation, { id: placed.id }, { token: stranger.accessToken });
      const unknownId = randomUUID();
      const unknown = await stack.gql(mutation, { id: unknownId }, { token: stranger.accessToken });
      expect(refused.errors).toEqual([{ message: `Order ${placed.id} was not found.`, path: [mutation === CONFIRM_ORDER ? 'confirmOrder' : 'cancelOrder'], extensions: { code: 'NOT_FOUND', id: placed.id, serviceName: 'order' } }]);
      expect(JSON.stringify(refused).replaceAll(placed.id, '<id>')).toBe(JSON.stringify(unknown).replaceAll(unknownId, '<id>'));
      // An admin sees it, but does not confirm or cancel for the customer
      const asAdmin = await stack.gql(mutation, { id: placed.id }, { token: admin.accessToken });
      expect(asAdmin.errors![0]).toMatchObject({ message: `Order ${placed.number} is not yours: only its owner can confirm or cancel it.`, extensions: { code: 'FORBIDDEN' } });
    }
    expect((await stack.gql(CONFIRM_ORDER, { id: 'nope' }, { token: customer.accessToken })).errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    expect((await shop.order(customer, placed.id))!.status).toBe('AWAITING_CONFIRMATION');
  });

  it('shows a user\'s orders to themselves and admins only', async () => {
    const placed = await placeAwaiting();
    const own = ok(await stack.gql(MY_NEWEST_ORDER, {}, { token: customer.accessToken })).me!.orders;
    expect(own.edges).toEqual([{ node: { id: placed.id } }]);
    // The admin reaches the customer by id (through the order), and sees the same list.
    const asAdmin = ok(await stack.gql(USER_ORDERS, { id: placed.id }, { token: admin.accessToken })).order!.user;
    expect(asAdmin).toEqual({ id: customer.userId, orders: own });
    // The gateway offers strangers no path to another user; asked for one straight at the subgraph, it is refused
    const viaSubgraph = await graphql(stack.urls.order, `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { orders { totalCount } } } }`, {
      reps: [{ __typename: 'User', id: customer.userId }],
    }, { token: stranger.accessToken });
    expect(firstErrorCode(viaSubgraph)).toBe('FORBIDDEN');
    const anonymous = await graphql(stack.urls.order, `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { orders { totalCount } } } }`, {
      reps: [{ __typename: 'User', id: customer.userId }],
    });
    expect(firstErrorCode(anonymous)).toBe('UNAUTHENTICATED');
  });

  it('lets only admins fulfil, and only confirmed orders', async () => {
    const placed = await placeAwaiting();
    expect(firstErrorCode(await stack.gql(FULFILL_ORDER, { id: placed.id }, { token: customer.accessToken }))).toBe('FORBIDDEN');
    const early = await stack.gql(FULFILL_ORDER, { id: placed.id }, { token: admin.accessToken });
    expect(early.errors![0]!.extensions).toMatchObject({ code: 'CONFLICT', status: 'AWAITING_CONFIRMATION' });
    expect(early.errors![0]!.message).toBe(`Order ${placed.number} is AWAITING_CONFIRMATION and cannot become FULFILLED: from AWAITING_CONFIRMATION it can only become CONFIRMED or CANCELLED or FAILED.`);
    expect(firstErrorCode(await stack.gql(`query { orders { totalCount } }`, {}, { token: customer.accessToken }))).toBe('FORBIDDEN');
  });

  it('refuses every transition the state machine does not have', async () => {
    const confirmed = await placeAwaiting();
    ok(await stack.gql(CONFIRM_ORDER, { id: confirmed.id }, { token: customer.accessToken }));
    const conflictOf = async (mutation: OrderCommand, id: string, token: string) => (await stack.gql(mutation, { id }, { token })).errors?.[0];

    // CONFIRMED: not again, not cancelled
    expect(await conflictOf(CONFIRM_ORDER, confirmed.id, customer.accessToken)).toMatchObject({ extensions: { code: 'CONFLICT', status: 'CONFIRMED' } });
    expect(await conflictOf(CANCEL_ORDER, confirmed.id, customer.accessToken)).toMatchObject({ extensions: { code: 'CONFLICT', status: 'CONFIRMED' } });

    // FULFILLED is final
    ok(await stack.gql(FULFILL_ORDER, { id: confirmed.id }, { token: admin.accessToken }));
    expect(await conflictOf(FULFILL_ORDER, confirmed.id, admin.accessToken)).toMatchObject({ message: expect.stringContaining('FULFILLED is final'), extensions: { code: 'CONFLICT' } });
    expect(await conflictOf(CANCEL_ORDER, confirmed.id, customer.accessToken)).toMatchObject({ extensions: { code: 'CONFLICT', status: 'FULFILLED' } });

    // CANCELLED is final
    const cancelled = await placeAwaiting();
    ok(await stack.gql(CANCEL_ORDER, { id: cancelled.id }, { token: customer.accessToken }));
    for (const [mutation, token] of [[CONFIRM_ORDER, customer.accessToken], [CANCEL_ORDER, customer.accessToken], [FULFILL_ORDER, admin.accessToken]] as const) {
      expect(await conflictOf(mutation, cancelled.id, token)).toMatchObject({ extensions: { code: 'CONFLICT', status: 'CANCELLED' } });
    }
  });

  it.each([
    ['no lines', { lines: [] }, 'input.lines'],
    ['51 lines', { lines: Array.from({ length: 51 }, () => ({ productId: randomUUID(), quantity: 1 })) }, 'input.lines'],
    ['a product id that is not one', { lines: [{ productId: 'x', quantity: 1 }] }, 'input.lines[0].productId'],
    ['a quantity of 0', { lines: [{ productId: '$product', quantity: 0 }] }, 'input.lines[0].quantity'],
    ['a quantity of 101', { lines: [{ productId: '$product', quantity: 101 }] }, 'input.lines[0].quantity'],
    ['one product on two lines', { lines: [{ productId: '$product', quantity: 1 }, { productId: '$product', quantity: 2 }] }, 'input.lines[1].productId'],
    ['an empty idempotency key', { lines: [{ productId: '$product', quantity: 1 }], idempotencyKey: '' }, 'input.idempotencyKey'],
    ['a 101-character idempotency key', { lines: [{ productId: '$product', quantity: 1 }], idempotencyKey: 'k'.repeat(101) }, 'input.idempotencyKey'],
  ])('refuses %s as BAD_USER_INPUT on %s', async (_label, input, field) => {
    const lines = (input.lines as Array<{ productId: string; quantity: number }>).map((l) => ({ ...l, productId: l.productId === '$product' ? product : l.productId }));
    const response = await shop.place(customer, lines, (input as { idempotencyKey?: string }).idempotencyKey ?? newKey());
    expect(response.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });

  it('refuses unknown and deleted products, naming the line, and mixed currencies', async () => {
    const unknown = await shop.place(customer, [{ productId: product, quantity: 1 }, { productId: randomUUID(), quantity: 1 }]);
    expect(unknown.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.lines[1].productId' });

    const gone = await shop.product({ name: 'Discontinued stool' });
    ok(await stack.gql(DELETE_PRODUCT, { id: gone }, { token: admin.accessToken }));
    const deleted = await shop.place(customer, [{ productId: gone, quantity: 1 }]);
    expect(deleted.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.lines[0].productId' });
    expect(deleted.errors![0]!.message).toContain(gone);

    const euro = await shop.product({ name: 'Euro vase', currency: 'EUR' });
    const mixed = await shop.place(customer, [{ productId: product, quantity: 1 }, { productId: euro, quantity: 1 }]);
    expect(mixed.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.lines[1].productId' });
    expect(mixed.errors![0]!.message).toContain('EUR');
  });

  it('keeps respondToOrder to platform services, for the order\'s owner only', async () => {
    const placed = await placeAwaiting();
    // Not in the public API at all
    expect(firstErrorCode(await stack.gql(RESPOND, { id: placed.id, userId: customer.userId, confirm: true }, { token: customer.accessToken }))).toBe('GRAPHQL_VALIDATION_FAILED');
    // Straight at the subgraph: users are refused, services must name the owner
    expect(firstErrorCode(await graphql(stack.urls.order, RESPOND, { id: placed.id, userId: customer.userId, confirm: true }, { token: customer.accessToken }))).toBe('FORBIDDEN');
    const service = await stack.serviceToken('notification');
    // Pressed by someone else (a forged button): their answer is the one for an order that does not exist
    for (const confirm of [true, false]) {
      const refused = await graphql(stack.urls.order, RESPOND, { id: placed.id, userId: stranger.userId, confirm }, { token: service });
      const unknownId = randomUUID();
      const unknown = await graphql(stack.urls.order, RESPOND, { id: unknownId, userId: stranger.userId, confirm }, { token: service });
      expect(refused.errors).toEqual([expect.objectContaining({ message: `Order ${placed.id} was not found.`, extensions: { code: 'NOT_FOUND', id: placed.id } })]);
      expect(JSON.stringify(refused.errors).replaceAll(placed.id, '<id>')).toBe(JSON.stringify(unknown.errors).replaceAll(unknownId, '<id>'));
    }
    expect((await shop.order(customer, placed.id))!.status).toBe('AWAITING_CONFIRMATION');
    const confirmed = await graphql(stack.urls.order, RESPOND, { id: placed.id, userId: customer.userId, confirm: true }, { token: service });
    expect(ok(confirmed).respondToOrder).toEqual({ id: placed.id, status: 'CONFIRMED' });
    const history = (await shop.order(customer, placed.id))!.statusHistory;
    expect(history.at(-1)).toMatchObject({ to: 'CONFIRMED', actor: `user:${customer.userId}` });

    const other = await placeAwaiting();
    const cancelled = await graphql(stack.urls.order, RESPOND, { id: other.id, userId: customer.userId, confirm: false }, { token: service });
    expect(ok(cancelled).respondToOrder).toEqual({ id: other.id, status: 'CANCELLED' });
  });

  it('refuses _orderFromEvent to clients', async () => {
    const placed = await placeAwaiting();
    const response = await stack.gql(`query($e: String!) { _orderFromEvent(event: $e) { id } }`, { e: JSON.stringify({ orderId: placed.id, userId: customer.userId }) }, { token: customer.accessToken });
    expect(firstErrorCode(response)).toBe('FORBIDDEN');
  });
});
