import type { Order, OrderLine, PrismaClient } from '../../../kernel/src/prisma';
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

    const existing = await this.findByKey(prisma, userId, input.idempotencyKey);
    if (existing) return replay(existing, lines);

    const priced = await this.price(lines);
    const written = await this.write(userId, input.idempotencyKey, lines, priced, actor);
    if (!written.created) return written.order;
    failpoints.hit('after-insert');
    await saga.run(written.order.id, actor);
    return prisma.order.findUniqueOrThrow({ where: { id: written.order.id } });
  }

  /** The new order, or the one its key already has (placed concurrently); refused when the user has too many awaiting confirmation. */
  private async write(userId: string, idempotencyKey: string, lines: Line[], priced: Priced, actor: string): Promise<{ order: Order; created: boolean }> {
    const { prisma, saga, maxUnconfirmed } = this.deps;
    return prisma.$transaction(async (tx) => {
      // Per-user lock until commit: a concurrent placement of the same user reads after this one's insert, so the key and the cap hold exactly.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`order:placement:${userId}`}, 0))`;
      const existing = await this.findByKey(tx, userId, idempotencyKey);
      if (existing) return { order: replay(existing, lines), created: false };
      const unconfirmed = await tx.order.count({ where: { userId, status: { in: [...UNCONFIRMED_STATUSES] } } });
      if (unconfirmed >= maxUnconfirmed) throw tooManyUnconfirmed(maxUnconfirmed);
      const order = await tx.order.create({
        data: {
          userId,
          idempotencyKey,
          status: 'PENDING',
          totalAmount: priced.total,
          currency: priced.currency,
          sagaStep: 'RESERVING',
          sagaNextAttemptAt: saga.leaseUntil(),
          // Should the saga worker resume it, it does so as part of this request.
          ...currentTrace(),
          lines: { create: priced.lines },
          history: { create: { from: null, to: 'PENDING', actor } },
        },
      });
      return { order, created: true };
    }, TRANSACTION_OPTIONS);
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
