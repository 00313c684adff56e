import http from 'node:http';
import { useStack } from '../../test/support/stack';
import { gql } from '../../generated/graphql/gateway';
import { firstErrorCode, type GraphQLResponse, type Operation } from '../../test/support/graphql';
import { login, randomPhone, type Session } from '../../test/support/login';
import { ADJUST_STOCK, createStockedProduct } from '../../test/support/operations';

/** One mutation counts one point; `logout` with a junk token is the cheapest one there is. */
const CHEAP_MUTATION = gql(`mutation LogoutJunkToken { logout(refreshToken: "not-a-token") }`);
const MY_ID = gql(`query MyId { me { id } }`);
const PRODUCT_ON_HAND = gql(`query ProductOnHand($id: ID!) { product(id: $id) { stock { onHand } } }`);

type Body<T> = { data?: T | null; errors?: GraphQLResponse['errors'] };

/** POSTs a GraphQL request from a chosen loopback address with chosen headers, as a proxy or a NATed client would. */
function postFrom<T, V>(url: string, localAddress: string, query: Operation<T, V>, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Body<T> }>((resolve, reject) => {
    const body = JSON.stringify({ query: String(query) });
    const request = http.request(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: JSON.parse(text) }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

const limited = (response: { body: Body<unknown> }) => response.body.errors?.[0]?.extensions?.code === 'RATE_LIMITED';

describe('mutation rate limits at the gateway', () => {
  const shop = useStack(
    {},
    { serviceEnv: { gateway: { MUTATION_RATE_PER_USER_PER_MINUTE: '5', MUTATION_RATE_PER_ADDRESS_PER_MINUTE: '12', TRUSTED_PROXIES: '127.0.0.2' } } },
  );
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await login(shop.stack, shop.telegram);
    bob = await login(shop.stack, shop.telegram);
  });

  it('refuses a user past the limit with RATE_LIMITED, 429 and Retry-After, and leaves another user alone', async () => {
    // From an address of its own (a trusted proxy names it), so only the per-user limit is in play.
    const asAlice = () => postFrom(shop.stack.gatewayUrl, '127.0.0.2', CHEAP_MUTATION, { authorization: `Bearer ${alice.accessToken}`, 'x-forwarded-for': '198.51.100.7' });
    const answers = [];
    for (let i = 0; i < 6; i += 1) answers.push(await asAlice());
    expect(answers.slice(0, 5).some(limited)).toBe(false);
    const refused = answers[5]!;
    expect(refused.status).toBe(429);
    const { extensions } = refused.body.errors![0]!;
    expect(extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
    expect(extensions!.retryAfterSeconds).toBeGreaterThan(0);
    expect(extensions!.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(refused.headers['retry-after']).toBe(String(extensions!.retryAfterSeconds));

    const asBob = await postFrom(shop.stack.gatewayUrl, '127.0.0.2', CHEAP_MUTATION, { authorization: `Bearer ${bob.accessToken}`, 'x-forwarded-for': '198.51.100.8' });
    expect(limited(asBob)).toBe(false);
    // Queries are not mutations: Alice can still read.
    const me = await postFrom(shop.stack.gatewayUrl, '127.0.0.2', MY_ID, { authorization: `Bearer ${alice.accessToken}`, 'x-forwarded-for': '198.51.100.7' });
    expect(me.body.data!.me!.id).toBe(alice.userId);
  });

  it('counts each mutation field, however many one request carries', async () => {
    const carol = await login(shop.stack, shop.telegram);
    const six = `mutation { ${Array.from({ length: 6 }, (_, i) => `l${i}: logout(refreshToken: "junk")`).join(' ')} }`;
    const response = await postFrom(shop.stack.gatewayUrl, '127.0.0.2', six, { authorization: `Bearer ${carol.accessToken}`, 'x-forwarded-for': '198.51.100.9' });
    expect(limited(response)).toBe(true);
  });

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    // 127.0.0.3 is not trusted: its forwarded addresses are ignored, so all of these share its bucket.
    const untrusted = [];
    for (let i = 0; i < 13; i += 1) untrusted.push(await postFrom(shop.stack.gatewayUrl, '127.0.0.3', CHEAP_MUTATION, { 'x-forwarded-for': `203.0.113.${i}` }));
    expect(untrusted.slice(0, 12).some(limited)).toBe(false);
    expect(limited(untrusted[12]!)).toBe(true);

    // 127.0.0.2 is trusted: each forwarded address has a bucket of its own...
    const distinct = [];
    for (let i = 0; i < 13; i += 1) distinct.push(await postFrom(shop.stack.gatewayUrl, '127.0.0.2', CHEAP_MUTATION, { 'x-forwarded-for': `192.0.2.${i}` }));
    expect(distinct.some(limited)).toBe(false);
    // ...and the same forwarded address is limited like any other client.
    const same = [];
    for (let i = 0; i < 13; i += 1) same.push(await postFrom(shop.stack.gatewayUrl, '127.0.0.2', CHEAP_MUTATION, { 'x-forwarded-for': '192.0.2.200' }));
    expect(limited(same[12]!)).toBe(true);
  });

  it('counts IPv6 clients per /64', async () => {
    const answers = [];
    for (let i = 1; i <= 13; i += 1) answers.push(await postFrom(shop.stack.gatewayUrl, '127.0.0.2', CHEAP_MUTATION, { 'x-forwarded-for': `2001:db8:aa:bb::${i.toString(16)}` }));
    expect(answers.slice(0, 12).some(limited)).toBe(false);
    expect(limited(answers[12]!)).toBe(true);
    const nextNetwork = await postFrom(shop.stack.gatewayUrl, '127.0.0.2', CHEAP_MUTATION, { 'x-forwarded-for': '2001:db8:aa:bc::1' });
    expect(limited(nextNetwork)).toBe(false);
  });
});

describe('mutation rate limits by default', () => {
  const adminPhone = randomPhone();
  const shop = useStack({ ADMIN_PHONES: adminPhone });

  it('let an admin\'s bulk change of a hundred stock adjustments through untouched', async () => {
    const admin = await login(shop.stack, shop.telegram, adminPhone);
    const productId = await createStockedProduct(shop.stack, admin.accessToken, {
      skuPrefix: 'BULK', name: 'Bulk bin', category: 'storage', price: { amount: 900, currency: 'EUR' }, onHand: 0,
    });
    const adjustments = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        shop.stack.gql(ADJUST_STOCK, { productId, delta: 1, reason: `delivery ${i}` }, { token: admin.accessToken }),
      ),
    );
    expect(adjustments.map(firstErrorCode).filter(Boolean)).toEqual([]);
    const stock = await shop.stack.gql(PRODUCT_ON_HAND, { id: productId });
    expect(stock.data!.product!.stock!.onHand).toBe(100);
  });
});

describe('the client address reaches the subgraphs', () => {
  const shop = useStack({ OTP_IP_LIMIT_PER_HOUR: '2' }, { serviceEnv: { gateway: { TRUSTED_PROXIES: '127.0.0.2' } } });
  const requestOtp = (forwardedFor: string) =>
    postFrom(shop.stack.gatewayUrl, '127.0.0.2', `mutation { requestOtp(phone: "${randomPhone()}") { expiresAt } }`, { 'x-forwarded-for': forwardedFor });

  it('counts login codes per client address behind a trusted proxy, not per gateway', async () => {
    const first = [await requestOtp('198.51.100.20'), await requestOtp('198.51.100.20'), await requestOtp('198.51.100.20')];
    expect(first.map((r) => r.body.errors?.[0]?.extensions?.code ?? 'OK')).toEqual(['OK', 'OK', 'RATE_LIMITED']);
    // Another client behind the same proxy has its own count.
    const other = await requestOtp('198.51.100.21');
    expect(other.body.errors).toBeUndefined();
  });
});
