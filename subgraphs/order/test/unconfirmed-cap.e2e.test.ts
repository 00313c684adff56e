import type { Stack } from '../../../test/support/stack';
import { login, type Session } from '../../../test/support/login';
import type { GraphQLResponse } from '../../../test/support/graphql';
import type { OrderPlaceMutation } from '../../../generated/graphql/gateway/graphql';
import type { PrismaClient } from '../../../kernel/src/prisma';
import { CANCEL_ORDER, CONFIRM_ORDER, Shop, useShop, newKey, ok } from './order-support';

const CAP = 3; // the default ORDER_MAX_UNCONFIRMED_PER_USER
/** The whole error, as the gateway answers it. */
const REFUSAL = {
  message: `You already have ${CAP} orders waiting for your confirmation, the most at once: confirm or cancel one of them, then place this one.`,
  path: ['placeOrder'],
  extensions: { code: 'TOO_MANY_UNCONFIRMED_ORDERS', limit: CAP, serviceName: 'order' },
};

const placed = (response: GraphQLResponse<OrderPlaceMutation>) => ok(response).placeOrder;

describe('a cap on the orders one user has awaiting confirmation (no hoarding the stock)', () => {
  const ctx = useShop();
  let stack: Stack;
  let shop: Shop;
  let prisma: PrismaClient;
  beforeAll(() => ({ stack, shop, prisma } = ctx));

  const newCustomer = () => login(stack, ctx.telegram);
  const unconfirmedOf = (customer: Session) => prisma.order.count({ where: { userId: customer.userId, status: { in: ['PENDING', 'AWAITING_CONFIRMATION'] } } });

  it('accepts exactly the cap of 20 concurrent placements with distinct keys, and refuses the rest naming what to do', async () => {
    const customer = await newCustomer();
    const lamp = await shop.product({ name: 'Brass lamp', onHand: 100 });
    const responses = await Promise.all(Array.from({ length: 20 }, () => shop.place(customer, [{ productId: lamp, quantity: 2 }])));

    const accepted = responses.filter((r) => !r.errors);
    expect(accepted).toHaveLength(CAP);
    expect(accepted.map((r) => r.data!.placeOrder.status)).toEqual(Array(CAP).fill('AWAITING_CONFIRMATION'));
    const refused = responses.filter((r) => r.errors);
    expect(refused).toHaveLength(20 - CAP);
    for (const r of refused) expect(r.errors).toEqual([REFUSAL]);

    expect(await prisma.order.count({ where: { userId: customer.userId } })).toBe(CAP);
    expect(await shop.stock(lamp)).toEqual({ onHand: 100, reserved: 2 * CAP, available: 100 - 2 * CAP });
  });

  it('still answers a repeat of an existing key at the cap, even sent concurrently with new ones', async () => {
    const customer = await newCustomer();
    const bowl = await shop.product({ onHand: 100 });
    const keys = [newKey(), newKey(), newKey()];
    const orders = [];
    for (const key of keys) orders.push(placed(await shop.place(customer, [{ productId: bowl, quantity: 1 }], key)));

    const responses = await Promise.all([
      ...keys.map((key) => shop.place(customer, [{ productId: bowl, quantity: 1 }], key)),
      ...Array.from({ length: 5 }, () => shop.place(customer, [{ productId: bowl, quantity: 1 }])),
    ]);
    expect(responses.slice(0, 3).map((r) => placed(r).id)).toEqual(orders.map((o) => o.id));
    for (const r of responses.slice(3)) expect(r.errors).toEqual([REFUSAL]);
    expect(await unconfirmedOf(customer)).toBe(CAP);
  });

  it('accepts a new order once one is confirmed or cancelled', async () => {
    const customer = await newCustomer();
    const vase = await shop.product({ onHand: 100 });
    const orders = [];
    for (let i = 0; i < CAP; i++) orders.push(placed(await shop.place(customer, [{ productId: vase, quantity: 1 }])));
    expect((await shop.place(customer, [{ productId: vase, quantity: 1 }])).errors).toEqual([REFUSAL]);

    ok(await stack.gql(CONFIRM_ORDER, { id: orders[0]!.id }, { token: customer.accessToken }));
    const afterConfirm = placed(await shop.place(customer, [{ productId: vase, quantity: 1 }]));
    expect(afterConfirm.status).toBe('AWAITING_CONFIRMATION');
    expect((await shop.place(customer, [{ productId: vase, quantity: 1 }])).errors).toEqual([REFUSAL]);

    ok(await stack.gql(CANCEL_ORDER, { id: orders[1]!.id }, { token: customer.accessToken }));
    expect(placed(await shop.place(customer, [{ productId: vase, quantity: 1 }])).status).toBe('AWAITING_CONFIRMATION');
    expect((await shop.place(customer, [{ productId: vase, quantity: 1 }])).errors).toEqual([REFUSAL]);
    expect(await unconfirmedOf(customer)).toBe(CAP);
  });

  it('counts only orders that hold stock: a failed one does not, and each user has a cap of their own', async () => {
    const customer = await newCustomer();
    const scarce = await shop.product({ onHand: 1 });
    const plenty = await shop.product({ onHand: 100 });
    const failed = placed(await shop.place(customer, [{ productId: scarce, quantity: 5 }]));
    expect(failed.status).toBe('FAILED');
    for (let i = 0; i < CAP; i++) expect(placed(await shop.place(customer, [{ productId: plenty, quantity: 1 }])).status).toBe('AWAITING_CONFIRMATION');
    expect((await shop.place(customer, [{ productId: plenty, quantity: 1 }])).errors).toEqual([REFUSAL]);

    const neighbour = await newCustomer();
    expect(placed(await shop.place(neighbour, [{ productId: plenty, quantity: 1 }])).status).toBe('AWAITING_CONFIRMATION');
  });
});
