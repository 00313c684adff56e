import type { Order, OrderLine, OrderStatus, OrderStatusChange, Prisma, PrismaClient } from '../../../kernel/src/prisma';
import type { Identity } from '../../../kernel/src/identity';
import { isUuid, assertUuid } from '../../../kernel/src/ids';
import { AppError, conflict, forbidden, notFound } from '../../../kernel/src/errors';
import { keysetPage, type Connection } from '../../../kernel/src/pagination';
import { assertTransition, orderNumber } from './order-status';
import type { OrderPlacement, PlaceOrderInput } from './placement';
import { CANCELLED_BY_CUSTOMER, type OrderSaga } from './saga';
import type { OrderTransitions } from './transitions';

export interface OrderConnection extends Connection<Order> {
  /** Counted only when asked for. */
  totalCount: () => Promise<number>;
}

/** A user acting on their own orders (the Telegram buttons act as the person who pressed them). */
export type Customer = Extract<Identity, { kind: 'user' }>;

/** Who may see an order: its owner, admins and platform services. */
export function canSee(identity: Identity, order: Pick<Order, 'userId'>): boolean {
  if (identity.kind === 'service') return true;
  return identity.kind === 'user' && (identity.role === 'ADMIN' || order.userId === identity.userId);
}

/** What the saga is doing while an order is busy, for a refusal a person understands. */
function busyWith(order: Order): string {
  if (order.sagaStep === 'RESERVING') return 'still reserving its stock';
  if (order.sagaStep === 'COMMITTING') return 'already being confirmed';
  return order.sagaTarget === 'CANCELLED' ? 'already being cancelled' : 'already failing (its stock is being released)';
}

/** Orders: reading them (with their visibility) and the customer's and admins' commands on them. */
export class OrderService {
  constructor(
    private readonly deps: {
      prisma: PrismaClient;
      transitions: OrderTransitions;
      saga: OrderSaga;
      placement: OrderPlacement;
    },
  ) {}

  // ---------- reading ----------

  async findManyByIds(ids: readonly string[]): Promise<Map<string, Order>> {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await this.deps.prisma.order.findMany({ where: { id: { in: valid } } }) : [];
    return new Map(rows.map((order) => [order.id, order]));
  }

  async linesOf(orderIds: readonly string[]): Promise<Map<string, OrderLine[]>> {
    const rows = await this.deps.prisma.orderLine.findMany({ where: { orderId: { in: [...orderIds] } }, orderBy: [{ orderId: 'asc' }, { position: 'asc' }] });
    return groupBy(rows);
  }

  /** Oldest first. */
  async historyOf(orderIds: readonly string[]): Promise<Map<string, OrderStatusChange[]>> {
    const rows = await this.deps.prisma.orderStatusChange.findMany({ where: { orderId: { in: [...orderIds] } }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    return groupBy(rows);
  }

  /** Newest first, Relay cursors. */
  async page(where: Prisma.OrderWhereInput, first: number, after?: string | null): Promise<OrderConnection> {
    const page = await keysetPage({ first, after }, 'desc', where, (query) => this.deps.prisma.order.findMany(query));
    return { ...page, totalCount: () => this.deps.prisma.order.count({ where }) };
  }

  forUser(userId: string, first: number, after?: string | null): Promise<OrderConnection> {
    return this.page({ userId }, first, after);
  }

  all(status: OrderStatus | null | undefined, first: number, after?: string | null): Promise<OrderConnection> {
    return this.page(status ? { status } : {}, first, after);
  }

  // ---------- commands ----------

  place(userId: string, input: PlaceOrderInput): Promise<Order> {
    return this.deps.placement.place(userId, input);
  }

  /** The owner confirms: the reserved stock is committed and the order becomes CONFIRMED (or FAILED if the reservation had expired). */
  async confirm(caller: Customer, id: string, actor: string): Promise<Order> {
    assertUuid(id, 'id');
    // The step begun in one statement when every rule holds (the owner's, idle, awaiting, in time); the order is read only to say which did not.
    const begun = await this.deps.saga.beginCommit(id, actor, { userId: caller.userId, confirmableAt: new Date() });
    if (!begun) throw await this.refusal(caller, id, 'CONFIRMED');
    return (await this.deps.saga.run(begun.id, actor, begun)) ?? this.get(begun.id);
  }

  /** The owner refuses: the reserved stock is released and the order becomes CANCELLED. */
  async cancel(caller: Customer, id: string, actor: string): Promise<Order> {
    assertUuid(id, 'id');
    const begun = await this.deps.saga.beginCancel(id, actor, CANCELLED_BY_CUSTOMER, { userId: caller.userId });
    if (!begun) throw await this.refusal(caller, id, 'CANCELLED');
    return (await this.deps.saga.run(begun.id, actor, begun)) ?? this.get(begun.id);
  }

  /** Why the customer's step could not begin: not theirs, not idle or in a status that does not allow `to`, too late, or another change came first. */
  private async refusal(caller: Customer, id: string, to: 'CONFIRMED' | 'CANCELLED'): Promise<AppError> {
    try {
      const order = await this.owned(caller, id);
      this.assertIdle(order, to);
      if (to === 'CONFIRMED' && order.confirmationDeadline && order.confirmationDeadline.getTime() <= Date.now()) {
        // The worker cancels it within a round; until then it is too late all the same.
        return conflict(`Order ${orderNumber(order.seq)} was not confirmed in time (by ${order.confirmationDeadline.toISOString()}); it is being cancelled.`, {
          status: order.status,
        });
      }
      return conflict(`Order ${orderNumber(order.seq)} changed meanwhile (it is ${order.status}); try again.`, { status: order.status });
    } catch (error) {
      if (error instanceof AppError) return error;
      throw error;
    }
  }

  /** An admin marks a confirmed order as shipped. */
  async fulfill(id: string, actor: string): Promise<Order> {
    const order = await this.get(id);
    assertTransition({ number: orderNumber(order.seq), status: order.status }, 'FULFILLED');
    const moved = await this.deps.transitions.move(order.id, { status: 'CONFIRMED', sagaStep: 'NONE' }, { status: 'FULFILLED' }, { actor });
    if (!moved) throw await this.lostRace(order.id, 'FULFILLED');
    return moved;
  }

  private find(id: string): Promise<Order | null> {
    assertUuid(id, 'id');
    return this.deps.prisma.order.findUnique({ where: { id } });
  }

  private async get(id: string): Promise<Order> {
    const order = await this.find(id);
    if (!order) throw notFound('Order', id);
    return order;
  }

  /** The caller's own order. One they may not see is NOT_FOUND, worded as for an id that never existed; an admin sees it but may not act for its owner. */
  private async owned(caller: Customer, id: string): Promise<Order> {
    const order = await this.find(id);
    if (!order || !canSee(caller, order)) throw notFound('Order', id);
    if (order.userId !== caller.userId) throw forbidden(`Order ${orderNumber(order.seq)} is not yours: only its owner can confirm or cancel it.`);
    return order;
  }

  /** The status must allow `to`, and no saga step may be under way. */
  private assertIdle(order: Order, to: OrderStatus): void {
    assertTransition({ number: orderNumber(order.seq), status: order.status }, to);
    if (order.sagaStep !== 'NONE') {
      throw conflict(`Order ${orderNumber(order.seq)} is ${order.status} and ${busyWith(order)}; it cannot become ${to} now.`, { status: order.status });
    }
  }

  /** Another change won the conditional update: the refusal names where the order is now. */
  private async lostRace(id: string, to: OrderStatus): Promise<AppError> {
    const order = await this.get(id);
    try {
      this.assertIdle(order, to);
    } catch (error) {
      if (error instanceof AppError) return error;
      throw error;
    }
    return conflict(`Order ${orderNumber(order.seq)} changed meanwhile (it is ${order.status}); try again.`, { status: order.status });
  }
}

function groupBy<T extends { orderId: string }>(rows: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const group = groups.get(row.orderId);
    if (group) group.push(row);
    else groups.set(row.orderId, [row]);
  }
  return groups;
}
