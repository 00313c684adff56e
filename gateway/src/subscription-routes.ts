import type { GraphQLError } from 'graphql';
import type { Identity } from '../../kernel/src/identity';
import { liveChannel, type StockChanged } from '../../kernel/src/events/envelope';

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
  };
}
