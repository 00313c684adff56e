import { randomUUID } from 'node:crypto';
import { gql } from '../generated/graphql/gateway';
import type { GraphQLResponse } from './support/graphql';
import { useStack, type Stack } from './support/stack';
import { login, randomPhone, type Session } from './support/login';
import { Shop, ok } from '../subgraphs/order/test/order-support';
import { eventually } from '../subgraphs/notification/test/notification-support';

const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const AT = '2026-01-01T00:00:00.000Z';
const MY_NOTIFICATION_COUNT = gql(`query MyNotificationCount { myNotifications { totalCount } }`);

/** A page of one, under `page`: at the root, or under `me`. */
type Page = { pageInfo: { endCursor: string | null } };
type Paged = { page: Page } | { me: { page: Page } | null };

/** Cursors no list of this API ever returned: some not JSON objects, most decodable objects of the wrong shape. */
const MALFORMED = [
  'garbage!',
  forged([]),
  forged('str'),
  forged(42),
  forged(null),
  forged({}),
  forged({ at: 'x', id: 'y' }),
  forged({ at: 1 }),
  forged({ at: AT, id: 'y' }),
  forged({ at: AT, id: 7 }),
  forged({ at: 'x', id: randomUUID() }),
  forged({ at: '2026-13-45T99:00:00.000Z', id: randomUUID() }),
  forged({ at: '2026-02-30T00:00:00.000Z', id: randomUUID() }),
  forged({ at: '2026-01-01', id: randomUUID() }),
  forged({ at: [AT], id: [randomUUID()] }),
  forged({ s: 'NEWEST', k: 'x', id: randomUUID() }),
  forged({ s: 'PRICE_ASC', k: -1, id: randomUUID() }),
];

/**
 * Every paginated field of the supergraph, each behind its own subgraph: a cursor of its own pages
 * is taken, anything else is BAD_USER_INPUT on `after` (never an internal error).
 */
describe('cursors: one check for every paginated field', () => {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone });
  let stack: Stack;
  let admin: Session;
  let customer: Session;
  let productId: string;

  beforeAll(async () => {
    stack = ctx.stack;
    [admin, customer] = await Promise.all([login(stack, ctx.telegram, adminPhone), login(stack, ctx.telegram)]);
    const shop = new Shop(stack, admin);
    productId = await shop.product({ onHand: 10 });
    await shop.product();
    // Two orders: two pages of orders, reservations in the stock movements, confirmation requests in the feed.
    for (let i = 0; i < 2; i++) ok(await shop.place(customer, [{ productId, quantity: 1 }]));
    await eventually(
      async () => ok(await stack.gql(MY_NOTIFICATION_COUNT, {}, { token: customer.accessToken })).myNotifications.totalCount,
      (count) => count >= 2,
    );
  });

  /** Each field's first page after `after`, asked by whom may see it. */
  const fields: Array<[field: string, pageAfter: (after: string | null) => Promise<GraphQLResponse<Paged>>]> = [
    ['products', (after) => stack.gql(gql(`query CursorCheckProducts($after: String) { page: products(first: 1, after: $after) { pageInfo { endCursor } } }`), { after })],
    [
      'stockMovements',
      (after) =>
        stack.gql(
          gql(`query CursorCheckStockMovements($after: String, $id: ID!) { page: stockMovements(productId: $id, first: 1, after: $after) { pageInfo { endCursor } } }`),
          { id: productId, after },
          { token: admin.accessToken },
        ),
    ],
    ['users', (after) => stack.gql(gql(`query CursorCheckUsers($after: String) { page: users(first: 1, after: $after) { pageInfo { endCursor } } }`), { after }, { token: admin.accessToken })],
    [
      'myNotifications',
      (after) =>
        stack.gql(gql(`query CursorCheckMyNotifications($after: String) { page: myNotifications(first: 1, after: $after) { pageInfo { endCursor } } }`), { after }, { token: customer.accessToken }),
    ],
    ['myOrders', (after) => stack.gql(gql(`query CursorCheckMyOrders($after: String) { page: myOrders(first: 1, after: $after) { pageInfo { endCursor } } }`), { after }, { token: customer.accessToken })],
    ['orders', (after) => stack.gql(gql(`query CursorCheckOrders($after: String) { page: orders(first: 1, after: $after) { pageInfo { endCursor } } }`), { after }, { token: admin.accessToken })],
    ['me.orders', (after) => stack.gql(gql(`query CursorCheckMeOrders($after: String) { me { page: orders(first: 1, after: $after) { pageInfo { endCursor } } } }`), { after }, { token: customer.accessToken })],
  ];

  it.each(fields)('%s: takes its own endCursor and refuses every malformed one as BAD_USER_INPUT on `after`', async (_field, pageAfter) => {
    const pageOf = (data: Paged) => ('me' in data ? data.me! : data).page;
    const first = ok(await pageAfter(null));
    const endCursor = pageOf(first).pageInfo.endCursor!;
    expect(endCursor).toEqual(expect.any(String));
    const next = await pageAfter(endCursor);
    expect(next.errors).toBeUndefined();
    expect(pageOf(next.data!).pageInfo.endCursor).not.toBe(endCursor);

    for (const after of MALFORMED) {
      const refused = await pageAfter(after);
      expect({ after, errors: refused.errors?.map((e) => ({ code: e.extensions?.code, field: e.extensions?.field, message: e.message })) }).toEqual({
        after,
        errors: [{ code: 'BAD_USER_INPUT', field: 'after', message: expect.stringContaining(`"${after}" is not a cursor this API returned`) }],
      });
    }
  });
});
