import DataLoader from 'dataloader';
import { DateTimeResolver } from 'graphql-scalars';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { User } from '../../../kernel/src/prisma';
import type { BaseContext } from '../../../kernel/src/server';
import { requireAdmin, requireService } from '../../../kernel/src/identity';
import { forbidden } from '../../../kernel/src/errors';
import type { Role } from '../../../kernel/src/jwt';
import type { LoginService } from './service';
import type { AuthPayload, SessionService } from './sessions';
import type { TelegramContact, UserService } from './users';

export interface AuthContext extends BaseContext {
  login: LoginService;
  sessions: SessionService;
  users: UserService;
  userById: DataLoader<string, User | null>;
  /** Users this request just authenticated as (verifyOtp, refreshToken): they may see their own data. */
  authenticatedAs: Set<string>;
}

export function createAuthContext(base: BaseContext, services: Pick<AuthContext, 'login' | 'sessions' | 'users'>): AuthContext {
  return {
    ...base,
    ...services,
    authenticatedAs: new Set(),
    userById: new DataLoader(async (ids) => {
      const found = await services.users.findManyByIds(ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
  };
}

const canSeePhone = ({ identity, authenticatedAs }: AuthContext, user: User) =>
  identity.kind === 'service' ||
  authenticatedAs.has(user.id) ||
  (identity.kind === 'user' && (identity.userId === user.id || identity.role === 'ADMIN'));

/** The payload's user is the caller from now on, though the request arrived anonymous. */
function authenticated(context: AuthContext) {
  return (payload: AuthPayload) => {
    context.authenticatedAs.add(payload.user.id);
    return payload;
  };
}

export const resolvers: GraphQLResolverMap<AuthContext> = {
  DateTime: DateTimeResolver,
  Query: {
    me: (_root, _args, { identity, userById }) => (identity.kind === 'user' ? userById.load(identity.userId) : null),
    users: (_root, args: { first: number; after?: string | null }, { identity, users }) => {
      requireAdmin(identity);
      return users.list(args.first, args.after);
    },
    adminUserIds: (_root, _args, { identity, users }) => {
      requireService(identity);
      return users.adminIds();
    },
  },
  Mutation: {
    requestOtp: (_root, args: { phone: string }, { identity, login }) =>
      login.requestOtp(args.phone, identity.kind === 'service' ? undefined : identity.ip),
    verifyOtp: (_root, args: { phone: string; code: string }, context) =>
      context.login.verifyOtp(args.phone, args.code).then(authenticated(context)),
    refreshToken: (_root, args: { refreshToken: string }, context) =>
      context.sessions.refresh(args.refreshToken).then(authenticated(context)),
    logout: (_root, args: { refreshToken: string }, { sessions }) => sessions.logout(args.refreshToken),
    setUserRole: (_root, args: { userId: string; role: Role }, { identity, users }) =>
      users.setRole(requireAdmin(identity).userId, args.userId, args.role),
    bindTelegram: (_root, args: TelegramContact, { identity, users }) => {
      requireService(identity);
      return users.bindTelegram(args);
    },
  },
  User: {
    __resolveReference: (ref: { id: string }, { userById }: AuthContext) => userById.load(ref.id),
    phone: (user: User, _args, context) => {
      if (!canSeePhone(context, user)) throw forbidden('Only the user themselves or an admin can see a phone number.');
      return user.phone;
    },
    telegramLinked: (user: User) => user.telegramChatId !== null,
  },
};
