import { DateTimeResolver } from 'graphql-scalars';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { BaseContext } from '../../../kernel/src/server';
import { requireUser } from '../../../kernel/src/identity';
import type { NotificationService } from './notifications';

export interface NotificationContext extends BaseContext {
  notifications: NotificationService;
}

export const resolvers: GraphQLResolverMap<NotificationContext> = {
  DateTime: DateTimeResolver,
  Query: {
    myNotifications: (_root, args: { unreadOnly: boolean; first: number; after?: string | null }, { identity, notifications }) =>
      notifications.listForUser(requireUser(identity).userId, args),
  },
};
