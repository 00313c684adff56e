import { freePort, startStack, useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { FakeTelegram } from '../../../test/support/fake-telegram';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy';
import type { PrismaClient } from '../../../kernel/src/prisma';
import { useFileDatabase } from '../../../test/support/database';
import { gql } from '../../../generated/graphql/gateway';
import type { OrderServer } from '../src/app';
import { CANCEL_ORDER, Shop, useShop, eventually, inventoryTrail, ok } from './order-support';

/** The order's status, reason and saga state straight from its row. */
const sagaState = (prisma: PrismaClient, id: string) =>
  prisma.order.findUniqueOrThrow({ where: { id }, select: { status: true, cancelReason: true, sagaStep: true, sagaTarget: true, sagaAttempts: true } });

const cancelEvents = (prisma: PrismaClient, orderId: string) =>
  prisma.orderOutboxEvent.findMany({ where: { type: 'OrderCancelled', payload: { path: ['orderId'], equals: orderId } } });

const CONFIRM_STATUS = gql(`mutation OrderCompensationConfirm($id: ID!) { confirmOrder(id: $id) { status } }`);

describe('compensation: whatever was reserved is released', () => {
  const ctx = useShop();
  let stack: Stack;
  let shop: Shop;
  let customer: Session;
  let prisma: PrismaClient;
  beforeAll(() => ({ stack, shop, customer, prisma } = ctx));

  it('releases the stock when the customer cancels', async () => {
    const kettle = await shop.product({ name: 'Copper kettle', onHand: 4 });
    const placed = ok(await shop.place(customer, [{ productId: kettle, quantity: 3 }])).placeOrder;
    expect(await shop.stock(kettle)).toEqual({ onHand: 4, reserved: 3, available: 1 });

    const cancelled = ok(await stack.gql(CANCEL_ORDER, { id: placed.id }, { token: customer.accessToken })).cancelOrder;

    expect(cancelled).toMatchObject({ status: 'CANCELLED', cancelReason: 'cancelled by the customer' });
    expect(cancelled.statusHistory.at(-1)).toMatchObject({ from: 'AWAITING_CONFIRMATION', to: 'CANCELLED', reason: 'cancelled by the customer', actor: `user:${customer.userId}` });
    expect(await shop.stock(kettle)).toEqual({ onHand: 4, reserved: 0, available: 4 });
    expect((await inventoryTrail(prisma, placed.id)).reasons).toEqual(['released', 'reserved']);
    const [event] = await cancelEvents(prisma, placed.id);
    expect(event!.payload).toMatchObject({ status: 'CANCELLED', reason: 'cancelled by the customer' });
  });

  it('fails the order when one line of several is out of stock, naming it, and holds nothing on the others', async () => {
    const plenty = await shop.product({ name: 'Teak tray', onHand: 10 });
    const scarce = await shop.product({ name: 'Brass candlestick', onHand: 1 });
    const missing = await shop.product({ name: 'Wool throw', onHand: null });

    const failed = ok(await shop.place(customer, [{ productId: plenty, quantity: 2 }, { productId: scarce, quantity: 2 }])).placeOrder;

    expect(failed.status).toBe('FAILED');
    expect(failed.cancelReason).toContain('Brass candlestick');
    expect(failed.cancelReason).toContain(scarce);
    expect(failed.cancelReason).toMatch(/only 1 .* available, 2 ordered/);
    expect(failed.statusHistory.map((c) => [c.from, c.to])).toEqual([[null, 'PENDING'], ['PENDING', 'FAILED']]);
    expect(await shop.stock(plenty)).toEqual({ onHand: 10, reserved: 0, available: 10 });
    expect(await shop.stock(scarce)).toEqual({ onHand: 1, reserved: 0, available: 1 });
    expect(await inventoryTrail(prisma, failed.id)).toMatchObject({ movements: [], reservations: [] });
    expect(await sagaState(prisma, failed.id)).toMatchObject({ sagaStep: 'NONE' });
    const [event] = await cancelEvents(prisma, failed.id);
    expect(event!.payload).toMatchObject({ status: 'FAILED', reason: failed.cancelReason });

    // A product with no stock item at all is out of stock too
    const none = ok(await shop.place(customer, [{ productId: missing, quantity: 1 }])).placeOrder;
    expect(none).toMatchObject({ status: 'FAILED', cancelReason: expect.stringContaining('Wool throw') });
  });
});

describe('compensation: an order not confirmed in time is cancelled', () => {
  const adminPhone = randomPhone();
  // Long enough for placing the order and looking at its stock before the deadline, even on a busy machine.
  const TIMEOUT_SECONDS = 5;
  const ctx = useStack({ ADMIN_PHONES: adminPhone, ORDER_CONFIRMATION_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS), ORDER_WORKER_INTERVAL_MS: '100' });
  let shop: Shop;
  let customer: Session;

  beforeAll(async () => {
    shop = new Shop(ctx.stack, await login(ctx.stack, ctx.telegram, adminPhone));
    customer = await login(ctx.stack, ctx.telegram);
  });

  it('releases the stock once the deadline passes', async () => {
    const { stack } = ctx;
    const rug = await shop.product({ name: 'Jute rug', onHand: 2 });

    const asked = Date.now();
    const placed = ok(await shop.place(customer, [{ productId: rug, quantity: 2 }])).placeOrder;
    expect(placed.status).toBe('AWAITING_CONFIRMATION');
    const deadline = Date.parse(placed.confirmationDeadline!);
    expect(deadline).toBeGreaterThanOrEqual(asked + TIMEOUT_SECONDS * 1000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + TIMEOUT_SECONDS * 1000);
    expect(await shop.stock(rug)).toEqual({ onHand: 2, reserved: 2, available: 0 });

    const cancelled = await eventually(() => shop.order(customer, placed.id), (order) => order!.status !== 'AWAITING_CONFIRMATION', TIMEOUT_SECONDS * 1000 + 15_000);
    expect(Date.now()).toBeGreaterThanOrEqual(deadline);
    expect(cancelled).toMatchObject({ status: 'CANCELLED', cancelReason: 'not confirmed in time' });
    expect(cancelled!.statusHistory.at(-1)).toMatchObject({ from: 'AWAITING_CONFIRMATION', to: 'CANCELLED', actor: 'system', reason: 'not confirmed in time' });
    expect(await shop.stock(rug)).toEqual({ onHand: 2, reserved: 0, available: 2 });

    // Too late to confirm
    const late = await stack.gql(`mutation($id: ID!) { confirmOrder(id: $id) { id } }`, { id: placed.id }, { token: customer.accessToken });
    expect(late.errors![0]!.extensions).toMatchObject({ code: 'CONFLICT', status: 'CANCELLED' });
  });

  it('refuses a confirmation after the deadline even before the worker has cancelled the order', async () => {
    const { stack } = ctx;
    const worker = (stack.servers.order as OrderServer).worker;
    await worker.stop();
    try {
      const rug = await shop.product({ name: 'Sisal rug', onHand: 2 });
      const placed = ok(await shop.place(customer, [{ productId: rug, quantity: 1 }])).placeOrder;
      await new Promise((resolve) => setTimeout(resolve, Date.parse(placed.confirmationDeadline!) - Date.now() + 50));

      const late = await stack.gql(`mutation($id: ID!) { confirmOrder(id: $id) { id } }`, { id: placed.id }, { token: customer.accessToken });
      expect(late.errors![0]!.extensions).toMatchObject({ code: 'CONFLICT', status: 'AWAITING_CONFIRMATION' });
      expect(late.errors![0]!.message).toContain('not confirmed in time');

      await worker.tick();
      expect(await shop.order(customer, placed.id)).toMatchObject({ status: 'CANCELLED', cancelReason: 'not confirmed in time' });
      expect(await shop.stock(rug)).toEqual({ onHand: 2, reserved: 0, available: 2 });
    } finally {
      worker.start();
    }
  });
});

describe('compensation: the inventory cannot be reached', () => {
  const adminPhone = randomPhone();
  let telegram: FakeTelegram;
  let stack: Stack;
  let proxy: TcpProxy;
  let shop: Shop;
  let customer: Session;
  const prisma = useFileDatabase({ max: 2 });

  beforeAll(async () => {
    // The order service reaches the inventory through a proxy the test can cut; everyone else directly.
    const inventoryPort = await freePort();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: inventoryPort });
    telegram = await FakeTelegram.start();
    stack = await startStack({
      telegram,
      env: { ADMIN_PHONES: adminPhone, INVENTORY_PORT: String(inventoryPort), INVENTORY_URL: `http://127.0.0.1:${inventoryPort}/graphql` },
      serviceEnv: {
        order: {
          INVENTORY_URL: `http://127.0.0.1:${proxy.port}/graphql`,
          ORDER_SAGA_MAX_ATTEMPTS: '3',
          ORDER_SAGA_RETRY_BASE_MS: '50',
          ORDER_SAGA_RETRY_MAX_MS: '200',
          ORDER_WORKER_INTERVAL_MS: '100',
        },
      },
    });
    shop = new Shop(stack, await login(stack, telegram, adminPhone));
    customer = await login(stack, telegram);
  });
  afterAll(async () => {
    await stack?.stop();
    await telegram?.close();
    await proxy?.close();
  });
  afterEach(() => proxy.unblock());

  it('retries, then fails the order "inventory unavailable" with nothing reserved, and still releases once the inventory is back', async () => {
    const clock = await shop.product({ name: 'Wall clock', onHand: 5 });
    proxy.block();

    // The first try fails: the order is answered PENDING and retried in the background
    const placed = ok(await shop.place(customer, [{ productId: clock, quantity: 1 }])).placeOrder;
    expect(placed.status).toBe('PENDING');

    const failed = await eventually(() => shop.order(customer, placed.id), (order) => order!.status !== 'PENDING', 10_000);
    expect(failed).toMatchObject({ status: 'FAILED', cancelReason: 'inventory unavailable' });
    expect(failed!.statusHistory.map((c) => [c.from, c.to, c.actor])).toEqual([[null, 'PENDING', `user:${customer.userId}`], ['PENDING', 'FAILED', 'system']]);
    expect(await shop.stock(clock)).toEqual({ onHand: 5, reserved: 0, available: 5 });
    expect(await inventoryTrail(prisma, placed.id)).toMatchObject({ movements: [], reservations: [] });
    // The compensating release is still owed: it is never abandoned
    expect(await sagaState(prisma, placed.id)).toMatchObject({ status: 'FAILED', sagaStep: 'RELEASING', sagaTarget: 'FAILED' });

    await proxy.unblock();
    await eventually(() => sagaState(prisma, placed.id), (state) => state.sagaStep === 'NONE');
    expect(await sagaState(prisma, placed.id)).toMatchObject({ status: 'FAILED', cancelReason: 'inventory unavailable' });
    expect(await shop.stock(clock)).toEqual({ onHand: 5, reserved: 0, available: 5 });
    expect(await cancelEvents(prisma, placed.id)).toHaveLength(1);
  });

  it('places the order once the inventory answers again within the attempts', async () => {
    const mirror = await shop.product({ name: 'Round mirror', onHand: 5 });
    proxy.block();
    const placed = ok(await shop.place(customer, [{ productId: mirror, quantity: 2 }])).placeOrder;
    expect(placed.status).toBe('PENDING');
    await proxy.unblock();

    const awaiting = await eventually(() => shop.order(customer, placed.id), (order) => order!.status !== 'PENDING');
    expect(awaiting!.status).toBe('AWAITING_CONFIRMATION');
    expect(awaiting!.statusHistory.at(-1)).toMatchObject({ from: 'PENDING', to: 'AWAITING_CONFIRMATION', actor: 'system' });
    expect(await shop.stock(mirror)).toEqual({ onHand: 5, reserved: 2, available: 3 });
    expect((await inventoryTrail(prisma, placed.id)).reasons).toEqual(['reserved']);
  });

  it('keeps retrying a confirmation until the inventory answers, then confirms', async () => {
    const lamp = await shop.product({ name: 'Paper lamp', onHand: 5 });
    const placed = ok(await shop.place(customer, [{ productId: lamp, quantity: 1 }])).placeOrder;
    expect(placed.status).toBe('AWAITING_CONFIRMATION');
    proxy.block();

    const confirming = ok(await stack.gql(CONFIRM_STATUS, { id: placed.id }, { token: customer.accessToken }));
    expect(confirming.confirmOrder.status).toBe('AWAITING_CONFIRMATION');
    // More tries than ORDER_SAGA_MAX_ATTEMPTS: a commit that may have gone through is never given up on
    await eventually(() => sagaState(prisma, placed.id), (state) => state.sagaAttempts > 4);
    expect(await sagaState(prisma, placed.id)).toMatchObject({ status: 'AWAITING_CONFIRMATION', sagaStep: 'COMMITTING' });
    // Meanwhile a cancel is refused: the confirmation is under way
    const cancel = await stack.gql(CANCEL_ORDER, { id: placed.id }, { token: customer.accessToken });
    expect(cancel.errors![0]!.extensions).toMatchObject({ code: 'CONFLICT', status: 'AWAITING_CONFIRMATION' });
    expect(cancel.errors![0]!.message).toContain('already being confirmed');

    await proxy.unblock();
    const confirmed = await eventually(() => shop.order(customer, placed.id), (order) => order!.status !== 'AWAITING_CONFIRMATION');
    expect(confirmed!.status).toBe('CONFIRMED');
    expect(await shop.stock(lamp)).toEqual({ onHand: 4, reserved: 0, available: 4 });
  });
});
