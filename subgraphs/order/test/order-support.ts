import { randomBytes, randomUUID } from 'node:crypto';
import type { PrismaClient } from '../../../kernel/src/prisma';
import { useFileDatabase } from '../../../test/support/database';
import type { GraphQLResponse, Operation } from '../../../test/support/graphql';
import { gql } from '../../../generated/graphql/gateway';
import type { OrderDetailsFragment } from '../../../generated/graphql/gateway/graphql';
import { useStack, type Stack } from '../../../test/support/stack';
import { login, randomPhone, type Session } from '../../../test/support/login';
import type { FakeTelegram } from '../../../test/support/fake-telegram';

/** Everything the order stories read of an order. */
gql(`
  fragment OrderDetails on Order {
    id number status cancelReason confirmationDeadline createdAt updatedAt
    user { id }
    total { amount currency }
    lines { product { id } quantity unitPrice { amount currency } lineTotal { amount currency } }
    statusHistory { from to reason actor at }
  }
`);
export type OrderNode = OrderDetailsFragment;

export const PLACE_ORDER = gql(`
  mutation OrderPlace($input: PlaceOrderInput!) { placeOrder(input: $input) { ...OrderDetails } }
`);
export const CONFIRM_ORDER = gql(`mutation OrderConfirm($id: ID!) { confirmOrder(id: $id) { ...OrderDetails } }`);
export const CANCEL_ORDER = gql(`mutation OrderCancel($id: ID!) { cancelOrder(id: $id) { ...OrderDetails } }`);
export const FULFILL_ORDER = gql(`mutation OrderFulfil($id: ID!) { fulfillOrder(id: $id) { ...OrderDetails } }`);
export const ORDER = gql(`query OrderById($id: ID!) { order(id: $id) { ...OrderDetails } }`);
/** Confirm, cancel or fulfil: the answers differ by field, the variables are the same. */
export type OrderCommand = Operation<unknown, { id: string }>;

const CREATE_PRODUCT = gql(`mutation OrderShopCreateProduct($input: CreateProductInput!) { createProduct(input: $input) { id } }`);
const CREATE_ITEM = gql(`mutation OrderShopCreateInventoryItem($input: CreateInventoryItemInput!) { createInventoryItem(input: $input) { productId } }`);
const STOCK = gql(`query OrderShopStock($id: ID!) { inventoryItem(productId: $id) { onHand reserved available } }`);

export const newKey = () => `checkout-${randomUUID()}`;

/** Throws with the errors when a response has any: for the steps a test takes as given. */
export function ok<T>(response: GraphQLResponse<T>): T {
  if (response.errors || !response.data) throw new Error(`unexpected errors: ${JSON.stringify(response.errors ?? response.raw)}`);
  return response.data;
}

/** An admin's shop: products with stock, created through the gateway as an admin would. */
export class Shop {
  constructor(
    readonly stack: Pick<Stack, 'gql'>,
    readonly admin: Session,
  ) {}

  async product(options: { name?: string; price?: number; currency?: string; onHand?: number | null } = {}): Promise<string> {
    const name = options.name ?? `Item ${randomBytes(3).toString('hex')}`;
    const created = ok(
      await this.stack.gql(
        CREATE_PRODUCT,
        { input: { sku: `ORD-${randomBytes(5).toString('hex')}`, name, category: 'orders', price: { amount: options.price ?? 1000, currency: options.currency ?? 'USD' } } },
        { token: this.admin.accessToken },
      ),
    );
    const id = created.createProduct.id;
    if (options.onHand !== null) ok(await this.stack.gql(CREATE_ITEM, { input: { productId: id, onHand: options.onHand ?? 10 } }, { token: this.admin.accessToken }));
    return id;
  }

  async stock(productId: string): Promise<{ onHand: number; reserved: number; available: number }> {
    return ok(await this.stack.gql(STOCK, { id: productId })).inventoryItem!;
  }

  async place(session: Session, lines: Array<{ productId: string; quantity: number }>, idempotencyKey = newKey()) {
    return this.stack.gql(PLACE_ORDER, { input: { lines, idempotencyKey } }, { token: session.accessToken });
  }

  async order(session: Session, id: string): Promise<OrderNode | null> {
    return ok(await this.stack.gql(ORDER, { id }, { token: session.accessToken })).order;
  }
}

/** What the inventory recorded for an order: its movements (reserved / committed / released) and reservation lines. */
export async function inventoryTrail(prisma: PrismaClient, orderId: string) {
  const [movements, reservations] = await Promise.all([
    prisma.stockMovement.findMany({ where: { orderId }, orderBy: { createdAt: 'asc' } }),
    prisma.reservation.findMany({ where: { orderId } }),
  ]);
  return {
    reasons: movements.map((m) => m.reason).sort(),
    movements,
    reservations: reservations.map((r) => ({ productId: r.productId, quantity: r.quantity, status: r.status })),
  };
}

export { eventually } from '../../../test/support/eventually';

/** For stories whose customer leaves many orders awaiting confirmation: the cap is not what they are about (unconfirmed-cap.e2e.test.ts is). */
export const UNCAPPED = { ORDER_MAX_UNCONFIRMED_PER_USER: '1000' };

/**
 * For a describe block: a stack (with `env`), a Shop run by an admin, a logged-in customer and a
 * database client for assertions. Read the fields inside the tests.
 */
export interface ShopFixture {
  stack: Stack;
  telegram: FakeTelegram;
  shop: Shop;
  customer: Session;
  prisma: PrismaClient;
}

export function useShop(env: Record<string, string> = {}): ShopFixture {
  const adminPhone = randomPhone();
  const ctx = useStack({ ADMIN_PHONES: adminPhone, ...env });
  const holder = {} as ShopFixture;
  const prisma = useFileDatabase({ max: 2 });
  beforeAll(async () => {
    holder.stack = ctx.stack;
    holder.telegram = ctx.telegram;
    holder.shop = new Shop(ctx.stack, await login(ctx.stack, ctx.telegram, adminPhone));
    holder.customer = await login(ctx.stack, ctx.telegram);
    holder.prisma = prisma;
  });
  return holder;
}
