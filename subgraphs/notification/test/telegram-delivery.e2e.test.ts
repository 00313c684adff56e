import { randomUUID } from 'node:crypto';
import { Api } from 'node-telegram-bot-api';
import type { FakeTelegram } from '../../../test/support/fake-telegram';
import { useStack, type Stack } from '../../../test/support/stack';
import { login, type Session } from '../../../test/support/login';
import { type Notification, type PrismaClient } from '../../../kernel/src/prisma';
import { useFileDatabase } from '../../../test/support/database';
import { createLogger } from '../../../kernel/src/logger';
import { TelegramSender } from '../src/telegram-sender';
import { TelegramChats } from '../src/telegram-chats';
import { EventStreams, eventually, orderEvent } from './notification-support';

/** Status changes go to the order's owner only, so each test's messages are its own. */
describe('sending notifications to Telegram', () => {
  const ctx = useStack({ TELEGRAM_MAX_ATTEMPTS: '2', TELEGRAM_SEND_INTERVAL_MS: '100' });
  let stack: Stack;
  let telegram: FakeTelegram;
  let streams: EventStreams;
  const prisma = useFileDatabase({ max: 4 });
  let customer: Session;

  beforeAll(async () => {
    ({ stack, telegram } = ctx);
    streams = new EventStreams(stack.env.REDIS_KEY_PREFIX!);
    customer = await login(stack, telegram);
  });
  afterAll(async () => {
    streams?.close();
  });

  /** Publishes a status change of a new order of `userId`; resolves to its event id and order number. */
  async function statusChange(userId: string) {
    const order = orderEvent(userId, { status: 'CONFIRMED' });
    const event = await streams.publish('OrderConfirmed', order);
    return { eventId: event.id, number: order.number };
  }

  /** The notification an event made, once its Telegram delivery has settled (sent, failed or skipped). */
  const settled = (eventId: string): Promise<Notification> =>
    eventually(
      () => prisma.notification.findFirst({ where: { eventId } }),
      (n) => n !== null && n.telegramStatus !== 'PENDING',
    ) as Promise<Notification>;

  it('sends a message, and records when Telegram took it', async () => {
    const { eventId, number } = await statusChange(customer.userId);
    const message = await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `Order ${number} is confirmed` });
    const notification = await settled(eventId);
    expect(notification).toMatchObject({ telegramStatus: 'SENT', telegramAttempts: 1, telegramError: null, telegramMessageId: BigInt(message.message_id) });
    expect(notification.deliveredToTelegramAt).toBeInstanceOf(Date);
  });

  it('waits the retry_after of a 429, sending nothing meanwhile, then sends', async () => {
    const chatId = customer.person.chatId;
    const before = telegram.calls('sendMessage').length;
    telegram.failNext('sendMessage', { errorCode: 429, retryAfter: 2, chatId });
    const first = await statusChange(customer.userId);
    const second = await statusChange(customer.userId);
    await telegram.waitForMessage({ chatId, textIncludes: `Order ${first.number}` }, 15_000);
    await telegram.waitForMessage({ chatId, textIncludes: `Order ${second.number}` }, 15_000);

    // One 429, then the two messages, the first of them at least retry_after later.
    const calls = telegram.calls('sendMessage').slice(before).filter((c) => c.params.chat_id === chatId);
    expect(calls.map((c) => (c.response.ok ? 'ok' : c.response.error_code))).toEqual([429, 'ok', 'ok']);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(1900);
    // A 429 is Telegram saying when, not a failed attempt.
    expect(await settled(first.eventId)).toMatchObject({ telegramStatus: 'SENT', telegramAttempts: 1 });
    expect(await settled(second.eventId)).toMatchObject({ telegramStatus: 'SENT', telegramAttempts: 1 });
  });

  it('retries a failure with backoff, and gives up after TELEGRAM_MAX_ATTEMPTS', async () => {
    const chatId = customer.person.chatId;
    telegram.failNext('sendMessage', { errorCode: 502, chatId });
    const retried = await statusChange(customer.userId);
    await telegram.waitForMessage({ chatId, textIncludes: `Order ${retried.number}` }, 15_000);
    expect(await settled(retried.eventId)).toMatchObject({ telegramStatus: 'SENT', telegramAttempts: 2, telegramError: null });

    telegram.failNext('sendMessage', { errorCode: 502, chatId }, 2);
    const abandoned = await statusChange(customer.userId);
    const notification = await settled(abandoned.eventId);
    expect(notification).toMatchObject({ telegramStatus: 'FAILED', telegramAttempts: 2, telegramError: '502: Bad Gateway', deliveredToTelegramAt: null });
  });

  it('marks a chat that blocked the bot, sends it nothing more, and sends again after /start', async () => {
    const person = await login(stack, telegram);
    const chatId = BigInt(person.person.chatId);
    telegram.blockBotFor(person.person.chatId);

    const refused = await statusChange(person.userId);
    // A 403 is final: one attempt, although TELEGRAM_MAX_ATTEMPTS allows two.
    expect(await settled(refused.eventId)).toMatchObject({ telegramStatus: 'FAILED', telegramAttempts: 1, telegramError: '403: Forbidden: bot was blocked by the user' });
    expect((await prisma.telegramChat.findUnique({ where: { chatId } }))!.blockedAt).toBeInstanceOf(Date);

    const skipped = await statusChange(person.userId);
    expect(await settled(skipped.eventId)).toMatchObject({ telegramStatus: 'SKIPPED', telegramAttempts: 0, telegramError: 'the chat blocked the bot' });
    expect(telegram.calls('sendMessage').filter((c) => c.params.chat_id === person.person.chatId && /Order SO-/.test(String(c.params.text)))).toHaveLength(1);

    telegram.unblockBotFor(person.person.chatId);
    person.person.sendCommand('/start');
    await telegram.waitForMessage({ chatId: person.person.chatId, textIncludes: 'share your phone number' });
    expect((await prisma.telegramChat.findUnique({ where: { chatId } }))!.blockedAt).toBeNull();
    const again = await statusChange(person.userId);
    await telegram.waitForMessage({ chatId: person.person.chatId, textIncludes: `Order ${again.number}` });
  });

  it('sends to other chats while Telegram is slow for one, and keeps each chat in order', async () => {
    const [slow, other] = await Promise.all([login(stack, telegram), login(stack, telegram)]);
    telegram.delayNext('sendMessage', 4_000, { chatId: slow.person.chatId });
    const slowFirst = await statusChange(slow.userId);
    const slowSecond = await statusChange(slow.userId);
    const others = [await statusChange(other.userId), await statusChange(other.userId)];
    const slowStarted = Date.now();

    // The other chat's messages arrive while the slow chat's first one is still being answered.
    for (const { number } of others) await telegram.waitForMessage({ chatId: other.person.chatId, textIncludes: `Order ${number}` }, 3_000);
    expect(Date.now() - slowStarted).toBeLessThan(3_500);
    expect(telegram.sentMessages.filter((m) => m.chat_id === slow.person.chatId && m.text.includes(`Order ${slowFirst.number}`))).toHaveLength(0);

    // The slow chat's messages come in the order they were made.
    await telegram.waitForMessage({ chatId: slow.person.chatId, textIncludes: `Order ${slowSecond.number}` }, 15_000);
    const slowTexts = telegram.sentMessages.filter((m) => m.chat_id === slow.person.chatId && /Order SO-/.test(m.text)).map((m) => m.text);
    expect(slowTexts.findIndex((t) => t.includes(slowFirst.number))).toBeLessThan(slowTexts.findIndex((t) => t.includes(slowSecond.number)));
    expect(slowTexts.findIndex((t) => t.includes(slowFirst.number))).toBeGreaterThanOrEqual(0);
  });

  it('skips users who never bound a chat', async () => {
    const { eventId } = await statusChange(randomUUID());
    expect(await settled(eventId)).toMatchObject({ telegramStatus: 'SKIPPED', telegramAttempts: 0, telegramError: 'no Telegram chat is linked' });
  });

  it('never sends a message twice when several senders share the queue, with more chats waiting than each sends to at once', async () => {
    const logger = createLogger('test-sender', 'silent');
    const senders = [1, 2].map(
      () =>
        new TelegramSender(prisma, new Api(telegram.token, { apiRoot: telegram.apiRoot, maxRetries: 0 }), new TelegramChats(prisma), logger, {
          intervalMs: 5,
          maxAttempts: 2,
          batchSize: 3,
          concurrency: 2,
        }),
    );
    senders.forEach((sender) => sender.start());
    try {
      const people = await Promise.all(Array.from({ length: 5 }, () => login(stack, telegram)));
      const published = await Promise.all(Array.from({ length: 30 }, (_, i) => statusChange(people[i % 5]!.userId)));
      const rows = await eventually(
        () => prisma.notification.findMany({ where: { eventId: { in: published.map((p) => p.eventId) } } }),
        (found) => found.length === published.length && found.every((n) => n.telegramStatus === 'SENT'),
      );
      expect(rows.every((n) => n.telegramAttempts === 1)).toBe(true);
      for (const { number } of published) {
        expect(telegram.sentMessages.filter((m) => m.text.includes(`Order ${number} `))).toHaveLength(1);
      }
    } finally {
      await Promise.all(senders.map((sender) => sender.stop()));
    }
  });
});
