import http from 'node:http';
import { Readable } from 'node:stream';
import { FakeTelegram } from '../../../test/support/fake-telegram';
import { freePort, startStack, type Stack } from '../../../test/support/stack';
import { login } from '../../../test/support/login';
import { EventStreams, orderEvent } from './notification-support';

const MB = 1024 * 1024;

interface StreamedPost {
  status: number;
  /** Bytes handed to the socket when the response arrived. */
  sentBeforeResponse: number;
}

/** POSTs `totalBytes` generated on the fly (one 64 KB chunk, sent again and again), and stops sending once the answer comes. */
function postStreaming(url: string, totalBytes: number, headers: Record<string, string | number> = {}): Promise<StreamedPost> {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  const body = new Readable({
    read() {
      if (sent >= totalBytes) return void this.push(null);
      sent += chunk.length;
      this.push(chunk);
    },
  });
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      answered = true;
      const sentBeforeResponse = sent;
      body.unpipe(req);
      body.destroy();
      res.resume().on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode!, sentBeforeResponse });
      });
    });
    // Once answered, the server closing the connection under the rest of the upload is expected.
    req.on('error', (error) => (answered ? undefined : reject(error)));
    body.pipe(req);
  });
}

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

  it('answers a huge body without the secret with 401 before reading it: the answer comes while it is being sent, and memory stays flat', async () => {
    const rssBefore = process.memoryUsage().rss;
    // No Content-Length: chunked, as an attacker would stream it.
    const refused = await postStreaming(webhookUrl, 200 * MB);
    const wrongSecret = await postStreaming(webhookUrl, 200 * MB, { 'x-telegram-bot-api-secret-token': 'not-the-secret', 'content-length': 200 * MB });
    const grewBy = process.memoryUsage().rss - rssBefore;

    expect([refused.status, wrongSecret.status]).toEqual([401, 401]);
    // Whatever the sockets' buffers took (a few MB) went out before the answer; reading it all would be 200 MB.
    expect(refused.sentBeforeResponse).toBeLessThan(20 * MB);
    expect(wrongSecret.sentBeforeResponse).toBeLessThan(20 * MB);
    expect(grewBy).toBeLessThan(50 * MB);
  });

  it('bounds the body of a request that carries the secret: over 1 MB is 413', async () => {
    const secret = { 'x-telegram-bot-api-secret-token': telegram.webhook!.secretToken! };
    const declared = await postStreaming(webhookUrl, 2 * MB, { ...secret, 'content-length': 2 * MB });
    const chunked = await postStreaming(webhookUrl, 2 * MB, secret);
    expect([declared.status, chunked.status]).toEqual([413, 413]);
    // A declared length over the limit is refused before the body is read.
    const huge = await postStreaming(webhookUrl, 200 * MB, { ...secret, 'content-length': 200 * MB });
    expect(huge.status).toBe(413);
    expect(huge.sentBeforeResponse).toBeLessThan(20 * MB);
  });

  it('takes an update that carries the secret, and refuses one that is not an update', async () => {
    const headers = { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': telegram.webhook!.secretToken! };
    const person = telegram.user(4243001, { hasStartedBot: true });
    const from = { id: person.chatId, is_bot: false, first_name: 'Ann' };
    const message = { message_id: 1, date: Math.floor(Date.now() / 1000), chat: { id: person.chatId, type: 'private' }, from, text: '/start', entities: [{ type: 'bot_command', offset: 0, length: 6 }] };
    const update = { update_id: 900_001, message };
    const taken = await fetch(webhookUrl, { method: 'POST', headers, body: JSON.stringify(update) });
    expect(taken.status).toBe(200);
    await telegram.waitForMessage({ chatId: person.chatId, textIncludes: 'share your phone number' });

    expect((await fetch(webhookUrl, { method: 'POST', headers, body: '{"not":"an update"}' })).status).toBe(400);
    expect((await fetch(webhookUrl, { method: 'POST', headers, body: '{not json' })).status).toBe(400);
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
