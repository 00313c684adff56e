import type { Stack } from '../../../test/support/stack';
import { login, type Session } from '../../../test/support/login';
import { firstErrorCode } from '../../../test/support/graphql';
import type { PrismaClient } from '../../../kernel/src/prisma';
import { CANCEL_ORDER, CONFIRM_ORDER, Shop, UNCAPPED, useShop, inventoryTrail, newKey, ok } from './order-support';

describe('one order per idempotency key, and one winner per race', () => {
  const ctx = useShop(UNCAPPED);
  let stack: Stack;
  let shop: Shop;
  let customer: Session;
  let prisma: PrismaClient;
  beforeAll(() => ({ stack, shop, customer, prisma } = ctx));

  it('makes one order and reserves once for 20 concurrent placements with one key', async () => {
    const teapot = await shop.product({ name: 'Cast-iron teapot', onHand: 50 });
    const key = newKey();
    const responses = await Promise.all(Array.from({ length: 20 }, () => shop.place(customer, [{ productId: teapot, quantity: 2 }], key)));

    expect(responses.map((r) => r.errors)).toEqual(Array(20).fill(undefined));
    const ids = new Set(responses.map((r) => r.data!.placeOrder.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(await prisma.order.count({ where: { userId: customer.userId, idempotencyKey: key } })).toBe(1);
    expect(await shop.stock(teapot)).toEqual({ onHand: 50, reserved: 2, available: 48 });
    expect((await inventoryTrail(prisma, id!)).reasons).toEqual(['reserved']);
    expect(await prisma.orderOutboxEvent.count({ where: { type: 'OrderPlaced', payload: { path: ['orderId'], equals: id } } })).toBe(1);

    // Later, the same key returns the same order as it now is
    const again = ok(await shop.place(customer, [{ productId: teapot, quantity: 2 }], key)).placeOrder;
    expect(again).toMatchObject({ id, status: 'AWAITING_CONFIRMATION' });
  });

  it('refuses the key reused with other lines, and lets another user use the same key', async () => {
    const cup = await shop.product({ onHand: 50 });
    const saucer = await shop.product({ onHand: 50 });
    const key = newKey();
    const first = ok(await shop.place(customer, [{ productId: cup, quantity: 1 }, { productId: saucer, quantity: 1 }], key)).placeOrder;

    // The same lines in another order are the same order
    const reordered = ok(await shop.place(customer, [{ productId: saucer, quantity: 1 }, { productId: cup, quantity: 1 }], key)).placeOrder;
    expect(reordered.id).toBe(first.id);

    const misuse = await shop.place(customer, [{ productId: cup, quantity: 2 }], key);
    expect(misuse.errors![0]!.extensions).toMatchObject({ code: 'CONFLICT', orderId: first.id });
    expect(misuse.errors![0]!.message).toContain(first.number);

    const other = await login(stack, ctx.telegram);
    const theirs = ok(await shop.place(other, [{ productId: cup, quantity: 1 }], key)).placeOrder;
    expect(theirs.id).not.toBe(first.id);
  });

  it('lets exactly one of a racing confirm and cancel win; the other is a CONFLICT naming the status', async () => {
    const candle = await shop.product({ name: 'Beeswax candle', onHand: 100 });
    for (let round = 0; round < 5; round++) {
      const placed = ok(await shop.place(customer, [{ productId: candle, quantity: 1 }])).placeOrder;
      const [confirm, cancel] = await Promise.all([
        stack.gql(CONFIRM_ORDER, { id: placed.id }, { token: customer.accessToken }),
        stack.gql(CANCEL_ORDER, { id: placed.id }, { token: customer.accessToken }),
      ]);
      const winners = [confirm, cancel].filter((r) => !r.errors);
      const losers = [confirm, cancel].filter((r) => r.errors);
      expect(winners).toHaveLength(1);
      expect(losers).toHaveLength(1);
      expect(firstErrorCode(losers[0]!)).toBe('CONFLICT');
      const final = (await shop.order(customer, placed.id))!;
      const won = confirm.errors ? 'CANCELLED' : 'CONFIRMED';
      expect(final.status).toBe(won);
      expect(losers[0]!.errors![0]!.message).toMatch(/AWAITING_CONFIRMATION|CONFIRMED|CANCELLED/);
      expect(losers[0]!.errors![0]!.extensions!.status).toEqual(expect.any(String));
      const reasons = (await inventoryTrail(prisma, placed.id)).reasons;
      expect(reasons).toEqual(won === 'CONFIRMED' ? ['committed', 'reserved'] : ['released', 'reserved']);
    }
    // Every round moved the stock exactly as its winner said
    const stock = await shop.stock(candle);
    expect(stock.reserved).toBe(0);
  });
});
