import { FakeTelegram } from '../../../test/support/fake-telegram';
import { freePort, startStack, useStack, type Stack } from '../../../test/support/stack';
import { bindTelegram, login, randomPhone, REQUEST_OTP, REQUEST_OTP_WITH_MESSAGE, requestCode, VERIFY_OTP } from '../../../test/support/login';
import { createPrisma } from '../../../kernel/src/prisma';
import { gql } from '../../../generated/graphql/gateway';

const ME = gql(`query MyProfile { me { id phone role telegramLinked createdAt } }`);

describe('login through Telegram, end to end through the gateway', () => {
  const ctx = useStack();
  let stack: Stack;
  let telegram: FakeTelegram;
  beforeAll(() => ({ stack, telegram } = ctx));

  it('binds the chat, sends a code to it, and the code buys tokens that work for `me`', async () => {
    const phone = randomPhone();
    const person = telegram.user(4242001);

    person.sendCommand('/start');
    const welcome = await telegram.waitForMessage({ chatId: person.chatId, textIncludes: 'share your phone number' });
    expect(JSON.stringify(welcome.reply_markup)).toContain('"request_contact":true');

    person.shareContact(phone.slice(1)); // Telegram sends the number without "+"
    await telegram.waitForMessage({ chatId: person.chatId, textIncludes: `${phone} is linked to this chat` });

    const challenge = await stack.gql(REQUEST_OTP, { phone });
    expect(challenge.errors).toBeUndefined();
    const { expiresAt, resendAfter } = challenge.data!.requestOtp;
    expect(new Date(expiresAt).getTime() - Date.now()).toBeGreaterThan(290_000);
    expect(new Date(expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(300_000);
    expect(new Date(resendAfter).getTime() - Date.now()).toBeGreaterThan(55_000);

    const sent = await telegram.waitForMessage({ chatId: person.chatId, textMatches: /login code: \d{6}/ });
    const code = /(\d{6})/.exec(sent.text)![1]!;

    const verified = await stack.gql(VERIFY_OTP, { phone, code });
    expect(verified.errors).toBeUndefined();
    const payload = verified.data!.verifyOtp;
    expect(payload.expiresIn).toBe(30 * 60);
    expect(payload.user).toMatchObject({ phone, role: 'USER', telegramLinked: true });

    const me = await stack.gql(ME, {}, { token: payload.accessToken });
    expect(me.errors).toBeUndefined();
    expect(me.data!.me).toMatchObject({ id: payload.user.id, phone, role: 'USER', telegramLinked: true });
  });

  it('answers `me` with null for an anonymous caller', async () => {
    const me = await stack.gql(ME);
    expect(me.status).toBe(200);
    expect(me.data).toEqual({ me: null });
  });

  it('refuses a contact that is not the sender\'s own, and binds nothing', async () => {
    const phone = randomPhone();
    const person = telegram.user(4242002);
    person.sendCommand('/start');
    await telegram.waitForMessage({ chatId: person.chatId, textIncludes: 'share your phone number' });

    person.shareContact(phone.slice(1), { ownerUserId: 999_999_999 });
    await telegram.waitForMessage({ chatId: person.chatId, textIncludes: 'not someone else' });

    const prisma = createPrisma(process.env.DATABASE_URL!, { max: 1 });
    try {
      expect(await prisma.user.findUnique({ where: { phone } })).toBeNull();
    } finally {
      await prisma.$disconnect();
    }
  });

  it('tells whoever asks for a code to open the bot first if none arrives', async () => {
    const response = await stack.gql(REQUEST_OTP_WITH_MESSAGE, { phone: randomPhone() });
    expect(response.status).toBe(200);
    expect(response.errors).toBeUndefined();
    expect(response.data!.requestOtp.message).toMatch(/If none arrives, open .*bot.*share your phone number/i);
  });

  it('moves a chat to the new phone when its owner shares another number', async () => {
    const first = randomPhone();
    const second = randomPhone();
    const person = await bindTelegram(telegram, first);
    person.shareContact(second.slice(1));
    await telegram.waitForMessage({ chatId: person.chatId, textIncludes: `${second} is linked` });

    // The old phone's code goes nowhere: the one code the chat gets is the new phone's.
    expect((await stack.gql(REQUEST_OTP, { phone: first })).errors).toBeUndefined();
    const code = await requestCode(stack, telegram, person, second);
    expect((await stack.gql(VERIFY_OTP, { phone: second, code })).errors).toBeUndefined();
    expect(telegram.messagesTo(person.chatId).filter((m) => /login code/.test(m.text))).toHaveLength(1);
  });

  it('accepts a code for many people logging in at once', async () => {
    const sessions = await Promise.all(Array.from({ length: 8 }, () => login(stack, telegram)));
    const ids = new Set(sessions.map((s) => s.userId));
    expect(ids.size).toBe(8);
    for (const session of sessions) {
      const me = await stack.gql(ME, {}, { token: session.accessToken });
      expect(me.data!.me!.id).toBe(session.userId);
    }
  });
});

describe('login with the bot in webhook mode', () => {
  let telegram: FakeTelegram;
  let stack: Stack;

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    // The bot lives in the notification service, so the webhook is served on its port.
    const port = await freePort();
    stack = await startStack({
      telegram,
      env: {
        NOTIFICATION_PORT: String(port),
        NOTIFICATION_URL: `http://127.0.0.1:${port}/graphql`,
        TELEGRAM_WEBHOOK_URL: `http://127.0.0.1:${port}/telegram/webhook`,
        TELEGRAM_WEBHOOK_SECRET: 'webhook-secret-0123456789',
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await telegram?.close();
  });

  it('registers the webhook with its secret and logs a person in through it', async () => {
    expect(telegram.webhook).toMatchObject({ url: expect.stringContaining('/telegram/webhook'), secretToken: 'webhook-secret-0123456789' });
    const session = await login(stack, telegram);
    const me = await stack.gql(ME, {}, { token: session.accessToken });
    expect(me.data!.me!.phone).toBe(session.phone);
  });
});
