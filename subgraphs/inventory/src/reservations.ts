import type { PrismaClient, Reservation as ReservationRow, Tx } from '../../../kernel/src/prisma';
import { isUniqueViolation } from '../../../kernel/src/prisma';
import { assertUuid } from '../../../kernel/src/ids';
import { AppError, badUserInput, notFound } from '../../../kernel/src/errors';
import { ErrorCode, outOfStock } from './errors';
import type { Logger } from '../../../kernel/src/logger';
import { Metrics, oncePerScrape } from '../../../kernel/src/metrics';
import { ITEM_COLUMNS, NEXT_VERSION, type ItemRow, type StockService } from './stock';
import type { StockEvents } from './stock-events';
import type { ReservationLineInput } from '../../../generated/graphql/inventory/resolvers';

export type ReservationStatus = 'RESERVED' | 'RELEASED' | 'COMMITTED';

export interface Reservation {
  orderId: string;
  status: ReservationStatus;
  lines: Array<{ productId: string; quantity: number; status: ReservationStatus }>;
  expiresAt: Date | null;
}


const MAX_LINES = 100;
const MAX_QUANTITY = 10_000;

/** An order's reservation as one thing: COMMITTED or RELEASED once every line is, RESERVED while any line holds stock. */
function summarize(orderId: string, rows: ReservationRow[]): Reservation {
  const lines = rows
    .map((row) => ({ productId: row.productId, quantity: row.quantity, status: row.status as ReservationStatus }))
    .sort((a, b) => a.productId.localeCompare(b.productId));
  const status: ReservationStatus = lines.some((l) => l.status === 'RESERVED')
    ? 'RESERVED'
    : lines.length > 0 && lines.every((l) => l.status === 'COMMITTED')
      ? 'COMMITTED'
      : 'RELEASED';
  return { orderId, status, lines, expiresAt: rows[0]?.expiresAt ?? null };
}

/**
 * Reservations for the order saga. Each operation is idempotent per order id, and stock is moved
 * with conditional updates under the database's CHECK (on_hand >= reserved >= 0): whatever the
 * concurrency, available stock never goes below zero.
 */
export class ReservationService {
  private readonly reservations;
  private readonly expired;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly stock: StockService,
    private readonly events: StockEvents,
    private readonly ttlSeconds: number,
    private readonly logger: Logger,
    metrics: Metrics = new Metrics(),
  ) {
    this.reservations = metrics.counter('shop_inventory_reservations_total', "Orders' reservation requests: reserved, or refused out_of_stock (asking again for a reserved order is not counted)", ['outcome']);
    this.expired = metrics.counter('shop_inventory_reservations_expired_total', 'Reservations released because their time ran out (orders)');
    // Both through the (status, expires_at) index: only the lines still held are read.
    const held = oncePerScrape(async () => {
      const [row] = await prisma.$queryRaw<{ held: number; overdue: number }[]>`
        SELECT count(*)::int AS "held", (count(*) FILTER (WHERE "expires_at" <= now()))::int AS "overdue"
        FROM "inventory"."reservations" WHERE "status" = 'RESERVED'`;
      return row ?? { held: 0, overdue: 0 };
    });
    metrics.collected('shop_inventory_reservation_lines_held', 'Reservation lines holding stock now', [], async (set) => set({}, (await held()).held));
    metrics.collected('shop_inventory_reservation_lines_overdue', 'Reservation lines past their expiry, not yet released by the sweeper', [], async (set) => set({}, (await held()).overdue));
  }

  async find(orderId: string): Promise<Reservation | null> {
    assertUuid(orderId, 'orderId');
    const rows = await this.prisma.reservation.findMany({ where: { orderId } });
    return rows.length ? summarize(orderId, rows) : null;
  }

  /** All lines or none. Asking again for the same order returns what the first call reserved. */
  async reserve(actor: string, orderId: string, lines: ReservationLineInput[]): Promise<Reservation> {
    assertUuid(orderId, 'orderId');
    const wanted = this.validateLines(lines);
    const existing = await this.find(orderId);
    if (existing) return existing;
    const expiresAt = new Date(Date.now() + this.ttlSeconds * 1000);
    try {
      return await this.events.inTransaction(async (tx) => {
        const changes: Parameters<StockService['recordMany']>[1] = [];
        // Product-id order: two orders reserving the same products lock rows in the same order, never deadlock.
        for (const line of wanted) {
          const [item] = await tx.$queryRaw<ItemRow[]>`
            UPDATE "inventory"."inventory_items"
            SET "reserved" = "reserved" + ${line.quantity}, "version" = ${NEXT_VERSION}, "updated_at" = now()
            WHERE "product_id" = ${line.productId}::uuid AND "on_hand" - "reserved" >= ${line.quantity}
            RETURNING ${ITEM_COLUMNS}`;
          if (!item) {
            this.reservations.inc({ outcome: 'out_of_stock' });
            throw await this.shortage(tx, line);
          }
          changes.push({ item, movement: { deltaOnHand: 0, deltaReserved: line.quantity, reason: 'reserved', actor, orderId } });
        }
        await this.stock.recordMany(tx, changes);
        return summarize(orderId, await tx.reservation.createManyAndReturn({ data: wanted.map((line) => ({ orderId, ...line, expiresAt })) }));
      }).then((reservation) => {
        this.reservations.inc({ outcome: 'reserved' });
        return reservation;
      });
    } catch (error) {
      // A concurrent call for the same order won the race: its reservation is the answer.
      if (isUniqueViolation(error)) {
        const winner = await this.find(orderId);
        if (winner) return winner;
      }
      throw error;
    }
  }

  /** Gives the held stock back. Releasing an order that holds nothing (or nothing any more) changes nothing. */
  release(actor: string, orderId: string, reason = 'released'): Promise<Reservation> {
    assertUuid(orderId, 'orderId');
    return this.settle(orderId, 'RELEASED', actor, reason);
  }

  /** The held stock leaves on-hand for good. Committing twice changes nothing; an expired reservation cannot be committed. */
  async commit(actor: string, orderId: string): Promise<Reservation> {
    assertUuid(orderId, 'orderId');
    const result = await this.settle(orderId, 'COMMITTED', actor, 'committed');
    if (result.status === 'COMMITTED') return result;
    if (result.lines.length === 0) throw notFound('Reservation for order', orderId);
    throw new AppError(ErrorCode.RESERVATION_EXPIRED, `The reservation of order ${orderId} was released (it expired or was cancelled); reserve again.`, { orderId });
  }

  /** Releases every reservation whose time is up; returns how many orders were released. */
  async releaseExpired(limit = 100): Promise<number> {
    const expired = await this.prisma.reservation.findMany({
      where: { status: 'RESERVED', expiresAt: { lte: new Date() } },
      select: { orderId: true },
      distinct: ['orderId'],
      take: limit,
    });
    for (const { orderId } of expired) {
      await this.settle(orderId, 'RELEASED', 'system', 'reservation expired', { onlyExpired: true });
    }
    if (expired.length) this.logger.info({ orders: expired.length }, 'released expired reservations');
    this.expired.inc(expired.length);
    return expired.length;
  }

  private async settle(
    orderId: string,
    to: 'RELEASED' | 'COMMITTED',
    actor: string,
    reason: string,
    options: { onlyExpired?: boolean } = {},
  ): Promise<Reservation> {
    await this.events.inTransaction(async (tx) => {
      // The status flip locks the lines: of a concurrent release and commit, exactly one moves the stock.
      const lines = await tx.$queryRaw<Array<{ productId: string; quantity: number }>>`
        UPDATE "inventory"."reservations"
        SET "status" = ${to}::"inventory"."ReservationStatus", "updated_at" = now()
        WHERE "order_id" = ${orderId}::uuid AND "status" = 'RESERVED'
          AND (${to}::text = 'RELEASED' OR "expires_at" > now())
          AND (NOT ${options.onlyExpired ?? false}::boolean OR "expires_at" <= now())
        RETURNING "product_id" AS "productId", "quantity"`;
      lines.sort((a, b) => a.productId.localeCompare(b.productId));
      const changes: Parameters<StockService['recordMany']>[1] = [];
      for (const line of lines) {
        const onHandDelta = to === 'COMMITTED' ? line.quantity : 0;
        const [item] = await tx.$queryRaw<ItemRow[]>`
          UPDATE "inventory"."inventory_items"
          SET "reserved" = "reserved" - ${line.quantity}, "on_hand" = "on_hand" - ${onHandDelta},
              "version" = ${NEXT_VERSION}, "updated_at" = now()
          WHERE "product_id" = ${line.productId}::uuid
          RETURNING ${ITEM_COLUMNS}`;
        // The item was deleted meanwhile (only possible once nothing was reserved): nothing to give back.
        if (!item) continue;
        changes.push({ item, movement: { deltaOnHand: -onHandDelta, deltaReserved: -line.quantity, reason, actor, orderId } });
      }
      await this.stock.recordMany(tx, changes);
    });
    return (await this.find(orderId)) ?? { orderId, status: 'RELEASED', lines: [], expiresAt: null };
  }

  private validateLines(lines: ReservationLineInput[]): ReservationLineInput[] {
    if (lines.length === 0 || lines.length > MAX_LINES) throw badUserInput('lines', `An order reserves 1 to ${MAX_LINES} lines.`);
    const seen = new Set<string>();
    lines.forEach((line, i) => {
      assertUuid(line.productId, `lines[${i}].productId`);
      if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > MAX_QUANTITY) {
        throw badUserInput(`lines[${i}].quantity`, `A quantity is a whole number from 1 to ${MAX_QUANTITY}.`);
      }
      if (seen.has(line.productId)) throw badUserInput(`lines[${i}].productId`, `Product ${line.productId} appears twice; give one line per product.`);
      seen.add(line.productId);
    });
    return [...lines].sort((a, b) => a.productId.localeCompare(b.productId));
  }

  private async shortage(tx: Tx, line: ReservationLineInput): Promise<AppError> {
    const item = await tx.inventoryItem.findUnique({ where: { productId: line.productId } });
    return outOfStock(line.productId, line.quantity, item ? item.onHand - item.reserved : 0);
  }
}
