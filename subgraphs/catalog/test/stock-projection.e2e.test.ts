import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { startStack, type Stack } from '../../../test/support/stack';
import { FakeTelegram } from '../../../test/support/fake-telegram';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { graphql, type Operation } from '../../../test/support/graphql';
import { ADJUST_STOCK, CREATE_INVENTORY_ITEM, PRODUCT_IN_STOCK } from '../../../test/support/operations';
import { gql } from '../../../generated/graphql/gateway';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy';
import { useFileDatabase } from '../../../test/support/database';
import type { RunningServer } from '../../../kernel/src/server';
import { streamKey } from '../../../kernel/src/events/envelope';
import { startCatalogService } from '../src/app';
import { loadCatalogConfig } from '../src/config';

const CREATE_PRODUCT = gql(`mutation CreateProductIdAndInStock($input: CreateProductInput!) { createProduct(input: $input) { id inStock } }`);
const DELETE_ITEM = gql(`mutation DeleteInventoryItemOfProduct($id: ID!) { deleteInventoryItem(productId: $id) }`);

async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (JSON.stringify(last) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    last = await read();
  }
  expect(last).toEqual(expected);
}

describe('the catalog\'s inStock is projected from the inventory\'s events', () => {
  const adminPhone = randomPhone();
  let telegram: FakeTelegram;
  let proxy: TcpProxy;
  let stack: Stack;
  /** The stack's catalog, or the one that replaced it after a restart (on the same port, so the gateway reaches it). */
  let catalog: RunningServer;
  let admin: Session;
  const prisma = useFileDatabase();
  let redis: Redis;

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    proxy = await startTcpProxy();
    // The inventory reaches Redis through a proxy the tests can unplug.
    stack = await startStack({ telegram, env: { ADMIN_PHONES: adminPhone }, serviceEnv: { inventory: { REDIS_URL: proxy.url } } });
    catalog = stack.servers.catalog;
    admin = await login(stack, telegram, adminPhone);
    redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  });
  afterAll(async () => {
    if (catalog !== stack?.servers.catalog) await catalog?.stop();
    await stack?.stop();
    await proxy?.close();
    await telegram?.close();
    redis?.disconnect();
  });

  const asAdmin = <T, V>(query: Operation<T, V>, variables: V) => stack.gql(query, variables, { token: admin.accessToken });
  const adjust = (productId: string, delta: number) => asAdmin(ADJUST_STOCK, { productId, delta, reason: 'projection test' });
  const inStock = (id: string, url = stack.gatewayUrl) => graphql(url, PRODUCT_IN_STOCK, { id }).then((r) => r.data?.product?.inStock);

  async function newProduct(): Promise<string> {
    const created = await asAdmin(CREATE_PRODUCT, {
      input: { sku: `PROJ-${randomUUID().slice(0, 8)}`, name: 'Projection test kettle', category: `projection-${randomUUID().slice(0, 6)}`, price: { amount: 2500 } },
    });
    expect(created.data!.createProduct.inStock).toBe(false);
    return created.data!.createProduct.id;
  }

  /** Stops the catalog, does `meanwhile`, and starts it again: it catches up from the stream and resyncs at start. */
  async function restartCatalog(meanwhile: () => Promise<void>): Promise<void> {
    await catalog.stop();
    await meanwhile();
    catalog = await startCatalogService(loadCatalogConfig({ ...stack.env, INVENTORY_URL: stack.urls.inventory }));
  }

  const outboxEventIds = async (productId: string) =>
    (await prisma.inventoryOutboxEvent.findMany({ where: { payload: { path: ['productId'], equals: productId } }, select: { id: true } })).map((e) => e.id);

  /** Waits for the relay to publish the events, then deletes them from the stream before any consumer reads them. */
  async function loseEvents(ids: string[]): Promise<void> {
    await eventually(() => prisma.inventoryOutboxEvent.count({ where: { id: { in: ids }, publishedAt: null } }), 0);
    const key = streamKey(stack.env.REDIS_KEY_PREFIX!, 'inventory');
    const entries = await redis.xrange(key, '-', '+');
    const lost = entries.filter(([, fields]) => ids.includes(JSON.parse(fields[1]!).id as string)).map(([entryId]) => entryId);
    expect(lost).toHaveLength(ids.length);
    expect(await redis.xdel(key, ...lost)).toBe(ids.length);
  }

  /** An item whose many changes took its versions well past where a new item's start, then deleted. */
  async function productWithDeletedItem(): Promise<string> {
    const id = await newProduct();
    await asAdmin(CREATE_INVENTORY_ITEM, { input: { productId: id, onHand: 2 } });
    for (const delta of [1, 1, 1, -4, 4]) await adjust(id, delta);
    await eventually(() => inStock(id), true);
    expect((await asAdmin(DELETE_ITEM, { id })).data).toEqual({ deleteInventoryItem: true });
    await eventually(() => inStock(id), false);
    return id;
  }

  it('follows stock in and out', async () => {
    const id = await newProduct();
    await asAdmin(CREATE_INVENTORY_ITEM, { input: { productId: id, onHand: 2 } });
    await eventually(() => inStock(id), true);
    await adjust(id, -2);
    await eventually(() => inStock(id), false);
  });

  it('is in stock again once a deleted item is created again, and follows the new item', async () => {
    const id = await productWithDeletedItem();
    await asAdmin(CREATE_INVENTORY_ITEM, { input: { productId: id, onHand: 3 } });
    await eventually(() => inStock(id), true);
    await adjust(id, -3);
    await eventually(() => inStock(id), false);
  });

  it('is repaired by the resync alone when the events of a recreated item were lost', async () => {
    const id = await productWithDeletedItem();
    await restartCatalog(async () => {
      const before = await outboxEventIds(id);
      await asAdmin(CREATE_INVENTORY_ITEM, { input: { productId: id, onHand: 3 } });
      await loseEvents((await outboxEventIds(id)).filter((e) => !before.includes(e)));
    });
    await eventually(() => inStock(id), true);
  });

  it('publishes a change committed while Redis was unreachable once it is back, exactly once', async () => {
    const id = await newProduct();
    await asAdmin(CREATE_INVENTORY_ITEM, { input: { productId: id, onHand: 0 } });
    // The item's own event is out before the outage, so the one held back is exactly the adjustment's.
    const unpublished = () => prisma.inventoryOutboxEvent.findMany({ where: { publishedAt: null, payload: { path: ['productId'], equals: id } } });
    await eventually(async () => (await unpublished()).length, 0);
    proxy.block();
    try {
      expect((await adjust(id, 7)).data!.adjustStock.available).toBe(7);
      // An absence can only be watched for a while: 1.5 s, in which the relay retries several times.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await unpublished()).toHaveLength(1);
      expect(await inStock(id)).toBe(false);
    } finally {
      await proxy.unblock();
    }
    await eventually(() => inStock(id), true, 15_000);
    const events = await prisma.inventoryOutboxEvent.findMany({ where: { payload: { path: ['productId'], equals: id } } });
    expect(events.every((e) => e.publishedAt !== null)).toBe(true);
    const entries = await redis.xrange(streamKey(stack.env.REDIS_KEY_PREFIX!, 'inventory'), '-', '+');
    const published = entries.filter(([, fields]) => fields[1]!.includes(id)).map(([, fields]) => JSON.parse(fields[1]!).id as string);
    expect(published.sort()).toEqual(events.map((e) => e.id).sort());
  });

  it('catches up after a restart, from the stream and by a resync that repairs a lost event', async () => {
    const streamed = await newProduct();
    const lost = await newProduct();
    await asAdmin(CREATE_INVENTORY_ITEM, { input: { productId: streamed, onHand: 0 } });
    await asAdmin(CREATE_INVENTORY_ITEM, { input: { productId: lost, onHand: 0 } });

    await restartCatalog(async () => {
      // While the catalog is down: one change goes through the events as usual...
      await adjust(streamed, 3);
      // ...and one is written with its event lost (as if the stream had been trimmed or Redis flushed).
      await prisma.$executeRaw`UPDATE "inventory"."inventory_items" SET "on_hand" = 4, "version" = nextval('"inventory".inventory_items_version_seq') WHERE "product_id" = ${lost}::uuid`;
    });
    await eventually(() => inStock(streamed, catalog.url), true);
    await eventually(() => inStock(lost, catalog.url), true);
  });
});
