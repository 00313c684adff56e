import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { gql } from '../../generated/graphql/gateway';
import { useStack } from '../../test/support/stack';
import { login, randomPhone, type Session } from '../../test/support/login';
import { eventually } from '../../test/support/eventually';
import { CREATE_INVENTORY_ITEM, CREATE_PRODUCT_ID } from '../../test/support/operations';
import { publishProbe, stockChange, stockProbe, subscribe, untilLive, wsClient, type Subscription } from '../../test/support/subscriptions';
import type { RunningServer } from '../../kernel/src/server';
import { BoundedEventQueue } from '../src/subscriptions';

const WATCH_SHARED_STOCK = gql(`
  subscription WatchSharedStock($ids: [ID!]) { stockUpdated(productIds: $ids) { productId available product { name price { amount } } } }
`);
const WATCH_STOCK_LEVELS = gql(`subscription WatchStockLevels($ids: [ID!]) { stockUpdated(productIds: $ids) { productId onHand } }`);
const WATCH_MY_ORDERS = gql(`subscription WatchMyOrders { orderUpdated { id status user { id } } }`);
const WATCH_MY_NOTIFICATIONS = gql(`subscription WatchMyNotifications { notificationReceived { id kind orderId } }`);
const PLACE_ORDER_FOR_FEED = gql(`mutation PlaceOrderForFeed($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }`);
const MY_LATEST_NOTIFICATION = gql(`query MyLatestNotification { myNotifications(first: 1) { edges { node { id } } } }`);

/** Counts the GraphQL requests a subgraph receives from now on. */
function requestCounter(server: RunningServer) {
  let count = 0;
  const listener = (req: { method?: string }) => {
    if (req.method === 'POST') count += 1;
  };
  server.httpServer.on('request', listener);
  return { count: () => count, stop: () => server.httpServer.off('request', listener) };
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('one execution per event for everyone who watches the same thing', () => {
  const adminPhone = randomPhone();
  const shop = useStack({ ADMIN_PHONES: adminPhone });
  let admin: Session;

  beforeAll(async () => {
    admin = await login(shop.stack, shop.telegram, adminPhone);
  });

  it('resolves a stock change through the subgraphs once for 50 subscribers, anonymous or logged in, and each gets it', async () => {
    const { stack } = shop;
    const prefix = stack.env.REDIS_KEY_PREFIX!;
    // A catalog product without an inventory item: no stock event but the test's own.
    const created = await stack.gql(
      CREATE_PRODUCT_ID,
      { input: { sku: `FAN-${randomUUID().slice(0, 8)}`, name: 'Shared teapot', category: 'kitchen', price: { amount: 3100, currency: 'EUR' } } },
      { token: admin.accessToken },
    );
    const productId = created.data!.createProduct.id;
    const clients = Array.from({ length: 10 }, (_, i) => wsClient(stack.gatewayUrl, i % 2 === 0 ? admin.accessToken : undefined));
    const watchers = clients.flatMap((client) => Array.from({ length: 5 }, () => subscribe(client, WATCH_SHARED_STOCK, { ids: [productId] })));
    const inventory = requestCounter(stack.servers.inventory);
    const catalog = requestCounter(stack.servers.catalog);
    try {
      for (const watcher of watchers) await untilLive(watcher, prefix, stockProbe(productId));
      await settle(500); // probes still on their way are resolved before counting starts
      const [inventoryBefore, catalogBefore] = [inventory.count(), catalog.count()];

      for (const level of [7, 8]) {
        await publishProbe(prefix, stockChange(productId, level));
        const received = await Promise.all(watchers.map((watcher) => watcher.next()));
        for (const result of received) {
          expect(result).toEqual({ data: { stockUpdated: { productId, available: level, product: { name: 'Shared teapot', price: { amount: 3100 } } } } });
        }
      }
      await settle(300);
      expect(inventory.count() - inventoryBefore).toBe(2);
      expect(catalog.count() - catalogBefore).toBe(2);
      expect(watchers.every((watcher) => watcher.results.length === 2)).toBe(true);
    } finally {
      inventory.stop();
      catalog.stop();
      watchers.forEach((watcher) => watcher.close());
      await Promise.all(clients.map((client) => client.dispose()));
    }
  });

  it('delivers a burst over several products in the order it was published, ending with each product\'s latest level', async () => {
    const { stack } = shop;
    const prefix = stack.env.REDIS_KEY_PREFIX!;
    const products = [randomUUID(), randomUUID(), randomUUID()];
    const clients = [wsClient(stack.gatewayUrl), wsClient(stack.gatewayUrl)];
    const watchers = clients.map((client) => subscribe(client, WATCH_STOCK_LEVELS, { ids: products }));
    try {
      for (const watcher of watchers) await untilLive(watcher, prefix, stockProbe(products[0]!));
      const published = Array.from({ length: 30 }, (_, i) => ({ productId: products[i % 3]!, onHand: i + 1 }));
      for (const { productId, onHand } of published) await publishProbe(prefix, stockChange(productId, onHand));

      for (const watcher of watchers) {
        await eventually(async () => watcher.results, (results) => results.some((result) => result.data?.stockUpdated.onHand === 30));
        const levels = watcher.results.map((result) => result.data!.stockUpdated);
        // A subsequence of what was published: some may be skipped for a newer level, none comes out of order.
        const order = levels.map((level) => published.findIndex((p) => p.productId === level.productId && p.onHand === level.onHand));
        expect(order.every((index) => index >= 0)).toBe(true);
        expect(order).toEqual([...order].sort((a, b) => a - b));
        expect(new Set(order).size).toBe(order.length);
        for (const productId of products) {
          expect(levels.filter((level) => level.productId === productId).at(-1)!.onHand).toBe(Math.max(...published.filter((p) => p.productId === productId).map((p) => p.onHand)));
        }
      }
    } finally {
      watchers.forEach((watcher) => watcher.close());
      await Promise.all(clients.map((client) => client.dispose()));
    }
  });
});

describe('a subscriber\'s waiting results', () => {
  type Item = { key?: string; value: number };
  const sameProduct = (queued: Item, next: Item) => next.key !== undefined && queued.key === next.key;
  const drain = async (queue: BoundedEventQueue<Item>, count: number) => {
    const values: number[] = [];
    for (let i = 0; i < count; i += 1) values.push(((await queue.next()).value as Item).value);
    return values;
  };

  it('keep the latest level of a product, moved behind what came before it: never reordered', async () => {
    const queue = new BoundedEventQueue<Item>(10, () => undefined, sameProduct);
    for (const item of [{ key: 'a', value: 1 }, { key: 'b', value: 2 }, { key: 'a', value: 3 }, { value: 4 }, { value: 5 }, { key: 'b', value: 6 }]) queue.push(item);
    expect(await drain(queue, 4)).toEqual([3, 4, 5, 6]);
  });

  it('still cut off a subscriber past the bound', async () => {
    let overflowed = false;
    const queue = new BoundedEventQueue<Item>(2, () => (overflowed = true), sameProduct);
    for (const value of [1, 2, 3, 4]) queue.push({ key: 'a', value });
    expect(overflowed).toBe(false);
    for (const key of ['b', 'c']) queue.push({ key, value: 0 });
    expect(overflowed).toBe(true);
    expect((await queue.next()).done).toBe(true);
  });
});

describe('personal feeds are never shared between people', () => {
  const adminPhone = randomPhone();
  const shop = useStack({ ADMIN_PHONES: adminPhone });

  it('gives two people who send the very same operations only their own orders and notifications', async () => {
    const { stack, telegram } = shop;
    const prefix = stack.env.REDIS_KEY_PREFIX!;
    const admin = await login(stack, telegram, adminPhone);
    const created = await stack.gql(
      CREATE_PRODUCT_ID,
      { input: { sku: `OWN-${randomUUID().slice(0, 8)}`, name: 'Private mug', category: 'kitchen', price: { amount: 900, currency: 'EUR' } } },
      { token: admin.accessToken },
    );
    const productId = created.data!.createProduct.id;
    await stack.gql(CREATE_INVENTORY_ITEM, { input: { productId, onHand: 1000 } }, { token: admin.accessToken });
    const place = async (person: Session) => {
      const placed = await stack.gql(PLACE_ORDER_FOR_FEED, { input: { lines: [{ productId, quantity: 1 }], idempotencyKey: `feed-${randomUUID()}` } }, { token: person.accessToken });
      expect(placed.errors).toBeUndefined();
      return placed.data!.placeOrder;
    };

    const people = await Promise.all([login(stack, telegram), login(stack, telegram)]);
    type Feeds = { person: Session; clients: Client[]; orders: Subscription<any>[]; notifications: Subscription<any>[] };
    const feeds: Feeds[] = [];
    try {
      for (const person of people) {
        // An order and its notification from before: announced again, they show when a feed is live.
        const probeOrder = await place(person);
        const latest = await eventually(
          () => stack.gql(MY_LATEST_NOTIFICATION, {}, { token: person.accessToken }),
          (response) => (response.data?.myNotifications.edges.length ?? 0) > 0,
        );
        const notificationId = latest.data!.myNotifications.edges[0]!.node.id;
        const clients = [wsClient(stack.gatewayUrl, person.accessToken), wsClient(stack.gatewayUrl, person.accessToken)];
        const feed: Feeds = {
          person,
          clients,
          orders: clients.map((client) => subscribe(client, WATCH_MY_ORDERS)),
          notifications: clients.map((client) => subscribe(client, WATCH_MY_NOTIFICATIONS)),
        };
        feeds.push(feed);
        for (const orders of feed.orders) {
          await untilLive(orders, prefix, { channel: 'orderUpdated', event: { orderId: probeOrder.id, userId: person.userId }, isProbe: (r) => r.data?.orderUpdated.id === probeOrder.id });
        }
        for (const notifications of feed.notifications) {
          await untilLive(notifications, prefix, { channel: 'notificationReceived', event: { userId: person.userId, notificationId }, isProbe: (r) => r.data?.notificationReceived.id === notificationId });
        }
      }

      const orders = await Promise.all(people.map((person) => place(person)));
      for (const [index, feed] of feeds.entries()) {
        const own = orders[index]!.id;
        for (const subscription of feed.orders) {
          await eventually(async () => subscription.results, (results) => results.some((result) => result.data?.orderUpdated.id === own), 15_000);
        }
        for (const subscription of feed.notifications) {
          await eventually(async () => subscription.results, (results) => results.some((result) => result.data?.notificationReceived.orderId === own), 15_000);
        }
      }
      await settle(500); // anything misrouted would have arrived by now

      for (const [index, feed] of feeds.entries()) {
        const theirs = orders[1 - index]!.id;
        for (const subscription of feed.orders) {
          expect(subscription.results.every((result) => !result.errors && result.data!.orderUpdated.user.id === feed.person.userId)).toBe(true);
          expect(subscription.results.some((result) => result.data!.orderUpdated.id === theirs)).toBe(false);
        }
        for (const subscription of feed.notifications) {
          expect(subscription.results.every((result) => !result.errors)).toBe(true);
          expect(subscription.results.some((result) => result.data!.notificationReceived.orderId === theirs)).toBe(false);
        }
      }
    } finally {
      for (const feed of feeds) {
        [...feed.orders, ...feed.notifications].forEach((subscription) => subscription.close());
        await Promise.all(feed.clients.map((client) => client.dispose()));
      }
    }
  });
});
