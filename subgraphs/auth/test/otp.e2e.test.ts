import { FakeTelegram } from '../../../test/support/fake-telegram';
import { startStack, useStack, type Stack } from '../../../test/support/stack';
import { bindTelegram, randomPhone, REQUEST_OTP, requestCode, VERIFY_OTP } from '../../../test/support/login';
import { firstErrorCode, graphql } from '../../../test/support/graphql';
import { JwtService } from '../../../kernel/src/jwt';
import { loadAuthConfig } from '../src/config';

const wrongCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('one-time codes', () => {
  // Codes live the default 5 minutes here: only the expiry story below has a short TTL.
  const ctx = useStack();
  let stack: Stack;
  let telegram: FakeTelegram;
  beforeAll(() => ({ stack, telegram } = ctx));

  it('kills a code after five wrong tries, even for the right code on the sixth', async () => {
    const phone = randomPhone();
    const person = await bindTelegram(telegram, phone);
    const code = await requestCode(stack, telegram, person, phone);

    const remaining: unknown[] = [];
    for (let attempt = 1; attempt <= 5; attempt++) {
      const response = await stack.gql(VERIFY_OTP, { phone, code: wrongCode(code) });
      remaining.push(response.errors![0]!.extensions!.remainingAttempts);
      expect(firstErrorCode(response)).toBe(attempt < 5 ? 'OTP_INVALID' : 'OTP_ATTEMPTS_EXCEEDED');
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);

    const sixth = await stack.gql(VERIFY_OTP, { phone, code });
    expect(firstErrorCode(sixth)).toBe('OTP_ATTEMPTS_EXCEEDED');
    expect(sixth.data).toBeNull();
  });

  it('counts concurrent wrong tries exactly: 10 in parallel leave the code dead', async () => {
    const phone = randomPhone();
    const person = await bindTelegram(telegram, phone);
    const code = await requestCode(stack, telegram, person, phone);
    const responses = await Promise.all(Array.from({ length: 10 }, () => stack.gql(VERIFY_OTP, { phone, code: wrongCode(code) })));
    const codes = responses.map(firstErrorCode);
    expect(codes.filter((c) => c === 'OTP_INVALID')).toHaveLength(4);
    expect(codes.filter((c) => c === 'OTP_ATTEMPTS_EXCEEDED')).toHaveLength(6);
    expect(firstErrorCode(await stack.gql(VERIFY_OTP, { phone, code }))).toBe('OTP_ATTEMPTS_EXCEEDED');
  });

  it('accepts a code once: reusing it fails', async () => {
    const phone = randomPhone();
    const person = await bindTelegram(telegram, phone);
    const code = await requestCode(stack, telegram, person, phone);
    expect((await stack.gql(VERIFY_OTP, { phone, code })).errors).toBeUndefined();
    const reused = await stack.gql(VERIFY_OTP, { phone, code });
    expect(firstErrorCode(reused)).toBe('OTP_EXPIRED');
  });

  it('accepts one of two concurrent verifications of the same code, not both', async () => {
    const phone = randomPhone();
    const person = await bindTelegram(telegram, phone);
    const code = await requestCode(stack, telegram, person, phone);
    const results = await Promise.all([stack.gql(VERIFY_OTP, { phone, code }), stack.gql(VERIFY_OTP, { phone, code })]);
    expect(results.filter((r) => !r.errors)).toHaveLength(1);
    expect(results.map(firstErrorCode).filter(Boolean)).toEqual(['OTP_EXPIRED']);
  });

  it('keeps a 60 s cooldown between codes for one phone', async () => {
    const phone = randomPhone();
    const person = await bindTelegram(telegram, phone);
    const asked = Date.now();
    await requestCode(stack, telegram, person, phone);
    const again = await stack.gql(REQUEST_OTP, { phone });
    expect(firstErrorCode(again)).toBe('RATE_LIMITED');
    // The cooldown started at the first request: what is left of it, however long the steps took.
    expect(again.errors![0]!.extensions!.retryAfterSeconds).toBeGreaterThanOrEqual(Math.floor(60 - (Date.now() - asked) / 1000));
    expect(again.errors![0]!.extensions!.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  it.each([
    ['not a number', 'BAD_USER_INPUT'],
    ['', 'BAD_USER_INPUT'],
    ['+1 (000) 000-0000', 'BAD_USER_INPUT'],
    ['1'.repeat(5000), 'BAD_USER_INPUT'],
  ])('refuses the malformed phone %j with %s naming the field', async (phone, code) => {
    const response = await stack.gql(REQUEST_OTP, { phone });
    expect(response.status).toBe(200);
    expect(firstErrorCode(response)).toBe(code);
    expect(response.errors![0]!.extensions!.field).toBe('phone');
  });

  it.each(['', '12345', '1234567', 'abcdef', ' 12 34 '])('refuses the malformed code %j with BAD_USER_INPUT', async (code) => {
    const response = await stack.gql(VERIFY_OTP, { phone: randomPhone(), code });
    expect(firstErrorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.errors![0]!.extensions!.field).toBe('code');
  });

  it('refuses a missing argument as a GraphQL validation error, not a 500', async () => {
    const response = await stack.gql(`mutation { verifyOtp(phone: "+447911123456") { accessToken } }`);
    // GraphQL over HTTP: 200 under application/json (400 under application/graphql-response+json).
    expect(response.status).toBe(200);
    expect(firstErrorCode(response)).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('code expiry', () => {
  const TTL_SECONDS = 2;
  const ctx = useStack({ OTP_TTL_SECONDS: String(TTL_SECONDS) });

  it('refuses a code after it expires', async () => {
    const { stack, telegram } = ctx;
    const phone = randomPhone();
    const person = await bindTelegram(telegram, phone);
    const asked = Date.now();
    const requested = await stack.gql(REQUEST_OTP, { phone });
    const expiresAt = Date.parse(requested.data!.requestOtp.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(asked + TTL_SECONDS * 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + TTL_SECONDS * 1000);
    const message = await telegram.waitForMessage({ chatId: person.chatId, textMatches: /login code: \d{6}/ });
    const code = /login code: (\d{6})/.exec(message.text)![1]!;

    // Waiting for the expiry itself: the code is stored with the TTL before expiresAt is computed.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now() + 100)));
    expect(firstErrorCode(await stack.gql(VERIFY_OTP, { phone, code }))).toBe('OTP_EXPIRED');
  });
});

async function withStack(env: Record<string, string>, body: (stack: Stack, telegram: FakeTelegram) => Promise<void>) {
  const telegram = await FakeTelegram.start();
  const stack = await startStack({ telegram, env });
  try {
    await body(stack, telegram);
  } finally {
    await stack.stop();
    await telegram.close();
  }
}

describe('rate limits on code requests', () => {
  it('limits codes per phone per hour', () =>
    withStack({ OTP_RESEND_COOLDOWN_SECONDS: '1', OTP_PHONE_LIMIT_PER_HOUR: '2' }, async (stack, telegram) => {
      const phone = randomPhone();
      const person = await bindTelegram(telegram, phone);
      const asked = Date.now();
      await requestCode(stack, telegram, person, phone);
      // Past the 1 s cooldown, so only the hourly limit can refuse.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await requestCode(stack, telegram, person, phone);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const third = await stack.gql(REQUEST_OTP, { phone });
      expect(firstErrorCode(third)).toBe('RATE_LIMITED');
      // The hour counts from the first code: what is left of it.
      expect(third.errors![0]!.extensions!.retryAfterSeconds).toBeGreaterThanOrEqual(3600 - Math.ceil((Date.now() - asked) / 1000));
      expect(third.errors![0]!.extensions!.retryAfterSeconds).toBeLessThanOrEqual(3600);
    }));

  it('limits code requests per client address, whatever the phone', () =>
    withStack({ OTP_IP_LIMIT_PER_HOUR: '3' }, async (stack) => {
      const codes: unknown[] = [];
      for (let i = 0; i < 4; i++) codes.push(firstErrorCode(await stack.gql(REQUEST_OTP, { phone: randomPhone() })));
      expect(codes).toEqual([undefined, undefined, undefined, 'RATE_LIMITED']);
    }));

  it('counts an IPv6 client by its /64, an IPv4 client by its address', () =>
    withStack({ OTP_IP_LIMIT_PER_HOUR: '2' }, async (stack) => {
      // As the gateway signs it: the client address travels in the internal token.
      const jwt = await JwtService.create(loadAuthConfig(stack.env));
      const from = async (ip: string) => {
        const response = await graphql(stack.urls.auth, REQUEST_OTP, { phone: randomPhone() }, { token: await jwt.signInternal({ ip }) });
        return firstErrorCode(response) ?? 'OK';
      };
      const sameNetwork = ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:fffe', '2001:db8:1:2:abcd::7'];
      const results = [];
      for (const ip of sameNetwork) results.push(await from(ip));
      expect(results).toEqual(['OK', 'OK', 'RATE_LIMITED']);
      // The next /64 is another subscriber.
      expect(await from('2001:db8:1:3::1')).toBe('OK');
      expect(await from('2001:db8:1:3::2')).toBe('OK');
      expect(await from('2001:db8:1:3::3')).toBe('RATE_LIMITED');
      // IPv4 addresses next to each other are not one bucket.
      expect([await from('198.51.100.7'), await from('198.51.100.7'), await from('198.51.100.8')]).toEqual(['OK', 'OK', 'OK']);
      expect(await from('198.51.100.7')).toBe('RATE_LIMITED');
    }));
});
