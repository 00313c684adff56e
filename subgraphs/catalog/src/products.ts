import type { PrismaClient, Product } from '../../../kernel/src/prisma';
import { isUuid } from '../../../kernel/src/ids';

/** The catalog's products; soft-deleted ones still resolve by id (an order may name them). */
export class ProductService {
  constructor(private readonly prisma: PrismaClient) {}

  async findManyByIds(ids: readonly string[]): Promise<Map<string, Product>> {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await this.prisma.product.findMany({ where: { id: { in: valid } } }) : [];
    return new Map(rows.map((p) => [p.id, p]));
  }
}
