import { randomUUID } from 'node:crypto';
import { PREPARED, Prisma, type Order, type OrderLine, type PrismaClient } from '../../../kernel/src/prisma';
import type { Tx } from '../../../kernel/src/prisma';
import { isUuid } from '../../../kernel/src/ids';
import { currentTrace } from '../../../kernel/src/request-context';
import { AppError, badUserInput, conflict } from '../../../kernel/src/errors';
import { ErrorCode } from './errors';
import { TRANSACTION_OPTIONS } from '../../../kernel/src/prisma';
import type { CatalogClient } from './catalog-client';
import type { Failpoints } from './failpoints';
import type { OrderSaga } from './saga';
import { UNCONFIRMED_STATUSES, orderNumber } from './order-status';
import { ORDER_COLUMNS } from './transitions';

export interface PlaceOrderInput {
  lines: Array<{ productId: string; quantity: number }>;
  idempotencyKey: string;
}

const MAX_LINES = 50;
const MAX_QUANTITY = 100;
const MAX_KEY_LENGTH = 100;
const MAX_TOTAL = 2_147_483_647;

type Line = { productId: string; quantity: number };
type Priced = {
  lines: Array<{ position: number; productId: string; productName: string; quantity: number; unitPriceAmount: number; currency: string }>;
  total: number;
  currency: string;
};

/** The same lines, whatever their order. */
const sameLines = (a: readonly Line[], b: readonly Line[]): boolean => {
  const key = (lines: readonly Line[]) =>
    lines
      .map((l) => `${l.productId.toLowerCase()}:${l.quantity}`)
      .sort()
      .join(',');
  return key(a) === key(b);
};

/**
 * Placing an order: the input checked, the prices snapshotted from the catalog, the order written
 * PENDING with its saga at RESERVING, then the saga run. One order per (user, idempotency key),
 * whatever the timing, and at most `maxUnconfirmed` of a user's orders awaiting confirmation: a
 * user's placements write one at a time, each seeing what the previous one wrote.
 */
export class OrderPlacement {
  constructor(
    private readonly deps: {
      prisma: PrismaClient;
      catalog: CatalogClient;
      saga: OrderSaga;
      failpoints: Failpoints;
      /** Orders one user may have PENDING or AWAITING_CONFIRMATION at once. */
      maxUnconfirmed: number;
    },
  ) {}

  async place(userId: string, input: PlaceOrderInput): Promise<Order> {
    const { prisma, saga, failpoints } = this.deps;
    const lines = validate(input);
    const actor = `user:${userId}`;

    // The key's lookup and the catalog's prices side by side: a used key is answered whatever the catalog says.
    const [existing, priced] = await Promise.allSettled([this.findByKey(prisma, userId, input.idempotencyKey), this.price(lines)]);
    if (existing.status === 'rejected') throw existing.reason;
    if (existing.value) return replay(existing.value, lines);
    if (priced.status === 'rejected') throw priced.reason;
    const written = await this.write(userId, input.idempotencyKey, lines, priced.value, actor);
    if (!written.created) return written.order;
    failpoints.hit('after-insert');
    // The saga starts from the order as written: it is not read again, nor after its run when the run knows where it ended.
    return (await saga.run(written.order.id, actor, written.order)) ?? prisma.order.findUniqueOrThrow({ where: { id: written.order.id } });
  }

  /**
   * The new order, or the one its key already has (placed concurrently); refused when the user has too many awaiting confirmation.
   * Under a per-user lock until commit, one statement checks the key and the cap and writes the order, its lines and its first history row.
   */
  private async write(userId: string, idempotencyKey: string, lines: Line[], priced: Priced, actor: string): Promise<{ order: Order & { lines: OrderLine[] }; created: true } | { order: Order; created: false }> {
    const { prisma, saga, maxUnconfirmed } = this.deps;
    const id = randomUUID();
    const now = new Date();
    // Should the saga worker resume it, it does so as part of this request.
    const trace = currentTrace();
    const orderLines: OrderLine[] = priced.lines.map((line) => ({ id: randomUUID(), orderId: id, ...line }));
    const column = <K extends keyof OrderLine>(key: K) => orderLines.map((line) => line[key]);
    // Per-user lock until commit: a concurrent placement of the same user reads after this one's insert, so the key and the cap hold exactly.
    // A batch transaction (the two statements sent one after the other): nothing is decided in between.
    const [, [row]] = await prisma.$transaction(
      [
        prisma.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`order:placement:${userId}`}, 0))`,
        prisma.$queryRaw<Array<Partial<Order> & { existingId: string | null }>>`${PREPARED}
          WITH "existing" AS (
            SELECT "id" FROM "order"."orders" WHERE "user_id" = ${userId}::uuid AND "idempotency_key" = ${idempotencyKey}
          ), "unconfirmed" AS (
            SELECT count(*)::int AS "count" FROM "order"."orders"
            WHERE "user_id" = ${userId}::uuid AND "status" IN (${Prisma.join(UNCONFIRMED_STATUSES.map((status) => Prisma.sql`${status}::"order"."OrderStatus"`))})
          ), "placed" AS (
            INSERT INTO "order"."orders" ("id", "user_id", "idempotency_key", "status", "total_amount", "currency", "saga_step", "saga_attempts",
                                          "saga_next_attempt_at", "request_id", "traceparent", "created_at", "updated_at")
            SELECT ${id}::uuid, ${userId}::uuid, ${idempotencyKey}, 'PENDING', ${priced.total}, ${priced.currency}, 'RESERVING', 0,
                   ${saga.leaseUntil()}, ${trace?.requestId ?? null}, ${trace?.traceparent ?? null}, ${now}, ${now}
            WHERE NOT EXISTS (SELECT 1 FROM "existing") AND (SELECT "count" FROM "unconfirmed") < ${maxUnconfirmed}
            RETURNING *
          ), "lines" AS (
            INSERT INTO "order"."order_lines" ("id", "order_id", "position", "product_id", "product_name", "quantity", "unit_price_amount", "currency")
            SELECT l.*
            FROM unnest(${column('id')}::uuid[], ${column('orderId')}::uuid[], ${column('position')}::int[], ${column('productId')}::uuid[],
                        ${column('productName')}::text[], ${column('quantity')}::int[], ${column('unitPriceAmount')}::int[], ${column('currency')}::text[]) AS l
            WHERE EXISTS (SELECT 1 FROM "placed")
          ), "history" AS (
            INSERT INTO "order"."order_status_changes" ("id", "order_id", "from", "to", "actor", "created_at")
            SELECT ${randomUUID()}::uuid, "id", NULL, 'PENDING', ${actor}, ${now} FROM "placed"
          )
          SELECT (SELECT "id"::text FROM "existing") AS "existingId", "order".*
          FROM (SELECT 1) AS "one" LEFT JOIN (SELECT ${ORDER_COLUMNS} FROM "placed") AS "order" ON true`,
      ],
      TRANSACTION_OPTIONS,
    );
    const { existingId, ...order } = row!;
    if (existingId) {
      const existing = await this.findByKey(prisma, userId, idempotencyKey);
      return { order: replay(existing!, lines), created: false as const };
    }
    if (!order.id) throw tooManyUnconfirmed(maxUnconfirmed);
    return { order: { ...(order as Order), lines: orderLines }, created: true as const };
  }

  /** The lines are read only for a key already used (rare): a new order costs one statement here. */
  private async findByKey(db: PrismaClient | Tx, userId: string, idempotencyKey: string): Promise<(Order & { lines: OrderLine[] }) | null> {
    const order = await db.order.findUnique({ where: { userId_idempotencyKey: { userId, idempotencyKey } } });
    return order && { ...order, lines: await db.orderLine.findMany({ where: { orderId: order.id } }) };
  }

  /** Names and prices of every line in one catalog request; every line in one currency. */
  private async price(lines: Line[]): Promise<Priced> {
    const products = await this.deps.catalog.products(lines.map((line) => line.productId));
    const currency = products[0]?.price.currency;
    let total = 0;
    const priced = lines.map((line, i) => {
      const product = products[i];
      if (!product) throw badUserInput(`input.lines[${i}].productId`, `Product ${line.productId} is not for sale (unknown or deleted).`);
      if (product.price.currency !== currency) {
        throw badUserInput(
          `input.lines[${i}].productId`,
          `All lines of an order must be in one currency: "${product.name}" is priced in ${product.price.currency}, the first line in ${currency}.`,
        );
      }
      total += product.price.amount * line.quantity;
      return { position: i, productId: line.productId, productName: product.name, quantity: line.quantity, unitPriceAmount: product.price.amount, currency: product.price.currency };
    });
    if (total > MAX_TOTAL) throw badUserInput('input.lines', 'The order total is too large; split it into several orders.');
    return { lines: priced, total, currency: currency! };
  }
}

/** A repeat of a placed order: the same lines get the order back, different ones are a misuse of the key. */
function replay(order: Order & { lines: OrderLine[] }, lines: Line[]): Order {
  if (!sameLines(order.lines, lines)) {
    throw conflict(
      `The idempotency key was already used for order ${orderNumber(order.seq)} with other lines; use a new key for a new order.`,
      { orderId: order.id },
    );
  }
  return order;
}

function tooManyUnconfirmed(max: number): AppError {
  return new AppError(
    ErrorCode.TOO_MANY_UNCONFIRMED_ORDERS,
    `You already have ${max} ${max === 1 ? 'order' : 'orders'} waiting for your confirmation, the most at once: confirm or cancel one of them, then place this one.`,
    { limit: max },
  );
}

function validate(input: PlaceOrderInput): Line[] {
  const key = input.idempotencyKey;
  if (key.length < 1 || key.length > MAX_KEY_LENGTH) {
    throw badUserInput('input.idempotencyKey', `The idempotency key must be 1 to ${MAX_KEY_LENGTH} characters.`);
  }
  if (input.lines.length < 1 || input.lines.length > MAX_LINES) {
    throw badUserInput('input.lines', `An order has 1 to ${MAX_LINES} lines; it has ${input.lines.length}.`);
  }
  const seen = new Map<string, number>();
  return input.lines.map((line, i) => {
    if (!isUuid(line.productId)) throw badUserInput(`input.lines[${i}].productId`, `"${line.productId}" is not a valid product id.`);
    const productId = line.productId.toLowerCase();
    const first = seen.get(productId);
    if (first !== undefined) {
      throw badUserInput(`input.lines[${i}].productId`, `Product ${productId} is already on input.lines[${first}]; give one line per product.`);
    }
    seen.set(productId, i);
    if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > MAX_QUANTITY) {
      throw badUserInput(`input.lines[${i}].quantity`, `A quantity is a whole number from 1 to ${MAX_QUANTITY}, not ${line.quantity}.`);
    }
    return { productId, quantity: line.quantity };
  });
}
