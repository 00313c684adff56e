import { randomUUID } from 'node:crypto';
import { PREPARED, Prisma, type Order, type OrderLine, type OrderStatus, type PrismaClient, type SagaStep } from '../../../kernel/src/prisma';
import { enqueueEventsSql } from '../../../kernel/src/events/outbox';
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

/** An orders row as Prisma's Order, for the raw statements that return one (over "orders" or a CTE of its rows). */
export const ORDER_COLUMNS = Prisma.sql`"id"::text AS "id", "seq", "user_id"::text AS "userId", "status"::text AS "status", "total_amount" AS "totalAmount",
  "currency", "idempotency_key" AS "idempotencyKey", "cancel_reason" AS "cancelReason", "saga_step"::text AS "sagaStep",
  "saga_target"::text AS "sagaTarget", "saga_attempts" AS "sagaAttempts", "saga_next_attempt_at" AS "sagaNextAttemptAt",
  "confirmation_deadline" AS "confirmationDeadline", "request_id" AS "requestId", "traceparent", "created_at" AS "createdAt", "updated_at" AS "updatedAt"`;

/** The lines of the "moved" row, as Prisma's OrderLine[] in position order. */
const LINES_OF_MOVED = Prisma.sql`, (
  SELECT coalesce(json_agg(json_build_object('id', "id", 'orderId', "order_id", 'position', "position", 'productId', "product_id", 'productName', "product_name",
                                             'quantity', "quantity", 'unitPriceAmount', "unit_price_amount", 'currency', "currency") ORDER BY "position"), '[]')
  FROM "order"."order_lines" WHERE "order_id" = "moved"."id") AS "lines"`;

/**
 * The one way an order changes: a conditional update from a known state, so that of two racing
 * changes exactly one applies; a status change is checked against ORDER_TRANSITIONS and writes its
 * history row and its event (through the outbox) in the same statement.
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
   * Moves the order from `from` to `to`: the order after it, or null when it was no longer in `from`
   * (another change came first). A status change first reads the order and its lines (its event carries them).
   */
  async move(orderId: string, from: OrderState, to: OrderMove, audit: { actor: string; reason?: string | null }): Promise<Order | null> {
    if (!changesStatus(from, to)) return this.write(orderId, from, to, audit);
    const order = await this.prisma.order.findUnique({ where: { id: orderId }, include: { lines: { orderBy: { position: 'asc' } } } });
    if (!order || order.status !== from.status || order.sagaStep !== from.sagaStep) return null;
    return this.write(orderId, from, to, audit, order);
  }

  /**
   * A move that leaves the status as it is (a saga step begun), returning the order with its lines
   * in the same statement, for the saga to run from.
   */
  async moveReadingLines(
    orderId: string,
    from: OrderState & { userId?: string; deadlineAfter?: Date },
    to: Omit<OrderMove, 'status'>,
    audit: { actor: string },
  ): Promise<(Order & { lines: OrderLine[] }) | null> {
    const moved = await this.write(orderId, from, to, audit, undefined, true);
    return moved as (Order & { lines: OrderLine[] }) | null;
  }

  /** move() for a caller that has the order and its lines (the saga): from where `order` is, in one statement and no read. */
  moveKnown(order: Order & { lines: OrderLine[] }, to: OrderMove, audit: { actor: string; reason?: string | null }): Promise<Order | null> {
    return this.write(order.id, { status: order.status, sagaStep: order.sagaStep }, to, audit, order);
  }

  /**
   * The conditional update, and for a status change its history row and its event, in one statement
   * (atomic on its own: no transaction round trips). The event's reason and confirmation deadline are
   * read from the row it updates; the rest of it (`known`) does not change once an order is placed.
   */
  private async write(
    orderId: string,
    from: OrderState & { userId?: string; deadlineAfter?: Date },
    to: OrderMove,
    audit: { actor: string; reason?: string | null },
    known?: Order & { lines: OrderLine[] },
    readLines = false,
  ): Promise<Order | null> {
    const statusChange = changesStatus(from, to);
    if (statusChange) assertTransition({ number: orderId, status: from.status }, to.status!);
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
    if (statusChange) {
      if (!known) throw new Error(`a status change of order ${orderId} needs the order and its lines`);
      writes.push(Prisma.sql`, "history" AS (
        INSERT INTO "order"."order_status_changes" ("id", "order_id", "from", "to", "actor", "reason", "created_at")
        SELECT ${randomUUID()}::uuid, "id", ${from.status}::"order"."OrderStatus", ${to.status}::"order"."OrderStatus", ${audit.actor}, ${audit.reason ?? null}, ${now} FROM "moved")`);
      const type = STATUS_EVENTS[to.status!];
      if (type) {
        const lines = [...known.lines].sort((a, b) => a.position - b.position);
        const event = { stream: 'order', type, source: 'order', payload: orderEvent({ ...known, status: to.status! }, lines, now) };
        const fromRow = Prisma.sql`jsonb_build_object('reason', "cancel_reason",
          'confirmationDeadline', to_char("confirmation_deadline" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;
        writes.push(Prisma.sql`, "event" AS (${enqueueEventsSql('order', event, { from: Prisma.sql`"moved"`, payload: fromRow })})`);
      }
    }
    // Prepared: a move's statement takes few shapes, and PostgreSQL spent as long planning it as running it.
    const [moved] = await this.prisma.$queryRaw<Order[]>`${PREPARED}
      WITH "moved" AS (
        UPDATE "order"."orders" SET ${Prisma.join(sets, ', ')}
        WHERE "id" = ${orderId}::uuid AND "status" = ${from.status}::"order"."OrderStatus" AND "saga_step" = ${from.sagaStep}::"order"."SagaStep"
          ${from.userId !== undefined ? Prisma.sql`AND "user_id" = ${from.userId}::uuid` : Prisma.empty}
          ${from.deadlineAfter !== undefined ? Prisma.sql`AND ("confirmation_deadline" IS NULL OR "confirmation_deadline" > ${from.deadlineAfter})` : Prisma.empty}
        RETURNING *
      )${writes.length ? Prisma.join(writes, '') : Prisma.empty}
      SELECT ${ORDER_COLUMNS}${readLines ? LINES_OF_MOVED : Prisma.empty} FROM "moved"`;
    if (moved && statusChange) {
      this.statusChanges.inc({ from: from.status, to: to.status! });
      this.relay.kick();
    }
    return moved ?? null;
  }
}

const changesStatus = (from: OrderState, to: OrderMove): boolean => to.status !== undefined && to.status !== from.status;
