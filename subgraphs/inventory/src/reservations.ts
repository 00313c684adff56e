import type { PrismaClient, Reservation as ReservationRow } from '../../../kernel/src/prisma';
import { PREPARED, Prisma, isUniqueViolation } from '../../../kernel/src/prisma';
import { assertUuid } from '../../../kernel/src/ids';
import { AppError, badUserInput, notFound } from '../../../kernel/src/errors';
import { ErrorCode, outOfStock } from './errors';
import type { Logger } from '../../../kernel/src/logger';
import { Metrics, oncePerScrape } from '../../../kernel/src/metrics';
import { NEXT_VERSION, type StockService } from './stock';
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
type LineRow = Pick<ReservationRow, 'productId' | 'quantity' | 'status' | 'expiresAt'>;

function summarize(orderId: string, rows: LineRow[]): Reservation {
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

  /**
   * All lines or none. Asking again for the same order returns what the first call reserved.
   * One statement (atomic on its own): the items locked in product-id order, reserved only if every
   * line has the stock, with their movements, StockChanged events and reservation rows.
   */
  async reserve(actor: string, orderId: string, lines: ReservationLineInput[]): Promise<Reservation> {
    assertUuid(orderId, 'orderId');
    const wanted = this.validateLines(lines);
    const existing = await this.find(orderId);
    if (existing) return existing;
    const expiresAt = new Date(Date.now() + this.ttlSeconds * 1000);
    let result: { reserved: boolean; stock: Array<{ productId: string; available: number }> | null } | undefined;
    try {
      [result] = await this.prisma.$queryRaw<Array<NonNullable<typeof result>>>`${PREPARED}
        WITH "wanted" AS (
          SELECT * FROM unnest(${wanted.map((line) => line.productId)}::uuid[], ${wanted.map((line) => line.quantity)}::int[]) AS w("product_id", "quantity")
        ), "locked" AS (
          -- Product-id order: two orders reserving the same products lock rows in the same order, never deadlock.
          SELECT "product_id", "on_hand" - "reserved" AS "available" FROM "inventory"."inventory_items"
          WHERE "product_id" IN (SELECT "product_id" FROM "wanted") ORDER BY "product_id" FOR UPDATE
        ), "enough" AS (
          SELECT count(*) = ${wanted.length} AS "every" FROM "locked" JOIN "wanted" USING ("product_id") WHERE "available" >= "quantity"
        ), "items" AS (
          UPDATE "inventory"."inventory_items" AS i
          SET "reserved" = i."reserved" + w."quantity", "version" = ${NEXT_VERSION}, "updated_at" = now()
          FROM "wanted" AS w WHERE i."product_id" = w."product_id" AND (SELECT "every" FROM "enough")
          RETURNING i.*, w."quantity"
        ), "movements" AS (
          INSERT INTO "inventory"."stock_movements" ("id", "product_id", "delta_on_hand", "delta_reserved", "reason", "actor", "order_id")
          SELECT gen_random_uuid(), "product_id", 0, "quantity", 'reserved', ${actor}, ${orderId}::uuid FROM "items"
        ), "events" AS (
          ${this.events.stockChangedSql(Prisma.sql`"items"`, Prisma.sql`"product_id"`)}
        ), "held" AS (
          INSERT INTO "inventory"."reservations" ("id", "order_id", "product_id", "quantity", "expires_at", "updated_at")
          SELECT gen_random_uuid(), ${orderId}::uuid, "product_id", "quantity", ${expiresAt}, now() FROM "items"
        )
        SELECT (SELECT "every" FROM "enough") AS "reserved",
               (SELECT json_agg(json_build_object('productId', "product_id", 'available', "available")) FROM "locked") AS "stock"`;
    } catch (error) {
      // A concurrent call for the same order won the race: its reservation is the answer.
      if (isUniqueViolation(error)) {
        const winner = await this.find(orderId);
        if (winner) return winner;
      }
      throw error;
    }
    if (!result?.reserved) {
      this.reservations.inc({ outcome: 'out_of_stock' });
      const available = new Map((result?.stock ?? []).map((item) => [item.productId, item.available]));
      const left = (line: ReservationLineInput) => available.get(line.productId.toLowerCase()) ?? 0;
      const short = wanted.find((line) => left(line) < line.quantity) ?? wanted[0]!;
      throw outOfStock(short.productId, short.quantity, left(short));
    }
    this.events.written();
    this.reservations.inc({ outcome: 'reserved' });
    return summarize(orderId, wanted.map((line) => ({ ...line, status: 'RESERVED' as const, expiresAt })));
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

  /**
   * One statement: the order's RESERVED lines flipped to `to`, their items (locked in product-id order)
   * given the stock back or out of on-hand, with movements and StockChanged events; then every line of the order.
   */
  private async settle(
    orderId: string,
    to: 'RELEASED' | 'COMMITTED',
    actor: string,
    reason: string,
    options: { onlyExpired?: boolean } = {},
  ): Promise<Reservation> {
    const rows = await this.prisma.$queryRaw<Array<LineRow & { changed: boolean }>>`${PREPARED}
      WITH "settled" AS (
        -- The status flip locks the lines: of a concurrent release and commit, exactly one moves the stock.
        UPDATE "inventory"."reservations"
        SET "status" = ${to}::"inventory"."ReservationStatus", "updated_at" = now()
        WHERE "order_id" = ${orderId}::uuid AND "status" = 'RESERVED'
          AND (${to}::text = 'RELEASED' OR "expires_at" > now())
          AND (NOT ${options.onlyExpired ?? false}::boolean OR "expires_at" <= now())
        RETURNING "id", "product_id", "quantity", "status", "expires_at"
      ), "locked" AS (
        SELECT "product_id" FROM "inventory"."inventory_items"
        WHERE "product_id" IN (SELECT "product_id" FROM "settled") ORDER BY "product_id" FOR UPDATE
      ), "items" AS (
        -- An item deleted meanwhile (only possible once nothing was reserved) has nothing to give back.
        UPDATE "inventory"."inventory_items" AS i
        SET "reserved" = i."reserved" - s."quantity", "on_hand" = i."on_hand" - ${to === 'COMMITTED' ? Prisma.sql`s."quantity"` : Prisma.sql`0`},
            "version" = ${NEXT_VERSION}, "updated_at" = now()
        FROM "settled" AS s WHERE i."product_id" = s."product_id" AND i."product_id" IN (SELECT "product_id" FROM "locked")
        RETURNING i.*, s."quantity"
      ), "movements" AS (
        INSERT INTO "inventory"."stock_movements" ("id", "product_id", "delta_on_hand", "delta_reserved", "reason", "actor", "order_id")
        SELECT gen_random_uuid(), "product_id", ${to === 'COMMITTED' ? Prisma.sql`-"quantity"` : Prisma.sql`0`}, -"quantity", ${reason}, ${actor}, ${orderId}::uuid FROM "items"
      ), "events" AS (
        ${this.events.stockChangedSql(Prisma.sql`"items"`, Prisma.sql`"product_id"`)}
      )
      SELECT "product_id"::text AS "productId", "quantity", "status"::text AS "status", "expires_at" AS "expiresAt", true AS "changed" FROM "settled"
      UNION ALL
      SELECT "product_id"::text, "quantity", "status"::text, "expires_at", false FROM "inventory"."reservations"
      WHERE "order_id" = ${orderId}::uuid AND "id" NOT IN (SELECT "id" FROM "settled")`;
    if (rows.some((row) => row.changed)) this.events.written();
    if (rows.length === 0) return { orderId, status: 'RELEASED', lines: [], expiresAt: null };
    // A line still RESERVED in this statement's snapshot may have been settled by another call meanwhile: read it afresh.
    if (rows.some((row) => !row.changed && row.status === 'RESERVED')) return (await this.find(orderId)) ?? { orderId, status: 'RELEASED', lines: [], expiresAt: null };
    return summarize(orderId, rows);
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
}
