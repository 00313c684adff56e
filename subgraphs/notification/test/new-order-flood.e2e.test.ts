import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import type { FakeTelegram } from '../../../test/support/fake-telegram';
import type { EventEnvelope, OrderEvent } from '../../../kernel/src/events/envelope';
import type { RunningServer } from '../../../kernel/src/server';
import { startNotificationService } from '../src/app';
import { loadNotificationConfig } from '../src/config';
import { EventStreams, envelope, eventually, feed, orderEvent, type FeedItem } from './notification-support';

const WINDOW_MS = 60_000; // the default NOTIFICATION_NEW_ORDER_WINDOW_SECONDS

/** The start of the window `windowsAgo` windows before the current one: already over, so its summary is due as soon as its orders settle. */
const pastWindow = (windowsAgo: number) => Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS - windowsAgo * WINDOW_MS;

/** An OrderPlaced placed at `at` (what the window is taken from). */
const placedAt = (order: OrderEvent, at: number): EventEnvelope<OrderEvent> => ({ ...envelope('OrderPlaced', order), occurredAt: new Date(at).toISOString() });

const aboutNewOrders = (items: FeedItem[]) => items.filter((n) => n.kind === 'ORDER_PLACED' || n.kind === 'NEW_ORDERS_SUMMARY');

describe('a flood of new orders: every customer is asked, admins hear of it in a bounded number of notifications', () => {
  const adminPhones = [randomPhone(), randomPhone()];
  const ctx = useStack({ ADMIN_PHONES: adminPhones.join(',') });
  let stack: Stack;
  let telegram: FakeTelegram;
  let streams: EventStreams;
  let admins: Session[];
  let customers: Session[];

  beforeAll(async () => {
    ({ stack, telegram } = ctx);
    streams = new EventStreams(stack.env.REDIS_KEY_PREFIX!);
    admins = await Promise.all(adminPhones.map((phone) => login(stack, telegram, phone)));
    customers = await Promise.all([0, 1, 2, 3].map(() => login(stack, telegram)));
  });
  afterAll(() => streams?.close());

  /** N orders of the customers in turn, all placed within one window starting at `windowStart`. */
  function flood(n: number, windowStart: number): Array<EventEnvelope<OrderEvent>> {
    return Array.from({ length: n }, (_, i) => placedAt(orderEvent(customers[i % customers.length]!.userId), windowStart + 1_000 + i * 10));
  }

  /** Until every customer's feed holds a confirmation request for each of their orders in `events`. */
  async function everyCustomerAsked(events: Array<EventEnvelope<OrderEvent>>): Promise<void> {
    for (const customer of customers) {
      const theirs = events.filter((e) => e.payload.userId === customer.userId).map((e) => e.payload.orderId);
      await eventually(
        () => feed(stack, customer.accessToken),
        (items) => theirs.every((id) => items.some((n) => n.orderId === id && n.kind === 'ORDER_CONFIRMATION_REQUESTED')),
        20_000,
      );
    }
  }

  it('tells each admin of the first order of a window at once and of the rest in one summary, and asks each customer about each order', async () => {
    const windowStart = pastWindow(5);
    const events = flood(40, windowStart);
    for (const event of events) await streams.publishEnvelope(event);
    // Delivered at least once: a few again, as a relay that crashed before marking them would.
    for (const event of events.slice(0, 5)) await streams.publishEnvelope(event);

    const [first] = events;
    for (const admin of admins) {
      await telegram.waitForMessage({ chatId: admin.person.chatId, textIncludes: `New order ${first!.payload.number}` }, 20_000);
      const summary = await telegram.waitForMessage({ chatId: admin.person.chatId, textIncludes: '39 more new orders' }, 20_000);
      expect(summary.text).toContain(`after ${first!.payload.number}, the latest ${events.at(-1)!.payload.number}`);
    }
    await everyCustomerAsked(events);

    for (const admin of admins) {
      const told = aboutNewOrders(await feed(stack, admin.accessToken));
      expect(told.map((n) => [n.kind, n.title])).toEqual([
        ['NEW_ORDERS_SUMMARY', '39 more new orders'],
        ['ORDER_PLACED', `New order ${first!.payload.number}`],
      ]);
      expect(telegram.messagesTo(admin.person.chatId).filter((m) => /New order|new orders/.test(m.text))).toHaveLength(2);
    }
    for (const customer of customers) {
      const numbers = events.filter((e) => e.payload.userId === customer.userId).map((e) => e.payload.number);
      const asked = (await feed(stack, customer.accessToken)).filter((n) => n.kind === 'ORDER_CONFIRMATION_REQUESTED');
      expect(asked.map((n) => n.title).sort()).toEqual(numbers.map((number) => `Please confirm order ${number}`).sort());
      await eventually(
        async () => telegram.messagesTo(customer.person.chatId).filter((m) => m.text.startsWith('Please confirm order')).length,
        (sent) => sent >= numbers.length,
      );
      expect(telegram.messagesTo(customer.person.chatId).filter((m) => m.text.startsWith('Please confirm order'))).toHaveLength(numbers.length);
    }

    // The next window starts afresh: its first order is told at once.
    const later = placedAt(orderEvent(customers[0]!.userId), windowStart + WINDOW_MS + 1_000);
    await streams.publishEnvelope(later);
    for (const admin of admins) await telegram.waitForMessage({ chatId: admin.person.chatId, textIncludes: `New order ${later.payload.number}` }, 10_000);
    // Forty-six events through the consumers, the digest and the Telegram sender: minutes on a busy machine, not seconds.
  }, 120_000);

  it('counts each order once with several notification processes reading the stream', async () => {
    // A second notification service on the same database and streams (without a bot: its notifications stay in the feed).
    const second: RunningServer = await startNotificationService(loadNotificationConfig({ ...stack.env, TELEGRAM_BOT_TOKEN: undefined, NOTIFICATION_PORT: '0' }));
    try {
      const before = new Map(await Promise.all(admins.map(async (admin) => [admin.userId, new Set((await feed(stack, admin.accessToken)).map((n) => n.id))] as const)));
      const events = flood(60, pastWindow(10));
      const orderIds = new Set(events.map((e) => e.payload.orderId));
      for (const event of events) await streams.publishEnvelope(event);
      for (const event of events.slice(0, 10)) await streams.publishEnvelope(event);

      for (const admin of admins) {
        await eventually(() => feed(stack, admin.accessToken), (items) => items.some((n) => n.title === '59 more new orders'), 20_000);
      }
      await everyCustomerAsked(events);
      for (const admin of admins) {
        // Whichever process counted first told that order; every other one is in the summary. Only this flood's
        // notifications count: the story before may still be finishing its own on a slow machine.
        const told = aboutNewOrders(await feed(stack, admin.accessToken)).filter(
          (n) => !before.get(admin.userId)!.has(n.id) && (n.kind === 'NEW_ORDERS_SUMMARY' ? n.title !== '39 more new orders' : orderIds.has(n.orderId!)),
        );
        expect(told.map((n) => n.kind)).toEqual(['NEW_ORDERS_SUMMARY', 'ORDER_PLACED']);
        expect(told[0]!.title).toBe('59 more new orders');
        expect(orderIds.has(told[1]!.orderId!)).toBe(true);
      }
      for (const customer of customers) {
        const mine = events.filter((e) => e.payload.userId === customer.userId).map((e) => e.payload.orderId);
        const asked = (await feed(stack, customer.accessToken)).filter((n) => n.kind === 'ORDER_CONFIRMATION_REQUESTED' && mine.includes(n.orderId!));
        expect(asked).toHaveLength(mine.length);
      }
    } finally {
      await second.stop();
    }
  }, 120_000);
});
