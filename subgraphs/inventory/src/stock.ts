import type { InventoryItem, PrismaClient } from '../../../kernel/src/prisma';
import { isUuid } from '../../../kernel/src/ids';

/** Stock levels per product. */
export class StockService {
  constructor(private readonly prisma: PrismaClient) {}

  async findManyByProductIds(ids: readonly string[]): Promise<Map<string, InventoryItem>> {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await this.prisma.inventoryItem.findMany({ where: { productId: { in: valid } } }) : [];
    return new Map(rows.map((item) => [item.productId, item]));
  }
}
