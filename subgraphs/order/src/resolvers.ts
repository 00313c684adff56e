import { DateTimeResolver } from 'graphql-scalars';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { Order } from '../../../kernel/src/prisma';
import type { BaseContext } from '../../../kernel/src/server';
import type { OrderService } from './orders';

export interface OrderContext extends BaseContext {
  orders: OrderService;
}

export const resolvers: GraphQLResolverMap<OrderContext> = {
  DateTime: DateTimeResolver,
  Query: {
    order: (_root, args: { id: string }, { identity, orders }) => orders.findVisible(identity, args.id),
  },
  Order: {
    __resolveReference: (ref: { id: string }, { identity, orders }: OrderContext) => orders.findVisible(identity, ref.id),
    number: (order: Order) => `SO-${order.seq.toString().padStart(6, '0')}`,
    user: (order: Order) => ({ id: order.userId }),
    total: (order: Order) => ({ amount: order.totalAmount, currency: order.currency }),
  },
};
