import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone } from '../../../test/support/login';
import { useFileDatabase } from '../../../test/support/database';
import { startOrderService, type OrderServer } from '../src/app';
import { loadOrderConfig } from '../src/config';
import { Shop, eventually, inventoryTrail, newKey } from './order-support';

describe('the saga worker, with several order processes', () => {
  const adminPhone = randomPhone();
  // Rounds are run by hand here.
  const ctx = useStack({ ADMIN_PHONES: adminPhone }, { serviceEnv: { order: { ORDER_WORKER_INTERVAL_MS: '3600000' } } });
  let stack: Stack;
  const prisma = useFileDatabase({ max: 2 });
  let shop: Shop;
  let first: OrderServer;
  let second: OrderServer;

  beforeAll(async () => {
    stack = ctx.stack;
    shop = new Shop(stack, await login(stack, ctx.telegram, adminPhone));
    first = stack.servers.order as OrderServer;
    second = await startOrderService(loadOrderConfig({ ...stack.env, ORDER_PORT: '0', ORDER_WORKER_INTERVAL_MS: '3600000' }));
  });
  afterAll(async () => {
    await second?.stop();
  });

  /** Orders left at RESERVING with their lease run out, as a dead process leaves them. */
  async function abandonedOrders(count: number, productId: string): Promise<string[]> {
    const customer = await login(stack, ctx.telegram);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const order = await prisma.order.create({
        data: {
          userId: customer.userId,
          idempotencyKey: newKey(),
          totalAmount: 1000,
          currency: 'USD',
          sagaStep: 'RESERVING',
          sagaNextAttemptAt: new Date(Date.now() - 1000),
          lines: { create: [{ position: 0, productId, productName: 'Abandoned', quantity: 1, unitPriceAmount: 1000, currency: 'USD' }] },
          history: { create: { from: null, to: 'PENDING', actor: `user:${customer.userId}` } },
        },
      });
      ids.push(order.id);
    }
    return ids;
  }

  it('gives each due saga to one process: concurrent claims never overlap', async () => {
    const productId = await shop.product({ onHand: 100 });
    const ids = await abandonedOrders(30, productId);
    const [a, b] = await Promise.all([first.saga.claimDue(30), second.saga.claimDue(30)]);
    // Between them every one, and none twice
    expect(a.filter((id) => b.includes(id))).toEqual([]);
    expect([...a, ...b].filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());
    // A claimed saga is leased: nobody claims it again until the lease runs out
    expect((await first.saga.claimDue(100)).filter((id) => ids.includes(id))).toEqual([]);
    // Settled by hand: no later round resumes them
    await prisma.order.updateMany({ where: { id: { in: ids } }, data: { sagaStep: 'NONE', status: 'FAILED' } });
  });

  it('resumes abandoned sagas from both processes at once, reserving each order once', async () => {
    const productId = await shop.product({ onHand: 100 });
    const ids = await abandonedOrders(20, productId);
    await Promise.all([first.worker.tick(), second.worker.tick(), first.worker.tick(), second.worker.tick()]);
    // More rounds from both only if a step failed and was put back (a call timed out on a loaded machine).
    const orders = await eventually(
      async () => {
        const found = await prisma.order.findMany({ where: { id: { in: ids } } });
        if (found.some((order) => order.sagaStep !== 'NONE')) await Promise.all([first.worker.tick(), second.worker.tick()]);
        return found;
      },
      (found) => found.every((order) => order.sagaStep === 'NONE'),
      60_000,
      500,
    );
    expect(orders.map((order) => [order.status, order.sagaStep])).toEqual(Array(20).fill(['AWAITING_CONFIRMATION', 'NONE']));
    for (const id of ids) expect((await inventoryTrail(prisma, id)).reasons).toEqual(['reserved']);
    expect(await shop.stock(productId)).toEqual({ onHand: 100, reserved: 20, available: 80 });
    const events = await prisma.orderOutboxEvent.count({ where: { type: 'OrderPlaced', OR: ids.map((id) => ({ payload: { path: ['orderId'], equals: id } })) } });
    expect(events).toBe(20);
  });
});
