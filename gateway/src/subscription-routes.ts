import type { GraphQLError } from 'graphql';
import type { Identity } from '../../kernel/src/identity';
import { unauthenticated } from '../../kernel/src/errors';
import { liveChannel, type OrderEvent, type StockChanged } from '../../kernel/src/events/envelope';

/** Personal feeds need a logged-in subscriber. */
const loggedIn = (_args: Record<string, unknown>, identity: Identity) =>
  identity.kind === 'user' ? undefined : unauthenticated('Log in to watch your orders and notifications: send the access token in connection_init.');

/** How one subscription root field is fed: which Redis channel, which events a subscriber gets, and how an event becomes data. */
export interface SubscriptionRoute {
  channel: string;
  /** The owning subgraph's root field that turns an event into the subscription's type. */
  eventField: string;
  /** A refusal for this subscriber, checked once when they subscribe. */
  authorize?(args: Record<string, unknown>, identity: Identity): GraphQLError | undefined;
  /** Whether this event goes to this subscriber. */
  accepts(args: Record<string, unknown>, event: Record<string, unknown>, identity: Identity): boolean;
}

export function subscriptionRoutes(keyPrefix: string): Record<string, SubscriptionRoute> {
  return {
    stockUpdated: {
      channel: liveChannel(keyPrefix, 'stockUpdated'),
      eventField: '_stockUpdateFromEvent',
      accepts: (args, event) => {
        const productIds = args.productIds as string[] | null | undefined;
        return !productIds || productIds.includes((event as unknown as StockChanged).productId);
      },
    },
    // The owner sees their orders, admins see all; the order subgraph checks again when it resolves the order.
    orderUpdated: {
      channel: liveChannel(keyPrefix, 'orderUpdated'),
      eventField: '_orderFromEvent',
      authorize: loggedIn,
      accepts: (args, event, identity) => {
        const order = event as unknown as OrderEvent;
        if (identity.kind !== 'user') return false;
        if (args.orderId && args.orderId !== order.orderId) return false;
        return identity.role === 'ADMIN' || order.userId === identity.userId;
      },
    },
    notificationReceived: {
      channel: liveChannel(keyPrefix, 'notificationReceived'),
      eventField: '_notificationFromEvent',
      authorize: loggedIn,
      accepts: (_args, event, identity) => identity.kind === 'user' && event.userId === identity.userId,
    },
  };
}
