import { SignJWT, decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import { useStack, TEST_JWT_SECRET } from '../../../test/support/stack';
import { login } from '../../../test/support/login';
import { gql } from '../../../generated/graphql/gateway';

const REFRESH = gql(`
  mutation RefreshTokenForUserId($token: String!) { refreshToken(refreshToken: $token) { accessToken refreshToken user { id } } }
`);

/** The same token with another `exp`: header, issuer, audience, subject, jti and family untouched, signed with the stack's key. */
async function withExpiry(token: string, exp: number): Promise<string> {
  const header = decodeProtectedHeader(token);
  const claims: JWTPayload = { ...decodeJwt(token), exp };
  return new SignJWT(claims).setProtectedHeader({ ...header, alg: header.alg! }).sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

describe('an expired refresh token', () => {
  const ctx = useStack();

  it('is refused with UNAUTHENTICATED, while the same token with a future expiry is accepted', async () => {
    const { stack, telegram } = ctx;
    const session = await login(stack, telegram);
    const claims = decodeJwt(session.refreshToken);
    expect(claims).toMatchObject({ typ: 'refresh', sub: session.userId, fam: expect.any(String), jti: expect.any(String) });
    const now = Math.floor(Date.now() / 1000);

    // Expired a minute ago; its session row in the database is still valid, so only the token's own expiry refuses it.
    const expired = await stack.gql(REFRESH, { token: await withExpiry(session.refreshToken, now - 60) });
    expect(expired.data).toBeNull();
    expect(expired.errors).toEqual([
      { message: 'The token has expired. Log in again.', path: ['refreshToken'], extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) },
    ]);

    // The control: re-signed the same way with an expiry an hour ahead, it is a good token and rotates.
    const renewed = await stack.gql(REFRESH, { token: await withExpiry(session.refreshToken, now + 3600) });
    expect(renewed.errors).toBeUndefined();
    expect(renewed.data!.refreshToken.user).toEqual({ id: session.userId });
    expect(decodeJwt(renewed.data!.refreshToken.refreshToken)).toMatchObject({ typ: 'refresh', sub: session.userId, fam: claims.fam });
  });
});
