// What the services log in production: a realistic run (logins with one-time codes, token refreshes,
// a reused refresh token, a wrong code, orders), every service at the most verbose level, and then
// not one of its codes, tokens or phone numbers in the logs. And a request's lines share its id.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, type Stack } from './support/stack';
import { FakeTelegram } from './support/fake-telegram';
import { REQUEST_OTP, VERIFY_OTP, bindTelegram, randomPhone, requestCode, type Session } from './support/login';
import { eventually } from './support/eventually';
import { ME_ROLE, PRODUCT_TOTAL } from './support/operations';
import { gql } from '../generated/graphql/gateway';
import { CONFIRM_ORDER, Shop, newKey, ok } from '../subgraphs/order/test/order-support';

const REFRESH = gql(`
  mutation LogPrivacyRefresh($token: String!) { refreshToken(refreshToken: $token) { accessToken refreshToken } }
`);

interface LogLine {
  service: string;
  requestId?: string;
}

describe('logs in production', () => {
  const logFile = path.join(process.env.SHOP_TEST_LOG_DIR ?? os.tmpdir(), `log-privacy-${randomBytes(4).toString('hex')}.log`);
  const adminPhone = randomPhone();
  /** Everything that must never be in a production log line. */
  const secrets = new Set<string>();
  let telegram: FakeTelegram;
  let stack: Stack;

  /** Logs in as a person would, keeping every code and token it saw. */
  async function loginNoting(phone: string): Promise<Session> {
    secrets.add(phone).add(phone.replace(/^\+/, ''));
    const person = await bindTelegram(telegram, phone);
    const code = await requestCode(stack, telegram, person, phone);
    secrets.add(code);
    // A wrong guess first: a refusal (and whatever it logs) with a code in the variables.
    const wrongGuess = code === '000000' ? '000001' : '000000';
    expect((await stack.gql(VERIFY_OTP, { phone, code: wrongGuess })).errors).toBeDefined();
    const response = ok(await stack.gql(VERIFY_OTP, { phone, code }));
    const session = response.verifyOtp;
    secrets.add(session.accessToken).add(session.refreshToken);
    return { accessToken: session.accessToken, refreshToken: session.refreshToken, userId: session.user.id, phone, person };
  }

  beforeAll(async () => {
    const botToken = `${100_000_000 + Math.floor(Math.random() * 800_000_000)}:AA${randomBytes(18).toString('base64url')}`;
    const jwtSecret = randomBytes(48).toString('base64');
    secrets.add(botToken).add(jwtSecret);
    telegram = await FakeTelegram.start({ token: botToken });
    stack = await startStack({
      telegram,
      env: { NODE_ENV: 'production', JWT_SECRET: jwtSecret, ADMIN_PHONES: adminPhone, LOG_LEVEL: 'trace', LOG_FILE: logFile, GATEWAY_RESPONSE_CACHE: 'false' },
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await telegram?.close();
    fs.rmSync(logFile, { force: true });
  });

  const logLines = (): LogLine[] =>
    fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as LogLine);

  it('holds no one-time code, token or phone number after logins, refreshes and orders', async () => {
    const shop = new Shop(stack, await loginNoting(adminPhone));
    const customer = await loginNoting(randomPhone());

    // A refresh, then the used refresh token again: the session ends (and that is logged).
    const pair = ok(await stack.gql(REFRESH, { token: customer.refreshToken })).refreshToken;
    secrets.add(pair.accessToken).add(pair.refreshToken);
    expect((await stack.gql(REFRESH, { token: customer.refreshToken })).errors).toBeDefined();
    // A code asked for a phone no chat is linked to.
    const stranger = randomPhone();
    secrets.add(stranger).add(stranger.replace(/^\+/, ''));
    ok(await stack.gql(REQUEST_OTP, { phone: stranger }));

    const fresh = await loginNoting(randomPhone());
    const productId = await shop.product({ onHand: 3 });
    const order = ok(await shop.place(fresh, [{ productId, quantity: 1 }], newKey())).placeOrder;
    ok(await stack.gql(CONFIRM_ORDER, { id: order.id }, { token: fresh.accessToken }));
    // Out of stock: a refused order.
    expect(ok(await shop.place(fresh, [{ productId, quantity: 3 }], newKey())).placeOrder.status).toBe('FAILED');
    ok(await stack.gql(ME_ROLE, {}, { token: fresh.accessToken }));
    await telegram.waitForMessage({ chatId: fresh.person.chatId, textIncludes: `${order.number} is confirmed` });

    const text = fs.readFileSync(logFile, 'utf8');
    // The run was logged, at length, by every service...
    expect(new Set(logLines().map((line) => line.service))).toEqual(new Set(['gateway', 'auth', 'catalog', 'inventory', 'order', 'notification']));
    // ...and none of what it used is in there.
    const found = [...secrets].filter((secret) => text.includes(secret));
    expect(found).toEqual([]);
  });

  it("writes a request's lines, in the gateway and in the subgraph, under the client's x-request-id (no tracing here)", async () => {
    const requestId = `client-${randomBytes(6).toString('hex')}`;
    const response = await stack.gql(PRODUCT_TOTAL, {}, { headers: { 'x-request-id': requestId } });
    expect(response.headers.get('x-request-id')).toBe(requestId);
    const lines = await eventually(
      async () => logLines().filter((line) => line.requestId === requestId),
      (found) => new Set(found.map((line) => line.service)).size >= 2,
    );
    expect([...new Set(lines.map((line) => line.service))].sort()).toEqual(['catalog', 'gateway']);
  });

  it('answers a request without an x-request-id with the one it made, and logs under it', async () => {
    const response = await stack.gql(PRODUCT_TOTAL, {});
    const requestId = response.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    await eventually(
      async () => logLines().filter((line) => line.requestId === requestId),
      (found) => new Set(found.map((line) => line.service)).size >= 2,
    );
  });
});
