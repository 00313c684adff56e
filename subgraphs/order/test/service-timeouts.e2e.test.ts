import { randomUUID } from 'node:crypto';
import { useStack } from '../../../test/support/stack';
import { firstErrorCode } from '../../../test/support/graphql';
import { login } from '../../../test/support/login';
import { useHungServer } from '../../../test/support/hung-server';
import { gql } from '../../../generated/graphql/gateway';
import { PLACE_ORDER } from './order-support';

const MY_ORDER_COUNT = gql(`query OrderTimeoutsMyOrderCount { myOrders(first: 5) { totalCount } }`);

describe('the order service calling a service that does not answer', () => {
  const hung = useHungServer();

  // The order service prices orders at a catalog that never answers; its calls give up after 500 ms.
  const shop = useStack({}, { serviceEnv: { order: { SERVICE_CALL_TIMEOUT_MS: '500', get CATALOG_URL() { return hung.url; } } } });

  it('answers placeOrder with SERVICE_UNAVAILABLE once the call times out, and writes no order', async () => {
    const customer = await login(shop.stack, shop.telegram);
    const started = Date.now();
    const response = await shop.stack.gql(PLACE_ORDER, { input: { idempotencyKey: randomUUID(), lines: [{ productId: randomUUID(), quantity: 1 }] } }, { token: customer.accessToken });
    expect(firstErrorCode(response)).toBe('SERVICE_UNAVAILABLE');
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(5000);
    const mine = await shop.stack.gql(MY_ORDER_COUNT, {}, { token: customer.accessToken });
    expect(mine.data!.myOrders.totalCount).toBe(0);
  });
});
