/** The soak's people: they log in through the (fake) Telegram bot, as the shop's customers do. */
import { randomUUID } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { FakeTelegram, FakeUser } from '../../test/support/fake-telegram';
import type { Traffic } from './client';

export interface Person {
  phone: string;
  token: string;
  userId: string;
  telegram: FakeUser;
}

let nextTelegramId = 700_000_000 + Math.floor(Math.random() * 100_000_000);
let nextPhone = 7_400_000_000 + Math.floor(Math.random() * 100_000) * 7919;

/** A valid UK mobile number, different on each call. */
export function newPhone(): string {
  for (;;) {
    nextPhone += 7919;
    const candidate = `+44${nextPhone}`;
    if (parsePhoneNumberFromString(candidate)?.isValid()) return candidate;
  }
}

/** The person opens the bot, presses Start and shares their contact: the bot links the chat to the phone. */
export async function bindChat(telegram: FakeTelegram, phone: string, timeoutMs = 10_000): Promise<FakeUser> {
  const person = telegram.user(nextTelegramId++);
  person.sendCommand('/start');
  await telegram.waitForMessage({ chatId: person.chatId, textIncludes: 'share your phone number' }, timeoutMs);
  person.shareContact(phone.replace(/^\+/, ''));
  await telegram.waitForMessage({ chatId: person.chatId, textIncludes: 'is linked to this chat' }, timeoutMs);
  return person;
}

const REQUEST_OTP = `mutation SoakRequestOtp($phone: String!) { requestOtp(phone: $phone) { expiresAt } }`;
const VERIFY_OTP = `mutation SoakVerifyOtp($phone: String!, $code: String!) { verifyOtp(phone: $phone, code: $code) { accessToken user { id } } }`;

/**
 * The whole login of test/support/login.ts, its requests counted: bind the chat, ask for a code, read it
 * from the bot's message, verify it. A step that does not happen in time is recorded as a failure
 * with a code of the soak's own (TELEGRAM_TIMEOUT), and the login gives up (undefined).
 */
export async function logIn(traffic: Traffic, telegram: FakeTelegram, phone = newPhone()): Promise<Person | undefined> {
  let person: FakeUser;
  let startedAt = Date.now();
  try {
    person = await bindChat(telegram, phone);
  } catch (error) {
    traffic.record('login:bindChat', 'TELEGRAM_TIMEOUT', (error as Error).message, startedAt);
    return undefined;
  }
  traffic.record('login:bindChat', undefined);
  const asked = await traffic.send('requestOtp', REQUEST_OTP, { phone });
  if (asked.code) return undefined;
  let code: string;
  startedAt = Date.now();
  try {
    const message = await telegram.waitForMessage({ chatId: person.chatId, textMatches: /login code: \d{6}/ }, 15_000);
    code = /login code: (\d{6})/.exec(message.text)![1]!;
  } catch (error) {
    traffic.record('login:codeMessage', 'TELEGRAM_TIMEOUT', (error as Error).message, startedAt);
    return undefined;
  }
  traffic.record('login:codeMessage', undefined);
  const verified = await traffic.send<{ verifyOtp: { accessToken: string; user: { id: string } } }>('verifyOtp', VERIFY_OTP, { phone, code });
  if (!verified.data?.verifyOtp) return undefined;
  return { phone, token: verified.data.verifyOtp.accessToken, userId: verified.data.verifyOtp.user.id, telegram: person };
}

/** Logs in, trying again (a fault may be on) until it works or `timeoutMs` has passed. */
export async function logInSurely(traffic: Traffic, telegram: FakeTelegram, phone = newPhone(), timeoutMs = 60_000): Promise<Person> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const person = await logIn(traffic, telegram, phone);
    if (person) return person;
    if (Date.now() > deadline) throw new Error(`could not log in ${phone} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // A fresh phone: the first one's resend wait (60 s) would refuse a second code.
    phone = newPhone();
  }
}

export const idempotencyKey = () => randomUUID();
