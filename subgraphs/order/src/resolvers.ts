import type DataLoader from 'dataloader';
import { DateTimeResolver } from 'graphql-scalars';
import type { Order, OrderLine, OrderStatusChange } from '../../../kernel/src/prisma';
import type { Order as OrderType, OrderLine as OrderLineType, OrderStatusChange as OrderStatusChangeType, Resolvers } from '../../../generated/graphql/order/resolvers';
import type { EveryFieldResolved, Unresolved } from '../../../kernel/src/resolver-coverage';
import { batchLoader } from '../../../kernel/src/loaders';
import type { BaseContext } from '../../../kernel/src/server';
import { actorOf, requireAdmin, requireService, requireUser, type Identity } from '../../../kernel/src/identity';
import { assertUuid, isUuid } from '../../../kernel/src/ids';
import { badUserInput, forbidden, unauthenticated } from '../../../kernel/src/errors';
import type { OrderEvent } from '../../../kernel/src/events/envelope';
import { canSee, type OrderService } from './orders';
import { orderNumber } from './order-status';

export interface OrderContext extends BaseContext {
  orders: OrderService;
  orderById: DataLoader<string, Order | null>;
  linesByOrderId: DataLoader<string, OrderLine[]>;
  historyByOrderId: DataLoader<string, OrderStatusChange[]>;
}

/** Per request: a page of orders costs one query for their lines and one for their history, whatever its size. */
export function createOrderContext(base: BaseContext, orders: OrderService): OrderContext {
  return {
    ...base,
    orders,
    orderById: batchLoader((ids) => orders.findManyByIds(ids), null),
    linesByOrderId: batchLoader((ids) => orders.linesOf(ids), []),
    historyByOrderId: batchLoader((ids) => orders.historyOf(ids), []),
  };
}

/** The order, if this caller may see it; null otherwise (no hint whether it exists). */
async function visibleOrder(id: string, { identity, orderById }: OrderContext): Promise<Order | null> {
  if (!isUuid(id)) return null;
  const order = await orderById.load(id);
  return order && canSee(identity, order) ? order : null;
}

/** An OrderEvent payload, as the gateway hands it back for a subscriber. */
function parseOrderEvent(raw: string): OrderEvent {
  try {
    const event = JSON.parse(raw) as OrderEvent;
    if (event && typeof event.orderId === 'string' && isUuid(event.orderId) && typeof event.userId === 'string') return event;
  } catch {
    // fall through
  }
  throw badUserInput('event', 'Not an OrderEvent.');
}

/** The user themselves, an admin, or a platform service. */
function assertMayListOrdersOf(identity: Identity, userId: string): void {
  if (identity.kind === 'service') return;
  if (identity.kind !== 'user') throw unauthenticated();
  if (identity.role !== 'ADMIN' && identity.userId !== userId) throw forbidden("Only the user themselves or an admin can see a user's orders.");
}

/** A user as this subgraph knows them: an id whose orders it holds. */
export type UserRef = { id: string };

export const resolvers = {
  DateTime: DateTimeResolver,
  Query: {
    order: (_root, args, context) => visibleOrder(args.id, context),
    myOrders: (_root, args, { identity, orders }) => orders.forUser(requireUser(identity).userId, args.first, args.after),
    orders: (_root, args, { identity, orders }) => {
      requireAdmin(identity);
      return orders.all(args.status, args.first, args.after);
    },
    _orderFromEvent: (_root, args, context) => visibleOrder(parseOrderEvent(args.event).orderId, context),
  },
  Mutation: {
    placeOrder: (_root, args, { identity, orders }) => orders.place(requireUser(identity).userId, args.input),
    confirmOrder: (_root, args, { identity, orders }) => {
      const user = requireUser(identity);
      return orders.confirm(user, args.id, actorOf(user));
    },
    cancelOrder: (_root, args, { identity, orders }) => {
      const user = requireUser(identity);
      return orders.cancel(user, args.id, actorOf(user));
    },
    fulfillOrder: (_root, args, { identity, orders }) => orders.fulfill(args.id, actorOf(requireAdmin(identity))),
    // The notification service relays the Telegram buttons: the person pressing them is the actor.
    respondToOrder: (_root, args, { identity, orders }) => {
      requireService(identity);
      assertUuid(args.userId, 'userId');
      // Only the presser's id is known here, not their role: anyone else's order is NOT_FOUND to them.
      const presser = { kind: 'user', userId: args.userId, role: 'USER' } as const;
      const actor = actorOf(presser);
      return args.confirm ? orders.confirm(presser, args.id, actor) : orders.cancel(presser, args.id, actor);
    },
  },
  User: {
    orders: (user, args, { identity, orders }) => {
      assertMayListOrdersOf(identity, user.id);
      return orders.forUser(user.id, args.first, args.after);
    },
  },
  Order: {
    __resolveReference: (ref, context) => visibleOrder(ref.id, context),
    number: (order) => orderNumber(order.seq),
    user: (order) => ({ id: order.userId }),
    lines: (order, _args, { linesByOrderId }) => linesByOrderId.load(order.id),
    total: (order) => ({ amount: order.totalAmount, currency: order.currency }),
    statusHistory: (order, _args, { historyByOrderId }) => historyByOrderId.load(order.id),
  },
  OrderLine: {
    product: (line) => ({ id: line.productId }),
    unitPrice: (line) => ({ amount: line.unitPriceAmount, currency: line.currency }),
    lineTotal: (line) => ({ amount: line.unitPriceAmount * line.quantity, currency: line.currency }),
  },
  OrderConnection: {
    totalCount: (connection) => connection.totalCount(),
  },
  OrderStatusChange: {
    at: (change) => change.createdAt,
  },
} satisfies Resolvers;

// Fields the Prisma models serve by themselves: a renamed one fails here.
export type FieldsResolved = [
  EveryFieldResolved<Unresolved<OrderType, Order, typeof resolvers.Order>>,
  EveryFieldResolved<Unresolved<OrderLineType, OrderLine, typeof resolvers.OrderLine>>,
  EveryFieldResolved<Unresolved<OrderStatusChangeType, OrderStatusChange, typeof resolvers.OrderStatusChange>>,
];
