import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Api,
  Bot,
  InlineKeyboardBuilder,
  ReplyKeyboardBuilder,
  TelegramApiError,
  TelegramBotError,
  webhookCallback,
} from 'node-telegram-bot-api';
import type { Contact, Update } from 'node-telegram-bot-api';
import { FakeTelegram } from './fake-telegram';

jest.setTimeout(20_000);

/** Serve a web-standard `(Request) => Promise<Response>` handler on 127.0.0.1. */
async function serveWebhook(handler: (req: Request) => Promise<Response>): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      const request = new Request(`http://127.0.0.1${req.url ?? '/'}`, {
        method: req.method ?? 'POST',
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks),
      });
      const response = await handler(request);
      res.statusCode = response.status;
      res.end(Buffer.from(await response.arrayBuffer()));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/telegram`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function messageOf(update: Update) {
  if (!('message' in update)) throw new Error('not a message update');
  return update.message;
}

describe('FakeTelegram with node-telegram-bot-api 2.x', () => {
  let tg: FakeTelegram;

  beforeEach(async () => {
    tg = await FakeTelegram.start();
  });

  afterEach(async () => {
    await tg.close();
  });

  /** A polling bot; `stop` ends polling and checks that it ended promptly. */
  function startBot(setup: (bot: Bot) => void, options: { maxRetries?: number } = {}) {
    const bot = new Bot(tg.token, { apiRoot: tg.apiRoot, ...options });
    const errors: unknown[] = [];
    bot.catch((err) => {
      errors.push(err);
    });
    setup(bot);
    const polling = bot.startPolling(undefined, { timeout: 30 });
    return {
      bot,
      errors,
      async stop() {
        const started = Date.now();
        bot.stop();
        await polling;
        // Far below the 30 s long poll it cut short.
        expect(Date.now() - started).toBeLessThan(10_000);
      },
    };
  }

  it('delivers /start by long polling and captures the reply', async () => {
    const seen: Update[] = [];
    const { stop } = startBot((bot) => {
      bot.command('start', async (ctx) => {
        seen.push(ctx.update);
        await ctx.reply(`Welcome, ${ctx.from?.first_name}! payload=${ctx.match}`, {
          reply_markup: new InlineKeyboardBuilder().text('Catalog', 'catalog').build(),
        });
      });
    });
    const ann = tg.user(1001, { firstName: 'Ann', username: 'ann' });
    const update = ann.sendCommand('/start', 'ref42');

    const reply = await tg.waitForMessage({ chatId: 1001, textIncludes: 'Welcome' });
    expect(reply.text).toBe('Welcome, Ann! payload=ref42');
    expect(reply.reply_markup).toEqual({ inline_keyboard: [[{ text: 'Catalog', callback_data: 'catalog' }]] });
    expect(reply.message.reply_markup).toEqual(reply.reply_markup);
    expect(reply.message).toMatchObject({ chat: { id: 1001, type: 'private' }, from: { id: tg.botUser.id, is_bot: true }, text: reply.text });

    // The update the bot saw is a realistic one.
    expect(seen).toHaveLength(1);
    expect(seen[0]).toEqual(update);
    expect(messageOf(update)).toMatchObject({
      from: { id: 1001, is_bot: false, first_name: 'Ann', username: 'ann' },
      chat: { id: 1001, type: 'private', first_name: 'Ann' },
      text: '/start ref42',
      entities: [{ type: 'bot_command', offset: 0, length: 6 }],
    });
    expect(typeof messageOf(update).date).toBe('number');

    // The library speaks x-www-form-urlencoded, with reply_markup JSON inside.
    const call = tg.calls('sendMessage')[0];
    expect(call?.encoding).toBe('urlencoded');
    expect(call?.params.chat_id).toBe(1001);

    // Confirmed by the next getUpdates offset, which the library sends after the handler returned.
    await tg.waitForProcessed(update);
    expect(tg.pendingUpdates).toEqual([]);
    expect(tg.isLongPolling).toBe(true);
    await stop();
    expect(tg.calls('getUpdates')[0]?.params).toEqual({ timeout: 30 });
  });

  it('delivers a contact shared through a request_contact keyboard, and one of somebody else', async () => {
    const contacts: Array<{ contact: Contact; from: number | undefined }> = [];
    const { stop } = startBot((bot) => {
      bot.command('start', (ctx) =>
        ctx.reply('Share your phone number', {
          reply_markup: new ReplyKeyboardBuilder().requestContact('Share phone').build({ resize_keyboard: true, one_time_keyboard: true }),
        }),
      );
      bot.on('message', async (ctx, next) => {
        const contact = ctx.message?.contact;
        if (!contact) return next();
        contacts.push({ contact, from: ctx.from?.id });
        await ctx.reply(contact.user_id === ctx.from?.id ? 'Thanks' : 'That is not your number', { reply_markup: { remove_keyboard: true } });
      });
    });
    const bob = tg.user(2002, { firstName: 'Bob', lastName: 'Smith' });
    bob.sendCommand('/start');
    const ask = await tg.waitForMessage({ chatId: 2002, textIncludes: 'phone' });
    expect(ask.reply_markup).toEqual({ keyboard: [[{ text: 'Share phone', request_contact: true }]], resize_keyboard: true, one_time_keyboard: true });
    expect(ask.message.reply_markup).toBeUndefined(); // Telegram echoes only inline keyboards
    expect(bob.replyKeyboard?.keyboard[0]?.[0]?.request_contact).toBe(true);

    bob.tapReplyButton('Share phone', '+15550001111');
    expect(await tg.waitForMessage({ chatId: 2002 })).toMatchObject({ text: 'Thanks', reply_markup: { remove_keyboard: true } });
    expect(bob.replyKeyboard).toBeNull();
    expect(contacts[0]).toEqual({ contact: { phone_number: '+15550001111', first_name: 'Bob', last_name: 'Smith', user_id: 2002 }, from: 2002 });

    bob.shareContact('+15559998888', { ownerUserId: 3003, firstName: 'Carol' });
    expect((await tg.waitForMessage({ chatId: 2002 })).text).toBe('That is not your number');
    expect(contacts[1]?.contact).toEqual({ phone_number: '+15559998888', first_name: 'Carol', user_id: 3003 });
    await stop();
  });

  it('delivers callback queries and records answerCallbackQuery and edits', async () => {
    const { stop } = startBot((bot) => {
      bot.command('order', (ctx) =>
        ctx.reply('Confirm order #7?', {
          reply_markup: new InlineKeyboardBuilder().text('Yes', 'confirm:7').text('No', 'cancel:7').build(),
        }),
      );
      bot.on('callback_query', async (ctx) => {
        const query = ctx.callbackQuery!;
        await ctx.answerCallbackQuery({ text: `got ${query.data}` });
        const message = query.message!;
        await ctx.api.editMessageText({ chat_id: message.chat.id, message_id: message.message_id, text: 'Order #7 confirmed' });
      });
    });
    const api = new Api(tg.token, { apiRoot: tg.apiRoot });
    const dan = tg.user(4004);
    dan.sendText('/order');
    const question = await tg.waitForMessage({ chatId: 4004, textIncludes: 'Confirm' });

    const press = dan.pressButton(question, 'confirm:7');
    if (!('callback_query' in press)) throw new Error('expected a callback_query update');
    expect(press.callback_query).toMatchObject({ from: { id: 4004 }, data: 'confirm:7', message: { message_id: question.message_id, chat: { id: 4004 } } });

    const answer = await tg.waitForCall('answerCallbackQuery');
    expect(answer.ok).toBe(true);
    expect(answer.params).toEqual({ callback_query_id: press.callback_query.id, text: 'got confirm:7' });
    const edit = await tg.waitForCall('editMessageText');
    expect(edit.response).toMatchObject({ ok: true, result: { message_id: question.message_id, text: 'Order #7 confirmed' } });
    // The edit without reply_markup removed the inline keyboard, as in Telegram: the button is gone.
    expect(() => dan.pressButton(question, 'confirm:7')).toThrow(/no inline button/);
    expect(() => dan.pressButton(question, 'nope')).toThrow(/no inline button/);

    // Telegram rejects a second answer and a no-op edit.
    await expect(api.answerCallbackQuery({ callback_query_id: press.callback_query.id })).rejects.toMatchObject({ errorCode: 400 });
    await expect(
      api.editMessageText({ chat_id: 4004, message_id: question.message_id, text: 'Order #7 confirmed' }),
    ).rejects.toMatchObject({ errorCode: 400, description: expect.stringContaining('message is not modified') });
    await stop();
  });

  it('429 with retry_after: the library waits retry_after seconds and the retry succeeds', async () => {
    tg.user(5005, { hasStartedBot: true });
    const api = new Api(tg.token, { apiRoot: tg.apiRoot }); // default maxRetries: 2
    tg.failNext('sendMessage', { errorCode: 429, retryAfter: 1, chatId: 5005 });
    const started = Date.now();
    const message = await api.sendMessage({ chat_id: 5005, text: 'after flood wait' });
    const elapsed = Date.now() - started;

    expect(message.text).toBe('after flood wait');
    expect(elapsed).toBeGreaterThanOrEqual(950);
    const calls = tg.calls('sendMessage');
    expect(calls.map((c) => c.ok)).toEqual([false, true]);
    expect(calls[0]?.response).toEqual({ ok: false, error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } });
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(950);

    // Without retries the 429 surfaces with its retry_after.
    const noRetry = new Api(tg.token, { apiRoot: tg.apiRoot, maxRetries: 0 });
    tg.failNext('sendMessage', { errorCode: 429, retryAfter: 7, chatId: 5005 });
    const err = await noRetry.sendMessage({ chat_id: 5005, text: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TelegramApiError);
    expect(err).toMatchObject({ code: 'ETELEGRAM', errorCode: 429, retryAfter: 7, parameters: { retry_after: 7 } });
  });

  it('5xx is retried by the library', async () => {
    tg.user(5006, { hasStartedBot: true });
    const api = new Api(tg.token, { apiRoot: tg.apiRoot });
    tg.failNext('sendMessage', { errorCode: 500, chatId: 5006 }, 2);
    await expect(api.sendMessage({ chat_id: 5006, text: 'third time lucky' })).resolves.toMatchObject({ text: 'third time lucky' });
    expect(tg.calls('sendMessage').map((c) => c.ok)).toEqual([false, false, true]);
  });

  it('an outage answers every call of its methods with its error until it ends, then serves again', async () => {
    tg.user(5010, { hasStartedBot: true });
    const api = new Api(tg.token, { apiRoot: tg.apiRoot, maxRetries: 0 });
    tg.outage({ errorCode: 429, retryAfter: 3 }, 400, ['sendMessage']);
    expect(tg.inOutage).toBe(true);
    await expect(api.sendMessage({ chat_id: 5010, text: 'one' })).rejects.toMatchObject({ errorCode: 429, retryAfter: 3 });
    await expect(api.sendMessage({ chat_id: 5010, text: 'two' })).rejects.toMatchObject({ errorCode: 429, retryAfter: 3 });
    // Another method passes by it.
    await expect(api.getMe()).resolves.toMatchObject({ is_bot: true });
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(tg.inOutage).toBe(false);
    await expect(api.sendMessage({ chat_id: 5010, text: 'three' })).resolves.toMatchObject({ text: 'three' });

    tg.outage({ errorCode: 500 }, 60_000);
    await expect(api.getMe()).rejects.toMatchObject({ errorCode: 500 });
    tg.endOutage();
    await expect(api.sendMessage({ chat_id: 5010, text: 'four' })).resolves.toMatchObject({ text: 'four' });
    expect(tg.calls('sendMessage').map((c) => c.ok)).toEqual([false, false, true, true]);
  });

  it('a fault for one chat is taken only by a call for that chat', async () => {
    tg.user(5007, { hasStartedBot: true });
    tg.user(5008, { hasStartedBot: true });
    const api = new Api(tg.token, { apiRoot: tg.apiRoot, maxRetries: 0 });
    tg.failNext('sendMessage', { errorCode: 502, chatId: 5008 });
    tg.failNext('sendMessage', { errorCode: 500 });

    // The unscoped fault is the first that fits another chat; the scoped one waits for its chat.
    await expect(api.sendMessage({ chat_id: 5007, text: 'one' })).rejects.toMatchObject({ errorCode: 500 });
    await expect(api.sendMessage({ chat_id: 5007, text: 'two' })).resolves.toMatchObject({ text: 'two' });
    await expect(api.sendMessage({ chat_id: '5008', text: 'three' })).rejects.toMatchObject({ errorCode: 502 });
    await expect(api.sendMessage({ chat_id: 5008, text: 'four' })).resolves.toMatchObject({ text: 'four' });
    expect(tg.calls('sendMessage').map((c) => [c.params.chat_id, c.ok])).toEqual([[5007, false], [5007, true], [5008, false], [5008, true]]);
  });

  it('403 surfaces as a TelegramApiError the caller can inspect', async () => {
    const eve = tg.user(6006);
    const api = new Api(tg.token, { apiRoot: tg.apiRoot });

    // Nobody wrote to the bot yet.
    await expect(api.sendMessage({ chat_id: 6006, text: 'hi' })).rejects.toMatchObject({ errorCode: 403, description: "Forbidden: bot can't initiate conversation with a user" });
    await expect(api.sendMessage({ chat_id: 7777, text: 'hi' })).rejects.toMatchObject({ errorCode: 400, description: 'Bad Request: chat not found' });

    eve.sendCommand('/start');
    tg.blockBotFor(6006);
    const err = await api.sendMessage({ chat_id: 6006, text: 'are you there?' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TelegramApiError);
    expect(err).toBeInstanceOf(TelegramBotError);
    expect(err).toMatchObject({ code: 'ETELEGRAM', errorCode: 403, description: 'Forbidden: bot was blocked by the user', message: '403: Forbidden: bot was blocked by the user' });
    expect(tg.calls('sendMessage')).toHaveLength(3); // 403s are not retried
    expect(() => eve.sendText('hello')).toThrow(/blocked/);

    tg.unblockBotFor(6006);
    await expect(api.sendMessage({ chat_id: 6006, text: 'welcome back' })).resolves.toMatchObject({ chat: { id: 6006 } });

    // A handler's error goes to bot.catch; failNext works for 403 too.
    tg.failNext('sendMessage', { errorCode: 403, description: 'Forbidden: user is deactivated', chatId: 6006 });
    const { errors, stop } = startBot((bot) => bot.on('message', (ctx) => ctx.reply('echo')));
    eve.sendText('ping');
    const updates = tg.pendingUpdates;
    await tg.waitForProcessed();
    expect(updates.map((u) => Object.keys(u)[1])).toEqual(['message', 'my_chat_member', 'my_chat_member', 'message']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ errorCode: 403, description: 'Forbidden: user is deactivated' });
    await stop();
  });

  it('webhook mode: pushes updates with the secret; a wrong secret is rejected and redelivered', async () => {
    const bot = new Bot(tg.token, { apiRoot: tg.apiRoot });
    const handled: number[] = [];
    bot.command('start', async (ctx) => {
      handled.push(ctx.update.update_id);
      await ctx.reply('hello from the webhook');
    });
    const hook = await serveWebhook(webhookCallback(bot, { secretToken: 'right-secret' }));
    try {
      await bot.api.setWebhook({ url: hook.url, secret_token: 'right-secret' });
      expect(tg.webhook).toMatchObject({ url: hook.url, secretToken: 'right-secret' });
      await expect(bot.api.getUpdates({ timeout: 0 })).rejects.toMatchObject({ errorCode: 409 });

      const first = tg.user(8008).sendCommand('/start');
      await expect(tg.waitForMessage({ chatId: 8008 })).resolves.toMatchObject({ text: 'hello from the webhook' });
      await tg.waitForProcessed(first);
      expect(tg.webhookDeliveries[0]).toMatchObject({ updateId: first.update_id, status: 200, ok: true, secretToken: 'right-secret' });

      // Wrong secret: webhookCallback answers 401, the handler does not run, the fake keeps retrying.
      await bot.api.setWebhook({ url: hook.url, secret_token: 'wrong-secret' });
      const second = tg.user(8008).sendCommand('/start');
      await waitFor(() => tg.webhookDeliveries.filter((d) => d.updateId === second.update_id).length >= 2);
      expect(tg.webhookDeliveries.filter((d) => d.updateId === second.update_id).every((d) => d.status === 401 && !d.ok)).toBe(true);
      expect(handled).toEqual([first.update_id]);
      expect((await bot.api.getWebhookInfo()).last_error_message).toBe('Wrong response from the webhook: 401 Unauthorized');
      expect((await bot.api.getWebhookInfo()).pending_update_count).toBe(1);

      // Fixing the secret gets the same update delivered.
      await bot.api.setWebhook({ url: hook.url, secret_token: 'right-secret' });
      await tg.waitForProcessed(second);
      expect(handled).toEqual([first.update_id, second.update_id]);

      await bot.api.deleteWebhook();
      expect(tg.webhook).toBeNull();
      await expect(bot.api.getUpdates({ timeout: 0 })).resolves.toEqual([]);
    } finally {
      await hook.close();
    }
  });

  it('speaks the Bot API protocol: envelopes, 401, 404, JSON and multipart bodies, offsets, allowed_updates', async () => {
    const base = `${tg.apiRoot}/bot${tg.token}`;
    const me = await (await fetch(`${base}/getMe`)).json();
    expect(me).toEqual({ ok: true, result: expect.objectContaining({ id: 123456789, is_bot: true, username: 'test_shop_bot' }) });

    const unauthorized = await fetch(`${tg.apiRoot}/bot1:wrong/getMe`);
    expect(unauthorized.status).toBe(401);
    expect(await unauthorized.json()).toEqual({ ok: false, error_code: 401, description: 'Unauthorized' });
    const notFound = await fetch(`${base}/sendTeleport`, { method: 'POST' });
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({ ok: false, error_code: 404, description: 'Not Found' });

    tg.user(9009, { hasStartedBot: true });
    const json = await fetch(`${base}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chat_id: 9009, text: 'json', reply_markup: { inline_keyboard: [[{ text: 'A', callback_data: 'a' }]] } }),
    });
    expect(await json.json()).toMatchObject({ ok: true, result: { text: 'json', reply_markup: { inline_keyboard: [[{ text: 'A', callback_data: 'a' }]] } } });
    const form = new FormData();
    form.set('chat_id', '9009');
    form.set('text', '12345');
    form.set('reply_markup', JSON.stringify({ remove_keyboard: true }));
    form.set('photo', new Blob([new Uint8Array([1, 2, 3])], { type: 'image/png' }), 'a.png');
    const multipart = await fetch(`${base}/sendMessage`, { method: 'POST', body: form });
    expect(await multipart.json()).toMatchObject({ ok: true });
    expect(tg.calls('sendMessage').map((c) => c.encoding)).toEqual(['json', 'multipart']);
    expect(tg.calls('sendMessage')[1]?.params).toEqual({
      chat_id: 9009,
      text: '12345',
      reply_markup: { remove_keyboard: true },
      photo: { filename: 'a.png', contentType: 'image/png', size: 3 },
    });

    // Offsets confirm updates; allowed_updates filters them.
    const api = new Api(tg.token, { apiRoot: tg.apiRoot });
    const user = tg.user(9010);
    const a = user.sendText('one');
    const b = user.sendText('two');
    expect((await api.getUpdates({ timeout: 0 })).map((u) => u.update_id)).toEqual([a.update_id, b.update_id]);
    expect((await api.getUpdates({ timeout: 0 })).map((u) => u.update_id)).toEqual([a.update_id, b.update_id]);
    expect((await api.getUpdates({ offset: b.update_id, timeout: 0 })).map((u) => u.update_id)).toEqual([b.update_id]);
    await expect(tg.waitForProcessed(a)).resolves.toBeUndefined();
    expect((await api.getUpdates({ offset: b.update_id + 1, timeout: 0, allowed_updates: ['callback_query'] }))).toEqual([]);
    user.sendText('ignored: not an allowed update');
    expect(await api.getUpdates({ timeout: 0 })).toEqual([]);
    await api.getUpdates({ timeout: 0, allowed_updates: [] }); // back to Telegram's default set

    // A long poll is answered as soon as an update arrives.
    const poll = api.getUpdates({ offset: b.update_id + 1, timeout: 10 });
    await waitFor(() => tg.isLongPolling);
    const c = user.sendText('three');
    expect((await poll).map((u) => u.update_id)).toEqual([c.update_id]);
  });

  it('close() answers a pending long poll at once', async () => {
    const api = new Api(tg.token, { apiRoot: tg.apiRoot });
    const poll = api.getUpdates({ timeout: 50 });
    await waitFor(() => tg.isLongPolling);
    const started = Date.now();
    await tg.close();
    await expect(poll).resolves.toEqual([]);
    // Far below the poll's own 50 s.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('waitForMessage rejects with a list of what was sent', async () => {
    tg.user(1111, { hasStartedBot: true });
    const api = new Api(tg.token, { apiRoot: tg.apiRoot });
    await api.sendMessage({ chat_id: 1111, text: 'Order shipped', reply_markup: new InlineKeyboardBuilder().text('Track', 'track:1').build() });
    await expect(tg.waitForMessage({ chatId: 1111, textIncludes: 'delivered' }, 200)).rejects.toThrow(
      /waitForMessage\(\{"chatId":1111,"textIncludes":"delivered"\}\) timed out after 200 ms[\s\S]*sendMessage chat_id=1111 text="Order shipped" inline\[Track=>track:1\] -> ok/,
    );
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
