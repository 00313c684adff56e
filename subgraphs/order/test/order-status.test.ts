import type { OrderStatus } from '../../../kernel/src/prisma';
import { FINAL_STATUSES, ORDER_TRANSITIONS, STATUS_EVENTS, assertTransition, canTransition } from '../src/order-status';

const STATUSES = Object.keys(ORDER_TRANSITIONS) as OrderStatus[];

describe('the order state machine', () => {
  it('has exactly the transitions of the issue', () => {
    const allowed = STATUSES.flatMap((from) => STATUSES.filter((to) => canTransition(from, to)).map((to) => `${from} -> ${to}`));
    expect(allowed).toEqual([
      'PENDING -> AWAITING_CONFIRMATION',
      'PENDING -> FAILED',
      'AWAITING_CONFIRMATION -> CONFIRMED',
      'AWAITING_CONFIRMATION -> CANCELLED',
      'AWAITING_CONFIRMATION -> FAILED',
      'CONFIRMED -> FULFILLED',
    ]);
    expect(FINAL_STATUSES).toEqual(['FULFILLED', 'CANCELLED', 'FAILED']);
  });

  it('refuses every other transition with a CONFLICT naming the order and both statuses', () => {
    for (const from of STATUSES) {
      for (const to of STATUSES.filter((status) => !canTransition(from, status))) {
        let error: unknown;
        try {
          assertTransition({ number: 'SO-000001', status: from }, to);
        } catch (e) {
          error = e;
        }
        expect(error).toMatchObject({ extensions: { code: 'CONFLICT', status: from }, message: expect.stringContaining(`SO-000001 is ${from} and cannot become ${to}`) });
      }
    }
  });

  it('announces every status but PENDING', () => {
    expect(STATUS_EVENTS).toEqual({
      PENDING: null,
      AWAITING_CONFIRMATION: 'OrderPlaced',
      CONFIRMED: 'OrderConfirmed',
      CANCELLED: 'OrderCancelled',
      FAILED: 'OrderCancelled',
      FULFILLED: 'OrderFulfilled',
    });
  });
});
