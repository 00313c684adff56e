import { FakeTelegram } from '../../../test/support/fake-telegram';
import { startStack, useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import type { ResultOf } from '@graphql-typed-document-node/core';
import { firstErrorCode, type GraphQLResponse } from '../../../test/support/graphql';
import { ME_ROLE } from '../../../test/support/operations';
import { gql } from '../../../generated/graphql/gateway';

const REFRESH = gql(`
  mutation RefreshTokenPair($token: String!) { refreshToken(refreshToken: $token) { accessToken refreshToken expiresIn user { id role } } }
`);
const LOGOUT = gql(`mutation LogoutRefreshToken($token: String!) { logout(refreshToken: $token) }`);
const SET_ROLE = gql(`mutation SetUserRole($userId: ID!, $role: Role!) { setUserRole(userId: $userId, role: $role) { id role } }`);
const USERS = gql(`
  query UsersPage($first: Int, $after: String) {
    users(first: $first, after: $after) { totalCount edges { cursor node { id phone role } } pageInfo { hasNextPage endCursor } }
  }
`);

describe('sessions: refresh-token rotation, theft detection, logout', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: `${adminPhone}, +14155550123` });
  let stack: Stack;
  let telegram: FakeTelegram;
  beforeAll(() => ({ stack, telegram } = ctx));

  it('rotates: a refresh returns a new pair, and the new access token works', async () => {
    const session = await login(stack, telegram);
    const refreshed = await stack.gql(REFRESH, { token: session.refreshToken });
    expect(refreshed.errors).toBeUndefined();
    const pair = refreshed.data!.refreshToken;
    expect(pair.refreshToken).not.toBe(session.refreshToken);
    expect(pair.user.id).toBe(session.userId);
    const me = await stack.gql(ME_ROLE, {}, { token: pair.accessToken });
    expect(me.data!.me!.id).toBe(session.userId);
  });

  it('revokes the whole family when an already-rotated refresh token comes back', async () => {
    const session = await login(stack, telegram);
    const first = (await stack.gql(REFRESH, { token: session.refreshToken })).data!.refreshToken;
    const second = (await stack.gql(REFRESH, { token: first.refreshToken })).data!.refreshToken;

    const replay = await stack.gql(REFRESH, { token: session.refreshToken });
    expect(firstErrorCode(replay)).toBe('UNAUTHENTICATED');
    expect(replay.errors![0]!.message).toMatch(/already used/);

    // The thief's and the owner's newest tokens are both dead now.
    expect(firstErrorCode(await stack.gql(REFRESH, { token: second.refreshToken }))).toBe('UNAUTHENTICATED');
    expect(firstErrorCode(await stack.gql(REFRESH, { token: first.refreshToken }))).toBe('UNAUTHENTICATED');
  });

  it('lets exactly one of two concurrent refreshes with one token win, and then ends the session', async () => {
    const session = await login(stack, telegram);
    const results = await Promise.all(Array.from({ length: 5 }, () => stack.gql(REFRESH, { token: session.refreshToken })));
    const winners = results.filter((r) => !r.errors);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => firstErrorCode(r) === 'UNAUTHENTICATED')).toHaveLength(4);
    // The losers looked like a replay, so the winner's token was revoked with the family.
    expect(firstErrorCode(await stack.gql(REFRESH, { token: winners[0]!.data!.refreshToken.refreshToken }))).toBe('UNAUTHENTICATED');
  });

  it('logs out: the refresh token stops working, and logging out again is harmless', async () => {
    const session = await login(stack, telegram);
    expect((await stack.gql(LOGOUT, { token: session.refreshToken })).data).toEqual({ logout: true });
    expect(firstErrorCode(await stack.gql(REFRESH, { token: session.refreshToken }))).toBe('UNAUTHENTICATED');
    expect((await stack.gql(LOGOUT, { token: session.refreshToken })).data).toEqual({ logout: true });
  });

  it('refuses an access token where a refresh token belongs, and garbage', async () => {
    const session = await login(stack, telegram);
    expect(firstErrorCode(await stack.gql(REFRESH, { token: session.accessToken }))).toBe('UNAUTHENTICATED');
    expect(firstErrorCode(await stack.gql(REFRESH, { token: 'not-a-token' }))).toBe('UNAUTHENTICATED');
    expect(firstErrorCode(await stack.gql(LOGOUT, { token: 'not-a-token' }))).toBe('UNAUTHENTICATED');
  });

  describe('roles', () => {
    let admin: Session;
    beforeAll(async () => {
      admin = await login(stack, telegram, adminPhone);
    });

    it('makes a phone listed in ADMIN_PHONES an admin from its first login', async () => {
      expect((await stack.gql(ME_ROLE, {}, { token: admin.accessToken })).data!.me!.role).toBe('ADMIN');
    });

    it('lets only admins change roles, and the change shows from the next token on', async () => {
      const user = await login(stack, telegram);

      const refused = await stack.gql(SET_ROLE, { userId: admin.userId, role: 'USER' }, { token: user.accessToken });
      expect(firstErrorCode(refused)).toBe('FORBIDDEN');
      expect(refused.data).toBeNull();
      expect(firstErrorCode(await stack.gql(SET_ROLE, { userId: user.userId, role: 'ADMIN' }))).toBe('UNAUTHENTICATED');

      const promoted = await stack.gql(SET_ROLE, { userId: user.userId, role: 'ADMIN' }, { token: admin.accessToken });
      expect(promoted.data!.setUserRole).toEqual({ id: user.userId, role: 'ADMIN' });
      // The access token issued before the change keeps the role it was issued with.
      expect(firstErrorCode(await stack.gql(USERS, { first: 1 }, { token: user.accessToken }))).toBe('FORBIDDEN');
      const promotedPair = (await stack.gql(REFRESH, { token: user.refreshToken })).data!.refreshToken;
      expect(promotedPair.user.role).toBe('ADMIN');
      expect((await stack.gql(USERS, { first: 1 }, { token: promotedPair.accessToken })).errors).toBeUndefined();

      // And back: demoted, the admin token already issued still works until it is replaced; the next one is a user's.
      const demoted = await stack.gql(SET_ROLE, { userId: user.userId, role: 'USER' }, { token: admin.accessToken });
      expect(demoted.data!.setUserRole).toEqual({ id: user.userId, role: 'USER' });
      expect((await stack.gql(USERS, { first: 1 }, { token: promotedPair.accessToken })).errors).toBeUndefined();
      const demotedPair = (await stack.gql(REFRESH, { token: promotedPair.refreshToken })).data!.refreshToken;
      expect(demotedPair.user.role).toBe('USER');
      expect(firstErrorCode(await stack.gql(USERS, { first: 1 }, { token: demotedPair.accessToken }))).toBe('FORBIDDEN');
      expect(firstErrorCode(await stack.gql(SET_ROLE, { userId: admin.userId, role: 'USER' }, { token: demotedPair.accessToken }))).toBe('FORBIDDEN');
    });

    it('refuses bad role changes with a clear code', async () => {
      const token = admin.accessToken;
      expect(firstErrorCode(await stack.gql(SET_ROLE, { userId: 'nope', role: 'ADMIN' }, { token }))).toBe('BAD_USER_INPUT');
      expect(firstErrorCode(await stack.gql(SET_ROLE, { userId: '00000000-0000-4000-8000-000000000000', role: 'ADMIN' }, { token }))).toBe('NOT_FOUND');
      expect(firstErrorCode(await stack.gql(SET_ROLE, { userId: admin.userId, role: 'USER' }, { token }))).toBe('BAD_USER_INPUT');
      // KING is no Role: sent untyped, on purpose.
      expect(firstErrorCode(await stack.gql(String(SET_ROLE), { userId: admin.userId, role: 'KING' }, { token }))).toBe('BAD_USER_INPUT');
    });

    it('lists users for admins only, page by page', async () => {
      const user = await login(stack, telegram);
      expect(firstErrorCode(await stack.gql(USERS, { first: 2 }, { token: user.accessToken }))).toBe('FORBIDDEN');
      expect(firstErrorCode(await stack.gql(USERS, { first: 2 }))).toBe('UNAUTHENTICATED');

      const seen: string[] = [];
      let after: string | null = null;
      let total = 0;
      for (;;) {
        const page: GraphQLResponse<ResultOf<typeof USERS>> = await stack.gql(USERS, { first: 2, after }, { token: admin.accessToken });
        expect(page.errors).toBeUndefined();
        const { users } = page.data!;
        total = users.totalCount;
        seen.push(...users.edges.map((e) => e.node.id));
        if (!users.pageInfo.hasNextPage) break;
        after = users.pageInfo.endCursor;
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.length).toBe(total);
      expect(seen).toEqual(expect.arrayContaining([admin.userId, user.userId]));
      expect(firstErrorCode(await stack.gql(USERS, { first: 101 }, { token: admin.accessToken }))).toBe('BAD_USER_INPUT');
      expect(firstErrorCode(await stack.gql(USERS, { first: 2, after: '%%%' }, { token: admin.accessToken }))).toBe('BAD_USER_INPUT');
    });

  });
});
