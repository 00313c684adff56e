import { TRANSACTION_OPTIONS, type PrismaClient, type Tx } from '../../../kernel/src/prisma';
import type { InventoryItem } from '../../../kernel/src/prisma';
import { enqueueEvent } from '../../../kernel/src/events/outbox';
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
    const payload: StockChanged = {
      productId: item.productId,
      onHand: item.onHand,
      reserved: item.reserved,
      available: item.onHand - item.reserved,
      lowStockThreshold: item.lowStockThreshold,
      version: Number(item.version),
      at: item.updatedAt.toISOString(),
    };
    await enqueueEvent(tx, 'inventory', { stream: 'inventory', type: 'StockChanged', source: 'inventory', payload });
  }
}
