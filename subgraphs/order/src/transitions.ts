import { randomUUID } from 'node:crypto';
import { Prisma, TRANSACTION_OPTIONS, type Order, type OrderLine, type OrderStatus, type PrismaClient, type SagaStep, type Tx } from '../../../kernel/src/prisma';
import { enqueueEvent, newEnvelope } from '../../../kernel/src/events/outbox';
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

  /**
   * Moves the order from `from` to `to`; null when it was no longer in `from` (another change came first).
   * `lines`: the order's lines when the caller has them (its event carries them), else they are read.
   */
  async move(orderId: string, from: OrderState, to: OrderMove, audit: { actor: string; reason?: string | null }, lines?: OrderLine[]): Promise<Order | null> {
    const changesStatus = to.status !== undefined && to.status !== from.status;
    if (changesStatus) assertTransition({ number: orderId, status: from.status }, to.status!);
    const data = {
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
    };
    // One conditional UPDATE ... RETURNING; the status changes also write their history row and event in its transaction.
    const update = (db: PrismaClient | Tx) => conditionalUpdate(db, orderId, from, data);
    const moved = changesStatus
      ? await this.prisma.$transaction(async (tx) => {
          const order = await update(tx);
          if (order) await this.recordStatusChange(tx, order, from.status, audit, lines);
          return order;
        }, TRANSACTION_OPTIONS)
      : await update(this.prisma);
    if (moved && changesStatus) {
      this.statusChanges.inc({ from: from.status, to: to.status! });
      this.relay.kick();
    }
    return moved;
  }

  /**
   * move() for a caller that has the order and its lines (the saga): the conditional update, and for
   * a status change its history row and its event, in one statement (atomic on its own: no
   * transaction round trips). The event's reason and confirmation deadline are read from the row it
   * updates, the rest of it does not change once an order is placed. False when the order was no longer in `from`.
   */
  async moveKnown(order: Order & { lines: OrderLine[] }, to: OrderMove, audit: { actor: string; reason?: string | null }): Promise<boolean> {
    const from: OrderState = { status: order.status, sagaStep: order.sagaStep };
    const changesStatus = to.status !== undefined && to.status !== from.status;
    if (changesStatus) assertTransition({ number: order.id, status: from.status }, to.status!);
    const now = new Date();
    const sets: Prisma.Sql[] = [Prisma.sql`"updated_at" = ${now}`];
    if (to.status) sets.push(Prisma.sql`"status" = ${to.status}::"order"."OrderStatus"`);
    if (to.saga) {
      sets.push(Prisma.sql`"saga_step" = ${to.saga.step}::"order"."SagaStep"`);
      if (to.saga.target !== undefined) sets.push(Prisma.sql`"saga_target" = ${to.saga.target}::"order"."OrderStatus"`);
      if (to.saga.attempts !== undefined) sets.push(Prisma.sql`"saga_attempts" = ${to.saga.attempts}`);
      if (to.saga.nextAttemptAt !== undefined) sets.push(Prisma.sql`"saga_next_attempt_at" = ${to.saga.nextAttemptAt}`);
    }
    if (to.cancelReason !== undefined) sets.push(Prisma.sql`"cancel_reason" = ${to.cancelReason}`);
    if (to.confirmationDeadline !== undefined) sets.push(Prisma.sql`"confirmation_deadline" = ${to.confirmationDeadline}`);
    const writes: Prisma.Sql[] = [];
    if (changesStatus) {
      writes.push(Prisma.sql`, "history" AS (
        INSERT INTO "order"."order_status_changes" ("id", "order_id", "from", "to", "actor", "reason", "created_at")
        SELECT ${randomUUID()}::uuid, "id", ${from.status}::"order"."OrderStatus", ${to.status}::"order"."OrderStatus", ${audit.actor}, ${audit.reason ?? null}, ${now} FROM "moved")`);
      const type = STATUS_EVENTS[to.status!];
      if (type) {
        const lines = [...order.lines].sort((a, b) => a.position - b.position);
        const event = newEnvelope({ stream: 'order', type, source: 'order', payload: orderEvent({ ...order, status: to.status! }, lines, now) });
        writes.push(Prisma.sql`, "event" AS (
          INSERT INTO "order"."outbox_events" ("id", "stream", "type", "payload", "created_at", "request_id", "traceparent")
          SELECT ${event.id}::uuid, 'order', ${event.type}, ${JSON.stringify(event.payload)}::jsonb || jsonb_build_object(
                   'reason', "cancel_reason",
                   'confirmationDeadline', to_char("confirmation_deadline" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
                 ${event.occurredAt}::timestamptz, ${event.requestId ?? null}, ${event.traceparent ?? null}
          FROM "moved")`);
      }
    }
    const [row] = await this.prisma.$queryRaw<Array<{ count: number }>>`
      WITH "moved" AS (
        UPDATE "order"."orders" SET ${Prisma.join(sets, ', ')}
        WHERE "id" = ${order.id}::uuid AND "status" = ${from.status}::"order"."OrderStatus" AND "saga_step" = ${from.sagaStep}::"order"."SagaStep"
        RETURNING "id", "cancel_reason", "confirmation_deadline"
      )${writes.length ? Prisma.join(writes, '') : Prisma.empty}
      SELECT count(*)::int AS "count" FROM "moved"`;
    const moved = (row?.count ?? 0) > 0;
    if (moved && changesStatus) {
      this.statusChanges.inc({ from: from.status, to: to.status! });
      this.relay.kick();
    }
    return moved;
  }

  /** The history row and, for a status that is announced, its event. */
  private async recordStatusChange(tx: Tx, order: Order, from: OrderStatus, audit: { actor: string; reason?: string | null }, known?: OrderLine[]): Promise<void> {
    const at = order.updatedAt;
    await tx.orderStatusChange.create({ data: { orderId: order.id, from, to: order.status, actor: audit.actor, reason: audit.reason ?? null, createdAt: at } });
    const type = STATUS_EVENTS[order.status];
    if (!type) return;
    const lines = known ? [...known].sort((a, b) => a.position - b.position) : await tx.orderLine.findMany({ where: { orderId: order.id }, orderBy: { position: 'asc' } });
    await enqueueEvent(tx, 'order', { stream: 'order', type, source: 'order', payload: orderEvent(order, lines, at) });
  }
}

/** The order after `data`, when it was still in `from`; null when it was not (nothing written). */
async function conditionalUpdate(db: PrismaClient | Tx, id: string, from: OrderState, data: Prisma.OrderUpdateInput): Promise<Order | null> {
  try {
    return await db.order.update({ where: { id, status: from.status, sagaStep: from.sagaStep }, data });
  } catch (error) {
    // P2025: no row matched the condition (the UPDATE changed nothing, so a transaction goes on unharmed).
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025') return null;
    throw error;
  }
}
