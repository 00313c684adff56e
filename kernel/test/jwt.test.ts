import { generateKeyPairSync } from 'node:crypto';
import { JwtService, TokenError, jwtConfigShape } from '../src/jwt';
import { loadConfig } from '../src/config';

const config = (env: Record<string, string>) => loadConfig(jwtConfigShape, env);

function pemPair(type: 'rsa' | 'ed25519' | 'ec') {
  const { publicKey, privateKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  return {
    JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

describe('JwtService', () => {
  it.each([
    ['HS256', { JWT_SECRET: 'x'.repeat(32) }],
    ['RS256', pemPair('rsa')],
    ['ES256', pemPair('ec')],
    ['EdDSA', pemPair('ed25519')],
  ] as const)('signs and verifies access tokens with %s', async (ALGORITHM, keys) => {
    const jwt = await JwtService.create(config({ ALGORITHM, ...keys }));
    const token = await jwt.signAccess({ id: 'user-1', role: 'ADMIN' });
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).alg).toBe(ALGORITHM);
    await expect(jwt.verify(token, ['access'])).resolves.toMatchObject({ sub: 'user-1', role: 'ADMIN', typ: 'access' });
  });

  it('accepts PEM keys written on one line with \\n escapes', async () => {
    const keys = pemPair('ed25519');
    const oneLine = { JWT_PUBLIC_KEY: keys.JWT_PUBLIC_KEY.replace(/\n/g, '\\n'), JWT_PRIVATE_KEY: keys.JWT_PRIVATE_KEY.replace(/\n/g, '\\n') };
    const jwt = await JwtService.create(config({ ALGORITHM: 'EdDSA', ...oneLine }));
    await expect(jwt.verify(await jwt.signService('order'), ['service'])).resolves.toMatchObject({ sub: 'order' });
  });

  it('reuses a service token for the first half of its 5 minutes, then signs a fresh one', async () => {
    const jwt = await JwtService.create(config({ JWT_SECRET: 'x'.repeat(32) }));
    const first = await jwt.signService('order');
    expect(await jwt.signService('order')).toBe(first);
    expect(await jwt.signService('catalog')).not.toBe(first);
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now + 151_000);
    try {
      const renewed = await jwt.signService('order');
      expect(renewed).not.toBe(first);
      await expect(jwt.verify(renewed, ['service'])).resolves.toMatchObject({ sub: 'order' });
    } finally {
      clock.mockRestore();
    }
  });

  it('refuses a token of a type the caller did not ask for', async () => {
    const jwt = await JwtService.create(config({ JWT_SECRET: 'x'.repeat(32) }));
    const refresh = await jwt.signRefresh({ userId: 'u', familyId: 'f', jti: '00000000-0000-4000-8000-000000000000' });
    await expect(jwt.verify(refresh, ['access'])).rejects.toMatchObject({ reason: 'wrong-type' });
    await expect(jwt.verify(refresh, ['refresh'])).resolves.toMatchObject({ fam: 'f' });
  });

  it('reports an expired token as expired', async () => {
    const jwt = await JwtService.create(config({ JWT_SECRET: 'x'.repeat(32), ACCESS_TOKEN_EXPIRE_MINUTES: '1' }));
    const token = await jwt.signAccess({ id: 'u', role: 'USER' });
    jest.useFakeTimers({ now: Date.now() + 2 * 60_000, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      await expect(jwt.verify(token, ['access'])).rejects.toEqual(new TokenError('The token has expired.', 'expired'));
    } finally {
      jest.useRealTimers();
    }
  });

  it('remembers a verified token only until it expires, and never one that failed', async () => {
    const jwt = await JwtService.create(config({ JWT_SECRET: 'x'.repeat(32), ACCESS_TOKEN_EXPIRE_MINUTES: '1' }));
    const token = await jwt.signAccess({ id: 'u', role: 'USER' });
    await expect(jwt.verify(token, ['access'])).resolves.toMatchObject({ sub: 'u' });
    // The type is checked on every call, remembered or not.
    await expect(jwt.verify(token, ['internal'])).rejects.toMatchObject({ reason: 'wrong-type' });
    const [header, payload] = token.split('.');
    await expect(jwt.verify(`${header}.${payload}.${'A'.repeat(43)}`, ['access'])).rejects.toMatchObject({ reason: 'invalid' });
    jest.useFakeTimers({ now: Date.now() + 2 * 60_000, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      await expect(jwt.verify(token, ['access'])).rejects.toEqual(new TokenError('The token has expired.', 'expired'));
    } finally {
      jest.useRealTimers();
    }
  });

  it('refuses to start without the key its algorithm needs', async () => {
    await expect(JwtService.create(config({}))).rejects.toThrow('JWT_SECRET is required for HS256');
    await expect(JwtService.create(config({ ALGORITHM: 'RS256', JWT_SECRET: 'x'.repeat(32) }))).rejects.toThrow('JWT_PRIVATE_KEY is required');
  });
});
