import { randomUUID } from 'node:crypto';
import type { FakeTelegram } from '../../../test/support/fake-telegram';
import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import { useFileDatabase } from '../../../test/support/database';
import type { EventEnvelope } from '../../../kernel/src/events/envelope';
import type { Operation } from '../../../test/support/graphql';
import { gql } from '../../../generated/graphql/gateway';
import { EventStreams, eventually, feed, orderEvent, stockChanged } from './notification-support';

const CREATE_ITEM = gql(`mutation NotificationAlertsCreateItem($input: CreateInventoryItemInput!) { createInventoryItem(input: $input) { productId } }`);
const ADJUST = gql(`mutation NotificationAlertsAdjust($id: ID!, $delta: Int!) { adjustStock(productId: $id, delta: $delta, reason: "alerts test") { available } }`);
const DELETE_ITEM = gql(`mutation NotificationAlertsDeleteItem($id: ID!) { deleteInventoryItem(productId: $id) }`);

describe('admins are told when a product\'s stock falls to its low-stock threshold', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone });
  let stack: Stack;
  let telegram: FakeTelegram;
  let streams: EventStreams;
  let admin: Session;
  let customer: Session;
  const prisma = useFileDatabase();

  beforeAll(async () => {
    ({ stack, telegram } = ctx);
    streams = new EventStreams(stack.env.REDIS_KEY_PREFIX!);
    [admin, customer] = await Promise.all([login(stack, telegram, adminPhone), login(stack, telegram)]);
  });
  afterAll(async () => {
    streams?.close();
  });

  const alertsFor = async (productId: string) => (await feed(stack, admin.accessToken)).filter((n) => n.kind === 'LOW_STOCK' && n.productId === productId);

  /** The stock stream is handled in order: once a later product's alert is in, every earlier event was handled. */
  async function allHandled(): Promise<void> {
    const marker = randomUUID();
    await streams.publish('StockChanged', stockChanged(marker, 1, 0));
    await eventually(() => alertsFor(marker), (alerts) => alerts.length === 1);
  }

  it('alerts once when the stock crosses the threshold, not for every further decrease, and again after it rose above', async () => {
    const productId = randomUUID();
    await streams.publish('StockChanged', stockChanged(productId, 1, 10));
    await streams.publish('StockChanged', stockChanged(productId, 2, 5)); // crosses: 5 <= 5
    const alert = await telegram.waitForMessage({ chatId: admin.person.chatId, textIncludes: `Product ${productId} has 5 available` });
    expect(alert.text).toMatch(/^Low stock: 5 left/);
    await streams.publish('StockChanged', stockChanged(productId, 3, 3)); // still low
    await streams.publish('StockChanged', stockChanged(productId, 4, 8)); // back above
    await streams.publish('StockChanged', stockChanged(productId, 5, 0)); // crosses again
    await telegram.waitForMessage({ chatId: admin.person.chatId, textIncludes: `Product ${productId} has 0 available` });
    await allHandled();

    expect((await alertsFor(productId)).map((n) => n.body.match(/has (\d+) available/)![1])).toEqual(['0', '5']);
    expect(telegram.messagesTo(admin.person.chatId).filter((m) => m.text.includes(productId))).toHaveLength(2);
  });

  it('ignores an event older than what it has seen, and a product that stays above the threshold', async () => {
    const late = randomUUID();
    await streams.publish('StockChanged', stockChanged(late, 7, 9));
    await streams.publish('StockChanged', stockChanged(late, 6, 1)); // arrived late: 9 is the level
    const plenty = randomUUID();
    await streams.publish('StockChanged', stockChanged(plenty, 1, 50));
    await streams.publish('StockChanged', stockChanged(plenty, 2, 6));
    await allHandled();
    expect(await alertsFor(late)).toEqual([]);
    expect(await alertsFor(plenty)).toEqual([]);
  });

  it('alerts for a product first seen already at or under its threshold, and makes one alert of a duplicate event', async () => {
    const productId = randomUUID();
    const event = await streams.publish('StockChanged', stockChanged(productId, 3, 2, 4));
    await streams.publishEnvelope(event);
    await allHandled();
    const alerts = await alertsFor(productId);
    expect(alerts).toEqual([expect.objectContaining({ title: 'Low stock: 2 left', body: expect.stringContaining('(threshold 4)') })]);
    await eventually(() => alertsFor(productId), ([a]) => a?.deliveredToTelegramAt != null);
    expect(telegram.messagesTo(admin.person.chatId).filter((m) => m.text.includes(productId))).toHaveLength(1);
  });

  it('alerts for a recreated item falling under its threshold, and not for a late event of the deleted one', async () => {
    const asAdmin = <T, V>(query: Operation<T, V>, variables: V) => stack.gql(query, variables, { token: admin.accessToken });
    const productId = randomUUID();
    // The first item: it falls to 2 (an alert) and is deleted while low.
    await asAdmin(CREATE_ITEM, { input: { productId, onHand: 10, lowStockThreshold: 3 } });
    await asAdmin(ADJUST, { id: productId, delta: -8 });
    expect((await asAdmin(DELETE_ITEM, { id: productId })).data).toEqual({ deleteInventoryItem: true });
    const [oldItemDeleted] = await prisma.inventoryOutboxEvent.findMany({ where: { payload: { path: ['productId'], equals: productId } }, orderBy: { seq: 'desc' }, take: 1 });
    expect(oldItemDeleted!.payload).toMatchObject({ onHand: 0, available: 0 });

    // The item again: above its threshold, then under it (an alert), then above again.
    await asAdmin(CREATE_ITEM, { input: { productId, onHand: 10, lowStockThreshold: 3 } });
    expect((await asAdmin(ADJUST, { id: productId, delta: -9 })).data!.adjustStock.available).toBe(1);
    await telegram.waitForMessage({ chatId: admin.person.chatId, textIncludes: `Product ${productId} has 1 available` });
    await asAdmin(ADJUST, { id: productId, delta: 9 });
    await eventually(() => prisma.inventoryOutboxEvent.count({ where: { publishedAt: null, payload: { path: ['productId'], equals: productId } } }), (n) => n === 0);

    // The deleted item's last event (0 available) once more, after the new item's: older, so no alert.
    const late: EventEnvelope = { id: oldItemDeleted!.id, type: oldItemDeleted!.type, source: 'inventory', occurredAt: oldItemDeleted!.createdAt.toISOString(), payload: oldItemDeleted!.payload };
    await streams.publishEnvelope(late);
    await allHandled();

    expect((await alertsFor(productId)).map((n) => n.body.match(/has (\d+) available/)![1])).toEqual(['1', '2']);
    expect(telegram.messagesTo(admin.person.chatId).filter((m) => m.text.includes(productId))).toHaveLength(2);
  });

  it('tells only admins', async () => {
    const productId = randomUUID();
    await streams.publish('StockChanged', stockChanged(productId, 1, 0));
    await allHandled();
    expect(await alertsFor(productId)).toHaveLength(1);
    expect((await feed(stack, customer.accessToken)).filter((n) => n.kind === 'LOW_STOCK')).toEqual([]);
    // and the customer's own order still reaches them alone
    const order = orderEvent(customer.userId, { status: 'CONFIRMED' });
    await streams.publish('OrderConfirmed', order);
    await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `Order ${order.number} is confirmed` });
  });
});
