import { DateTimeResolver } from 'graphql-scalars';
import type { Notification } from '../../../kernel/src/prisma';
import type { Notification as NotificationType, Resolvers } from '../../../generated/graphql/notification/resolvers';
import type { EveryFieldResolved, Unresolved } from '../../../kernel/src/resolver-coverage';
import type { BaseContext } from '../../../kernel/src/server';
import { requireService, requireUser } from '../../../kernel/src/identity';
import { parseNotificationReceived } from './live-feed';
import type { LoginCodes } from './login-codes';
import type { NotificationService } from './notifications';

export interface NotificationContext extends BaseContext {
  notifications: NotificationService;
  loginCodes: LoginCodes;
}

export const resolvers = {
  DateTime: DateTimeResolver,
  Query: {
    myNotifications: (_root, args, { identity, notifications }) =>
      notifications.listForUser(requireUser(identity).userId, args),
    // The gateway asks on behalf of one subscriber: only the notification's owner gets it.
    _notificationFromEvent: (_root, args, { identity, notifications }) => {
      const event = parseNotificationReceived(args.event);
      return identity.kind === 'user' ? notifications.findOwned(identity.userId, event.notificationId) : null;
    },
  },
  Mutation: {
    markNotificationsRead: (_root, args, { identity, notifications }) =>
      notifications.markRead(requireUser(identity).userId, args.ids),
    sendLoginCode: (_root, args, { identity, loginCodes }) => {
      requireService(identity);
      return loginCodes.send(args.chatId, args.code, args.ttlSeconds);
    },
  },
} satisfies Resolvers;

// Fields the Prisma model serves by itself: a renamed one fails here.
export type FieldsResolved = EveryFieldResolved<Unresolved<NotificationType, Notification, object>>;
