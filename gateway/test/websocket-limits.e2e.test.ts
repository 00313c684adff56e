import Redis from 'ioredis';
import { gql } from '../../generated/graphql/gateway';
import { useStack } from '../../test/support/stack';
import { login, randomPhone, type Session } from '../../test/support/login';
import { ADJUST_STOCK, PRODUCT_TOTAL, createStockedProduct } from '../../test/support/operations';
import { rawSocket, stockProbe, subscribe, untilLive, wsClient } from '../../test/support/subscriptions';
import { liveChannel } from '../../kernel/src/events/envelope';

describe('websocket limits', () => {
  const adminPhone = randomPhone();
  const shop = useStack(
    { ADMIN_PHONES: adminPhone },
    { serviceEnv: { gateway: { WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '3', WS_MAX_QUEUED_EVENTS: '5', WS_MAX_SOCKETS_PER_ADDRESS: '8' } } },
  );
  let admin: Session;
  let productId: string;

  beforeAll(async () => {
    admin = await login(shop.stack, shop.telegram, adminPhone);
    productId = await createStockedProduct(shop.stack, admin.accessToken, {
      skuPrefix: 'WS', name: 'Busy kettle', category: 'kitchen', price: { amount: 2500, currency: 'EUR' }, onHand: 10,
    });
  });

  it('closes the socket (1009) on a message larger than an HTTP body may be, before the gateway buffers it', async () => {
    const client = rawSocket(shop.stack.gatewayUrl);
    await client.init();
    client.send({ id: '1', type: 'subscribe', payload: { query: `subscription { stockUpdated { productId } } # ${'x'.repeat(200_000)}` } });
    expect((await client.closed).code).toBe(1009);
    // The gateway is fine: the next client is served.
    expect((await shop.stack.gql(PRODUCT_TOTAL)).errors).toBeUndefined();
  });

  it('allows a bounded number of operations on one socket', async () => {
    const client = rawSocket(shop.stack.gatewayUrl);
    await client.init();
    for (const id of ['1', '2', '3']) client.send({ id, type: 'subscribe', payload: { query: 'subscription { stockUpdated { productId } }' } });
    client.send({ id: '4', type: 'subscribe', payload: { query: 'subscription { stockUpdated { productId } }' } });
    const refusal = await client.waitFor((m) => m.id === '4' && m.type === 'error');
    expect(refusal.payload).toEqual([{ message: expect.stringMatching(/at most 3/), extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: 3 } }]);
    // The three accepted ones are untouched, and completing one makes room for another: it gets events.
    client.send({ id: '1', type: 'complete' });
    client.send({ id: '5', type: 'subscribe', payload: { query: 'subscription { stockUpdated { productId } }' } });
    await client.untilLive('5', shop.stack.env.REDIS_KEY_PREFIX!, stockProbe(productId));
    await client.untilLive('2', shop.stack.env.REDIS_KEY_PREFIX!, stockProbe(productId));
    await client.untilLive('3', shop.stack.env.REDIS_KEY_PREFIX!, stockProbe(productId));
    expect(client.messages.filter((m) => m.type === 'error').map((m) => m.id)).toEqual(['4']);
    client.socket.close();
  });

  it('disconnects a subscriber that lets events pile up (1013) instead of growing the gateway\'s memory', async () => {
    const slow = rawSocket(shop.stack.gatewayUrl);
    await slow.init();
    slow.send({ id: '1', type: 'subscribe', payload: { query: `subscription { stockUpdated(productIds: ["${productId}"]) { productId onHand product { name } } }` } });
    await slow.untilLive('1', shop.stack.env.REDIS_KEY_PREFIX!, stockProbe(productId));
    // A burst far faster than the gateway can resolve each event through the subgraphs (5 may wait).
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      const channel = liveChannel(shop.stack.env.REDIS_KEY_PREFIX!, 'stockUpdated');
      const pipeline = redis.pipeline();
      for (let version = 1; version <= 200; version += 1) {
        pipeline.publish(channel, JSON.stringify({ productId, onHand: version, reserved: 0, available: version, lowStockThreshold: 0, version, at: new Date().toISOString() }));
      }
      await pipeline.exec();
    } finally {
      redis.disconnect();
    }
    expect((await slow.closed).code).toBe(1013);
    expect(slow.messages.filter((m) => m.type === 'next').length).toBeLessThan(200);

    // Another subscriber of the same product, reading at its own pace, still gets the next change.
    const client = wsClient(shop.stack.gatewayUrl);
    const watch = subscribe(client, gql(`subscription WatchOnHandOfOne($id: ID!) { stockUpdated(productIds: [$id]) { onHand } }`), { id: productId });
    try {
      await untilLive(watch, shop.stack.env.REDIS_KEY_PREFIX!, stockProbe(productId));
      await shop.stack.gql(ADJUST_STOCK, { productId, delta: 1, reason: 'after the burst' }, { token: admin.accessToken });
      expect((await watch.next()).data).toEqual({ stockUpdated: { onHand: 11 } });
    } finally {
      watch.close();
      await client.dispose();
    }
  });

  it('bounds open sockets per client address, with room again once one closes', async () => {
    const sockets = Array.from({ length: 8 }, () => rawSocket(shop.stack.gatewayUrl));
    await Promise.all(sockets.map((s) => s.opened));
    const ninth = rawSocket(shop.stack.gatewayUrl);
    expect(await ninth.refused).toBe(429);
    sockets[0]!.socket.close();
    await sockets[0]!.closed;
    const again = rawSocket(shop.stack.gatewayUrl);
    await again.opened;
    for (const s of [...sockets.slice(1), again]) s.socket.close();
    await Promise.all([...sockets.slice(1), again].map((s) => s.closed));
  });
});

describe('websocket sockets per address by default', () => {
  const shop = useStack();

  it('lets a few hundred clients behind one NAT address connect', async () => {
    const sockets = Array.from({ length: 300 }, () => rawSocket(shop.stack.gatewayUrl));
    await Promise.all(sockets.map((s) => s.opened));
    sockets.forEach((s) => s.socket.close());
    await Promise.all(sockets.map((s) => s.closed));
  });
});
