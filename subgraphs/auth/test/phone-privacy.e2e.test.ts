import { useFileDatabase } from '../../../test/support/database';
import type { FakeTelegram } from '../../../test/support/fake-telegram';
import { useStack, type Stack } from '../../../test/support/stack';
import { bindTelegram, randomPhone, REQUEST_OTP, REQUEST_OTP_WITH_MESSAGE, VERIFY_OTP } from '../../../test/support/login';
import { firstErrorCode, type GraphQLResponse } from '../../../test/support/graphql';

const LOGIN_CODE = /login code: \d{6}/;

/** The whole HTTP answer, with what may differ between phones (the phone, times, seconds left) blanked out. */
function blanked(response: GraphQLResponse, phone: string) {
  const body = response.raw
    .replaceAll(phone, '<phone>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    .replace(/in \d+ s\./g, 'in <n> s.')
    .replace(/"retryAfterSeconds":\d+/g, '"retryAfterSeconds":<n>');
  return { status: response.status, body };
}

describe('requestOtp tells a stranger nothing about a phone', () => {
  const ctx = useStack();
  let stack: Stack;
  let telegram: FakeTelegram;
  const prisma = useFileDatabase({ max: 1 });
  beforeAll(() => {
    ({ stack, telegram } = ctx);
  });

  it('answers a linked, an unlinked and an unknown phone alike, and only the linked chat gets a code', async () => {
    // Given: a linked phone; a known user whose chat moved to another phone; a phone nobody used.
    const linked = randomPhone();
    const linkedPerson = await bindTelegram(telegram, linked);
    const unlinked = randomPhone();
    const movedPerson = await bindTelegram(telegram, unlinked);
    const movedTo = randomPhone();
    movedPerson.shareContact(movedTo.slice(1));
    await telegram.waitForMessage({ chatId: movedPerson.chatId, textIncludes: `${movedTo} is linked` });
    const unknown = randomPhone();
    expect(await prisma.user.findUnique({ where: { phone: linked } })).toMatchObject({ telegramChatId: BigInt(linkedPerson.chatId) });
    expect(await prisma.user.findUnique({ where: { phone: unlinked } })).toMatchObject({ telegramChatId: null });
    expect(await prisma.user.findUnique({ where: { phone: unknown } })).toBeNull();
    const phones = [unknown, unlinked, linked];

    // When: each is asked for a code.
    const first = [];
    for (const phone of phones) first.push(await stack.gql(REQUEST_OTP_WITH_MESSAGE, { phone }));

    // Then: the same answer, apart from the phone and the times.
    for (const [i, response] of first.entries()) {
      expect(response.errors).toBeUndefined();
      const { expiresAt, resendAfter, message } = response.data!.requestOtp;
      expect(new Date(expiresAt).getTime() - new Date(resendAfter).getTime()).toBe((300 - 60) * 1000);
      expect(message).toMatch(/^If this number is linked to our Telegram bot, a code is on its way there\. If none arrives, open our Telegram bot, press Start and share your phone number/);
      expect(blanked(response, phones[i]!)).toEqual(blanked(first[0]!, phones[0]!));
    }

    // And within the cooldown: the same refusal for all three.
    const second = [];
    for (const phone of phones) second.push(await stack.gql(REQUEST_OTP_WITH_MESSAGE, { phone }));
    for (const [i, response] of second.entries()) {
      expect(firstErrorCode(response)).toBe('RATE_LIMITED');
      expect(response.errors![0]!.extensions!.retryAfterSeconds).toBeGreaterThan(50);
      expect(response.errors![0]!.extensions!.retryAfterSeconds).toBeLessThanOrEqual(60);
      expect(blanked(response, phones[i]!)).toEqual(blanked(second[0]!, phones[0]!));
    }

    // A wrong guess at verifyOtp does not tell them apart either.
    const guesses = await Promise.all(phones.map((phone) => stack.gql(VERIFY_OTP, { phone, code: '000000' })));
    expect(guesses[0]!.errors![0]!.extensions).toMatchObject({ code: 'OTP_INVALID', remainingAttempts: 4 });
    for (const [i, guess] of guesses.entries()) expect(blanked(guess, phones[i]!)).toEqual(blanked(guesses[0]!, phones[0]!));

    // Only the linked chat got a code: the linked request was last, and every code sent so far is its one.
    const sent = await telegram.waitForMessage({ chatId: linkedPerson.chatId, textMatches: LOGIN_CODE });
    expect(telegram.sentMessages.filter((m) => LOGIN_CODE.test(m.text))).toEqual([sent]);
    expect(telegram.messagesTo(movedPerson.chatId).filter((m) => LOGIN_CODE.test(m.text))).toEqual([]);
  });

  it('never accepts a code for a phone without a chat, whatever is guessed', async () => {
    const phone = randomPhone();
    expect((await stack.gql(REQUEST_OTP, { phone })).errors).toBeUndefined();
    // Six digits are guessed in a million; the stored entry for an undeliverable phone matches none of them.
    const results = [];
    for (const code of ['000000', '123456', '999999', '314159', '271828']) results.push((await stack.gql(VERIFY_OTP, { phone, code })).errors![0]!.extensions);
    expect(results.map((r) => r!.code)).toEqual(['OTP_INVALID', 'OTP_INVALID', 'OTP_INVALID', 'OTP_INVALID', 'OTP_ATTEMPTS_EXCEEDED']);
    expect(await prisma.user.findUnique({ where: { phone } })).toBeNull();
  });

  it('answers before Telegram has taken the code, so a slow Telegram does not mark a phone as linked, and delivers it after a 429 with retry_after', async () => {
    const phone = randomPhone();
    const person = await bindTelegram(telegram, phone);
    // Telegram says "wait 2 s": the notification service waits and sends again.
    telegram.failNext('sendMessage', { errorCode: 429, retryAfter: 2, chatId: person.chatId });
    const answer = await stack.gql(REQUEST_OTP, { phone });
    const answeredAt = Date.now();
    expect(answer.errors).toBeUndefined();
    const delivered = await telegram.waitForMessage({ chatId: person.chatId, textMatches: LOGIN_CODE });
    // The 429 was this code's first attempt, the second one (after retry_after) delivered it.
    const attempts = telegram.calls('sendMessage').filter((call) => String(call.params.chat_id) === String(person.chatId) && LOGIN_CODE.test(String(call.params.text)));
    expect(attempts.map((call) => (call.response.ok ? 'ok' : call.response.error_code))).toEqual([429, 'ok']);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(1900);
    // The answer came before Telegram took the code, however long each step took.
    expect(answeredAt).toBeLessThan(attempts[1]!.at);
    // And the delivered code logs in.
    const code = /login code: (\d{6})/.exec(delivered.text)![1]!;
    const verified = await stack.gql(VERIFY_OTP, { phone, code });
    expect(verified.errors).toBeUndefined();
    expect(verified.data!.verifyOtp.user.phone).toBe(phone);
  });

  it('answers as usual when Telegram refuses the code, and keeps the cooldown like for any phone', async () => {
    const phone = randomPhone();
    const person = await bindTelegram(telegram, phone);
    telegram.failNext('sendMessage', { errorCode: 403, description: 'Forbidden: bot was blocked by the user', chatId: person.chatId });
    const refused = await stack.gql(REQUEST_OTP, { phone });
    expect(refused.errors).toBeUndefined();
    const attempt = await telegram.waitForCall('sendMessage', (call) => String(call.params.chat_id) === String(person.chatId) && LOGIN_CODE.test(String(call.params.text)));
    expect(attempt.ok).toBe(false);
    expect(firstErrorCode(await stack.gql(REQUEST_OTP, { phone }))).toBe('RATE_LIMITED');
    expect(telegram.messagesTo(person.chatId).filter((m) => LOGIN_CODE.test(m.text))).toEqual([]);
  });
});
