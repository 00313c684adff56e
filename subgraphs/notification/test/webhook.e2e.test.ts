import { FakeTelegram } from '../../../test/support/fake-telegram';
import { freePort, startStack, type Stack } from '../../../test/support/stack';
import { login } from '../../../test/support/login';
import { EventStreams, orderEvent } from './notification-support';

describe('the bot in webhook mode, served by the notification service', () => {
  let telegram: FakeTelegram;
  let stack: Stack;
  let webhookUrl: string;

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    const port = await freePort();
    webhookUrl = `http://127.0.0.1:${port}/telegram/webhook`;
    // No TELEGRAM_WEBHOOK_SECRET: one is derived from the bot token.
    stack = await startStack({
      telegram,
      env: { NOTIFICATION_PORT: String(port), NOTIFICATION_URL: `http://127.0.0.1:${port}/graphql`, TELEGRAM_WEBHOOK_URL: webhookUrl },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await telegram?.close();
  });

  it('registers the webhook with a secret, and refuses updates that do not carry it', async () => {
    expect(telegram.webhook).toMatchObject({ url: webhookUrl, secretToken: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const update = JSON.stringify({ update_id: 1, message: { message_id: 1, date: 0, chat: { id: 1, type: 'private' }, text: '/start' } });
    const post = (headers: Record<string, string>) => fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: update });
    expect((await post({})).status).toBe(401);
    expect((await post({ 'x-telegram-bot-api-secret-token': 'not-the-secret' })).status).toBe(401);
    expect(telegram.sentMessages).toEqual([]);
  });

  it('binds a chat and answers a button press through it', async () => {
    const customer = await login(stack, telegram);
    const streams = new EventStreams(stack.env.REDIS_KEY_PREFIX!);
    try {
      const order = orderEvent(customer.userId);
      await streams.publish('OrderPlaced', order);
      const ask = await telegram.waitForMessage({ chatId: customer.person.chatId, textIncludes: `Please confirm order ${order.number}` });
      // No order with this id exists, so the order service says so; the answer still comes back through the webhook.
      customer.person.pressButton(ask, `order:confirm:${order.orderId}`);
      const answer = await telegram.waitForCall('answerCallbackQuery');
      expect(answer.params).toMatchObject({ show_alert: true, text: expect.stringContaining(order.orderId) });
    } finally {
      streams.close();
    }
  });
});
