import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { gql } from '../../generated/graphql/gateway';
import { useStack } from '../../test/support/stack';
import { login, randomPhone, shortLivedAccessToken, type Session } from '../../test/support/login';
import { ADJUST_STOCK, createStockedProduct } from '../../test/support/operations';
import { rawSocket, stockProbe, subscribe, untilLive, wsClient } from '../../test/support/subscriptions';

const WATCH = gql(`
  subscription WatchStockWithProduct($ids: [ID!]) { stockUpdated(productIds: $ids) { productId onHand product { name price { amount } } } }
`);

describe('subscriptions last exactly as long as they should', () => {
  const adminPhone = randomPhone();
  // Internal tokens (gateway -> subgraph) live 2 s here instead of 60 s.
  const shop = useStack({ ADMIN_PHONES: adminPhone, INTERNAL_TOKEN_TTL_SECONDS: '2' });
  let admin: Session;
  let productId: string;

  beforeAll(async () => {
    admin = await login(shop.stack, shop.telegram, adminPhone);
    productId = await createStockedProduct(shop.stack, admin.accessToken, {
      skuPrefix: 'LIFE', name: 'Long-lived lamp', category: 'lamps', price: { amount: 4500, currency: 'EUR' }, onHand: 10,
    });
  });

  it('keeps delivering events with federated fields to a subscriber connected past the internal token\'s lifetime', async () => {
    const client = wsClient(shop.stack.gatewayUrl, admin.accessToken);
    const watch = subscribe(client, WATCH, { ids: [productId] });
    try {
      await untilLive(watch, shop.stack.env.REDIS_KEY_PREFIX!, stockProbe(productId));
      await shop.stack.gql(ADJUST_STOCK, { productId, delta: 1, reason: 'lifetime test' }, { token: admin.accessToken });
      const first = await watch.next();
      expect(first.errors).toBeUndefined();
      expect(first.data!.stockUpdated).toMatchObject({ onHand: 11, product: { name: 'Long-lived lamp' } });

      // Well past the 2 s lifetime of any internal token the socket could have been given at the start.
      await new Promise((resolve) => setTimeout(resolve, 4500));
      await shop.stack.gql(ADJUST_STOCK, { productId, delta: 1, reason: 'lifetime test' }, { token: admin.accessToken });
      const later = await watch.next();
      expect(later.errors).toBeUndefined();
      expect(later.data!.stockUpdated).toMatchObject({ onHand: 12, product: { name: 'Long-lived lamp', price: { amount: 4500 } } });
    } finally {
      watch.close();
      await client.dispose();
    }
  });

  it('closes a socket with 4401 when the access token that opened it expires', async () => {
    // Long enough to open the socket with it on a busy machine (whole seconds: it may expire up to 1 s early).
    const token = await shortLivedAccessToken(admin.userId, 4);
    const subscriber = rawSocket(shop.stack.gatewayUrl);
    await subscriber.init({ authorization: `Bearer ${token}` });
    subscriber.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { notificationReceived { title } }' } });
    const { code, reason, at } = await subscriber.closed;
    expect(code).toBe(4401);
    expect(reason).toMatch(/expired/);
    // Not before the token's own expiry.
    expect(at).toBeGreaterThanOrEqual(decodeJwt(token).exp! * 1000);
    expect(subscriber.messages.filter((m) => m.type === 'error')).toEqual([]);
  });

  it('refuses a socket whose token has already expired (4403), as it refuses any bad token', async () => {
    const token = await shortLivedAccessToken(admin.userId, -5);
    const subscriber = rawSocket(shop.stack.gatewayUrl);
    await subscriber.opened;
    subscriber.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
    expect((await subscriber.closed).code).toBe(4403);
  });
});
