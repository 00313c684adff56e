import type { Order, OrderLine, OrderStatus, PrismaClient } from '../../../kernel/src/prisma';
import type { Logger } from '../../../kernel/src/logger';
import type { Failpoints } from './failpoints';
import type { InventoryClient, InventoryOutcome } from './inventory-client';
import type { OrderTransitions } from './transitions';

export interface SagaSettings {
  confirmationTimeoutSeconds: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  leaseMs: number;
}

type SagaOrder = Order & { lines: OrderLine[] };

/** After a step: run the next one now, or stop (the order waits for the user, a retry, or another process). */
type Next = 'continue' | 'stop';

/** How many steps one run takes at most: reserve, release, and a spare. */
const MAX_STEPS_PER_RUN = 4;

export const CANCELLED_BY_CUSTOMER = 'cancelled by the customer';
export const NOT_CONFIRMED_IN_TIME = 'not confirmed in time';
export const INVENTORY_UNAVAILABLE = 'inventory unavailable';
const RESERVATION_EXPIRED = 'the stock reservation expired before the order was confirmed';

/**
 * The order saga: reserve the stock (PENDING -> AWAITING_CONFIRMATION), then commit it on
 * confirmation (-> CONFIRMED) or release it (-> CANCELLED / FAILED).
 *
 * The saga's state lives on the order row: `sagaStep` is the remote call still to make (RESERVING,
 * COMMITTING, RELEASING; NONE when nothing is), `sagaTarget` where RELEASING ends, and
 * `sagaNextAttemptAt` when the step may next be tried: a retry's backoff, or the lease of the
 * process making the call. Every step is written before its remote call and its result after it;
 * the inventory's calls are idempotent per order id and each result is recorded with a conditional
 * update, so running a step twice (after a crash, or two processes at once) has its effect once.
 * Whoever changes an order runs its saga inline; the SagaWorker resumes what a dead process left.
 */
export class OrderSaga {
  constructor(
    private readonly deps: {
      prisma: PrismaClient;
      transitions: OrderTransitions;
      inventory: InventoryClient;
      failpoints: Failpoints;
      logger: Logger;
      settings: SagaSettings;
    },
  ) {}

  /** The lease a process takes on an order before a remote call. */
  leaseUntil(): Date {
    return new Date(Date.now() + this.deps.settings.leaseMs);
  }

  // ---------- starting a step (conditional: of racing starters exactly one wins) ----------

  /** AWAITING_CONFIRMATION and idle -> COMMITTING. False when the order was not in that state. */
  async beginCommit(orderId: string, actor: string): Promise<boolean> {
    const moved = await this.deps.transitions.move(
      orderId,
      { status: 'AWAITING_CONFIRMATION', sagaStep: 'NONE' },
      { saga: { step: 'COMMITTING', target: null, attempts: 0, nextAttemptAt: this.leaseUntil() } },
      { actor },
    );
    return moved !== null;
  }

  /** AWAITING_CONFIRMATION and idle -> RELEASING towards CANCELLED. False when the order was not in that state. */
  async beginCancel(orderId: string, actor: string, reason: string): Promise<boolean> {
    const moved = await this.deps.transitions.move(
      orderId,
      { status: 'AWAITING_CONFIRMATION', sagaStep: 'NONE' },
      { saga: { step: 'RELEASING', target: 'CANCELLED', attempts: 0, nextAttemptAt: this.leaseUntil() }, cancelReason: reason },
      { actor },
    );
    return moved !== null;
  }

  // ---------- running ----------

  /** Runs the order's saga from its persisted step until it waits (for the user, a retry, another process) or ends. */
  async run(orderId: string, actor: string): Promise<void> {
    for (let steps = 0; steps < MAX_STEPS_PER_RUN; steps++) {
      const order = await this.deps.prisma.order.findUnique({ where: { id: orderId }, include: { lines: { orderBy: { position: 'asc' } } } });
      if (!order || order.sagaStep === 'NONE') return;
      const next = await this.step(order, actor);
      if (next === 'stop') return;
    }
  }

  private step(order: SagaOrder, actor: string): Promise<Next> {
    switch (order.sagaStep) {
      case 'RESERVING':
        return this.reserve(order, actor);
      case 'COMMITTING':
        return this.commit(order, actor);
      case 'RELEASING':
        return this.release(order, actor);
      default:
        return Promise.resolve('stop');
    }
  }

  private async reserve(order: SagaOrder, actor: string): Promise<Next> {
    const { failpoints, inventory, settings } = this.deps;
    failpoints.hit('before-reserve');
    const outcome = await this.holdingLease(order, () =>
      inventory.reserve(order.id, order.lines.map((line) => ({ productId: line.productId, quantity: line.quantity }))),
    );
    failpoints.hit('after-reserve');
    switch (outcome.kind) {
      case 'done':
        if (outcome.reservation.status !== 'RESERVED') {
          // Only when this step was resumed after the inventory's own expiry had released it.
          return this.startRelease(order, 'FAILED', 'the stock reservation expired before the order could be placed', actor);
        }
        return this.settle(
          order,
          {
            status: 'AWAITING_CONFIRMATION',
            saga: { step: 'NONE', target: null, attempts: 0, nextAttemptAt: null },
            confirmationDeadline: new Date(Date.now() + settings.confirmationTimeoutSeconds * 1000),
          },
          actor,
        );
      case 'refused':
        return this.startRelease(order, 'FAILED', this.refusalReason(order, outcome), actor);
      case 'unavailable':
        return this.retryLater(order, outcome.message, () => this.startRelease(order, 'FAILED', INVENTORY_UNAVAILABLE, actor));
    }
  }

  private async commit(order: SagaOrder, actor: string): Promise<Next> {
    const { failpoints, inventory } = this.deps;
    failpoints.hit('before-commit');
    const outcome = await this.holdingLease(order, () => inventory.commit(order.id));
    failpoints.hit('after-commit');
    switch (outcome.kind) {
      case 'done':
        if (outcome.reservation.status !== 'COMMITTED') return this.startRelease(order, 'FAILED', RESERVATION_EXPIRED, actor);
        return this.settle(order, { status: 'CONFIRMED', saga: { step: 'NONE', target: null, attempts: 0, nextAttemptAt: null } }, actor);
      case 'refused':
        return this.startRelease(order, 'FAILED', outcome.code === 'RESERVATION_EXPIRED' ? RESERVATION_EXPIRED : this.refusalReason(order, outcome), actor);
      case 'unavailable':
        // No giving up here: the commit may have gone through, and only the inventory can say. It
        // answers for sure once reachable (COMMITTED, or RESERVATION_EXPIRED after its TTL).
        return this.retryLater(order, outcome.message);
    }
  }

  private async release(order: SagaOrder, actor: string): Promise<Next> {
    const { failpoints, inventory, logger } = this.deps;
    const target = order.sagaTarget ?? 'FAILED';
    failpoints.hit('before-release');
    const outcome = await this.holdingLease(order, () => inventory.release(order.id));
    failpoints.hit('after-release');
    if (outcome.kind === 'done') {
      if (outcome.reservation.status === 'COMMITTED') {
        // Cannot happen: a commit is only made from COMMITTING, which never gives up into RELEASING.
        logger.error({ orderId: order.id }, 'released an order whose stock the inventory had committed');
      }
      return this.settle(order, { status: target, saga: { step: 'NONE', target: null, attempts: 0, nextAttemptAt: null } }, actor);
    }
    // A compensation is never abandoned: it is retried (capped backoff) until the inventory answers.
    // After maxAttempts the order takes its final status anyway, so the customer is not left waiting
    // on an outage; the release goes on in the background (and the inventory's own reservation TTL
    // frees the stock if it never comes back).
    return this.retryLater(order, outcome.message, async () => {
      if (order.status === target) return 'stop';
      await this.settle(order, { status: target }, actor);
      return 'stop';
    });
  }

  // ---------- moving the order ----------

  /** Records a step's result: conditional on the order still being where this step found it. */
  private async settle(order: SagaOrder, to: Parameters<OrderTransitions['move']>[2], actor: string): Promise<Next> {
    const reason = to.status === 'CANCELLED' || to.status === 'FAILED' ? order.cancelReason : null;
    const moved = await this.deps.transitions.move(order.id, { status: order.status, sagaStep: order.sagaStep }, to, { actor, reason });
    return moved ? 'continue' : 'stop';
  }

  /** The step failed for good: release whatever is held, then end in `target` with `reason`. */
  private startRelease(order: SagaOrder, target: OrderStatus, reason: string, actor: string): Promise<Next> {
    return this.settle(order, { saga: { step: 'RELEASING', target, attempts: 0, nextAttemptAt: this.leaseUntil() }, cancelReason: reason }, actor);
  }

  /**
   * The inventory did not answer: the step is retried after a capped exponential backoff, by the
   * worker. After maxAttempts, `giveUp` decides what happens (without it the step keeps retrying).
   */
  private async retryLater(order: SagaOrder, problem: string, giveUp?: () => Promise<Next>): Promise<Next> {
    const { prisma, settings, logger } = this.deps;
    const attempts = order.sagaAttempts + 1;
    const delayMs = Math.min(settings.retryBaseMs * 2 ** Math.min(attempts - 1, 30), settings.retryMaxMs);
    const { count } = await prisma.order.updateMany({
      where: { id: order.id, status: order.status, sagaStep: order.sagaStep },
      data: { sagaAttempts: attempts, sagaNextAttemptAt: new Date(Date.now() + delayMs) },
    });
    if (count === 0) return 'stop';
    logger.warn({ orderId: order.id, step: order.sagaStep, attempts, retryInMs: delayMs, problem }, 'saga step failed; retrying later');
    return giveUp && attempts >= settings.maxAttempts ? giveUp() : 'stop';
  }

  private refusalReason(order: SagaOrder, outcome: Extract<InventoryOutcome, { kind: 'refused' }>): string {
    if (outcome.code !== 'OUT_OF_STOCK') return `the inventory refused: ${outcome.message}`;
    const productId = String(outcome.extensions.productId ?? '');
    const line = order.lines.find((l) => l.productId === productId);
    const name = line ? `"${line.productName}"` : 'a product';
    const available = Number(outcome.extensions.available ?? 0);
    return available > 0
      ? `out of stock: only ${available} of ${name} (product ${productId}) available, ${line?.quantity ?? outcome.extensions.requested} ordered`
      : `out of stock: ${name} (product ${productId})`;
  }

  /** Keeps this process's lease on the order fresh while `call` is in flight, so the worker does not resume it meanwhile. */
  private async holdingLease<T>(order: SagaOrder, call: () => Promise<T>): Promise<T> {
    const { prisma, settings, logger } = this.deps;
    const renew = setInterval(() => {
      prisma.$executeRaw`
        UPDATE "order"."orders" SET "saga_next_attempt_at" = ${this.leaseUntil()}
        WHERE "id" = ${order.id}::uuid AND "saga_step" = ${order.sagaStep}::"order"."SagaStep"`.catch((error: unknown) =>
        logger.warn({ err: error, orderId: order.id }, 'could not renew the saga lease'),
      );
    }, Math.max(50, Math.floor(settings.leaseMs / 3)));
    try {
      return await call();
    } finally {
      clearInterval(renew);
    }
  }

  // ---------- what the worker picks up ----------

  /** Takes the lease on up to `limit` orders whose step is due (a retry, or a dead process's lease ran out). */
  async claimDue(limit: number): Promise<string[]> {
    const now = new Date();
    const rows = await this.deps.prisma.$queryRaw<Array<{ id: string }>>`
      UPDATE "order"."orders" SET "saga_next_attempt_at" = ${this.leaseUntil()}
      WHERE "id" IN (
        SELECT "id" FROM "order"."orders"
        WHERE "saga_step" IN ('RESERVING', 'COMMITTING', 'RELEASING') AND ("saga_next_attempt_at" IS NULL OR "saga_next_attempt_at" <= ${now})
        ORDER BY "saga_next_attempt_at" NULLS FIRST
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
      RETURNING "id"::text AS "id"`;
    return rows.map((row) => row.id);
  }

  /** Orders whose confirmation deadline passed start releasing towards CANCELLED; returns their ids (leased). */
  async expireUnconfirmed(limit: number): Promise<string[]> {
    const now = new Date();
    const rows = await this.deps.prisma.$queryRaw<Array<{ id: string }>>`
      UPDATE "order"."orders"
      SET "saga_step" = 'RELEASING', "saga_target" = 'CANCELLED', "cancel_reason" = ${NOT_CONFIRMED_IN_TIME},
          "saga_attempts" = 0, "saga_next_attempt_at" = ${this.leaseUntil()}, "updated_at" = ${now}
      WHERE "id" IN (
        SELECT "id" FROM "order"."orders"
        WHERE "status" = 'AWAITING_CONFIRMATION' AND "saga_step" = 'NONE' AND "confirmation_deadline" <= ${now}
        ORDER BY "confirmation_deadline"
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
        AND "status" = 'AWAITING_CONFIRMATION' AND "saga_step" = 'NONE'
      RETURNING "id"::text AS "id"`;
    return rows.map((row) => row.id);
  }
}

/**
 * Every ORDER_WORKER_INTERVAL_MS: cancels the orders not confirmed in time and resumes every saga
 * whose step is due. Several order processes can run it at once: rows are claimed with
 * FOR UPDATE SKIP LOCKED and a lease, so no two run one step at the same time.
 */
export class SagaWorker {
  private timer?: NodeJS.Timeout;
  private current: Promise<void> = Promise.resolve();
  private running = false;

  constructor(
    private readonly saga: OrderSaga,
    private readonly options: { intervalMs: number; batchSize?: number; logger: Logger },
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.current;
  }

  /** One round, now: resolves when every saga it picked up has run. */
  tick(): Promise<void> {
    const round = this.current.then(() => this.round());
    this.current = round.catch(() => undefined);
    return round;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.tick()
        .catch((error: unknown) => this.options.logger.warn({ err: error }, 'saga worker round failed'))
        .finally(() => {
          if (this.running) this.schedule();
        });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    const limit = this.options.batchSize ?? 20;
    const expired = await this.saga.expireUnconfirmed(limit);
    const due = await this.saga.claimDue(limit);
    const ids = [...new Set([...expired, ...due])];
    if (ids.length) this.options.logger.debug({ expired: expired.length, due: due.length }, 'saga worker resumes orders');
    await Promise.all(
      ids.map((id) => this.saga.run(id, 'system').catch((error: unknown) => this.options.logger.error({ err: error, orderId: id }, 'saga run failed'))),
    );
  }
}
