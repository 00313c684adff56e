import { TRANSACTION_OPTIONS, type PrismaClient, type Tx } from '../../../kernel/src/prisma';
import type { InventoryItem } from '../../../kernel/src/prisma';
import { enqueueEvents } from '../../../kernel/src/events/outbox';
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
