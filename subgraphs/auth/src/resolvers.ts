import type DataLoader from 'dataloader';
import { DateTimeResolver } from 'graphql-scalars';
import type { User } from '../../../kernel/src/prisma';
import type { Resolvers, User as UserType } from '../../../generated/graphql/auth/resolvers';
import { batchLoader } from '../../../kernel/src/loaders';
import type { EveryFieldResolved, Unresolved } from '../../../kernel/src/resolver-coverage';
import type { BaseContext } from '../../../kernel/src/server';
import { requireAdmin, requireService } from '../../../kernel/src/identity';
import { forbidden } from '../../../kernel/src/errors';
import type { LoginService } from './login';
import type { AuthPayload, SessionService } from './sessions';
import type { UserService } from './users';

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
    userById: batchLoader((ids) => services.users.findManyByIds(ids), null),
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

export const resolvers = {
  DateTime: DateTimeResolver,
  Query: {
    me: (_root, _args, { identity, userById }) => (identity.kind === 'user' ? userById.load(identity.userId) : null),
    users: (_root, args, { identity, users }) => {
      requireAdmin(identity);
      return users.list(args.first, args.after);
    },
    adminUserIds: (_root, _args, { identity, users }) => {
      requireService(identity);
      return users.adminIds();
    },
  },
  Mutation: {
    requestOtp: (_root, args, { identity, login }) =>
      login.requestOtp(args.phone, identity.kind === 'service' ? undefined : identity.ip),
    verifyOtp: (_root, args, context) =>
      context.login.verifyOtp(args.phone, args.code).then(authenticated(context)),
    refreshToken: (_root, args, context) =>
      context.sessions.refresh(args.refreshToken).then(authenticated(context)),
    logout: (_root, args, { sessions }) => sessions.logout(args.refreshToken),
    setUserRole: (_root, args, { identity, users }) =>
      users.setRole(requireAdmin(identity).userId, args.userId, args.role),
    bindTelegram: (_root, args, { identity, users }) => {
      requireService(identity);
      return users.bindTelegram(args);
    },
  },
  User: {
    __resolveReference: (ref, { userById }) => userById.load(ref.id),
    phone: (user, _args, context) => {
      if (!canSeePhone(context, user)) throw forbidden('Only the user themselves or an admin can see a phone number.');
      return user.phone;
    },
    telegramLinked: (user) => user.telegramChatId !== null,
  },
} satisfies Resolvers;

// Fields the Prisma model serves by itself: a renamed one fails here.
export type FieldsResolved = EveryFieldResolved<Unresolved<UserType, User, typeof resolvers.User>>;
