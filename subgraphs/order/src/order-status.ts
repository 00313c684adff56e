import type { OrderStatus } from '../../../kernel/src/prisma';
import type { EventType } from '../../../kernel/src/events/envelope';
import { conflict } from '../../../kernel/src/errors';

/**
 * The order's life, in one place: every status change the service makes is checked against this
 * map, and any other is refused.
 *
 *   PENDING ─────────────> AWAITING_CONFIRMATION ──> CONFIRMED ──> FULFILLED
 *      │  (stock reserved)        │    │
 *      │                          │    └──> CANCELLED (the user refused, or did not confirm in time)
 *      └──> FAILED <──────────────┘         (out of stock, inventory unavailable, reservation expired)
 */
export const ORDER_TRANSITIONS: { readonly [S in OrderStatus]: readonly OrderStatus[] } = {
  PENDING: ['AWAITING_CONFIRMATION', 'FAILED'],
  AWAITING_CONFIRMATION: ['CONFIRMED', 'CANCELLED', 'FAILED'],
  CONFIRMED: ['FULFILLED'],
  FULFILLED: [],
  CANCELLED: [],
  FAILED: [],
};

/** The event each status is announced with (PENDING is not: the order becomes news once its stock is reserved). */
export const STATUS_EVENTS: { readonly [S in OrderStatus]: Extract<EventType, `Order${string}`> | null } = {
  PENDING: null,
  AWAITING_CONFIRMATION: 'OrderPlaced',
  CONFIRMED: 'OrderConfirmed',
  CANCELLED: 'OrderCancelled',
  FAILED: 'OrderCancelled',
  FULFILLED: 'OrderFulfilled',
};

export const FINAL_STATUSES: readonly OrderStatus[] = (Object.keys(ORDER_TRANSITIONS) as OrderStatus[]).filter(
  (status) => ORDER_TRANSITIONS[status].length === 0,
);

/** An order in these holds stock, or is reserving or releasing it: it counts against the cap of orders awaiting confirmation. */
export const UNCONFIRMED_STATUSES: readonly OrderStatus[] = ['PENDING', 'AWAITING_CONFIRMATION'];

export const canTransition = (from: OrderStatus, to: OrderStatus): boolean => ORDER_TRANSITIONS[from].includes(to);

/** CONFLICT naming the order, its status and the refused one. */
export function assertTransition(order: { number: string; status: OrderStatus }, to: OrderStatus): void {
  if (canTransition(order.status, to)) return;
  const allowed = ORDER_TRANSITIONS[order.status];
  const hint = allowed.length ? `from ${order.status} it can only become ${allowed.join(' or ')}` : `${order.status} is final`;
  throw conflict(`Order ${order.number} is ${order.status} and cannot become ${to}: ${hint}.`, { status: order.status });
}

/** SO-000042 */
export const orderNumber = (seq: bigint | number): string => `SO-${seq.toString().padStart(6, '0')}`;
