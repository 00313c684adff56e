import { TRANSACTION_OPTIONS, type Order, type OrderLine, type OrderStatus, type PrismaClient, type SagaStep, type Tx } from '../../../kernel/src/prisma';
import { enqueueEvent } from '../../../kernel/src/events/outbox';
import { Metrics } from '../../../kernel/src/metrics';
import type { OrderEvent } from '../../../kernel/src/events/envelope';
import { STATUS_EVENTS, assertTransition, orderNumber } from './order-status';

/** Where an order is: the WHERE of a conditional update. */
export interface OrderState {
  status: OrderStatus;
  sagaStep: SagaStep;
}

/** What a move sets. The saga fields are written only when `saga` is given. */
export interface OrderMove {
  status?: OrderStatus;
  saga?: { step: SagaStep; target?: OrderStatus | null; attempts?: number; nextAttemptAt?: Date | null };
  cancelReason?: string;
  confirmationDeadline?: Date;
}

/** The OrderEvent payload of an order as it now is. */
export function orderEvent(order: Order, lines: OrderLine[], at: Date): OrderEvent {
  return {
    orderId: order.id,
    number: orderNumber(order.seq),
    userId: order.userId,
    status: order.status,
    totalAmount: order.totalAmount,
    currency: order.currency,
    lines: lines.map((line) => ({ productId: line.productId, productName: line.productName, quantity: line.quantity, unitPriceAmount: line.unitPriceAmount })),
    reason: order.cancelReason,
    confirmationDeadline: order.confirmationDeadline?.toISOString() ?? null,
    at: at.toISOString(),
  };
}

/**
 * The one way an order changes: a conditional update from a known state, so that of two racing
 * changes exactly one applies; a status change is checked against ORDER_TRANSITIONS and writes its
 * history row and its event (through the outbox) in the same transaction.
 */
export class OrderTransitions {
  private readonly statusChanges;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly relay: { kick(): void },
    metrics: Metrics = new Metrics(),
  ) {
    this.statusChanges = metrics.counter('shop_order_status_changes_total', 'Orders moved from one status to another', ['from', 'to']);
  }

  /** Moves the order from `from` to `to`; null when it was no longer in `from` (another change came first). */
  async move(orderId: string, from: OrderState, to: OrderMove, audit: { actor: string; reason?: string | null }): Promise<Order | null> {
    const changesStatus = to.status !== undefined && to.status !== from.status;
    if (changesStatus) assertTransition({ number: orderId, status: from.status }, to.status!);
    const moved = await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.order.updateMany({
        where: { id: orderId, status: from.status, sagaStep: from.sagaStep },
        data: {
          ...(to.status ? { status: to.status } : {}),
          ...(to.saga
            ? {
                sagaStep: to.saga.step,
                ...(to.saga.target !== undefined ? { sagaTarget: to.saga.target } : {}),
                ...(to.saga.attempts !== undefined ? { sagaAttempts: to.saga.attempts } : {}),
                ...(to.saga.nextAttemptAt !== undefined ? { sagaNextAttemptAt: to.saga.nextAttemptAt } : {}),
              }
            : {}),
          ...(to.cancelReason !== undefined ? { cancelReason: to.cancelReason } : {}),
          ...(to.confirmationDeadline !== undefined ? { confirmationDeadline: to.confirmationDeadline } : {}),
        },
      });
      if (count === 0) return null;
      const order = await tx.order.findUniqueOrThrow({ where: { id: orderId } });
      if (changesStatus) await this.recordStatusChange(tx, order, from.status, audit);
      return order;
    }, TRANSACTION_OPTIONS);
    if (moved && changesStatus) {
      this.statusChanges.inc({ from: from.status, to: to.status! });
      this.relay.kick();
    }
    return moved;
  }

  /** The history row and, for a status that is announced, its event. */
  private async recordStatusChange(tx: Tx, order: Order, from: OrderStatus, audit: { actor: string; reason?: string | null }): Promise<void> {
    const at = order.updatedAt;
    await tx.orderStatusChange.create({ data: { orderId: order.id, from, to: order.status, actor: audit.actor, reason: audit.reason ?? null, createdAt: at } });
    const type = STATUS_EVENTS[order.status];
    if (!type) return;
    const lines = await tx.orderLine.findMany({ where: { orderId: order.id }, orderBy: { position: 'asc' } });
    await enqueueEvent(tx, 'order', { stream: 'order', type, source: 'order', payload: orderEvent(order, lines, at) });
  }
}
