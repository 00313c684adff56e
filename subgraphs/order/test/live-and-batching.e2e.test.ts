import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { firstErrorCode } from '../../../test/support/graphql';
import { subscribe, untilLive, wsClient, type Probe, type Subscription } from '../../../test/support/subscriptions';
import type { ResultOf } from '@graphql-typed-document-node/core';
import { gql } from '../../../generated/graphql/gateway';
import { CONFIRM_ORDER, Shop, UNCAPPED, ok, type OrderNode } from './order-support';

const ORDER_UPDATED = gql(`
  subscription OrderLiveWatch($orderId: ID) {
    orderUpdated(orderId: $orderId) { id number status cancelReason total { amount } lines { quantity product { id name } } statusHistory { to } }
  }
`);

// subscribe() takes the query's text; the result type comes from the typed document.
type Update = ResultOf<typeof ORDER_UPDATED>;

/** Waits until the subscription has delivered an update matching `match`; returns it. */
async function seen(subscription: Subscription<Update>, match: (update: Update['orderUpdated']) => boolean, timeoutMs = 15_000): Promise<Update['orderUpdated']> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = subscription.results.find((result) => result.data && match(result.data.orderUpdated));
    if (found) return found.data!.orderUpdated;
    if (Date.now() > deadline) throw new Error(`no matching update within ${timeoutMs} ms; got ${JSON.stringify(subscription.results)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('orderUpdated: people watch their orders change', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone });
  let stack: Stack;
  let shop: Shop;
  let admin: Session;
  let probe: string;

  beforeAll(async () => {
    stack = ctx.stack;
    admin = await login(stack, ctx.telegram, adminPhone);
    shop = new Shop(stack, admin);
    probe = await shop.product({ name: 'Probe', onHand: 100_000 });
  });

  /** An order of `user`'s the test will not touch: its event, sent again, shows when a feed is live. */
  async function probeOrder(user: Session): Promise<OrderNode> {
    return ok(await shop.place(user, [{ productId: probe, quantity: 1 }])).placeOrder;
  }

  /** Announces `order` again on the live channel; its results are set aside while they show it unchanged. */
  const orderProbe = (order: OrderNode, owner: Session): Probe<Update> => ({
    channel: 'orderUpdated',
    event: { orderId: order.id, userId: owner.userId },
    isProbe: (result) => result.data?.orderUpdated.id === order.id && result.data.orderUpdated.status === order.status,
  });

  it('shows the owner and admins each change of the order, and strangers nothing', async () => {
    const customer = await login(stack, ctx.telegram);
    const stranger = await login(stack, ctx.telegram);
    const bowl = await shop.product({ name: 'Stoneware bowl', price: 1800, onHand: 5 });
    const [customerProbe, strangerProbe] = await Promise.all([probeOrder(customer), probeOrder(stranger)]);
    const clients = [wsClient(stack.gatewayUrl, customer.accessToken), wsClient(stack.gatewayUrl, admin.accessToken), wsClient(stack.gatewayUrl, stranger.accessToken)];
    const [mine, adminFeed, theirs] = clients.map((client) => subscribe(client, ORDER_UPDATED));
    try {
      const prefix = stack.env.REDIS_KEY_PREFIX!;
      await untilLive(mine!, prefix, orderProbe(customerProbe, customer));
      // The admin sees every order: the others' probes are set aside too.
      adminFeed!.setAside(orderProbe(strangerProbe, stranger).isProbe!);
      await untilLive(adminFeed!, prefix, orderProbe(customerProbe, customer));
      await untilLive(theirs!, prefix, orderProbe(strangerProbe, stranger));

      const placed = ok(await shop.place(customer, [{ productId: bowl, quantity: 2 }])).placeOrder;
      expect(await seen(mine!, (order) => order.id === placed.id)).toEqual({
        id: placed.id,
        number: placed.number,
        status: 'AWAITING_CONFIRMATION',
        cancelReason: null,
        total: { amount: 3600 },
        lines: [{ quantity: 2, product: { id: bowl, name: 'Stoneware bowl' } }],
        statusHistory: [{ to: 'PENDING' }, { to: 'AWAITING_CONFIRMATION' }],
      });
      await seen(adminFeed!, (order) => order.id === placed.id && order.status === 'AWAITING_CONFIRMATION');

      ok(await stack.gql(CONFIRM_ORDER, { id: placed.id }, { token: customer.accessToken }));
      await seen(mine!, (order) => order.id === placed.id && order.status === 'CONFIRMED');
      await seen(adminFeed!, (order) => order.id === placed.id && order.status === 'CONFIRMED');

      // The stranger's feed is live (their own order arrives after the customer's events) and holds none of the customer's
      const own = ok(await shop.place(stranger, [{ productId: bowl, quantity: 1 }])).placeOrder;
      await seen(theirs!, (order) => order.id === own.id);
      expect(theirs!.results.some((result) => result.data?.orderUpdated.id === placed.id)).toBe(false);
      expect(mine!.results.every((result) => !result.errors)).toBe(true);
      expect(mine!.results.filter((result) => result.data?.orderUpdated.id === placed.id).map((result) => result.data!.orderUpdated.status)).toEqual([
        'AWAITING_CONFIRMATION',
        'CONFIRMED',
      ]);
    } finally {
      for (const subscription of [mine, adminFeed, theirs]) subscription!.close();
      await Promise.all(clients.map((client) => client.dispose()));
    }
  });

  it('watches one order when given its id; anonymous subscribers are refused', async () => {
    const customer = await login(stack, ctx.telegram);
    const cup = await shop.product({ onHand: 10 });
    const watched = ok(await shop.place(customer, [{ productId: cup, quantity: 1 }])).placeOrder;
    const client = wsClient(stack.gatewayUrl, customer.accessToken);
    const one = subscribe(client, ORDER_UPDATED, { orderId: watched.id });
    const all = subscribe(client, ORDER_UPDATED);
    const anonymousClient = wsClient(stack.gatewayUrl);
    const anonymous = subscribe(anonymousClient, ORDER_UPDATED);
    try {
      // Each feed is probed with the watched order as it is now; the test then confirms it.
      await untilLive(one, stack.env.REDIS_KEY_PREFIX!, orderProbe(watched, customer));
      await untilLive(all, stack.env.REDIS_KEY_PREFIX!, orderProbe(watched, customer));
      const other = ok(await shop.place(customer, [{ productId: cup, quantity: 2 }])).placeOrder;
      ok(await stack.gql(CONFIRM_ORDER, { id: watched.id }, { token: customer.accessToken }));
      await seen(all, (order) => order.id === watched.id && order.status === 'CONFIRMED');
      expect(await seen(one, (order) => order.id === watched.id)).toMatchObject({ status: 'CONFIRMED' });
      expect(all.results.some((result) => result.data?.orderUpdated.id === other.id)).toBe(true);
      expect(one.results.every((result) => result.data?.orderUpdated.id === watched.id)).toBe(true);

      const refusal = await anonymous.next();
      expect(refusal.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
    } finally {
      for (const subscription of [one, all, anonymous]) subscription.close();
      await client.dispose();
      await anonymousClient.dispose();
    }
  });
});

describe('no N+1: a page of orders costs a fixed number of queries', () => {
  const adminPhone = randomPhone();
  // No background rounds during the measurement.
  const ctx = useStack({ ADMIN_PHONES: adminPhone, ...UNCAPPED }, { serviceEnv: { order: { ORDER_WORKER_INTERVAL_MS: '3600000' } } });
  const PAGE = gql(`
    query OrderBatchingPage($first: Int!) {
      myOrders(first: $first) {
        totalCount
        edges { node { id number status total { amount } lines { quantity unitPrice { amount } lineTotal { amount } product { id } } statusHistory { from to actor } } }
      }
    }
  `);

  it('costs the same for 2 orders as for 20', async () => {
    const { stack, telegram } = ctx;
    const shop = new Shop(stack, await login(stack, telegram, adminPhone));
    const customer = await login(stack, telegram);
    const products = [await shop.product({ onHand: 1000 }), await shop.product({ onHand: 1000 })];
    for (let i = 0; i < 20; i++) ok(await shop.place(customer, products.map((productId) => ({ productId, quantity: 1 }))));

    const cost = async (first: number) => {
      const before = stack.servers.order.queryCount!();
      const page = ok(await stack.gql(PAGE, { first }, { token: customer.accessToken })).myOrders;
      expect(page.edges).toHaveLength(first);
      expect(page.edges.every((e) => e.node.lines.length === 2 && e.node.statusHistory.length === 2)).toBe(true);
      return stack.servers.order.queryCount!() - before;
    };
    await cost(2); // warm-up
    const small = await cost(2);
    const large = await cost(20);
    expect(large).toBe(small);
    // the page, its count, the lines, the history
    expect(large).toBe(4);
    expect(firstErrorCode(await stack.gql(PAGE, { first: 2 }))).toBe('UNAUTHENTICATED');
  });
});
