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
  /**
   * Who an event's result depends on: `public` results are the same for every caller (one execution
   * serves all who send the same operation, run as an anonymous caller); `personal` ones are executed
   * per user and role, so two users' feeds never share a result.
   */
  audience: 'public' | 'personal';
  /** Events with the same key supersede each other: a subscriber that has not been sent the older one gets only the newer. */
  coalesceKey?(event: Record<string, unknown>): string;
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
      // Stock levels and the catalog's product fields are the same for everyone.
      audience: 'public',
      coalesceKey: (event) => (event as unknown as StockChanged).productId,
      accepts: (args, event) => {
        const productIds = args.productIds as string[] | null | undefined;
        return !productIds || productIds.includes((event as unknown as StockChanged).productId);
      },
    },
    // The owner sees their orders, admins see all; the order subgraph checks again when it resolves the order.
    orderUpdated: {
      channel: liveChannel(keyPrefix, 'orderUpdated'),
      eventField: '_orderFromEvent',
      audience: 'personal',
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
      audience: 'personal',
      authorize: loggedIn,
      accepts: (_args, event, identity) => identity.kind === 'user' && event.userId === identity.userId,
    },
  };
}
