import { randomUUID } from 'node:crypto';
import { gql } from '../generated/graphql/gateway';
import { useStack, type Stack, type SubgraphName } from './support/stack';
import { bindTelegram, login, randomPhone, REQUEST_OTP, VERIFY_OTP, type Session } from './support/login';
import { createStockedProduct } from './support/operations';
import { eventually } from './support/eventually';
import { firstErrorCode } from './support/graphql';
import { subscribe, untilLive, stockProbe, wsClient } from './support/subscriptions';
import type { FakeTelegram } from './support/fake-telegram';

const METRICS_TOKEN = `metrics-${randomUUID()}`;

const MY_ID = gql(`query MetricsMyId { me { id } }`);
const PRODUCT = gql(`query MetricsProduct($id: ID!) { product(id: $id) { id name inStock stock { available } } }`);
const PLACE_ORDER = gql(`mutation MetricsPlaceOrder($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }`);
const STOCK_UPDATES = gql(`subscription MetricsStock($ids: [ID!]!) { stockUpdated(productIds: $ids) { productId available } }`);

/** One scrape of a /metrics endpoint: its families, and the samples' values. */
class Scrape {
  private readonly samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];

  constructor(readonly text: string) {
    for (const line of text.split('\n')) {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
      if (!match) continue;
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k!, v!]));
      this.samples.push({ name: match[1]!, labels, value: Number(match[3]) });
    }
  }

  /** Whether the family is exposed (a labelled one may have no sample yet). */
  has(family: string): boolean {
    return new RegExp(`^# TYPE ${family} `, 'm').test(this.text);
  }

  /** The sum of the samples named `name` whose labels include `labels`; 0 when there is none. */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.samples
      .filter((sample) => sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v))
      .reduce((sum, sample) => sum + sample.value, 0);
  }

  /** Whether a sample named `name` with these labels is there (a gauge read on scrape, say). */
  sampled(name: string, labels: Record<string, string> = {}): boolean {
    return this.samples.some((sample) => sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v));
  }
}

describe('metrics', () => {
  const adminPhone = randomPhone();
  // Every process behind the token; the gateway's on a port of its own.
  const ctx = useStack({ ADMIN_PHONES: adminPhone, METRICS_TOKEN }, { serviceEnv: { gateway: { METRICS_PORT: '0' } } });
  let stack: Stack;
  let telegram: FakeTelegram;
  let admin: Session;

  const scrape = async (service: SubgraphName | 'gateway'): Promise<Scrape> => {
    const response = await fetch(stack.metricsUrls[service], { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).toBe(200);
    return new Scrape(await response.text());
  };

  beforeAll(async () => {
    ({ stack, telegram } = ctx);
    admin = await login(stack, telegram, adminPhone);
  }, 60_000);

  it('is served by every process, only to the bearer of METRICS_TOKEN', async () => {
    for (const service of ['gateway', 'auth', 'catalog', 'inventory', 'order', 'notification'] as const) {
      const url = stack.metricsUrls[service];
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: 'Bearer not-the-token' } })).status).toBe(401);
      const response = await fetch(url, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const metrics = new Scrape(await response.text());
      for (const family of ['process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds', 'shop_graphql_requests_total', 'shop_graphql_request_duration_seconds', 'shop_graphql_errors_total']) {
        expect([service, family, metrics.has(family)]).toEqual([service, family, true]);
      }
      if (service !== 'gateway') {
        expect(metrics.sampled('shop_db_pool_connections', { pool: 'main', state: 'idle' })).toBe(true);
        expect(metrics.sampled('shop_db_pool_waiting', { pool: 'main' })).toBe(true);
        expect(metrics.value('shop_db_pool_max', { pool: 'main' })).toBeGreaterThan(0);
      }
    }
    // METRICS_PORT: the gateway's metrics are not on its public port.
    expect(new URL(stack.metricsUrls.gateway).port).not.toBe(new URL(stack.gatewayUrl).port);
    expect((await fetch(new URL('/metrics', stack.gatewayUrl))).status).toBe(404);
  });

  it('exposes the domain families of each service', async () => {
    const [gateway, auth, catalog, inventory, order, notification] = await Promise.all(
      (['gateway', 'auth', 'catalog', 'inventory', 'order', 'notification'] as const).map((service) => scrape(service)),
    );
    for (const family of [
      'shop_gateway_refusals_total',
      'shop_gateway_subgraph_fetch_duration_seconds',
      'shop_gateway_subgraph_fetch_errors_total',
      'shop_gateway_response_cache_lookups_total',
      'shop_gateway_subscription_connections',
      'shop_gateway_subscriptions_active',
      'shop_gateway_subscription_events_delivered_total',
      'shop_gateway_subscription_events_dropped_total',
    ]) {
      expect([family, gateway.has(family)]).toEqual([family, true]);
    }
    expect(auth.has('shop_otp_requests_total') && auth.has('shop_otp_verifications_total')).toBe(true);
    for (const [metrics, schema] of [[inventory, 'inventory'], [order, 'order']] as const) {
      expect(metrics.sampled('shop_outbox_events_waiting', { schema })).toBe(true);
      expect(metrics.sampled('shop_outbox_oldest_event_age_seconds', { schema })).toBe(true);
      expect(metrics.sampled('shop_db_pool_connections', { pool: 'relay' })).toBe(true);
    }
    expect(inventory.sampled('shop_inventory_reservation_lines_held')).toBe(true);
    expect(inventory.sampled('shop_inventory_reservation_lines_overdue')).toBe(true);
    expect(order.sampled('shop_orders_open', { status: 'AWAITING_CONFIRMATION' })).toBe(true);
    expect(order.sampled('shop_order_sagas_running', { step: 'RESERVING' })).toBe(true);
    expect(order.has('shop_order_saga_retries_total')).toBe(true);
    expect(catalog.sampled('shop_stream_consumer_lag', { stream: 'inventory', group: 'catalog-stock-projection' })).toBe(true);
    expect(catalog.sampled('shop_stream_consumer_pending', { stream: 'inventory', group: 'catalog-stock-projection' })).toBe(true);
    expect(catalog.has('shop_stream_dead_letters_total')).toBe(true);
    expect(notification.sampled('shop_stream_consumer_pending', { stream: 'order', group: 'notification-orders' })).toBe(true);
    expect(notification.sampled('shop_telegram_messages_pending')).toBe(true);
    for (const family of ['shop_telegram_sends_total', 'shop_telegram_rate_limited_total', 'shop_telegram_blocked_chats_total']) {
      expect([family, notification.has(family)]).toEqual([family, true]);
    }
  });

  it('counts a query under its operation name, with its latency and its subgraph fetches', async () => {
    const [before, authBefore] = await Promise.all([scrape('gateway'), scrape('auth')]);
    const response = await stack.gql(MY_ID, {}, { token: admin.accessToken });
    expect(response.errors).toBeUndefined();
    const [after, authAfter] = await Promise.all([scrape('gateway'), scrape('auth')]);

    const requests = (m: Scrape) => m.value('shop_graphql_requests_total', { operation: 'MetricsMyId', outcome: 'success' });
    expect(requests(after) - requests(before)).toBe(1);
    const timed = (m: Scrape) => m.value('shop_graphql_request_duration_seconds_count', { operation: 'MetricsMyId' });
    expect(timed(after) - timed(before)).toBe(1);
    const fetches = (m: Scrape) => m.value('shop_gateway_subgraph_fetch_duration_seconds_count', { subgraph: 'auth' });
    expect(fetches(after)).toBeGreaterThan(fetches(before));
    // The auth service answered the gateway's part of it.
    expect(authAfter.value('shop_graphql_requests_total')).toBeGreaterThan(authBefore.value('shop_graphql_requests_total'));
  });

  it('counts a refused deep query as a refusal, and its error by code, without an operation name of its own', async () => {
    let inner = 'id';
    for (let i = 0; i < 6; i += 1) inner = `user { orders(first: 100) { edges { node { ${inner} } } } }`;
    const before = await scrape('gateway');
    const response = await stack.gql(`query { me { orders(first: 100) { edges { node { ${inner} } } } } }`, {}, { token: admin.accessToken });
    expect(firstErrorCode(response)).toBe('QUERY_TOO_DEEP');
    const after = await scrape('gateway');

    const delta = (name: string, labels: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    expect(delta('shop_gateway_refusals_total', { limit: 'QUERY_TOO_DEEP' })).toBe(1);
    expect(delta('shop_graphql_errors_total', { code: 'QUERY_TOO_DEEP' })).toBe(1);
    expect(delta('shop_graphql_requests_total', { operation: 'anonymous', outcome: 'error' })).toBe(1);
  });

  it('counts code requests, refusals and wrong codes at the auth service (a subgraph refusal is not a gateway limit)', async () => {
    const phone = randomPhone();
    const [before, gatewayBefore] = await Promise.all([scrape('auth'), scrape('gateway')]);
    expect((await stack.gql(REQUEST_OTP, { phone })).errors).toBeUndefined();
    expect(firstErrorCode(await stack.gql(REQUEST_OTP, { phone }))).toBe('RATE_LIMITED');
    expect(firstErrorCode(await stack.gql(VERIFY_OTP, { phone, code: '000000' }))).toBe('OTP_INVALID');
    const [after, gatewayAfter] = await Promise.all([scrape('auth'), scrape('gateway')]);

    const delta = (name: string, labels: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    expect(delta('shop_otp_requests_total', { outcome: 'issued' })).toBe(1);
    expect(delta('shop_otp_requests_total', { outcome: 'cooldown' })).toBe(1);
    expect(delta('shop_otp_verifications_total', { outcome: 'wrong' })).toBe(1);
    expect(gatewayAfter.value('shop_gateway_refusals_total', { limit: 'RATE_LIMITED' })).toBe(gatewayBefore.value('shop_gateway_refusals_total', { limit: 'RATE_LIMITED' }));
    expect(gatewayAfter.value('shop_graphql_errors_total', { code: 'RATE_LIMITED' }) - gatewayBefore.value('shop_graphql_errors_total', { code: 'RATE_LIMITED' })).toBe(1);
  });

  it('counts login codes sent through Telegram, and those it could not send', async () => {
    const before = await scrape('notification');
    await login(stack, telegram);
    const phone = randomPhone();
    const person = await bindTelegram(telegram, phone);
    // Both tries of the login-code sender (one retry) fail. The answer is the same either way (delivery runs
    // in the background, so its timing tells nobody whether the phone is linked): only the count shows it.
    telegram.failNext('sendMessage', { errorCode: 500, chatId: person.chatId }, 2);
    expect((await stack.gql(REQUEST_OTP, { phone })).errors).toBeUndefined();
    const failed = (m: Scrape) => m.value('shop_telegram_login_codes_total', { outcome: 'failed' });
    const after = await eventually(() => scrape('notification'), (m) => failed(m) > failed(before));
    const delta = (outcome: string) => after.value('shop_telegram_login_codes_total', { outcome }) - before.value('shop_telegram_login_codes_total', { outcome });
    expect([delta('sent'), delta('failed'), delta('blocked')]).toEqual([1, 1, 0]);
  });

  it('counts response-cache misses and hits', async () => {
    const productId = await createStockedProduct(stack, admin.accessToken, { skuPrefix: 'MET', name: 'Metered lamp', category: 'metrics', price: { amount: 1200 }, onHand: 3 });
    const before = await scrape('gateway');
    // Events of the product's creation may still evict the first entries: ask until one is served from the cache.
    await eventually(
      async () => {
        await stack.gql(PRODUCT, { id: productId });
        return (await scrape('gateway')).value('shop_gateway_response_cache_lookups_total', { result: 'hit' });
      },
      (hits) => hits > before.value('shop_gateway_response_cache_lookups_total', { result: 'hit' }),
    );
    const after = await scrape('gateway');
    expect(after.value('shop_gateway_response_cache_lookups_total', { result: 'miss' })).toBeGreaterThan(before.value('shop_gateway_response_cache_lookups_total', { result: 'miss' }));
  });

  it('follows a placed order through the saga, the inventory, the outbox, the streams and Telegram', async () => {
    const customer = await login(stack, telegram);
    const productId = await createStockedProduct(stack, admin.accessToken, { skuPrefix: 'MET', name: 'Metered kettle', category: 'metrics', price: { amount: 3000 }, onHand: 5 });
    const [order0, inventory0, catalog0, notification0] = await Promise.all([scrape('order'), scrape('inventory'), scrape('catalog'), scrape('notification')]);

    const placed = await stack.gql(PLACE_ORDER, { input: { idempotencyKey: randomUUID(), lines: [{ productId, quantity: 2 }] } }, { token: customer.accessToken });
    expect(placed.data?.placeOrder.status).toBe('AWAITING_CONFIRMATION');

    const order1 = await scrape('order');
    const orderDelta = (name: string, labels: Record<string, string> = {}) => order1.value(name, labels) - order0.value(name, labels);
    expect(orderDelta('shop_order_status_changes_total', { from: 'PENDING', to: 'AWAITING_CONFIRMATION' })).toBe(1);
    expect(orderDelta('shop_order_saga_steps_total', { step: 'RESERVING', outcome: 'done' })).toBe(1);
    expect(order1.value('shop_orders_open', { status: 'AWAITING_CONFIRMATION' })).toBeGreaterThanOrEqual(1);

    const inventory1 = await scrape('inventory');
    expect(inventory1.value('shop_inventory_reservations_total', { outcome: 'reserved' }) - inventory0.value('shop_inventory_reservations_total', { outcome: 'reserved' })).toBe(1);
    expect(inventory1.value('shop_inventory_reservation_lines_held')).toBeGreaterThanOrEqual(1);

    // Published from both outboxes, read by the catalog's projection and the notification service, sent to the customer's chat.
    await eventually(() => scrape('order'), (m) => m.value('shop_outbox_events_published_total', { schema: 'order' }) > order0.value('shop_outbox_events_published_total', { schema: 'order' }));
    await eventually(() => scrape('inventory'), (m) => m.value('shop_outbox_events_published_total', { schema: 'inventory' }) > inventory0.value('shop_outbox_events_published_total', { schema: 'inventory' }));
    const handled = (m: Scrape, stream: string, group: string) => m.value('shop_stream_events_handled_total', { stream, group, outcome: 'ok' });
    await eventually(() => scrape('catalog'), (m) => handled(m, 'inventory', 'catalog-stock-projection') > handled(catalog0, 'inventory', 'catalog-stock-projection'));
    await eventually(() => scrape('notification'), (m) => handled(m, 'order', 'notification-orders') > handled(notification0, 'order', 'notification-orders'));
    await eventually(
      () => scrape('notification'),
      (m) => m.value('shop_telegram_sends_total', { outcome: 'sent' }) > notification0.value('shop_telegram_sends_total', { outcome: 'sent' }),
    );
    // Everything read: nothing waits in the outbox or the consumer group.
    const drained = await eventually(() => scrape('order'), (m) => m.value('shop_outbox_events_waiting', { schema: 'order' }) === 0);
    expect(drained.value('shop_outbox_oldest_event_age_seconds', { schema: 'order' })).toBe(0);
    await eventually(() => scrape('notification'), (m) => m.value('shop_stream_consumer_lag', { stream: 'order', group: 'notification-orders' }) === 0);
  });

  it('counts websocket connections, active subscriptions and delivered events', async () => {
    const productId = await createStockedProduct(stack, admin.accessToken, { skuPrefix: 'MET', name: 'Metered fan', category: 'metrics', price: { amount: 900 }, onHand: 2 });
    const before = await scrape('gateway');
    const client = wsClient(stack.gatewayUrl);
    const subscription = subscribe(client, STOCK_UPDATES, { ids: [productId] });
    try {
      await untilLive(subscription, stack.env.REDIS_KEY_PREFIX!, stockProbe(productId));
      const during = await scrape('gateway');
      expect(during.value('shop_gateway_subscription_connections', { transport: 'websocket' })).toBe(before.value('shop_gateway_subscription_connections', { transport: 'websocket' }) + 1);
      expect(during.value('shop_gateway_subscriptions_active')).toBe(before.value('shop_gateway_subscriptions_active') + 1);
      expect(during.value('shop_gateway_subscription_events_delivered_total')).toBeGreaterThan(before.value('shop_gateway_subscription_events_delivered_total'));
    } finally {
      subscription.close();
      await client.dispose();
    }
    await eventually(
      () => scrape('gateway'),
      (m) => m.value('shop_gateway_subscriptions_active') === before.value('shop_gateway_subscriptions_active') && m.value('shop_gateway_subscription_connections', { transport: 'websocket' }) === before.value('shop_gateway_subscription_connections', { transport: 'websocket' }),
    );
  });
});
