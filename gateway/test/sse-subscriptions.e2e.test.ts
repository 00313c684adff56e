import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { gql } from '../../generated/graphql/gateway';
import { useStack } from '../../test/support/stack';
import { login, randomPhone, shortLivedAccessToken, type Session } from '../../test/support/login';
import { CREATE_PRODUCT_ID } from '../../test/support/operations';
import { publishProbe, sseClient, stockChange, stockProbe, subscribe, untilLive, wsClient } from '../../test/support/subscriptions';

const WATCH_OVER_ANY_TRANSPORT = gql(`
  subscription WatchOverAnyTransport($ids: [ID!]) { stockUpdated(productIds: $ids) { productId available product { name } } }
`);
const WATCH_MY_ORDERS_OVER_SSE = gql(`subscription WatchMyOrdersOverSse { orderUpdated { id } }`);

/** Opens an event stream by hand, as a client without graphql-sse would. */
function openStream(url: string, query: string, headers: Record<string, string> = {}) {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers }, body: JSON.stringify({ query }) });
}

describe('subscriptions over server-sent events at /graphql', () => {
  const adminPhone = randomPhone();
  const shop = useStack({ ADMIN_PHONES: adminPhone }, { serviceEnv: { gateway: { WS_MAX_SOCKETS_PER_ADDRESS: '4' } } });
  let admin: Session;

  beforeAll(async () => {
    admin = await login(shop.stack, shop.telegram, adminPhone);
  });

  it('gives an event-stream subscriber the same events as a websocket one, from one execution each', async () => {
    const { stack } = shop;
    const prefix = stack.env.REDIS_KEY_PREFIX!;
    const created = await stack.gql(
      CREATE_PRODUCT_ID,
      { input: { sku: `SSE-${randomUUID().slice(0, 8)}`, name: 'Streamed kettle', category: 'kitchen', price: { amount: 2100, currency: 'EUR' } } },
      { token: admin.accessToken },
    );
    const productId = created.data!.createProduct.id;
    const overSse = sseClient(stack.gatewayUrl, admin.accessToken);
    const overWs = wsClient(stack.gatewayUrl);
    const streamed = subscribe(overSse, WATCH_OVER_ANY_TRANSPORT, { ids: [productId] });
    const socketed = subscribe(overWs, WATCH_OVER_ANY_TRANSPORT, { ids: [productId] });
    let executions = 0;
    const count = (req: { method?: string }) => void (req.method === 'POST' && (executions += 1));
    try {
      await untilLive(streamed, prefix, stockProbe(productId));
      await untilLive(socketed, prefix, stockProbe(productId));
      await new Promise((resolve) => setTimeout(resolve, 500)); // the last probes resolved before counting
      stack.servers.inventory.httpServer.on('request', count);
      for (const available of [4, 3]) await publishProbe(prefix, stockChange(productId, available));
      const expected = (available: number) => ({ data: { stockUpdated: { productId, available, product: { name: 'Streamed kettle' } } } });
      expect([await streamed.next(), await streamed.next()]).toEqual([expected(4), expected(3)]);
      expect([await socketed.next(), await socketed.next()]).toEqual([expected(4), expected(3)]);
      expect(executions).toBe(2);
    } finally {
      stack.servers.inventory.httpServer.off('request', count);
      streamed.close();
      socketed.close();
      overSse.dispose();
      await overWs.dispose();
    }
  });

  it('refuses a bad token with 401 and a personal feed to an anonymous stream, as websockets do', async () => {
    const { stack } = shop;
    const badToken = await openStream(stack.gatewayUrl, 'subscription { orderUpdated { id } }', { authorization: 'Bearer not-a-token' });
    expect(badToken.status).toBe(401);
    expect(((await badToken.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('UNAUTHENTICATED');

    const anonymous = sseClient(stack.gatewayUrl);
    const refused = subscribe(anonymous, WATCH_MY_ORDERS_OVER_SSE);
    try {
      expect((await refused.next()).errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
    } finally {
      refused.close();
      anonymous.dispose();
    }
  });

  it('ends a stream when the access token that opened it expires', async () => {
    // Long enough to open the stream on a busy machine (whole seconds: it may expire up to 1 s early).
    const token = await shortLivedAccessToken(admin.userId, 3);
    const response = await openStream(shop.stack.gatewayUrl, 'subscription { notificationReceived { title } }', { authorization: `Bearer ${token}` });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    while (!(await reader.read()).done);
    expect(Date.now()).toBeGreaterThanOrEqual(decodeJwt(token).exp! * 1000);
  });

  it('counts event streams with websockets against the open connections an address may hold', async () => {
    const { stack } = shop;
    const query = 'subscription { stockUpdated { productId } }';
    const streams = await Promise.all([openStream(stack.gatewayUrl, query), openStream(stack.gatewayUrl, query)]);
    const sockets = [wsClient(stack.gatewayUrl), wsClient(stack.gatewayUrl)];
    const watches = sockets.map((client) => subscribe(client, `subscription { stockUpdated { productId onHand } }`));
    try {
      expect(streams.map((response) => response.status)).toEqual([200, 200]);
      for (const watch of watches) await untilLive(watch, stack.env.REDIS_KEY_PREFIX!, stockProbe(randomUUID()));
      const fifth = await openStream(stack.gatewayUrl, query);
      expect(fifth.status).toBe(429);
      expect(((await fifth.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('RATE_LIMITED');
      // Closing a stream makes room again.
      await streams[0]!.body!.cancel();
      const again = await (async () => {
        for (let attempt = 0; attempt < 50; attempt += 1) {
          const response = await openStream(stack.gatewayUrl, query);
          if (response.status !== 429) return response;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        throw new Error('no room after a stream closed');
      })();
      expect(again.status).toBe(200);
      await again.body!.cancel();
    } finally {
      await streams[1]!.body!.cancel();
      watches.forEach((watch) => watch.close());
      await Promise.all(sockets.map((client) => client.dispose()));
    }
  });
});
