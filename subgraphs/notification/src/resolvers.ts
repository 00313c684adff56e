import { DateTimeResolver } from 'graphql-scalars';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { BaseContext } from '../../../kernel/src/server';
import { requireService, requireUser } from '../../../kernel/src/identity';
import { parseNotificationReceived } from './live-feed';
import type { LoginCodes } from './login-codes';
import type { NotificationService } from './notifications';

export interface NotificationContext extends BaseContext {
  notifications: NotificationService;
  loginCodes: LoginCodes;
}

export const resolvers: GraphQLResolverMap<NotificationContext> = {
  DateTime: DateTimeResolver,
  Query: {
    myNotifications: (_root, args: { unreadOnly: boolean; first: number; after?: string | null }, { identity, notifications }) =>
      notifications.listForUser(requireUser(identity).userId, args),
    // The gateway asks on behalf of one subscriber: only the notification's owner gets it.
    _notificationFromEvent: (_root, args: { event: string }, { identity, notifications }) => {
      const event = parseNotificationReceived(args.event);
      return identity.kind === 'user' ? notifications.findOwned(identity.userId, event.notificationId) : null;
    },
  },
  Mutation: {
    markNotificationsRead: (_root, args: { ids: string[] }, { identity, notifications }) =>
      notifications.markRead(requireUser(identity).userId, args.ids),
    sendLoginCode: (_root, args: { chatId: string; code: string; ttlSeconds: number }, { identity, loginCodes }) => {
      requireService(identity);
      return loginCodes.send(args.chatId, args.code, args.ttlSeconds);
    },
  },
};
