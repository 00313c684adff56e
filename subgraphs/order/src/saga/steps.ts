import type { Order, OrderLine, OrderStatus, SagaStep } from '../../../../kernel/src/prisma';
import type { Failpoint } from '../failpoints';
import type { InventoryClient, InventoryOutcome, ReservationState } from '../inventory-client';

/** An order as a saga step sees it. */
export type SagaOrder = Order & { lines: OrderLine[] };

/** A step the saga can be at: the remote call still to make on the order (NONE when there is none). */
export type ActiveSagaStep = Exclude<SagaStep, 'NONE'>;

type Refusal = Extract<InventoryOutcome, { kind: 'refused' }>;

/** What a step's outcome leads to. */
export type Then =
  /** The step is over: the saga goes idle and the order takes `status` (`alarm`: logged as an error, it cannot happen). */
  | { then: 'settle'; status: OrderStatus; startConfirmationClock?: boolean; alarm?: string }
  /** The step failed for good: its compensation runs next, and then the order ends in `endIn` with `reason`. */
  | { then: 'compensate'; endIn: OrderStatus; reason: string }
  /** No answer: the step is tried again after a capped backoff; after maxAttempts, `giveUp` (unless it keeps retrying). */
  | { then: 'retry'; giveUp: Then | 'keep-retrying' }
  /** A compensation that keeps failing: the order shows where it ends now, and the step goes on retrying in the background. */
  | { then: 'show-final-status' };

export interface SagaStepDefinition {
  /** The remote call; the inventory's calls are idempotent per order id, so making it twice has its effect once. */
  invoke: (inventory: InventoryClient, order: SagaOrder) => Promise<InventoryOutcome>;
  /** Where a crash test can kill the process: before the call, and after it but before its result is recorded. */
  failpoints: readonly [before: Failpoint, after: Failpoint];
  /** The step that undoes this one when it fails for good; null for the undoing itself. */
  compensate: ActiveSagaStep | null;
  done: (reservation: ReservationState, order: SagaOrder) => Then;
  refused: (refusal: Refusal, order: SagaOrder) => Then;
  unavailable: Then;
}

export const CANCELLED_BY_CUSTOMER = 'cancelled by the customer';
export const NOT_CONFIRMED_IN_TIME = 'not confirmed in time';
export const INVENTORY_UNAVAILABLE = 'inventory unavailable';
const RESERVATION_EXPIRED = 'the stock reservation expired before the order was confirmed';

/** Where a compensation ends: the target its starter gave. */
export const compensationTarget = (order: SagaOrder): OrderStatus => order.sagaTarget ?? 'FAILED';

/**
 * The order saga, step by step: reserve the stock (PENDING -> AWAITING_CONFIRMATION), then commit it
 * on confirmation (-> CONFIRMED) or release it (-> CANCELLED / FAILED). Releasing is the compensation
 * of both other steps. The order's `sagaStep` names the row of this table it is at; OrderSaga
 * (order-saga.ts) follows the table, SagaStore (store.ts) writes what it decides.
 */
export const SAGA_STEPS: { readonly [S in ActiveSagaStep]: SagaStepDefinition } = {
  RESERVING: {
    invoke: (inventory, order) => inventory.reserve(order.id, order.lines.map((line) => ({ productId: line.productId, quantity: line.quantity }))),
    failpoints: ['before-reserve', 'after-reserve'],
    compensate: 'RELEASING',
    done: (reservation) =>
      reservation.status === 'RESERVED'
        ? { then: 'settle', status: 'AWAITING_CONFIRMATION', startConfirmationClock: true }
        : // Only when this step was resumed after the inventory's own expiry had released it.
          { then: 'compensate', endIn: 'FAILED', reason: 'the stock reservation expired before the order could be placed' },
    refused: (refusal, order) => ({ then: 'compensate', endIn: 'FAILED', reason: refusalReason(order, refusal) }),
    unavailable: { then: 'retry', giveUp: { then: 'compensate', endIn: 'FAILED', reason: INVENTORY_UNAVAILABLE } },
  },

  COMMITTING: {
    invoke: (inventory, order) => inventory.commit(order.id),
    failpoints: ['before-commit', 'after-commit'],
    compensate: 'RELEASING',
    done: (reservation) =>
      reservation.status === 'COMMITTED' ? { then: 'settle', status: 'CONFIRMED' } : { then: 'compensate', endIn: 'FAILED', reason: RESERVATION_EXPIRED },
    refused: (refusal, order) => ({
      then: 'compensate',
      endIn: 'FAILED',
      reason: refusal.code === 'RESERVATION_EXPIRED' ? RESERVATION_EXPIRED : refusalReason(order, refusal),
    }),
    // No giving up here: the commit may have gone through, and only the inventory can say. It
    // answers for sure once reachable (COMMITTED, or RESERVATION_EXPIRED after its TTL).
    unavailable: { then: 'retry', giveUp: 'keep-retrying' },
  },

  // A compensation is never abandoned: it is retried (capped backoff) until the inventory answers.
  // After maxAttempts the order takes its final status anyway, so the customer is not left waiting
  // on an outage; the release goes on in the background (and the inventory's own reservation TTL
  // frees the stock if it never comes back).
  RELEASING: {
    invoke: (inventory, order) => inventory.release(order.id),
    failpoints: ['before-release', 'after-release'],
    compensate: null,
    done: (reservation, order) => ({
      then: 'settle',
      status: compensationTarget(order),
      // Cannot happen: a commit is only made from COMMITTING, which never gives up into RELEASING.
      ...(reservation.status === 'COMMITTED' ? { alarm: 'released an order whose stock the inventory had committed' } : {}),
    }),
    refused: () => ({ then: 'retry', giveUp: { then: 'show-final-status' } }),
    unavailable: { then: 'retry', giveUp: { then: 'show-final-status' } },
  },
};

/** The cancel reason for a refusal, naming the product and what is left of it when stock ran out. */
function refusalReason(order: SagaOrder, refusal: Refusal): string {
  if (refusal.code !== 'OUT_OF_STOCK') return `the inventory refused: ${refusal.message}`;
  const productId = String(refusal.extensions.productId ?? '');
  const line = order.lines.find((l) => l.productId === productId);
  const name = line ? `"${line.productName}"` : 'a product';
  const available = Number(refusal.extensions.available ?? 0);
  return available > 0
    ? `out of stock: only ${available} of ${name} (product ${productId}) available, ${line?.quantity ?? refusal.extensions.requested} ordered`
    : `out of stock: ${name} (product ${productId})`;
}
