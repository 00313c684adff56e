import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { gql } from '../../generated/graphql/gateway';
import type { FakeTelegram, FakeUser } from './fake-telegram';
import { TEST_JWT_SECRET, type Stack } from './stack';

let nextTelegramId = 100_000 + Math.floor(Math.random() * 1_000_000);

/** A valid, unused-looking UK mobile number in E.164, unique per call. */
export function randomPhone(): string {
  for (;;) {
    const candidate = `+447${Math.floor(100_000_000 + Math.random() * 899_999_999)}`;
    if (parsePhoneNumberFromString(candidate)?.isValid()) return candidate;
  }
}

export const REQUEST_OTP = gql(`
  mutation RequestOtp($phone: String!) { requestOtp(phone: $phone) { phone expiresAt resendAfter } }
`);
/** With the `message` a person reads, the same whether or not the phone is linked. */
export const REQUEST_OTP_WITH_MESSAGE = gql(`
  mutation RequestOtpWithMessage($phone: String!) { requestOtp(phone: $phone) { phone expiresAt resendAfter message } }
`);
export const VERIFY_OTP = gql(`
  mutation VerifyOtp($phone: String!, $code: String!) {
    verifyOtp(phone: $phone, code: $code) { accessToken refreshToken expiresIn user { id phone role telegramLinked } }
  }
`);

/** A person opens the bot, presses Start and shares their own contact: their chat is bound to the phone. */
export async function bindTelegram(telegram: FakeTelegram, phone: string): Promise<FakeUser> {
  const person = telegram.user(nextTelegramId++);
  person.sendCommand('/start');
  await telegram.waitForMessage({ chatId: person.chatId, textIncludes: 'share your phone number' });
  person.shareContact(phone.replace(/^\+/, ''));
  await telegram.waitForMessage({ chatId: person.chatId, textIncludes: 'is linked to this chat' });
  return person;
}

/** Asks for a code through the gateway and reads it from the message the bot sent. */
export async function requestCode(stack: Pick<Stack, 'gql'>, telegram: FakeTelegram, person: FakeUser, phone: string): Promise<string> {
  const response = await stack.gql(REQUEST_OTP, { phone });
  if (response.errors) throw new Error(`requestOtp failed: ${JSON.stringify(response.errors)}`);
  const message = await telegram.waitForMessage({ chatId: person.chatId, textMatches: /login code: \d{6}/ });
  return /login code: (\d{6})/.exec(message.text)![1]!;
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  userId: string;
  phone: string;
  person: FakeUser;
}

/** The whole login: bind the chat, request a code, verify it. */
export async function login(stack: Pick<Stack, 'gql'>, telegram: FakeTelegram, phone = randomPhone()): Promise<Session> {
  const person = await bindTelegram(telegram, phone);
  const code = await requestCode(stack, telegram, person, phone);
  const response = await stack.gql(VERIFY_OTP, { phone, code });
  if (response.errors) throw new Error(`verifyOtp failed: ${JSON.stringify(response.errors)}`);
  const payload = response.data!.verifyOtp;
  return { accessToken: payload.accessToken, refreshToken: payload.refreshToken, userId: payload.user.id, phone, person };
}

/** An access token for `userId` that expires in `seconds`, signed like the auth service signs them. */
export function shortLivedAccessToken(userId: string, seconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ typ: 'access', role: 'USER' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuer('shop-auth')
    .setAudience('shop')
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + seconds)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}
