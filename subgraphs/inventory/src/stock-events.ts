import { TRANSACTION_OPTIONS, type PrismaClient, type Tx } from '../../../kernel/src/prisma';
import type { InventoryItem } from '../../../kernel/src/prisma';
import { enqueueEvents, enqueueEventsSql } from '../../../kernel/src/events/outbox';
import { Prisma } from '../../../kernel/src/prisma';
import type { StockChanged } from '../../../kernel/src/events/envelope';

/**
 * The inventory's side of the outbox: a change and its StockChanged event commit together, and
 * the relay is nudged once the transaction has committed.
 */
export class StockEvents {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly relay: { kick(): void },
  ) {}

  async inTransaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const result = await this.prisma.$transaction(work, TRANSACTION_OPTIONS);
    this.relay.kick();
    return result;
  }

  /** Nudges the relay after a single statement that wrote events (stockChangedSql) has run. */
  written(): void {
    this.relay.kick();
  }

  /**
   * stockChangedMany as a part of a larger statement: a StockChanged event for each inventory_items
   * row of `from` (its columns as the table has them), in `orderBy`'s order.
   */
  stockChangedSql(from: Prisma.Sql, orderBy: Prisma.Sql): Prisma.Sql {
    const payload = Prisma.sql`jsonb_build_object('productId', "product_id", 'onHand', "on_hand", 'reserved', "reserved", 'available', "on_hand" - "reserved",
      'lowStockThreshold', "low_stock_threshold", 'version', "version", 'at', to_char("updated_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;
    return enqueueEventsSql('inventory', { stream: 'inventory', type: 'StockChanged', source: 'inventory' }, { from, payload, id: Prisma.sql`gen_random_uuid()`, orderBy });
  }

  async stockChanged(tx: Tx, item: InventoryItem): Promise<void> {
    await this.stockChangedMany(tx, [item]);
  }

  /** One StockChanged event per item, in the order given, in one statement. */
  async stockChangedMany(tx: Tx, items: InventoryItem[]): Promise<void> {
    const events = items.map((item) => {
      const payload: StockChanged = {
        productId: item.productId,
        onHand: item.onHand,
        reserved: item.reserved,
        available: item.onHand - item.reserved,
        lowStockThreshold: item.lowStockThreshold,
        version: Number(item.version),
        at: item.updatedAt.toISOString(),
      };
      return { stream: 'inventory', type: 'StockChanged' as const, source: 'inventory', payload };
    });
    await enqueueEvents(tx, 'inventory', events);
  }
}
