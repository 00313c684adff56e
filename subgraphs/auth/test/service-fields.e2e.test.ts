import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone } from '../../../test/support/login';
import { firstErrorCode, graphql } from '../../../test/support/graphql';
import type { FakeTelegram } from '../../../test/support/fake-telegram';

const BIND = /* GraphQL */ `
  mutation($phone: String!, $chatId: String!, $telegramUserId: String!) {
    bindTelegram(phone: $phone, chatId: $chatId, telegramUserId: $telegramUserId) { id phone role telegramLinked }
  }
`;
const ADMINS = /* GraphQL */ `query { adminUserIds }`;
const USER_ENTITY = /* GraphQL */ `query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { phone telegramLinked } } }`;

/** What the notification service (the bot's home) asks of the auth subgraph. */
describe('the auth subgraph\'s fields for platform services', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone });
  let stack: Stack;
  let telegram: FakeTelegram;
  let asService: { token: string };
  beforeAll(async () => {
    ({ stack, telegram } = ctx);
    asService = { token: await stack.serviceToken('notification') };
  });

  it('binds a chat to a shared contact\'s phone, normalized, with the ADMIN_PHONES rule', async () => {
    const bound = await graphql(stack.urls.auth, BIND, { phone: adminPhone.slice(1), chatId: '7700001', telegramUserId: '7700001' }, asService);
    expect(bound.errors).toBeUndefined();
    expect(bound.data!.bindTelegram).toMatchObject({ phone: adminPhone, role: 'ADMIN', telegramLinked: true });

    const admins = await graphql(stack.urls.auth, ADMINS, {}, asService);
    expect(admins.data!.adminUserIds).toContain(bound.data!.bindTelegram.id);

    // The chat moves to the next phone its owner shares.
    const other = randomPhone();
    const moved = await graphql(stack.urls.auth, BIND, { phone: other, chatId: '7700001', telegramUserId: '7700001' }, asService);
    expect(moved.data!.bindTelegram).toMatchObject({ phone: other, role: 'USER', telegramLinked: true });
    const left = await graphql(stack.urls.auth, USER_ENTITY, { representations: [{ __typename: 'User', id: bound.data!.bindTelegram.id }] }, asService);
    expect(left.data!._entities).toEqual([{ phone: adminPhone, telegramLinked: false }]);
  });

  it('refuses a phone or an id that is not one', async () => {
    const badPhone = await graphql(stack.urls.auth, BIND, { phone: '12', chatId: '7700002', telegramUserId: '7700002' }, asService);
    expect(firstErrorCode(badPhone)).toBe('BAD_USER_INPUT');
    expect(badPhone.errors![0]!.extensions!.field).toBe('phone');
    const badChat = await graphql(stack.urls.auth, BIND, { phone: randomPhone(), chatId: 'chat', telegramUserId: '7700002' }, asService);
    expect(badChat.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'chatId' });
  });

  it('is for platform services only: hidden at the gateway, refused to users and anonymous callers', async () => {
    const user = await login(stack, telegram);
    const variables = { phone: user.phone, chatId: '1', telegramUserId: '1' };
    expect(firstErrorCode(await stack.gql(BIND, variables, { token: user.accessToken }))).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(firstErrorCode(await stack.gql(ADMINS, {}, { token: user.accessToken }))).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(firstErrorCode(await graphql(stack.urls.auth, BIND, variables, { token: user.accessToken }))).toBe('FORBIDDEN');
    expect(firstErrorCode(await graphql(stack.urls.auth, ADMINS, {}, { token: user.accessToken }))).toBe('FORBIDDEN');
    expect(firstErrorCode(await graphql(stack.urls.auth, BIND, variables))).toBe('UNAUTHENTICATED');
    expect(firstErrorCode(await graphql(stack.urls.auth, ADMINS))).toBe('UNAUTHENTICATED');
  });
});
