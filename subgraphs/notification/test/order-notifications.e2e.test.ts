import { FakeTelegram } from '../../../test/support/fake-telegram';
import { startStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { firstErrorCode, graphql, type GraphQLResponse } from '../../../test/support/graphql';
import { subscribe, untilLive, wsClient } from '../../../test/support/subscriptions';
import type { ResultOf } from '@graphql-typed-document-node/core';
import { gql } from '../../../generated/graphql/gateway';
import { EventStreams, FakeOrderService, eventually, feed, notificationProbe, orderEvent } from './notification-support';

const MARK_READ = gql(`mutation NotificationMarkRead($ids: [ID!]!) { markNotificationsRead(ids: $ids) { id kind readAt } }`);
// For the gateway's subscriptions only: sent straight at the notification subgraph, and refused through the gateway.
const FROM_EVENT = /* GraphQL */ `query($event: String!) { _notificationFromEvent(event: $event) { id kind title } }`;
const NOTIFICATION_RECEIVED = gql(`subscription NotificationReceivedLive { notificationReceived { id kind title orderId } }`);

describe('order events become notifications: in the feed, live, and in Telegram', () => {
  const adminPhone = randomPhone();
  let telegram: FakeTelegram;
  let orderService: FakeOrderService;
  let stack: Stack;
  let streams: EventStreams;
  let customer: Session;
  let admin: Session;

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    // The Telegram buttons answer the order subgraph's respondToOrder; a stand-in records what it is asked.
    orderService = await FakeOrderService.start();
    stack = await startStack({
      telegram,
      env: { ADMIN_PHONES: adminPhone },
      // Each new order's admin notification is followed one by one here; new-order-flood.e2e.test.ts covers the summaries.
      serviceEnv: { notification: { ORDER_URL: orderService.url, NOTIFICATION_NEW_ORDER_WINDOW_SECONDS: '0' } },
    });
    streams = new EventStreams(stack.env.REDIS_KEY_PREFIX!);
    [customer, admin] = await Promise.all([login(stack, telegram), login(stack, telegram, adminPhone)]);
  });
  afterAll(async () => {
    streams?.close();
    await stack?.stop();
    await orderService?.close();
    await telegram?.close();
  });

  it('asks the owner of a new order to confirm it, with Confirm and Cancel buttons, and tells the admins', async () => {
    const order = orderEvent(customer.userId);
    await streams.publish('OrderPlaced', order);

    const ask = await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `Please confirm order ${order.number}` });
    expect(ask.text).toContain('2 × Walnut desk lamp, 1 × Stoneware coffee mug');
    expect(ask.text).toContain('€127.50');
    expect(ask.reply_markup).toEqual({
      inline_keyboard: [
        [
          { text: 'Confirm', callback_data: `order:confirm:${order.orderId}` },
          { text: 'Cancel', callback_data: `order:cancel:${order.orderId}` },
        ],
      ],
    });
    const told = await telegram.waitForMessage({ chatId: admin.person.chatId, textIncludes: `New order ${order.number}` });
    expect(told.reply_markup).toBeUndefined();

    const customerFeed = await eventually(() => feed(stack, customer.accessToken), (items) => items.some((n) => n.orderId === order.orderId && n.deliveredToTelegramAt));
    expect(customerFeed.filter((n) => n.orderId === order.orderId)).toEqual([
      expect.objectContaining({ kind: 'ORDER_CONFIRMATION_REQUESTED', title: `Please confirm order ${order.number}`, readAt: null }),
    ]);
    const adminFeed = await feed(stack, admin.accessToken);
    expect(adminFeed.filter((n) => n.orderId === order.orderId).map((n) => n.kind)).toEqual(['ORDER_PLACED']);
  });

  it('tells the owner of each later status, and nobody else', async () => {
    const order = orderEvent(customer.userId);
    await streams.publish('OrderConfirmed', { ...order, status: 'CONFIRMED' });
    await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `Order ${order.number} is confirmed` });
    await streams.publish('OrderFulfilled', { ...order, status: 'FULFILLED' });
    await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `Order ${order.number} is on its way` });
    const failed = orderEvent(customer.userId, { status: 'FAILED', reason: 'Product Walnut desk lamp is out of stock' });
    await streams.publish('OrderCancelled', failed);
    const message = await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `Order ${failed.number} could not be completed` });
    expect(message.text).toContain('Reason: Product Walnut desk lamp is out of stock.');

    const kinds = (await feed(stack, customer.accessToken)).filter((n) => n.orderId === order.orderId).map((n) => n.kind);
    expect(kinds).toEqual(['ORDER_STATUS_CHANGED', 'ORDER_STATUS_CHANGED']);
    expect((await feed(stack, admin.accessToken)).filter((n) => n.orderId === order.orderId || n.orderId === failed.orderId)).toEqual([]);
  });

  it('makes one notification and one message of an event delivered twice', async () => {
    const order = orderEvent(customer.userId, { status: 'CONFIRMED' });
    const confirmed = await streams.publish('OrderConfirmed', order);
    await streams.publishEnvelope(confirmed);
    // Events are handled in stream order: once the next one is in the feed, both copies were handled.
    const next = orderEvent(customer.userId, { status: 'CONFIRMED' });
    await streams.publish('OrderConfirmed', next);
    await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `Order ${next.number} is confirmed` });

    expect(telegram.messagesTo(customer.person.chatId).filter((m) => m.text.includes(order.number))).toHaveLength(1);
    expect((await feed(stack, customer.accessToken)).filter((n) => n.orderId === order.orderId)).toHaveLength(1);
  });

  it('confirms an order for the person who presses Confirm, then takes the buttons off the message', async () => {
    const order = orderEvent(customer.userId);
    await streams.publish('OrderPlaced', order);
    const ask = await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `Please confirm order ${order.number}` });

    customer.person.pressButton(ask, `order:confirm:${order.orderId}`);
    const answer = await telegram.waitForCall('answerCallbackQuery');
    expect(answer.params.text).toMatch(/^Confirmed/);
    expect(orderService.calls.at(-1)).toEqual({ id: order.orderId, userId: customer.userId, confirm: true, service: 'notification' });

    const edit = await telegram.waitForCall('editMessageText');
    expect(edit.ok).toBe(true);
    expect(edit.params).toMatchObject({ chat_id: customer.person.chatId, message_id: ask.message_id });
    expect(edit.params.text).toContain(`Please confirm order ${order.number}`);
    expect(edit.params.text).toMatch(/Confirmed$/);
    expect(edit.params.reply_markup).toBeUndefined();
  });

  it('shows the order service\'s refusal to the person, and leaves the message as it was', async () => {
    const order = orderEvent(customer.userId);
    await streams.publish('OrderPlaced', order);
    const ask = await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `Please confirm order ${order.number}` });
    orderService.refuseNext(`Order ${order.number} was already cancelled.`, 'CONFLICT');
    const edits = telegram.calls('editMessageText').length;
    customer.person.pressButton(ask, `order:cancel:${order.orderId}`);
    const answer = await telegram.waitForCall('answerCallbackQuery');
    expect(answer.params).toMatchObject({ text: `Order ${order.number} was already cancelled.`, show_alert: true });
    expect(orderService.calls.at(-1)).toMatchObject({ id: order.orderId, userId: customer.userId, confirm: false });
    await telegram.waitForProcessed();
    expect(telegram.calls('editMessageText')).toHaveLength(edits);
  });

  it('marks the caller\'s own notifications read and ignores anyone else\'s', async () => {
    const order = orderEvent(customer.userId);
    await streams.publish('OrderPlaced', order);
    const [mine] = (await eventually(() => feed(stack, customer.accessToken), (items) => items.some((n) => n.orderId === order.orderId))).filter(
      (n) => n.orderId === order.orderId,
    );
    const [theirs] = (await eventually(() => feed(stack, admin.accessToken), (items) => items.some((n) => n.orderId === order.orderId))).filter(
      (n) => n.orderId === order.orderId,
    );

    const marked = await stack.gql(MARK_READ, { ids: [mine!.id, theirs!.id] }, { token: customer.accessToken });
    expect(marked.errors).toBeUndefined();
    expect(marked.data!.markNotificationsRead).toEqual([{ id: mine!.id, kind: 'ORDER_CONFIRMATION_REQUESTED', readAt: expect.any(String) }]);
    expect((await feed(stack, customer.accessToken, true)).map((n) => n.id)).not.toContain(mine!.id);
    expect((await feed(stack, admin.accessToken, true)).map((n) => n.id)).toContain(theirs!.id);

    // Marking again keeps the first time it was read.
    const again = await stack.gql(MARK_READ, { ids: [mine!.id] }, { token: customer.accessToken });
    expect(again.data!.markNotificationsRead[0].readAt).toBe(marked.data!.markNotificationsRead[0].readAt);

    expect(firstErrorCode(await stack.gql(MARK_READ, { ids: [mine!.id] }))).toBe('UNAUTHENTICATED');
    const malformed = await stack.gql(MARK_READ, { ids: ['not-an-id'] }, { token: customer.accessToken });
    expect(firstErrorCode(malformed)).toBe('BAD_USER_INPUT');
    expect(malformed.errors![0]!.extensions!.field).toBe('ids');
  });

  it('pages through the feed, newest first', async () => {
    const query = gql(`query NotificationFeedPage($after: String) { myNotifications(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id createdAt } } } }`);
    const all = await feed(stack, customer.accessToken);
    expect(all.length).toBeGreaterThan(3);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: GraphQLResponse<ResultOf<typeof query>> = await stack.gql(query, { after }, { token: customer.accessToken });
      expect(page.errors).toBeUndefined();
      expect(page.data!.myNotifications.totalCount).toBe(all.length);
      seen.push(...page.data!.myNotifications.edges.map((e) => e.node.id));
      if (!page.data!.myNotifications.pageInfo.hasNextPage) break;
      after = page.data!.myNotifications.pageInfo.endCursor;
    }
    expect(seen).toEqual(all.map((n) => n.id));
  });

  /** A live subscription of `session`'s: probed with a notification of theirs, whose results it sets aside. */
  async function subscribed(session: Session) {
    const probe = await notificationProbe(stack, streams, session);
    const client = wsClient(stack.gatewayUrl, session.accessToken);
    const subscription = subscribe(client, NOTIFICATION_RECEIVED);
    await untilLive(subscription, stack.env.REDIS_KEY_PREFIX!, probe);
    return Object.assign(subscription, { dispose: () => (subscription.close(), client.dispose()) });
  }

  it('streams the subscriber\'s own new notifications', async () => {
    const mine = await subscribed(customer);
    try {
      const order = orderEvent(customer.userId, { status: 'CONFIRMED' });
      await streams.publish('OrderConfirmed', order);
      const received = await mine.next();
      expect(received.errors).toBeUndefined();
      expect(received.data).toEqual({ notificationReceived: { id: expect.any(String), kind: 'ORDER_STATUS_CHANGED', title: `Order ${order.number} is confirmed`, orderId: order.orderId } });
    } finally {
      await mine.dispose();
    }
  });

  it('streams nothing of anyone else\'s notifications', async () => {
    const theirs = await subscribed(admin);
    try {
      await streams.publish('OrderConfirmed', orderEvent(customer.userId, { status: 'CONFIRMED' }));
      const placed = orderEvent(customer.userId);
      await streams.publish('OrderPlaced', placed);
      // Published in this order on one channel: had the customer's gone to the admin, it would come first.
      expect((await theirs.next()).data!.notificationReceived).toMatchObject({ kind: 'ORDER_PLACED', orderId: placed.orderId });
      expect(theirs.results).toHaveLength(1);
    } finally {
      await theirs.dispose();
    }
  });

  describe('the gateway\'s own field _notificationFromEvent', () => {
    it('is refused to clients at the gateway', async () => {
      const response = await stack.gql(FROM_EVENT, { event: '{}' }, { token: customer.accessToken });
      expect(firstErrorCode(response)).toBe('FORBIDDEN');
    });

    it('gives a notification to its owner only', async () => {
      const [latest] = await feed(stack, customer.accessToken);
      const event = JSON.stringify({ userId: customer.userId, notificationId: latest!.id });
      const url = stack.urls.notification;
      expect((await graphql(url, FROM_EVENT, { event }, { token: customer.accessToken })).data).toEqual({
        _notificationFromEvent: { id: latest!.id, kind: latest!.kind, title: latest!.title },
      });
      expect((await graphql(url, FROM_EVENT, { event }, { token: admin.accessToken })).data).toEqual({ _notificationFromEvent: null });
      expect((await graphql(url, FROM_EVENT, { event }, { token: await stack.serviceToken('gateway') })).data).toEqual({ _notificationFromEvent: null });
      expect((await graphql(url, FROM_EVENT, { event })).data).toEqual({ _notificationFromEvent: null });
      expect(firstErrorCode(await graphql(url, FROM_EVENT, { event: 'nonsense' }, { token: customer.accessToken }))).toBe('BAD_USER_INPUT');
    });
  });

  it('sends login codes only for platform services', async () => {
    const mutation = /* GraphQL */ `mutation { sendLoginCode(chatId: "${customer.person.chatId}", code: "123456", ttlSeconds: 300) }`;
    expect(firstErrorCode(await stack.gql(mutation, {}, { token: customer.accessToken }))).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(firstErrorCode(await graphql(stack.urls.notification, mutation, {}, { token: customer.accessToken }))).toBe('FORBIDDEN');
    expect(firstErrorCode(await graphql(stack.urls.notification, mutation))).toBe('UNAUTHENTICATED');
  });
});
