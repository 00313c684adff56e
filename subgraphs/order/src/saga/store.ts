import { Prisma, type OrderStatus, type PrismaClient } from '../../../../kernel/src/prisma';
import { claimDue } from '../../../../kernel/src/claim-due';
import type { OrderMove, OrderTransitions } from '../transitions';
import type { ActiveSagaStep, SagaOrder } from './steps';

const ORDERS = '"order"."orders"';

/** A step a customer begins: only on their own order (`userId`), and for a confirmation only while its deadline is after `confirmableAt`. */
export interface CustomerStep {
  userId: string;
  confirmableAt?: Date;
}

/**
 * The saga's state on the order row, and every read and write of it: `sagaStep` is the remote call
 * still to make (NONE when there is none), `sagaTarget` where a compensation ends, and
 * `sagaNextAttemptAt` when the step may next be tried: a retry's backoff, or the lease of the
 * process making the call. Every write is conditional on the order still being where the saga
 * found it, so of two processes running one step, one records its result.
 */
export class SagaStore {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly transitions: OrderTransitions,
    private readonly leaseMs: number,
  ) {}

  /** The lease a process takes on an order before a remote call. */
  leaseUntil(): Date {
    return new Date(Date.now() + this.leaseMs);
  }

  load(orderId: string): Promise<SagaOrder | null> {
    return this.prisma.order.findUnique({ where: { id: orderId }, include: { lines: { orderBy: { position: 'asc' } } } });
  }

  // ---------- starting a step (conditional: of racing starters exactly one wins) ----------

  /** AWAITING_CONFIRMATION and idle -> COMMITTING: the order now with its lines, or null when it was not in that state. */
  beginCommit(orderId: string, actor: string, only?: CustomerStep): Promise<SagaOrder | null> {
    return this.transitions.moveReadingLines(
      orderId,
      { status: 'AWAITING_CONFIRMATION', sagaStep: 'NONE', ...(only ? { userId: only.userId, deadlineAfter: only.confirmableAt } : {}) },
      { saga: { step: 'COMMITTING', target: null, attempts: 0, nextAttemptAt: this.leaseUntil() } },
      { actor },
    );
  }

  /** AWAITING_CONFIRMATION and idle -> RELEASING towards CANCELLED: the order now with its lines, or null when it was not in that state. */
  beginCancel(orderId: string, actor: string, reason: string, only?: CustomerStep): Promise<SagaOrder | null> {
    return this.transitions.moveReadingLines(
      orderId,
      { status: 'AWAITING_CONFIRMATION', sagaStep: 'NONE', ...(only ? { userId: only.userId } : {}) },
      { saga: { step: 'RELEASING', target: 'CANCELLED', attempts: 0, nextAttemptAt: this.leaseUntil() }, cancelReason: reason },
      { actor },
    );
  }

  // ---------- recording a step's result ----------

  /** Moves the order on from where the step found it: the order now, or null when it was no longer there. */
  async settle(order: SagaOrder, to: OrderMove, actor: string): Promise<SagaOrder | null> {
    const reason = to.status === 'CANCELLED' || to.status === 'FAILED' ? order.cancelReason : null;
    const moved = await this.transitions.moveKnown(order, to, { actor, reason });
    return moved && { ...moved, lines: order.lines };
  }

  /** The step failed for good: `compensation` runs next (leased to this process), ending in `target` with `reason`. */
  startCompensation(order: SagaOrder, compensation: ActiveSagaStep, target: OrderStatus, reason: string, actor: string): Promise<SagaOrder | null> {
    return this.settle(order, { saga: { step: compensation, target, attempts: 0, nextAttemptAt: this.leaseUntil() }, cancelReason: reason }, actor);
  }

  /** Counts a failed try of the step and makes it due again at `retryAt`; false when the order moved on meanwhile. */
  async recordFailedAttempt(order: SagaOrder, attempts: number, retryAt: Date): Promise<boolean> {
    const { count } = await this.prisma.order.updateMany({
      where: { id: order.id, status: order.status, sagaStep: order.sagaStep },
      data: { sagaAttempts: attempts, sagaNextAttemptAt: retryAt },
    });
    return count > 0;
  }

  /** Pushes this process's lease on the order ahead, while its step is still the one being run. */
  async renewLease(order: SagaOrder): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE "order"."orders" SET "saga_next_attempt_at" = ${this.leaseUntil()}
      WHERE "id" = ${order.id}::uuid AND "saga_step" = ${order.sagaStep}::"order"."SagaStep"`;
  }

  // ---------- what metrics read ----------

  /** Orders in the open statuses and in each remote step: indexed counts over those rows only, never the ended ones. */
  async openCounts(): Promise<{ byStatus: Record<string, number>; bySagaStep: Record<string, number> }> {
    const [statuses, steps] = await Promise.all([
      this.prisma.$queryRaw<{ key: string; count: number }[]>`
        SELECT "status"::text AS "key", count(*)::int AS "count" FROM "order"."orders"
        WHERE "status" IN ('PENDING', 'AWAITING_CONFIRMATION') GROUP BY "status"`,
      this.prisma.$queryRaw<{ key: string; count: number }[]>`
        SELECT "saga_step"::text AS "key", count(*)::int AS "count" FROM "order"."orders"
        WHERE "saga_step" IN ('RESERVING', 'COMMITTING', 'RELEASING') GROUP BY "saga_step"`,
    ]);
    const byKey = (rows: { key: string; count: number }[], keys: string[]) => Object.fromEntries(keys.map((key) => [key, rows.find((row) => row.key === key)?.count ?? 0]));
    return {
      byStatus: byKey(statuses, ['PENDING', 'AWAITING_CONFIRMATION']),
      bySagaStep: byKey(steps, ['RESERVING', 'COMMITTING', 'RELEASING']),
    };
  }

  // ---------- what the worker picks up ----------

  /** Takes the lease on up to `limit` orders whose step is due (a retry, or a dead process's lease ran out). */
  async claimDue(limit: number): Promise<string[]> {
    const now = new Date();
    const rows = await claimDue<{ id: string }>(this.prisma, {
      table: ORDERS,
      due: Prisma.sql`"saga_step" IN ('RESERVING', 'COMMITTING', 'RELEASING') AND ("saga_next_attempt_at" IS NULL OR "saga_next_attempt_at" <= ${now})`,
      orderBy: Prisma.sql`"saga_next_attempt_at" NULLS FIRST`,
      limit,
      set: Prisma.sql`"saga_next_attempt_at" = ${this.leaseUntil()}`,
      returning: Prisma.sql`"id"::text AS "id"`,
    });
    return rows.map((row) => row.id);
  }

  /** Orders whose confirmation deadline passed start releasing towards CANCELLED with `reason`; returns their ids (leased). */
  async expireUnconfirmed(limit: number, reason: string): Promise<string[]> {
    const now = new Date();
    const rows = await claimDue<{ id: string }>(this.prisma, {
      table: ORDERS,
      due: Prisma.sql`"status" = 'AWAITING_CONFIRMATION' AND "saga_step" = 'NONE' AND "confirmation_deadline" <= ${now}`,
      orderBy: Prisma.sql`"confirmation_deadline"`,
      limit,
      set: Prisma.sql`"saga_step" = 'RELEASING', "saga_target" = 'CANCELLED', "cancel_reason" = ${reason},
                      "saga_attempts" = 0, "saga_next_attempt_at" = ${this.leaseUntil()}, "updated_at" = ${now}`,
      returning: Prisma.sql`"id"::text AS "id"`,
    });
    return rows.map((row) => row.id);
  }
}
