import type { InventoryItem, PrismaClient, Tx } from '../../../kernel/src/prisma';
import { Prisma, isUniqueViolation } from '../../../kernel/src/prisma';
import { assertUuid, isUuid } from '../../../kernel/src/ids';
import { AppError, badUserInput, conflict, notFound } from '../../../kernel/src/errors';
import { ErrorCode } from './errors';
import { keysetPage, pageSize } from '../../../kernel/src/pagination';
import type { StockEvents } from './stock-events';
import type { CreateInventoryItemInput, UpdateInventoryItemInput } from '../../../generated/graphql/inventory/resolvers';

export type ItemRow = InventoryItem;

/** The columns of an inventory item under their Prisma names, for raw SQL that RETURNs an item. */
export const ITEM_COLUMNS = Prisma.raw(`"product_id" AS "productId", "on_hand" AS "onHand", "reserved", "low_stock_threshold" AS "lowStockThreshold", "version", "created_at" AS "createdAt", "updated_at" AS "updatedAt"`);

/**
 * An item's next version, from one sequence for every item: it outlives a deleted row, so a product's
 * versions keep increasing when its item is deleted and created again. Take it in the statement that
 * changes the row, or later while holding the row: a writer that waited for the row's lock re-evaluates
 * its SET once the holder commits (READ COMMITTED's recheck), so one row's versions increase in commit order.
 */
export const NEXT_VERSION = Prisma.raw(`nextval('"inventory".inventory_items_version_seq')`);

const MAX_STOCK = 1_000_000_000;

function assertQuantity(value: number, field: string, { min, max }: { min: number; max: number }): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw badUserInput(field, `\`${field}\` must be a whole number from ${min} to ${max}.`);
  }
}

/**
 * Stock items, their admin changes and the audit trail. Every change bumps the item's version,
 * writes a movement row and a StockChanged event in the same transaction.
 */
export class StockService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly events: StockEvents,
  ) {}

  async findManyByProductIds(ids: readonly string[]): Promise<Map<string, InventoryItem>> {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await this.prisma.inventoryItem.findMany({ where: { productId: { in: valid } } }) : [];
    return new Map(rows.map((item) => [item.productId, item]));
  }

  /** Every item in product-id order, for services rebuilding a read model. */
  list(first: number, after?: string | null): Promise<InventoryItem[]> {
    pageSize(first, 1000);
    if (after) assertUuid(after, 'after');
    return this.prisma.inventoryItem.findMany({
      where: after ? { productId: { gt: after } } : {},
      orderBy: { productId: 'asc' },
      take: first,
    });
  }

  async create(actor: string, input: CreateInventoryItemInput): Promise<InventoryItem> {
    assertUuid(input.productId, 'input.productId');
    assertQuantity(input.onHand, 'input.onHand', { min: 0, max: MAX_STOCK });
    assertQuantity(input.lowStockThreshold, 'input.lowStockThreshold', { min: 0, max: MAX_STOCK });
    try {
      return await this.events.inTransaction(async (tx) => {
        await tx.inventoryItem.create({ data: input });
        // The insert waited for any concurrent delete of this product to commit, so its default version may be below the delete's.
        const [item] = await tx.$queryRaw<ItemRow[]>`
          UPDATE "inventory"."inventory_items" SET "version" = ${NEXT_VERSION}
          WHERE "product_id" = ${input.productId}::uuid
          RETURNING ${ITEM_COLUMNS}`;
        await this.record(tx, item, { deltaOnHand: input.onHand, deltaReserved: 0, reason: 'item created', actor });
        return item;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`Product ${input.productId} already has an inventory item.`, { productId: input.productId });
      throw error;
    }
  }

  async update(actor: string, productId: string, input: UpdateInventoryItemInput): Promise<InventoryItem> {
    assertUuid(productId, 'productId');
    if (input.lowStockThreshold === undefined || input.lowStockThreshold === null) {
      throw badUserInput('input', 'Nothing to change: give `lowStockThreshold`.');
    }
    const threshold = input.lowStockThreshold;
    assertQuantity(threshold, 'input.lowStockThreshold', { min: 0, max: MAX_STOCK });
    return this.events.inTransaction(async (tx) => {
      const [row] = await tx.$queryRaw<ItemRow[]>`
        UPDATE "inventory"."inventory_items"
        SET "low_stock_threshold" = ${threshold}, "version" = ${NEXT_VERSION}, "updated_at" = now()
        WHERE "product_id" = ${productId}::uuid
        RETURNING ${ITEM_COLUMNS}`;
      if (!row) throw notFound('Inventory item for product', productId);
      await this.record(tx, row, { deltaOnHand: 0, deltaReserved: 0, reason: `low-stock threshold set to ${threshold}`, actor });
      return row;
    });
  }

  async delete(actor: string, productId: string): Promise<boolean> {
    assertUuid(productId, 'productId');
    return this.events.inTransaction(async (tx) => {
      const [row] = await tx.$queryRaw<ItemRow[]>`
        SELECT ${ITEM_COLUMNS}
        FROM "inventory"."inventory_items" WHERE "product_id" = ${productId}::uuid FOR UPDATE`;
      if (!row) throw notFound('Inventory item for product', productId);
      if (row.reserved > 0) {
        throw conflict(`${row.reserved} of product ${productId} ${row.reserved === 1 ? 'is' : 'are'} reserved by orders; delete the item once they are settled.`, { productId });
      }
      await tx.inventoryItem.delete({ where: { productId } });
      const [{ version }] = await tx.$queryRaw<Array<{ version: bigint }>>`SELECT ${NEXT_VERSION} AS "version"`;
      // Subscribers and read models see the item go to zero.
      const gone = { ...row, onHand: 0, reserved: 0, version, updatedAt: new Date() };
      await this.record(tx, gone, { deltaOnHand: -row.onHand, deltaReserved: 0, reason: 'item deleted', actor });
      return true;
    });
  }

  /** Adds (or removes) stock on hand; the database refuses to go below what is reserved. */
  async adjust(actor: string, productId: string, delta: number, reason: string): Promise<InventoryItem> {
    assertUuid(productId, 'productId');
    assertQuantity(delta, 'delta', { min: -MAX_STOCK, max: MAX_STOCK });
    if (delta === 0) throw badUserInput('delta', '`delta` must not be 0.');
    const why = reason.trim();
    if (why.length === 0 || why.length > 500) throw badUserInput('reason', 'Give a reason of 1 to 500 characters.');
    return this.events.inTransaction(async (tx) => {
      const [row] = await tx.$queryRaw<ItemRow[]>`
        UPDATE "inventory"."inventory_items"
        SET "on_hand" = "on_hand" + ${delta}, "version" = ${NEXT_VERSION}, "updated_at" = now()
        WHERE "product_id" = ${productId}::uuid AND "on_hand" + ${delta} >= "reserved" AND "on_hand" + ${delta} <= ${MAX_STOCK}
        RETURNING ${ITEM_COLUMNS}`;
      if (!row) {
        const item = await tx.inventoryItem.findUnique({ where: { productId } });
        if (!item) throw notFound('Inventory item for product', productId);
        throw new AppError(
          ErrorCode.OUT_OF_STOCK,
          `Cannot remove ${-delta}: product ${productId} has ${item.onHand - item.reserved} available (${item.reserved} reserved).`,
          { productId, requested: -delta, available: item.onHand - item.reserved },
        );
      }
      await this.record(tx, row, { deltaOnHand: delta, deltaReserved: 0, reason: why, actor });
      return row;
    });
  }

  /** Newest first. */
  async movements(productId: string, first: number, after?: string | null) {
    assertUuid(productId, 'productId');
    return keysetPage({ first, after }, 'desc', { productId }, (query) => this.prisma.stockMovement.findMany(query));
  }

  /** The movement row and the StockChanged event of one change, in the change's transaction. */
  record(tx: Tx, item: ItemRow, movement: Movement): Promise<void> {
    return this.recordMany(tx, [{ item, movement }]);
  }

  /** The movement rows and StockChanged events of several changes of one transaction: two statements, whatever their number. */
  async recordMany(tx: Tx, changes: Array<{ item: ItemRow; movement: Movement }>): Promise<void> {
    if (changes.length === 0) return;
    await tx.stockMovement.createMany({ data: changes.map(({ item, movement }) => ({ productId: item.productId, ...movement })) });
    await this.events.stockChangedMany(tx, changes.map(({ item }) => item));
  }
}

type Movement = { deltaOnHand: number; deltaReserved: number; reason: string; actor: string; orderId?: string };
