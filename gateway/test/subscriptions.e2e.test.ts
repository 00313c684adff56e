import WebSocket from 'ws';
import { gql } from '../../generated/graphql/gateway';
import { useStack, type Stack } from '../../test/support/stack';
import { login, randomPhone, type Session } from '../../test/support/login';
import { firstErrorCode } from '../../test/support/graphql';
import { ADJUST_STOCK, createStockedProduct } from '../../test/support/operations';
import { stockProbe, subscribe, untilLive, wsClient } from '../../test/support/subscriptions';
import { startGateway, type GatewayServer } from '../src/app';
import { loadGatewayConfig } from '../src/config';
import type { FakeTelegram } from '../../test/support/fake-telegram';
import { eventually } from '../../test/support/eventually';
import { useFileDatabase } from '../../test/support/database';

const STOCK_UPDATED = gql(`
  subscription WatchLiveStock($ids: [ID!], $currency: Boolean!) {
    live: stockUpdated(productIds: $ids) {
      productId onHand reserved available at
      product { name price { amount currency @include(if: $currency) } ...LiveStockSku }
    }
  }
  fragment LiveStockSku on Product { sku }
`);
const EVERY_STOCK_UPDATE = gql(`subscription WatchEveryStockUpdate { stockUpdated { productId onHand } }`);

describe('live stock over websockets', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone });
  let stack: Stack;
  let telegram: FakeTelegram;
  let admin: Session;

  const prisma = useFileDatabase({ max: 1 });

  beforeAll(async () => {
    ({ stack, telegram } = ctx);
    admin = await login(stack, telegram, adminPhone);
  });
  const adjust = (productId: string, delta: number) => stack.gql(ADJUST_STOCK, { productId, delta, reason: 'live test' }, { token: admin.accessToken });

  async function newProduct(name: string, onHand: number): Promise<string> {
    const id = await createStockedProduct(stack, admin.accessToken, { skuPrefix: 'LIVE', name, category: 'live', price: { amount: 1999, currency: 'EUR' }, onHand });
    // Its creation's stock event goes out through the inventory's outbox: once it is out, it can never
    // reach a subscription the test opens afterwards and pass for one of the changes the test makes.
    await eventually(() => prisma.inventoryOutboxEvent.count({ where: { publishedAt: null, payload: { path: ['productId'], equals: id } } }), (unpublished) => unpublished === 0);
    return id;
  }

  it('shows an admin\'s stock change to a subscriber, with the product\'s name and price from the catalog', async () => {
    const productId = await newProduct('Walnut desk lamp', 5);
    const client = wsClient(stack.gatewayUrl);
    const watch = subscribe(client, STOCK_UPDATED, { ids: [productId], currency: true });
    try {
      await untilLive(watch, stack.env.REDIS_KEY_PREFIX!, stockProbe(productId));
      await adjust(productId, 3);
      const result = await watch.next();
      expect(result.errors).toBeUndefined();
      expect(result.data).toEqual({
        live: {
          productId,
          onHand: 8,
          reserved: 0,
          available: 8,
          at: expect.any(String),
          product: { name: 'Walnut desk lamp', price: { amount: 1999, currency: 'EUR' }, sku: expect.stringMatching(/^LIVE-/) },
        },
      });
    } finally {
      watch.close();
      await client.dispose();
    }
  });

  it('sends only the products asked for, and every product when none are named', async () => {
    const watched = await newProduct('Oak shelf', 1);
    const other = await newProduct('Pine shelf', 1);
    const client = wsClient(stack.gatewayUrl, admin.accessToken);
    const onlyWatched = subscribe(client, STOCK_UPDATED, { ids: [watched], currency: false });
    // onHand too: it sets the probes apart.
    const everything = subscribe(client, EVERY_STOCK_UPDATE);
    try {
      // Each one is live, not only the gateway's Redis subscription (which the first one opened).
      await untilLive(onlyWatched, stack.env.REDIS_KEY_PREFIX!, stockProbe(watched));
      await untilLive(everything, stack.env.REDIS_KEY_PREFIX!, stockProbe(other));
      await adjust(other, 1);
      await adjust(watched, 2);
      expect((await onlyWatched.next()).data!.live.productId).toBe(watched);
      const seen = [(await everything.next()).data!.stockUpdated.productId, (await everything.next()).data!.stockUpdated.productId];
      expect(seen).toEqual([other, watched]);
      expect(onlyWatched.results).toHaveLength(1);
      expect(everything.results).toHaveLength(2);
      expect(onlyWatched.results[0]!.data!.live.product!.price).toEqual({ amount: 1999 });
    } finally {
      onlyWatched.close();
      everything.close();
      await client.dispose();
    }
  });

  it('reaches a subscriber on another gateway process', async () => {
    const second: GatewayServer = await startGateway(
      loadGatewayConfig({ ...stack.env, AUTH_URL: stack.urls.auth, CATALOG_URL: stack.urls.catalog, INVENTORY_URL: stack.urls.inventory, ORDER_URL: stack.urls.order, NOTIFICATION_URL: stack.urls.notification }),
    );
    const productId = await newProduct('Brass door handle', 10);
    const client = wsClient(second.url);
    const watch = subscribe(client, STOCK_UPDATED, { ids: [productId], currency: false });
    try {
      await untilLive(watch, stack.env.REDIS_KEY_PREFIX!, stockProbe(productId));
      await adjust(productId, -4); // through the first gateway
      expect((await watch.next()).data!.live).toMatchObject({ productId, onHand: 6, product: { name: 'Brass door handle' } });
    } finally {
      watch.close();
      await client.dispose();
      await second.stop();
    }
  });

  it('closes the socket with 4403 when connection_init carries a bad token', async () => {
    const socket = new WebSocket(stack.gatewayUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer not-a-token' } })));
    expect(await closed).toBe(4403);
  });

  it('closes the socket with 4403 for a refresh token too', async () => {
    const socket = new WebSocket(stack.gatewayUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${admin.refreshToken}` } })));
    expect(await closed).toBe(4403);
  });

  it('keeps the gateway\'s event field away from clients', async () => {
    const response = await stack.gql(`query { _stockUpdateFromEvent(event: "{}") { productId } }`, {}, { token: admin.accessToken });
    expect(firstErrorCode(response)).toBe('FORBIDDEN');
    const hidden = await stack.gql(`query { ... on Query { _stockUpdateFromEvent(event: "{}") { productId } } }`);
    expect(firstErrorCode(hidden)).toBe('FORBIDDEN');
  });

  it('answers a subscription to an unknown field with an error, not a dropped socket', async () => {
    const client = wsClient(stack.gatewayUrl);
    const watch = subscribe(client, `subscription { nope { id } }`);
    try {
      const error = (await watch.error) as Array<{ message: string }>;
      expect(error[0]!.message).toMatch(/nope/);
    } finally {
      watch.close();
      await client.dispose();
    }
  });
});
