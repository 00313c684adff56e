import type { Order, PrismaClient } from '../../../../kernel/src/prisma';
import type { Logger } from '../../../../kernel/src/logger';
import { oncePerScrape, type Metrics } from '../../../../kernel/src/metrics';
import { continueTrace } from '../../../../kernel/src/request-context';
import type { Failpoints } from '../failpoints';
import type { InventoryClient, InventoryOutcome } from '../inventory-client';
import type { OrderTransitions } from '../transitions';
import { NOT_CONFIRMED_IN_TIME, SAGA_STEPS, compensationTarget, type SagaOrder, type Then } from './steps';
import { SagaStore, type CustomerStep } from './store';

export interface SagaSettings {
  confirmationTimeoutSeconds: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  leaseMs: number;
}

/**
 * After a step: run the next one now, or stop (the order waits for the user, a retry, or another
 * process); with the order as the step's result left it, or null when that is not known here.
 */
type Next = { then: 'continue'; order: SagaOrder } | { then: 'stop'; order: SagaOrder | null };
const stop = (order: SagaOrder | null = null): Next => ({ then: 'stop', order });

/** How many steps one run takes at most: reserve, release, and a spare. */
const MAX_STEPS_PER_RUN = 4;

/**
 * Runs the order saga: follows SAGA_STEPS (steps.ts) from the step persisted on the order, and
 * records each result through the SagaStore (store.ts). Every step is written before its remote call
 * and its result after it, so running a step twice (after a crash, or two processes at once) has its
 * effect once. Whoever changes an order runs its saga inline; the SagaWorker (worker.ts) resumes
 * what a dead process left.
 */
export class OrderSaga {
  private readonly store: SagaStore;
  private readonly steps;
  private readonly retries;

  constructor(
    private readonly deps: {
      prisma: PrismaClient;
      transitions: OrderTransitions;
      inventory: InventoryClient;
      failpoints: Failpoints;
      logger: Logger;
      metrics: Metrics;
      settings: SagaSettings;
    },
  ) {
    this.store = new SagaStore(deps.prisma, deps.transitions, deps.settings.leaseMs);
    const { metrics } = deps;
    this.steps = metrics.counter('shop_order_saga_steps_total', "Saga steps run against the inventory, by step and outcome (done, refused, unavailable)", ['step', 'outcome']);
    this.retries = metrics.counter('shop_order_saga_retries_total', 'Saga steps that failed and were scheduled again, by step', ['step']);
    const counts = oncePerScrape(() => this.store.openCounts());
    metrics.collected('shop_orders_open', 'Orders not yet confirmed or ended, by status (PENDING, AWAITING_CONFIRMATION)', ['status'], async (set) => {
      for (const [status, count] of Object.entries((await counts()).byStatus)) set({ status }, count);
    });
    metrics.collected('shop_order_sagas_running', 'Orders whose saga has a remote step to make now or on retry, by step', ['step'], async (set) => {
      for (const [step, count] of Object.entries((await counts()).bySagaStep)) set({ step }, count);
    });
  }

  /** The lease a process takes on an order before a remote call. */
  leaseUntil(): Date {
    return this.store.leaseUntil();
  }

  /** AWAITING_CONFIRMATION and idle -> COMMITTING: the order with its lines, ready to run; null when it was not in that state. */
  beginCommit(orderId: string, actor: string, only?: CustomerStep): Promise<SagaOrder | null> {
    return this.store.beginCommit(orderId, actor, only);
  }

  /** AWAITING_CONFIRMATION and idle -> RELEASING towards CANCELLED: the order with its lines, ready to run; null when it was not in that state. */
  beginCancel(orderId: string, actor: string, reason: string, only?: CustomerStep): Promise<SagaOrder | null> {
    return this.store.beginCancel(orderId, actor, reason, only);
  }

  /** Takes the lease on up to `limit` orders whose step is due (a retry, or a dead process's lease ran out). */
  claimDue(limit: number): Promise<string[]> {
    return this.store.claimDue(limit);
  }

  /** Orders whose confirmation deadline passed start releasing towards CANCELLED; returns their ids (leased). */
  expireUnconfirmed(limit: number): Promise<string[]> {
    return this.store.expireUnconfirmed(limit, NOT_CONFIRMED_IN_TIME);
  }

  /**
   * Runs the order's saga from its persisted step until it waits (for the user, a retry, another
   * process) or ends. `begun`: the order as its caller just wrote it (placed, or a step begun), not read again.
   * Resolves to the order as the run left it, or null when this process does not know (read it).
   */
  async run(orderId: string, actor: string, begun?: SagaOrder): Promise<Order | null> {
    let order = begun ?? null;
    for (let steps = 0; steps < MAX_STEPS_PER_RUN; steps++) {
      order ??= await this.store.load(orderId);
      if (!order || order.sagaStep === 'NONE') return order && withoutLines(order);
      const next = await this.step(order, actor);
      if (next.then === 'stop') return next.order && withoutLines(next.order);
      order = next.order;
    }
    return null;
  }

  /**
   * The worker's way in: a saga resumed in the background (a retry, a dead process's order, a
   * confirmation that timed out) goes on in the trace and under the request id of the request that placed the order.
   */
  async resume(orderId: string): Promise<void> {
    const order = await this.store.load(orderId);
    if (!order || order.sagaStep === 'NONE') return;
    await continueTrace(order, 'resume order saga', { attributes: { 'order.id': orderId, 'order.saga_step': order.sagaStep } }, () => this.run(orderId, 'system'));
  }

  private async step(order: SagaOrder, actor: string): Promise<Next> {
    if (order.sagaStep === 'NONE') return stop(order);
    const step = SAGA_STEPS[order.sagaStep];
    const [before, after] = step.failpoints;
    this.deps.failpoints.hit(before);
    const outcome = await this.holdingLease(order, () => step.invoke(this.deps.inventory, order));
    this.steps.inc({ step: order.sagaStep, outcome: outcome.kind });
    this.deps.failpoints.hit(after);
    const then = outcome.kind === 'done' ? step.done(outcome.reservation, order) : outcome.kind === 'refused' ? step.refused(outcome, order) : step.unavailable;
    return this.follow(order, then, outcome, actor);
  }

  /** Does what the table says an outcome leads to. */
  private async follow(order: SagaOrder, then: Then, outcome: InventoryOutcome, actor: string): Promise<Next> {
    const { store, deps } = this;
    switch (then.then) {
      case 'settle': {
        if (then.alarm) deps.logger.error({ orderId: order.id }, then.alarm);
        const deadline = then.startConfirmationClock ? { confirmationDeadline: new Date(Date.now() + deps.settings.confirmationTimeoutSeconds * 1000) } : {};
        const idle = { step: 'NONE' as const, target: null, attempts: 0, nextAttemptAt: null };
        // Idle now: nothing is left to run (a next step is begun, and run, by whoever begins it).
        return stop(await store.settle(order, { status: then.status, saga: idle, ...deadline }, actor));
      }
      case 'compensate': {
        const compensation = order.sagaStep === 'NONE' ? null : SAGA_STEPS[order.sagaStep].compensate;
        if (!compensation) throw new Error(`saga step ${order.sagaStep} has no compensation`);
        const compensating = await store.startCompensation(order, compensation, then.endIn, then.reason, actor);
        return compensating ? { then: 'continue', order: compensating } : stop();
      }
      case 'retry':
        return this.retryLater(order, outcome.kind === 'done' ? 'no answer' : outcome.message, then.giveUp, outcome, actor);
      case 'show-final-status': {
        const target = compensationTarget(order);
        // The step goes on retrying in the background: this process no longer knows where the order is.
        if (order.status !== target) await store.settle(order, { status: target }, actor);
        return stop();
      }
    }
  }

  /**
   * The inventory did not answer: the step is retried after a capped exponential backoff, by the
   * worker. After maxAttempts, `giveUp` decides what happens.
   */
  private async retryLater(order: SagaOrder, problem: string, giveUp: Then | 'keep-retrying', outcome: InventoryOutcome, actor: string): Promise<Next> {
    const { settings, logger } = this.deps;
    const attempts = order.sagaAttempts + 1;
    const delayMs = Math.min(settings.retryBaseMs * 2 ** Math.min(attempts - 1, 30), settings.retryMaxMs);
    if (!(await this.store.recordFailedAttempt(order, attempts, new Date(Date.now() + delayMs)))) return stop();
    this.retries.inc({ step: order.sagaStep });
    logger.warn({ orderId: order.id, step: order.sagaStep, attempts, retryInMs: delayMs, problem }, 'saga step failed; retrying later');
    if (giveUp !== 'keep-retrying' && attempts >= settings.maxAttempts) return this.follow(order, giveUp, outcome, actor);
    return stop();
  }

  /** Keeps this process's lease on the order fresh while `call` is in flight, so the worker does not resume it meanwhile. */
  private async holdingLease<T>(order: SagaOrder, call: () => Promise<T>): Promise<T> {
    const { settings, logger } = this.deps;
    const renew = setInterval(() => {
      this.store.renewLease(order).catch((error: unknown) => logger.warn({ err: error, orderId: order.id }, 'could not renew the saga lease'));
    }, Math.max(50, Math.floor(settings.leaseMs / 3)));
    try {
      return await call();
    } finally {
      clearInterval(renew);
    }
  }
}

/** The order row without the lines the saga carries (a GraphQL Order reads its lines through a loader). */
function withoutLines({ lines: _lines, ...order }: SagaOrder): Order {
  return order;
}
