import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { SignJWT, base64url } from 'jose';
import type { FakeTelegram } from '../../test/support/fake-telegram';
import { useStack, testEnv, TEST_JWT_SECRET, type Stack } from '../../test/support/stack';
import { login } from '../../test/support/login';
import { firstErrorCode, graphql } from '../../test/support/graphql';
import { ME_ROLE } from '../../test/support/operations';
import { loadGatewayConfig } from '../src/config';
import { JwtService } from '../../kernel/src/jwt';

const secret = new TextEncoder().encode(TEST_JWT_SECRET);

/** A token shaped like ours, with every claim overridable, signed with `key` (the test secret by default). */
function forge(claims: Record<string, unknown>, options: { alg?: string; key?: Uint8Array; expiresIn?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ typ: 'access', role: 'ADMIN', ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .setSubject('00000000-0000-4000-8000-000000000001')
    .setIssuer('shop-auth')
    .setAudience('shop')
    .setJti('00000000-0000-4000-8000-000000000002')
    .setIssuedAt(now - 10)
    .setExpirationTime(now + (options.expiresIn ?? 600))
    .sign(options.key ?? secret);
}

/** `alg: none`: a header and payload with an empty signature. */
function unsigned(claims: Record<string, unknown>) {
  const now = Math.floor(Date.now() / 1000);
  const encode = (value: object) => base64url.encode(JSON.stringify(value));
  const payload = { sub: '00000000-0000-4000-8000-000000000001', typ: 'access', role: 'ADMIN', iss: 'shop-auth', aud: 'shop', jti: 'x', iat: now, exp: now + 600, ...claims };
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(payload)}.`;
}

describe('the gateway checks every access token', () => {
  const ctx = useStack();
  let stack: Stack;
  let telegram: FakeTelegram;
  beforeAll(() => ({ stack, telegram } = ctx));

  it('lets a valid access token through', async () => {
    const session = await login(stack, telegram);
    const me = await stack.gql(ME_ROLE, {}, { token: session.accessToken });
    expect(me.data!.me).toEqual({ id: session.userId, role: 'USER' });
  });

  it('refuses a refresh token used as an access token', async () => {
    const session = await login(stack, telegram);
    const response = await stack.gql(ME_ROLE, {}, { token: session.refreshToken });
    expect(response.status).toBe(401);
    expect(firstErrorCode(response)).toBe('UNAUTHENTICATED');
    expect(response.data ?? null).toBeNull();
  });

  it('refuses a tampered token (payload edited to ADMIN, signature kept)', async () => {
    const session = await login(stack, telegram);
    const [header, payload, signature] = session.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const edited = base64url.encode(JSON.stringify({ ...claims, role: 'ADMIN' }));
    const response = await stack.gql(ME_ROLE, {}, { token: `${header}.${edited}.${signature}` });
    expect(response.status).toBe(401);
    expect(firstErrorCode(response)).toBe('UNAUTHENTICATED');
  });

  const refusals: Array<[string, () => Promise<string> | string]> = [
    ['garbage', () => 'garbage'],
    ['an expired token', () => forge({}, { expiresIn: -60 })],
    ['alg: none', () => unsigned({})],
    ['a token signed with another secret', () => forge({}, { key: new TextEncoder().encode('another-secret-that-is-long-enough-0123456789') })],
    ['HS512 instead of the configured HS256', () => forge({}, { alg: 'HS512' })],
    ['a service token', () => forge({ typ: 'service' })],
    ['an internal (gateway-to-subgraph) token', () => forge({ typ: 'internal' })],
    ['a token with another issuer', async () => new SignJWT({ typ: 'access', role: 'ADMIN' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setIssuer('evil').setAudience('shop').setJti('j').setIssuedAt().setExpirationTime('5m').sign(secret)],
  ];
  it.each(refusals)('refuses %s with 401 UNAUTHENTICATED instead of treating it as anonymous', async (_label, make) => {
    const response = await stack.gql(ME_ROLE, {}, { token: await make() });
    expect(response.status).toBe(401);
    expect(firstErrorCode(response)).toBe('UNAUTHENTICATED');
    expect(response.raw).not.toMatch(/stack|at .*\.ts/);
  });

  it.each(['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', 'token abc'])('refuses the malformed header %j', async (header) => {
    const response = await graphql(stack.gatewayUrl, ME_ROLE, {}, { headers: { authorization: header } });
    expect(response.status).toBe(401);
    expect(firstErrorCode(response)).toBe('UNAUTHENTICATED');
  });

  describe('a subgraph called directly gains nothing from forged identity', () => {
    it('ignores identity headers it did not sign', async () => {
      const response = await graphql(stack.urls.auth, ME_ROLE, {}, {
        headers: { 'x-user-id': '00000000-0000-4000-8000-000000000001', 'x-user-role': 'ADMIN', 'x-forwarded-for': '10.0.0.1' },
      });
      expect(response.data).toEqual({ me: null });
    });

    it.each([
      ['alg: none internal token', () => unsigned({ typ: 'internal' })],
      ['internal token signed with another secret', () => forge({ typ: 'internal' }, { key: new TextEncoder().encode('another-secret-that-is-long-enough-0123456789') })],
      ['expired internal token', () => forge({ typ: 'internal' }, { expiresIn: -5 })],
      ['refresh token', () => forge({ typ: 'refresh', fam: 'f' })],
    ])('refuses a %s', async (_label, make) => {
      const response = await graphql(stack.urls.auth, `mutation { setUserRole(userId: "00000000-0000-4000-8000-000000000001", role: ADMIN) { id } }`, {}, { token: await make() });
      expect(firstErrorCode(response)).toBe('UNAUTHENTICATED');
    });

    it('shows a phone through an entity reference only to its owner, admins and services', async () => {
      const a = await login(stack, telegram);
      const b = await login(stack, telegram);
      const jwt = await JwtService.create(loadGatewayConfig(testEnv()));
      const entities = `query($id: ID!) { _entities(representations: [{ __typename: "User", id: $id }]) { ... on User { id phone } } }`;

      const asB = await graphql(stack.urls.auth, entities, { id: a.userId }, { token: await jwt.signInternal({ userId: b.userId, role: 'USER' }) });
      expect(firstErrorCode(asB)).toBe('FORBIDDEN');
      const asA = await graphql(stack.urls.auth, entities, { id: a.userId }, { token: await jwt.signInternal({ userId: a.userId, role: 'USER' }) });
      expect(asA.data!._entities[0].phone).toBe(a.phone);
      const asService = await graphql(stack.urls.auth, entities, { id: a.userId }, { token: await jwt.signService('order') });
      expect(asService.data!._entities[0].phone).toBe(a.phone);
    });
  });

  describe('bad requests get a GraphQL error with a code, never a 500', () => {
    it('answers an oversized body with 413 PAYLOAD_TOO_LARGE', async () => {
      const response = await graphql(stack.gatewayUrl, `query { me { id } } # ${'x'.repeat(200_000)}`);
      expect(response.status).toBe(413);
      expect(firstErrorCode(response)).toBe('PAYLOAD_TOO_LARGE');
    });

    it('answers a body that is not JSON with 400 BAD_REQUEST', async () => {
      const response = await fetch(stack.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { errors: Array<{ extensions: { code: string } }> };
      expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
    });

    it('answers a syntax error with GRAPHQL_PARSE_FAILED: 200 for application/json, 400 for application/graphql-response+json', async () => {
      const asJson = await stack.gql('query { me { id ');
      expect(asJson.status).toBe(200);
      expect(firstErrorCode(asJson)).toBe('GRAPHQL_PARSE_FAILED');
      const asGraphqlResponse = await stack.gql('query { me { id ', {}, { headers: { accept: 'application/graphql-response+json' } });
      expect(asGraphqlResponse.status).toBe(400);
      expect(firstErrorCode(asGraphqlResponse)).toBe('GRAPHQL_PARSE_FAILED');
    });

    it('answers a wrong variable type with BAD_USER_INPUT', async () => {
      const response = await stack.gql(`mutation($p: String!) { requestOtp(phone: $p) { phone } }`, { p: 12 });
      expect(firstErrorCode(response)).toBe('BAD_USER_INPUT');
    });

    it('answers the same on the subgraphs', async () => {
      const response = await graphql(stack.urls.auth, `query { me { id } } # ${'x'.repeat(200_000)}`);
      expect(response.status).toBe(413);
      expect(firstErrorCode(response)).toBe('PAYLOAD_TOO_LARGE');
    });
  });

  it('serves Apollo Sandbox to browsers on GET /graphql outside production', async () => {
    const response = await fetch(stack.gatewayUrl, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/sandbox/i);
  });

  it('reports health and readiness, on the gateway and each subgraph', async () => {
    const gatewayReady = await fetch(new URL('/ready', stack.gatewayUrl));
    expect(gatewayReady.status).toBe(200);
    expect(await gatewayReady.json()).toMatchObject({ status: 'ready', checks: { redis: 'up', 'subgraph:auth': 'up', 'subgraph:order': 'up' } });
    for (const url of Object.values(stack.urls)) {
      expect((await fetch(new URL('/health', url))).status).toBe(200);
      const ready = await fetch(new URL('/ready', url));
      expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'up', redis: 'up' } });
    }
  });
});

/** A key pair in PEM, as the deployment puts it in JWT_PUBLIC_KEY / JWT_PRIVATE_KEY. */
function pemKeyPair(algorithm: 'RS256' | 'EdDSA') {
  const keys = algorithm === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  return {
    publicPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

describe.each(['RS256', 'EdDSA'] as const)('a whole stack configured for %s', (algorithm) => {
  const { publicPem, privatePem } = pemKeyPair(algorithm);
  // The private key with its newlines escaped, as it sits in a .env file; no JWT_SECRET, so codes need a secret of their own.
  const ctx = useStack({
    ALGORITHM: algorithm,
    JWT_SECRET: undefined,
    JWT_PUBLIC_KEY: publicPem,
    JWT_PRIVATE_KEY: privatePem.replace(/\n/g, '\\n'),
    OTP_SECRET: 'otp-secret-for-the-asymmetric-stack-0123456789',
  });

  it('logs in through Telegram and answers `me` with a token signed by its key pair', async () => {
    const session = await login(ctx.stack, ctx.telegram);
    const [header] = session.accessToken.split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toMatchObject({ alg: algorithm });
    const me = await ctx.stack.gql(ME_ROLE, {}, { token: session.accessToken });
    expect(me.errors).toBeUndefined();
    expect(me.data!.me).toEqual({ id: session.userId, role: 'USER' });
  });

  it('refuses an HS256 token signed with its public key (algorithm confusion)', async () => {
    const token = await forge({}, { alg: 'HS256', key: new TextEncoder().encode(publicPem) });
    const response = await ctx.stack.gql(ME_ROLE, {}, { token });
    expect(response.status).toBe(401);
    expect(firstErrorCode(response)).toBe('UNAUTHENTICATED');
  });

  it('refuses a token signed with another key pair of the same kind', async () => {
    const other = pemKeyPair(algorithm);
    const jwt = await JwtService.create(loadGatewayConfig(testEnv({ ALGORITHM: algorithm, JWT_PUBLIC_KEY: other.publicPem, JWT_PRIVATE_KEY: other.privatePem })));
    const response = await ctx.stack.gql(ME_ROLE, {}, { token: await jwt.signAccess({ id: randomUUID(), role: 'USER' }) });
    expect(response.status).toBe(401);
    expect(firstErrorCode(response)).toBe('UNAUTHENTICATED');
  });
});
