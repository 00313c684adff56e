import { randomUUID } from 'node:crypto';
import { Api } from 'node-telegram-bot-api';
import { FakeTelegram } from '../../../test/support/fake-telegram';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy';
import { createPrisma, type PrismaClient } from '../../../kernel/src/prisma';
import { createLogger } from '../../../kernel/src/logger';
import { TelegramSender } from '../src/telegram-sender';
import { TelegramChats } from '../src/telegram-chats';
import { eventually } from './notification-support';

/**
 * Found by the soak (npm run soak, pg_terminate_backend of the notification service's sessions): a
 * message Telegram had taken was not recorded as sent when the connection died right after, and went
 * out again once its lease ran out. The record is retried now.
 */
describe('a message Telegram took, when the database connection drops before it is recorded', () => {
  let telegram: FakeTelegram;
  let proxy: TcpProxy;
  let prisma: PrismaClient;
  let direct: PrismaClient;

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    const url = new URL(process.env.DATABASE_URL!);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.port = String(proxy.port);
    // The sender's sessions go through the proxy, which the test cuts; the test's own do not.
    prisma = createPrisma(url.toString(), { max: 2 });
    direct = createPrisma(process.env.DATABASE_URL!, { max: 2 });
  });
  afterAll(async () => {
    await prisma?.$disconnect();
    await direct?.$disconnect();
    await proxy?.close();
    await telegram?.close();
  });

  it('is recorded once the database is back, and never sent twice', async () => {
    const person = telegram.user(880_000_000 + Math.floor(Math.random() * 1_000_000), { hasStartedBot: true });
    const userId = randomUUID();
    await direct.telegramChat.create({ data: { chatId: BigInt(person.chatId), userId, telegramUserId: BigInt(person.id) } });
    const notification = await direct.notification.create({
      data: { userId, kind: 'ORDER_STATUS_CHANGED', title: `Order SO-${randomUUID().slice(0, 6)} is confirmed`, body: 'Thank you!' },
    });
    // Short lease: without the retry, the message would be claimed and sent again within the test.
    const sender = new TelegramSender(prisma, new Api(telegram.token, { apiRoot: telegram.apiRoot, maxRetries: 0 }), new TelegramChats(prisma), createLogger('test-sender', 'silent'), {
      intervalMs: 20,
      maxAttempts: 3,
      leaseMs: 4000,
    });
    // The moment Telegram has the message, every connection of the sender drops and the database refuses new ones for a while.
    const taken = telegram.waitForCall('sendMessage', (call) => String(call.params.chat_id) === String(person.chatId), 10_000).then(() => {
      proxy.block();
      setTimeout(() => void proxy.unblock(), 800);
    });
    sender.start();
    try {
      await taken;
      const recorded = await eventually(
        () => direct.notification.findUniqueOrThrow({ where: { id: notification.id } }),
        (n) => n.telegramStatus !== 'PENDING',
        10_000,
      );
      expect(recorded).toMatchObject({ telegramStatus: 'SENT', telegramAttempts: 1 });
      // Past the lease: a message left unrecorded would have gone again by now.
      await new Promise((resolve) => setTimeout(resolve, 4500));
      expect(telegram.messagesTo(person.chatId).filter((m) => m.text.includes(notification.title))).toHaveLength(1);
    } finally {
      await sender.stop();
    }
  });
});
