import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { startStack, type Stack } from '../../../test/support/stack';
import { FakeTelegram } from '../../../test/support/fake-telegram';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { graphql } from '../../../test/support/graphql';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy';
import { createPrisma, type PrismaClient } from '../../../kernel/src/prisma';
import { streamKey } from '../../../kernel/src/events/envelope';
import { startCatalogService } from '../src/app';
import { loadCatalogConfig } from '../src/config';

const CREATE_PRODUCT = /* GraphQL */ `mutation($input: CreateProductInput!) { createProduct(input: $input) { id inStock } }`;
const CREATE_ITEM = /* GraphQL */ `mutation($input: CreateInventoryItemInput!) { createInventoryItem(input: $input) { productId } }`;
const ADJUST = /* GraphQL */ `mutation($id: ID!, $delta: Int!) { adjustStock(productId: $id, delta: $delta, reason: "projection test") { available } }`;
const IN_STOCK = /* GraphQL */ `query($id: ID!) { product(id: $id) { inStock } }`;

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
  let admin: Session;
  let prisma: PrismaClient;
  let redis: Redis;

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    proxy = await startTcpProxy();
    // The inventory reaches Redis through a proxy the tests can unplug.
    stack = await startStack({ telegram, env: { ADMIN_PHONES: adminPhone }, serviceEnv: { inventory: { REDIS_URL: proxy.url } } });
    admin = await login(stack, telegram, adminPhone);
    prisma = createPrisma(process.env.DATABASE_URL!);
    redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  });
  afterAll(async () => {
    await stack?.stop();
    await proxy?.close();
    await telegram?.close();
    await prisma?.$disconnect();
    redis?.disconnect();
  });

  const asAdmin = (query: string, variables: Record<string, unknown>) => stack.gql(query, variables, { token: admin.accessToken });
  const inStock = (id: string, url = stack.gatewayUrl) => graphql(url, IN_STOCK, { id }).then((r) => r.data?.product?.inStock as boolean | undefined);

  async function newProduct(): Promise<string> {
    const created = await asAdmin(CREATE_PRODUCT, {
      input: { sku: `PROJ-${randomUUID().slice(0, 8)}`, name: 'Projection test kettle', category: `projection-${randomUUID().slice(0, 6)}`, price: { amount: 2500 } },
    });
    expect(created.data!.createProduct.inStock).toBe(false);
    return created.data!.createProduct.id;
  }

  it('follows stock in and out', async () => {
    const id = await newProduct();
    await asAdmin(CREATE_ITEM, { input: { productId: id, onHand: 2 } });
    await eventually(() => inStock(id), true);
    await asAdmin(ADJUST, { id, delta: -2 });
    await eventually(() => inStock(id), false);
  });

  it('publishes a change committed while Redis was unreachable once it is back, exactly once', async () => {
    const id = await newProduct();
    await asAdmin(CREATE_ITEM, { input: { productId: id, onHand: 0 } });
    proxy.block();
    try {
      expect((await asAdmin(ADJUST, { id, delta: 7 })).data!.adjustStock.available).toBe(7);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const pending = await prisma.inventoryOutboxEvent.findMany({ where: { publishedAt: null, payload: { path: ['productId'], equals: id } } });
      expect(pending.length).toBeGreaterThanOrEqual(1);
      expect(await inStock(id)).toBe(false);
    } finally {
      proxy.unblock();
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
    await asAdmin(CREATE_ITEM, { input: { productId: streamed, onHand: 0 } });
    await asAdmin(CREATE_ITEM, { input: { productId: lost, onHand: 0 } });

    await stack.servers.catalog.stop();
    // While the catalog is down: one change goes through the events as usual...
    await asAdmin(ADJUST, { id: streamed, delta: 3 });
    // ...and one is written with its event lost (as if the stream had been trimmed or Redis flushed).
    await prisma.$executeRaw`UPDATE "inventory"."inventory_items" SET "on_hand" = 4, "version" = "version" + 1 WHERE "product_id" = ${lost}::uuid`;

    const catalog = await startCatalogService(loadCatalogConfig({ ...stack.env, INVENTORY_URL: stack.urls.inventory }));
    try {
      await eventually(() => inStock(streamed, catalog.url), true);
      await eventually(() => inStock(lost, catalog.url), true);
    } finally {
      await catalog.stop();
    }
  });
});
